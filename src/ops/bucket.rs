//! The builds bucket through S3: the build listing, the `.txt` hashes (fetched concurrently, a
//! bounded number at a time), and the `version/<env>` pointer the nodes read at boot.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use tokio::task::JoinSet;

use std::collections::BTreeMap;

use super::builds::{self, Build};
use super::statics;
use crate::architecture::{Colour, colour_version_key, version_key};
use crate::aws::{Aws, AwsError};

/// Hash reads in flight at once: enough to hide latency, few enough not to be throttled.
const HASH_CONCURRENCY: usize = 16;

/// The env's builds bucket.
#[derive(Clone, Debug)]
pub struct BuildsBucket {
    client: Client,
    bucket: String,
}

impl BuildsBucket {
    /// A client for `bucket`.
    pub fn new(aws: &Aws, bucket: &str) -> Self {
        BuildsBucket {
            client: crate::aws::s3(aws),
            bucket: bucket.to_owned(),
        }
    }

    /// The bucket's name.
    pub fn name(&self) -> &str {
        &self.bucket
    }

    /// Every build under `dist/` (optionally one branch's), newest first, without hashes.
    pub async fn builds(&self, branch: Option<&str>) -> Result<Vec<Build>, AwsError> {
        let prefix = match branch {
            Some(b) => format!("{}{b}/", builds::DIST_PREFIX),
            None => builds::DIST_PREFIX.to_owned(),
        };
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut objects = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ListObjectsV2", None, e))?;
            for object in page.contents.unwrap_or_default() {
                if let Some(key) = object.key {
                    let size = u64::try_from(object.size.unwrap_or(0)).unwrap_or(0);
                    objects.push((key, size));
                }
            }
        }
        let mut found = builds::assemble(&objects);
        // The prefix also matches branches below this one (`b/` lists `b/sub/`).
        if let Some(branch) = branch {
            found.retain(|b| b.branch == branch);
        }
        Ok(found)
    }

    /// Fills in the hash of every complete build, reading the `.txt`s concurrently.
    pub async fn read_hashes(&self, builds: &mut [Build]) -> Result<(), AwsError> {
        let mut pending = builds
            .iter()
            .enumerate()
            .filter(|(_, b)| b.has_info)
            .map(|(i, b)| (i, b.info_key()))
            .collect::<Vec<_>>()
            .into_iter();
        let mut running = JoinSet::new();
        loop {
            while running.len() < HASH_CONCURRENCY {
                let Some((i, key)) = pending.next() else {
                    break;
                };
                let this = self.clone();
                running.spawn(async move { (i, this.get_text(&key).await) });
            }
            let Some(done) = running.join_next().await else {
                return Ok(());
            };
            let (i, text) = crate::aws::rethrown(done);
            builds[i].hash = text?.map(|t| t.trim().to_owned());
        }
    }

    /// The key the env's pointer holds, `None` when there is no pointer.
    pub async fn pointer(&self, env: &str) -> Result<Option<String>, AwsError> {
        Ok(self
            .get_text(&version_key(env))
            .await?
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty()))
    }

    /// The key a colour's pointer holds, `None` when it has none.
    pub async fn colour_pointer(
        &self,
        env: &str,
        colour: Colour,
    ) -> Result<Option<String>, AwsError> {
        Ok(self
            .get_text(&colour_version_key(env, colour))
            .await?
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty()))
    }

    /// Points a colour at `key` (what its nodes boot from now on), or removes its pointer.
    pub async fn set_colour_pointer(
        &self,
        env: &str,
        colour: Colour,
        key: Option<&str>,
    ) -> Result<(), AwsError> {
        let object = colour_version_key(env, colour);
        match key {
            Some(key) => self.write_pointer(&object, key).await,
            None => self
                .client
                .delete_object()
                .bucket(&self.bucket)
                .key(&object)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("DeleteObject", None, e)),
        }
    }

    /// Points the env at `key`: the build live, and what a node of a colour no release has
    /// pointed yet boots.
    pub async fn set_pointer(&self, env: &str, key: &str) -> Result<(), AwsError> {
        self.write_pointer(&version_key(env), key).await
    }

    async fn write_pointer(&self, object: &str, key: &str) -> Result<(), AwsError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(object)
            .content_type("text/plain")
            .cache_control("no-cache")
            .body(ByteStream::from(format!("{key}\n").into_bytes()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("PutObject", None, e))?;
        Ok(())
    }

    /// An object's body; `None` when it does not exist.
    pub async fn get_bytes(&self, key: &str) -> Result<Option<Vec<u8>>, AwsError> {
        let object = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(object) => object,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(AwsError::from_sdk("GetObject", None, e)),
        };
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| AwsError::Unreachable {
                operation: "GetObject".into(),
                detail: format!("reading s3://{}/{key}: {e}", self.bucket),
            })?
            .into_bytes();
        Ok(Some(bytes.to_vec()))
    }

    /// Each key's `sha256` metadata, for those of `keys` that exist (`None` when it has none),
    /// sixteen requests at a time.
    pub async fn hashes_of(
        &self,
        keys: Vec<String>,
    ) -> Result<BTreeMap<String, Option<String>>, AwsError> {
        let mut found = BTreeMap::new();
        for chunk in keys.chunks(16) {
            let mut set = JoinSet::new();
            for key in chunk {
                let (client, bucket, key) = (self.client.clone(), self.bucket.clone(), key.clone());
                set.spawn(async move {
                    let head = client.head_object().bucket(&bucket).key(&key).send().await;
                    (key, head)
                });
            }
            while let Some(done) = set.join_next().await {
                let Ok((key, head)) = done else { continue };
                match head {
                    Ok(head) => {
                        let sha = head.metadata.and_then(|m| m.get("sha256").cloned());
                        found.insert(key, sha);
                    }
                    Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {}
                    Err(e) => return Err(AwsError::from_sdk("HeadObject", None, e)),
                }
            }
        }
        Ok(found)
    }

    /// The files each static tarball of `keys` holds (see [`statics::manifest`]), reading
    /// sixteen at a time; a tarball that cannot be read is an `Err` in its place, one that is
    /// gone is left out.
    pub async fn static_manifests(
        &self,
        keys: Vec<String>,
    ) -> Result<BTreeMap<String, Result<Vec<statics::Named>, statics::StaticError>>, AwsError> {
        let mut found = BTreeMap::new();
        for chunk in keys.chunks(HASH_CONCURRENCY) {
            let mut set = JoinSet::new();
            for key in chunk {
                let (this, key) = (self.clone(), key.clone());
                set.spawn(async move {
                    let xz = this.get_bytes(&key).await;
                    (key, xz)
                });
            }
            while let Some(done) = set.join_next().await {
                let (key, xz) = crate::aws::rethrown(done);
                if let Some(xz) = xz? {
                    let files = statics::manifest(&key, &xz);
                    found.insert(key, files);
                }
            }
        }
        Ok(found)
    }

    /// Uploads one static file with its hash, type and caching.
    pub async fn put_static(&self, file: &statics::StaticFile) -> Result<(), AwsError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&file.key)
            .content_type(file.content_type())
            .cache_control(file.cache_control())
            .metadata("sha256", &file.sha256)
            .body(ByteStream::from(file.body.clone()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("PutObject", None, e))?;
        Ok(())
    }

    /// An object's body as text; `None` when it does not exist.
    async fn get_text(&self, key: &str) -> Result<Option<String>, AwsError> {
        Ok(self
            .get_bytes(key)
            .await?
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// Deletes objects, a thousand per request (the API's limit); returns how many went.
    pub async fn delete(&self, keys: &[String]) -> Result<usize, AwsError> {
        use aws_sdk_s3::types::{Delete, ObjectIdentifier};
        let mut deleted = 0;
        for chunk in keys.chunks(1000) {
            let objects = chunk
                .iter()
                .map(|k| ObjectIdentifier::builder().key(k).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| invalid_request(&e))?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| invalid_request(&e))?;
            let out = self
                .client
                .delete_objects()
                .bucket(&self.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DeleteObjects", None, e))?;
            if let Some(error) = out.errors.unwrap_or_default().first() {
                return Err(AwsError::Other {
                    operation: "DeleteObjects".into(),
                    code: error.code.clone().unwrap_or_else(|| "refused".into()),
                    message: format!(
                        "{}: {} ({deleted} objects deleted before it)",
                        error.key.as_deref().unwrap_or("?"),
                        error.message.as_deref().unwrap_or("refused")
                    ),
                });
            }
            deleted += chunk.len();
        }
        Ok(deleted)
    }

    /// Uploads an object (tests and tooling that seed builds).
    pub async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), AwsError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("PutObject", None, e))?;
        Ok(())
    }
}

fn invalid_request(e: &dyn std::error::Error) -> AwsError {
    AwsError::Other {
        operation: "DeleteObjects".into(),
        code: "InvalidRequest".into(),
        message: e.to_string(),
    }
}
