//! A build's static files on their way to the static bucket, which CloudFront serves under
//! `static/`. CI uploads them as `<version>.static.tar.xz` beside the tarball; a release puts
//! them in place before the idle colour's nodes boot, so the new build's pages find them.
//!
//! The files are named by their content (webpack's hashes), so the builds share one key
//! space: a file already there is left alone, and a key that holds different content is a
//! conflict that stops the release, since overwriting it would change what the live build
//! serves. Each file carries its SHA-256 as metadata to tell the two apart.
//!
//! `builds rm-old` reads the tarballs back to find which of those files only the builds it
//! deletes use ([`orphans`]): a key any build that stays names is never deleted.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use serde::Serialize;

/// Where static files live in the static bucket (the distribution's `static/*` behaviour).
pub const STATIC_PREFIX: &str = "static/";

/// Why the static files cannot go up.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StaticError {
    /// The tarball is not xz-compressed tar.
    #[error("the static tarball {key} cannot be read: {reason}")]
    Unreadable {
        /// Its key.
        key: String,
        /// Why.
        reason: String,
    },
    /// A key holds different content.
    #[error(
        "static file {key} is in the static bucket with different content (sha256 {existing}, \
         the build has {new}); overwriting it would change what the live build serves"
    )]
    Conflict {
        /// The key.
        key: String,
        /// The SHA-256 of what is there.
        existing: String,
        /// The SHA-256 of the build's file.
        new: String,
    },
}

/// One static file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticFile {
    /// Its key in the static bucket.
    pub key: String,
    /// Its content.
    pub body: Vec<u8>,
    /// SHA-256 of the content, hex.
    pub sha256: String,
}

impl StaticFile {
    /// Long caching for content-named files; source maps are fetched rarely and revalidated.
    pub fn cache_control(&self) -> &'static str {
        if self.key.ends_with(".map") {
            "no-cache"
        } else {
            "public, max-age=31536000"
        }
    }

    /// The content type browsers need, by extension.
    pub fn content_type(&self) -> &'static str {
        let ext = self.key.rsplit_once('.').map_or("", |(_, e)| e);
        match ext {
            "js" | "mjs" => "application/javascript",
            "css" => "text/css",
            "html" => "text/html",
            "json" | "map" => "application/json",
            "svg" => "image/svg+xml",
            "png" => "image/png",
            "ico" => "image/x-icon",
            "woff2" => "font/woff2",
            "woff" => "font/woff",
            "ttf" => "font/ttf",
            "txt" => "text/plain",
            _ => "application/octet-stream",
        }
    }
}

/// The files of an xz-compressed static tarball, keyed under [`STATIC_PREFIX`].
pub fn unpack(key: &str, xz: &[u8]) -> Result<Vec<StaticFile>, StaticError> {
    let unreadable = |reason: String| StaticError::Unreadable {
        key: key.to_owned(),
        reason,
    };
    let mut tar = Vec::new();
    lzma_rs::xz_decompress(&mut std::io::BufReader::new(xz), &mut tar)
        .map_err(|e| unreadable(format!("xz: {e}")))?;
    let mut archive = tar::Archive::new(tar.as_slice());
    let mut files = Vec::new();
    for entry in archive.entries().map_err(|e| unreadable(e.to_string()))? {
        let mut entry = entry.map_err(|e| unreadable(e.to_string()))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry
            .path()
            .map_err(|e| unreadable(e.to_string()))?
            .to_string_lossy()
            .into_owned();
        let path = path.trim_start_matches("./");
        let path = path.strip_prefix(STATIC_PREFIX).unwrap_or(path);
        if path.is_empty() || path.split('/').any(|p| p == "..") {
            return Err(unreadable(format!("unsafe path {path:?}")));
        }
        let mut body = Vec::new();
        entry
            .read_to_end(&mut body)
            .map_err(|e| unreadable(e.to_string()))?;
        files.push(StaticFile {
            key: format!("{STATIC_PREFIX}{path}"),
            sha256: sha256_hex_bytes(&body),
            body,
        });
    }
    Ok(files)
}

fn sha256_hex_bytes(body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What goes up: the files the bucket lacks. `existing` maps each key already there to its
/// recorded SHA-256 (`None`: put there without one, taken to be the same file).
pub fn to_upload<'a>(
    files: &'a [StaticFile],
    existing: &BTreeMap<String, Option<String>>,
) -> Result<Vec<&'a StaticFile>, StaticError> {
    let mut new = Vec::new();
    for file in files {
        match existing.get(&file.key) {
            None => new.push(file),
            Some(Some(sha)) if *sha != file.sha256 => {
                return Err(StaticError::Conflict {
                    key: file.key.clone(),
                    existing: sha.clone(),
                    new: file.sha256.clone(),
                });
            }
            Some(_) => {}
        }
    }
    Ok(new)
}

/// A static file as a build's tarball names it, without its content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Named {
    /// Its key in the static bucket.
    pub key: String,
    /// SHA-256 of its content, hex.
    pub sha256: String,
}

