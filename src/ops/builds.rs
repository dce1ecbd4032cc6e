//! Builds as they sit in an env's builds bucket, without touching it: reading object keys into
//! builds, ordering them, finding the one an operator names, and the `builds list` table.
//!
//! CI uploads `dist/<branch>/<version>.tar.xz` (the app), `<version>.txt` (its git hash) and
//! optionally `<version>.static.tar.xz`; a build is complete, and may go live, only when the
//! tarball and its `.txt` are both there. Branch names may contain `/`.

use serde::Serialize;

use super::table;

/// Where every build lives in the bucket.
pub const DIST_PREFIX: &str = "dist/";
const TARBALL: &str = ".tar.xz";
const STATIC_TARBALL: &str = ".static.tar.xz";
const INFO: &str = ".txt";

/// One build in the bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Build {
    /// The branch it was built from (may contain `/`).
    pub branch: String,
    /// Its version, the file name's stem (e.g. `3965`).
    pub version: String,
    /// The tarball's key, which is what the env's pointer holds.
    pub key: String,
    /// The tarball's size in bytes.
    pub size: u64,
    /// The key of the static files' tarball, when there is one.
    pub static_key: Option<String>,
    /// Whether its `.txt` exists: without it the build is incomplete and cannot go live.
    pub has_info: bool,
    /// The full git hash from the `.txt`, once read.
    pub hash: Option<String>,
}

impl Build {
    /// The key of its `.txt` (the git hash).
    pub fn info_key(&self) -> String {
        info_key(&self.key)
    }

    /// `3965 (master)`.
    pub fn label(&self) -> String {
        format!("{} ({})", self.version, self.branch)
    }
}

/// Branch and version of a tarball key `dist/<branch>/<version>.tar.xz`; `None` for any other
/// key (static tarballs, `.txt` files, stray objects).
pub fn parse_key(key: &str) -> Option<(&str, &str)> {
    let path = key.strip_prefix(DIST_PREFIX)?;
    if key.ends_with(STATIC_TARBALL) {
        return None;
    }
    let stem = path.strip_suffix(TARBALL)?;
    let (branch, version) = stem.rsplit_once('/')?;
    (!branch.is_empty() && !version.is_empty() && !branch.split('/').any(str::is_empty))
        .then_some((branch, version))
}

/// `dist/<branch>/<version>.tar.xz`.
pub fn tarball_key(branch: &str, version: &str) -> String {
    format!("{DIST_PREFIX}{branch}/{version}{TARBALL}")
}

fn info_key(tarball: &str) -> String {
    format!("{}{INFO}", tarball.strip_suffix(TARBALL).unwrap_or(tarball))
}

fn static_key(tarball: &str) -> String {
    format!(
        "{}{STATIC_TARBALL}",
        tarball.strip_suffix(TARBALL).unwrap_or(tarball)
    )
}

/// The builds among a bucket listing of `(key, size)`, newest first.
pub fn assemble(objects: &[(String, u64)]) -> Vec<Build> {
    let keys: std::collections::BTreeSet<&str> = objects.iter().map(|(k, _)| k.as_str()).collect();
    let mut builds: Vec<Build> = objects
        .iter()
        .filter_map(|(key, size)| {
            let (branch, version) = parse_key(key)?;
            let static_key = static_key(key);
            Some(Build {
                branch: branch.to_owned(),
                version: version.to_owned(),
                key: key.clone(),
                size: *size,
                static_key: keys.contains(static_key.as_str()).then_some(static_key),
                has_info: keys.contains(info_key(key).as_str()),
                hash: None,
            })
        })
        .collect();
    sort_newest_first(&mut builds);
    builds
}

/// The number a version counts by: its trailing digits (`3965`, `gh-12345`).
pub fn version_number(version: &str) -> Option<u64> {
    let digits = version.len()
        - version
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .count();
    version[digits..].parse().ok()
}

