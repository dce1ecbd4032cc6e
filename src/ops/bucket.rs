//! The builds bucket through S3: the build listing, the `.txt` hashes (fetched concurrently, a
//! bounded number at a time), and the `version/<env>` pointer the nodes read at boot.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use tokio::task::JoinSet;

use super::builds::{self, Build};
use crate::architecture::version_key;
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

    /// Points the env at `key`: what every node launched from now on will boot.
    pub async fn set_pointer(&self, env: &str, key: &str) -> Result<(), AwsError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(version_key(env))
            .content_type("text/plain")
            .cache_control("no-cache")
            .body(ByteStream::from(format!("{key}\n").into_bytes()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("PutObject", None, e))?;
        Ok(())
    }

    /// An object's body as text; `None` when it does not exist.
    async fn get_text(&self, key: &str) -> Result<Option<String>, AwsError> {
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
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
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