/// The files a static tarball holds, by key and content hash.
pub fn manifest(key: &str, xz: &[u8]) -> Result<Vec<Named>, StaticError> {
    Ok(unpack(key, xz)?
        .into_iter()
        .map(|f| Named {
            key: f.key,
            sha256: f.sha256,
        })
        .collect())
}

/// Of the static files of builds that go (`leaving`, one list per build), the keys to delete
/// from a static bucket, one list per build: the files no build that stays names (`staying`)
/// and that the bucket holds with that build's content (`existing`: key → recorded SHA-256,
/// `None` for a file put there without one, taken to be the same file, as [`to_upload`]
/// does). A key two leaving builds share goes once, with the first.
pub fn orphans(
    leaving: &[Vec<Named>],
    staying: &BTreeSet<String>,
    existing: &BTreeMap<String, Option<String>>,
) -> Vec<Vec<String>> {
    let mut taken = BTreeSet::new();
    leaving
        .iter()
        .map(|files| {
            files
                .iter()
                .filter(|f| !staying.contains(&f.key))
                .filter(|f| match existing.get(&f.key) {
                    None => false,
                    Some(sha) => sha.as_ref().is_none_or(|s| *s == f.sha256),
                })
                .filter(|f| taken.insert(f.key.clone()))
                .map(|f| f.key.clone())
                .collect()
        })
        .collect()
}

/// What the static step did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Uploaded {
    /// Files put in the bucket.
    pub uploaded: usize,
    /// Files already there, identical.
    pub present: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An xz-compressed tarball of `files`.
    pub(crate) fn tarball(files: &[(&str, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, body) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, path, body.as_bytes())
                .unwrap();
        }
        let tar = builder.into_inner().unwrap();
        let mut xz = Vec::new();
        lzma_rs::xz_compress(&mut std::io::BufReader::new(tar.as_slice()), &mut xz).unwrap();
        xz
    }

    #[test]
    fn files_come_out_under_static_with_their_hashes_and_headers() {
        let xz = tarball(&[("./main.abc123.js", "code"), ("static/app.css.map", "{}")]);
        let files = unpack("dist/gh/main/1.static.tar.xz", &xz).unwrap();
        let keys: Vec<&str> = files.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["static/main.abc123.js", "static/app.css.map"]);
        assert_eq!(files[0].body, b"code");
        assert_eq!(files[0].sha256, sha256_hex_bytes(b"code"));
        assert_eq!(files[0].content_type(), "application/javascript");
        assert_eq!(files[0].cache_control(), "public, max-age=31536000");
        assert_eq!(files[1].cache_control(), "no-cache");
    }

    #[test]
    fn a_tarball_that_is_not_xz_is_unreadable() {
        let err = unpack("dist/x.static.tar.xz", b"plain text").unwrap_err();
        assert!(matches!(err, StaticError::Unreadable { .. }), "{err}");
    }

    #[test]
    fn present_files_are_left_alone_and_different_content_under_a_key_is_a_conflict() {
        let files = unpack("k", &tarball(&[("a.js", "A"), ("b.js", "B")])).unwrap();
        let same = BTreeMap::from([("static/a.js".to_owned(), Some(files[0].sha256.clone()))]);
        let new = to_upload(&files, &same).unwrap();
        assert_eq!(new.len(), 1);
        assert_eq!(new[0].key, "static/b.js");
        let other = BTreeMap::from([("static/b.js".to_owned(), Some("f00".to_owned()))]);
        let err = to_upload(&files, &other).unwrap_err();
        assert!(err.to_string().contains("static/b.js"), "{err}");
        assert!(
            err.to_string().contains("what the live build serves"),
            "{err}"
        );
    }

    #[test]
    fn only_files_no_staying_build_names_and_the_bucket_holds_with_the_same_content_go() {
        let named = |key: &str, sha: &str| Named {
            key: key.into(),
            sha256: sha.into(),
        };
        let leaving = vec![
            vec![
                named("static/old.js", "1"),
                named("static/shared.css", "2"),
                named("static/gone.js", "3"),
                named("static/replaced.js", "4"),
                named("static/unhashed.js", "5"),
            ],
            // A second leaving build with a file the first has too: listed once.
            vec![named("static/old.js", "1"), named("static/other.js", "6")],
        ];
        let staying = BTreeSet::from(["static/shared.css".to_owned()]);
        let existing = BTreeMap::from([
            ("static/old.js".to_owned(), Some("1".to_owned())),
            ("static/shared.css".to_owned(), Some("2".to_owned())),
            // Someone put other content under this key: not the build's file.
            ("static/replaced.js".to_owned(), Some("f00".to_owned())),
            ("static/unhashed.js".to_owned(), None),
            ("static/other.js".to_owned(), Some("6".to_owned())),
        ]);
        assert_eq!(
            orphans(&leaving, &staying, &existing),
            [
                vec!["static/old.js".to_owned(), "static/unhashed.js".to_owned()],
                vec!["static/other.js".to_owned()],
            ]
        );
    }

    #[test]
    fn a_manifest_names_each_file_with_its_hash() {
        let files = manifest("k", &tarball(&[("a.js", "A")])).unwrap();
        assert_eq!(
            files,
            [Named {
                key: "static/a.js".into(),
                sha256: sha256_hex_bytes(b"A"),
            }]
        );
    }
}