/// Newest first: higher version numbers first, numbered before unnumbered, then by name and
/// branch so the order is stable.
pub fn sort_newest_first(builds: &mut [Build]) {
    builds.sort_by(|a, b| {
        let (na, nb) = (version_number(&a.version), version_number(&b.version));
        nb.cmp(&na)
            .then_with(|| b.version.cmp(&a.version))
            .then_with(|| a.branch.cmp(&b.branch))
    });
}

/// `969925..8b69c5`: the first and last six characters of a git hash.
pub fn short_hash(hash: &str) -> String {
    let chars: Vec<char> = hash.trim().chars().collect();
    if chars.len() <= 14 {
        return chars.into_iter().collect();
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 6..].iter().collect();
    format!("{head}..{tail}")
}

/// `58.2MiB`: binary units with one decimal, bytes as a whole number.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes}B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1}{}", UNITS[unit])
}

/// The build an operator asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wanted {
    /// The newest complete build (of the branch given, else of the live build's branch).
    Latest,
    /// A version by name.
    Version(String),
}

impl Wanted {
    /// `latest` or a version.
    pub fn parse(text: &str) -> Self {
        if text == "latest" {
            Wanted::Latest
        } else {
            Wanted::Version(text.to_owned())
        }
    }
}

/// Why the named build cannot go live.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// No build has that version (on that branch).
    #[error("no build {version}{} in the builds bucket; `ce builds list` shows what there is", on_branch(.branch))]
    NotFound {
        /// The version asked for.
        version: String,
        /// The branch, if given.
        branch: Option<String>,
    },
    /// The version exists on several branches.
    #[error("version {version} exists on branches {}; choose one with --branch", .branches.join(", "))]
    Ambiguous {
        /// The version asked for.
        version: String,
        /// The branches holding it.
        branches: Vec<String>,
    },
    /// The tarball is there but its `.txt` is not: the upload is unfinished or broken.
    #[error(
        "build {label} is incomplete: {key} exists but {info_key} does not (CI may still be uploading it); it cannot go live"
    )]
    Incomplete {
        /// `version (branch)`.
        label: String,
        /// The tarball.
        key: String,
        /// The missing `.txt`.
        info_key: String,
    },
    /// `latest` without a branch to take it from.
    #[error("`latest` needs a branch: no build is live and builds come from several branches ({}); add --branch", .branches.join(", "))]
    NoBranch {
        /// Branches in the bucket.
        branches: Vec<String>,
    },
    /// `latest` of a branch with no complete build.
    #[error("no complete build on branch {branch}")]
    NoneOnBranch {
        /// The branch.
        branch: String,
    },
}

fn on_branch(branch: &Option<String>) -> String {
    branch
        .as_ref()
        .map(|b| format!(" on branch {b}"))
        .unwrap_or_default()
}

/// Finds the complete build `wanted` names among `builds` (newest first). `live` is the key
/// the pointer holds now, whose branch `latest` follows when no branch is given.
pub fn resolve<'a>(
    builds: &'a [Build],
    wanted: &Wanted,
    branch: Option<&str>,
    live: Option<&str>,
) -> Result<&'a Build, ResolveError> {
    match wanted {
        Wanted::Version(version) => {
            let found: Vec<&Build> = builds
                .iter()
                .filter(|b| &b.version == version && branch.is_none_or(|br| b.branch == br))
                .collect();
            match found.as_slice() {
                [] => Err(ResolveError::NotFound {
                    version: version.clone(),
                    branch: branch.map(str::to_owned),
                }),
                [build] => complete(build),
                many => Err(ResolveError::Ambiguous {
                    version: version.clone(),
                    branches: many.iter().map(|b| b.branch.clone()).collect(),
                }),
            }
        }
        Wanted::Latest => {
            let branch = match (branch, live.and_then(parse_key)) {
                (Some(b), _) => b.to_owned(),
                (None, Some((b, _))) => b.to_owned(),
                (None, None) => {
                    let mut branches: Vec<String> =
                        builds.iter().map(|b| b.branch.clone()).collect();
                    branches.sort();
                    branches.dedup();
                    match branches.as_slice() {
                        [only] => only.clone(),
                        _ => return Err(ResolveError::NoBranch { branches }),
                    }
                }
            };
            builds
                .iter()
                .find(|b| b.branch == branch && b.has_info)
                .ok_or(ResolveError::NoneOnBranch { branch })
        }
    }
}

fn complete(build: &Build) -> Result<&Build, ResolveError> {
    if build.has_info {
        Ok(build)
    } else {
        Err(ResolveError::Incomplete {
            label: build.label(),
            key: build.key.clone(),
            info_key: build.info_key(),
        })
    }
}

/// The `builds list` table: Live (` -->` on the live build), Branch, Version, Size, Hash.
pub fn list_table(builds: &[Build], live: Option<&str>) -> String {
    let rows: Vec<Vec<String>> = builds
        .iter()
        .map(|b| {
            vec![
                if live == Some(b.key.as_str()) {
                    " -->".into()
                } else {
                    String::new()
                },
                format!("{:<10}", b.branch),
                b.version.clone(),
                human_size(b.size),
                match (&b.hash, b.has_info) {
                    (Some(hash), _) => short_hash(hash),
                    (None, false) => "(incomplete)".into(),
                    (None, true) => "(unreadable)".into(),
                },
            ]
        })
        .collect();
    table::render(&["Live", "Branch", "Version", "Size", "Hash"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects(keys: &[(&str, u64)]) -> Vec<(String, u64)> {
        keys.iter().map(|(k, s)| ((*k).to_owned(), *s)).collect()
    }

    fn build(branch: &str, version: &str, complete: bool) -> Build {
        Build {
            branch: branch.into(),
            version: version.into(),
            key: tarball_key(branch, version),
            size: 1,
            static_key: None,
            has_info: complete,
            hash: None,
        }
    }

    #[test]
    fn a_tarball_key_gives_branch_and_version_and_branches_may_hold_slashes() {
        assert_eq!(
            parse_key("dist/master/3965.tar.xz"),
            Some(("master", "3965"))
        );
        assert_eq!(
            parse_key("dist/release/v2/gh-17.tar.xz"),
            Some(("release/v2", "gh-17"))
        );
    }

    #[test]
    fn other_keys_are_not_builds() {
        for key in [
            "dist/master/3965.static.tar.xz",
            "dist/master/3965.txt",
            "dist/3965.tar.xz",
            "version/prod",
            "dist//1.tar.xz",
            "other/master/1.tar.xz",
        ] {
            assert_eq!(parse_key(key), None, "{key}");
        }
    }

    #[test]
    fn assemble_pairs_each_tarball_with_its_txt_and_static_files() {
        let builds = assemble(&objects(&[
            ("dist/master/3965.tar.xz", 10),
            ("dist/master/3965.txt", 40),
            ("dist/master/3965.static.tar.xz", 5),
            ("dist/master/3979.tar.xz", 11),
            ("version/prod", 23),
        ]));
        assert_eq!(builds.len(), 2);
        assert_eq!(builds[0].version, "3979");
        assert!(!builds[0].has_info);
        assert_eq!(builds[0].static_key, None);
        assert_eq!(builds[1].version, "3965");
        assert!(builds[1].has_info);
        assert_eq!(
            builds[1].static_key.as_deref(),
            Some("dist/master/3965.static.tar.xz")
        );
        assert_eq!(builds[1].size, 10);
    }

    #[test]
    fn newest_first_compares_version_numbers_not_text() {
        let mut builds = vec![
            build("master", "999", true),
            build("master", "1000", true),
            build("beta", "gh-1001", true),
            build("zzz", "nightly", true),
        ];
        sort_newest_first(&mut builds);
        let order: Vec<&str> = builds.iter().map(|b| b.version.as_str()).collect();
        assert_eq!(order, ["gh-1001", "1000", "999", "nightly"]);
    }

    #[test]
    fn short_hash_keeps_six_characters_at_each_end() {
        assert_eq!(
            short_hash("969925a1b2c3d4e5f60718293a4b5c6d7e8b69c5\n"),
            "969925..8b69c5"
        );
        assert_eq!(short_hash("abc"), "abc");
    }

    #[test]
    fn sizes_read_in_binary_units_with_one_decimal() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(1023), "1023B");
        assert_eq!(human_size(1536), "1.5KiB");
        assert_eq!(human_size(61_027_123), "58.2MiB");
        assert_eq!(human_size(3 * 1024 * 1024 * 1024), "3.0GiB");
    }

    #[test]
    fn a_version_on_one_branch_resolves_to_that_build() {
        let builds = [build("master", "2", true), build("master", "1", true)];
        let found = resolve(&builds, &Wanted::parse("1"), None, None).unwrap();
        assert_eq!(found.key, "dist/master/1.tar.xz");
    }

    #[test]
    fn a_version_on_two_branches_needs_a_branch() {
        let builds = [build("master", "7", true), build("beta", "7", true)];
        let err = resolve(&builds, &Wanted::parse("7"), None, None).unwrap_err();
        assert!(matches!(err, ResolveError::Ambiguous { .. }));
        assert!(err.to_string().contains("--branch"));
        let found = resolve(&builds, &Wanted::parse("7"), Some("beta"), None).unwrap();
        assert_eq!(found.branch, "beta");
    }

    #[test]
    fn a_missing_version_is_not_found() {
        let builds = [build("master", "1", true)];
        let err = resolve(&builds, &Wanted::parse("9"), Some("master"), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no build 9 on branch master in the builds bucket; `ce builds list` shows what there is"
        );
    }

    #[test]
    fn a_build_without_its_txt_is_incomplete_and_names_the_missing_key() {
        let builds = [build("master", "5", false)];
        let err = resolve(&builds, &Wanted::parse("5"), None, None).unwrap_err();
        assert!(
            err.to_string().contains("dist/master/5.txt does not"),
            "{err}"
        );
    }

    #[test]
    fn latest_is_the_newest_complete_build_of_the_live_branch() {
        let builds = [
            build("beta", "9", true),
            build("master", "8", false),
            build("master", "7", true),
            build("master", "6", true),
        ];
        let live = tarball_key("master", "6");
        let found = resolve(&builds, &Wanted::Latest, None, Some(&live)).unwrap();
        assert_eq!(found.version, "7");
        let found = resolve(&builds, &Wanted::Latest, Some("beta"), Some(&live)).unwrap();
        assert_eq!(found.version, "9");
    }

    #[test]
    fn latest_without_a_live_build_or_branch_needs_one_when_branches_differ() {
        let builds = [build("beta", "9", true), build("master", "7", true)];
        let err = resolve(&builds, &Wanted::Latest, None, None).unwrap_err();
        assert!(matches!(err, ResolveError::NoBranch { .. }));
        let single = [build("master", "7", true)];
        assert!(resolve(&single, &Wanted::Latest, None, None).is_ok());
    }

    #[test]
    fn list_table_marks_the_live_build_and_matches_the_original_columns() {
        let mut live = build("master", "3965", true);
        live.size = 61_027_123;
        live.hash = Some("969925a1b2c3d4e5f60718293a4b5c6d7e8b69c5".into());
        let mut next = build("master", "3979", true);
        next.size = 61_027_999;
        next.hash = Some("9410c2a1b2c3d4e5f60718293a4b5c6d7e8fbc044".into());
        let broken = build("feature/x", "3980", false);
        let text = list_table(&[broken, next, live], Some("dist/master/3965.tar.xz"));
        assert_eq!(
            text,
            "\
Live  Branch      Version  Size     Hash
      feature/x   3980     1B       (incomplete)
      master      3979     58.2MiB  9410c2..fbc044
 -->  master      3965     58.2MiB  969925..8b69c5
"
        );
    }
}
