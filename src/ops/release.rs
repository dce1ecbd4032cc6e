//! `builds set-current`: putting a build live in two halves, so the command can ask the
//! operator in between. [`prepare`] finds the build, checks it is complete, that the env is not
//! locked and no other change is under way, and remembers the head it saw; [`apply`] claims the
//! change against that head (see [`versionslog`](super::versionslog)), writes the pointer, and
//! records how that went. A change made by someone else in between makes `apply` fail with who
//! did what, and writes nothing.

use std::time::Duration;

use serde::Serialize;

use super::OpsError;
use super::bucket::BuildsBucket;
use super::builds::{self, Build, ResolveError, Wanted};
use super::time::Timestamp;
use super::versionslog::{ChangeState, ClaimError, Entry, Head, Lock, VersionsLog};
use crate::architecture::Colour;
use crate::aws::AwsError;

/// How long a claim may stay pending before others may assume its operator died mid-change.
pub const PENDING_EXPIRY: Duration = Duration::from_secs(120);

/// Why the build cannot be put live.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// The named build is missing, ambiguous or incomplete.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// The env's builds are locked.
    #[error("builds of {env} are locked {}; nothing was changed (`ce --env {env} builds unlock` lifts it)", .lock.describe())]
    Locked {
        /// The env.
        env: String,
        /// The lock.
        lock: Lock,
    },
    /// Another change is being written right now.
    #[error(
        "{} is changing the build of {env} from {} to {} since {}; wait a minute and re-run",
        .head.by.as_deref().unwrap_or("someone"),
        .head.from.as_deref().unwrap_or("(none)"),
        .head.key.as_deref().unwrap_or("(none)"),
        .head.at.map(|t| t.to_string()).unwrap_or_default()
    )]
    Busy {
        /// The env.
        env: String,
        /// The head holding the pending change.
        head: Box<Head>,
    },
    /// `ce deploy` or `instances restart` while a release (or set-current) holds the env's
    /// release lock.
    #[error(
        "{} holds the release lock of {env}: putting {} live since {}, last seen {}; a release \
         owns the live colour and the group sizes it pinned, so {refused}: wait for it to end (`ce --env {env} blue-green status`, `ce --env {env} builds history`) \
         and re-run. If its `ce` was killed, the lock lapses by itself at {}, two minutes \
         after it was last seen",
        .head.by.as_deref().unwrap_or("someone"),
        .head.key.as_deref().unwrap_or("(none)"),
        .since.map_or_else(|| "?".to_owned(), |t| t.to_string()),
        .head.at.map_or_else(|| "?".to_owned(), |t| t.to_string()),
        .head.at.unwrap_or(Timestamp(0)).plus(PENDING_EXPIRY)
    )]
    DuringRelease {
        /// The env.
        env: String,
        /// What the refused command did not do (`nothing was deployed`).
        refused: &'static str,
        /// The head holding the claim.
        head: Box<Head>,
        /// When the claim was made (its log entry); the head's time is when it was last
        /// kept fresh.
        since: Option<Timestamp>,
    },
    /// The claim lost a race or met a lock.
    #[error(transparent)]
    Claim(#[from] ClaimError),
    /// The change was claimed but the pointer could not be written; it is logged as failed.
    #[error(
        "could not write the pointer s3://{bucket}/version/{env}: {source}; it still holds {}, \
         and the versions log records this change as failed: re-run",
        .from.as_deref().unwrap_or("nothing")
    )]
    PointerWrite {
        /// The env.
        env: String,
        /// The builds bucket.
        bucket: String,
        /// What the pointer still holds.
        from: Option<String>,
        /// Why the write failed.
        source: Box<AwsError>,
    },
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// What `prepare` found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Prepared {
    /// The build is live already; nothing to do.
    AlreadyLive(Build),
    /// A change to confirm and apply.
    Change(Box<Pending>),
}

/// A change ready to be applied.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Pending {
    /// The build to put live.
    pub build: Build,
    /// The key the pointer holds now.
    pub current: Option<String>,
    /// The head as read; the claim fails if it moved.
    pub head: Option<Head>,
    /// Things the operator should know (a stale pending change, a pointer changed by hand).
    pub notes: Vec<String>,
}

/// Reads the builds, the pointer and the head, and checks the change may be made.
pub async fn prepare(
    bucket: &BuildsBucket,
    log: &VersionsLog,
    env: &str,
    wanted: &Wanted,
    branch: Option<&str>,
) -> Result<Prepared, ReleaseError> {
    let (found, current, head) = tokio::join!(bucket.builds(None), bucket.pointer(env), log.head());
    let (found, current, head) = (found?, current?, head?);
    let build = builds::resolve(&found, wanted, branch, current.as_deref())?.clone();
    let notes = check_head(env, head.as_ref(), current.as_deref(), Timestamp::now())?;
    if current.as_deref() == Some(build.key.as_str()) {
        return Ok(Prepared::AlreadyLive(build));
    }
    Ok(Prepared::Change(Box::new(Pending {
        build,
        current,
        head,
        notes,
    })))
}

/// Refuses a locked env or one with a fresh pending change; notes anything odd.
pub fn check_head(
    env: &str,
    head: Option<&Head>,
    current: Option<&str>,
    now: Timestamp,
) -> Result<Vec<String>, ReleaseError> {
    let Some(head) = head else {
        return Ok(Vec::new());
    };
    if let Some(lock) = &head.lock {
        return Err(ReleaseError::Locked {
            env: env.to_owned(),
            lock: lock.clone(),
        });
    }
    let mut notes = Vec::new();
    if head.state == Some(ChangeState::Pending) {
        let since = head.at.unwrap_or(Timestamp(0));
        if now.since(since) < PENDING_EXPIRY {
            return Err(ReleaseError::Busy {
                env: env.to_owned(),
                head: Box::new(head.clone()),
            });
        }
        notes.push(format!(
            "a change to {} by {} at {since} never finished; the pointer holds {}",
            head.key.as_deref().unwrap_or("(none)"),
            head.by.as_deref().unwrap_or("someone"),
            current.unwrap_or("nothing"),
        ));
    } else if head.state == Some(ChangeState::Done) && head.key.as_deref() != current {
        notes.push(format!(
            "the pointer holds {} but the last change ce recorded set {}: it was changed \
             outside ce",
            current.unwrap_or("nothing"),
            head.key.as_deref().unwrap_or("(none)"),
        ));
    }
    Ok(notes)
}

/// Whether `ce deploy` (or `instances restart`) may run: refuses while a change of the live
/// build holds the env's release lock (a pending claim last kept fresh less than
/// [`PENDING_EXPIRY`] ago), since a release owns the live colour and pins the live group, and a
/// deploy could resize it, a restart roll it. A `builds lock` does not stop a deploy: it
/// freezes the build, not the infrastructure. Returns a note when a claim lapsed without
/// finishing. `since` is when the claim was made; `refused` says what the command did not do.
pub fn check_release_lock(
    env: &str,
    head: Option<&Head>,
    since: Option<Timestamp>,
    now: Timestamp,
    refused: &'static str,
) -> Result<Option<String>, ReleaseError> {
    let Some(head) = head.filter(|h| h.state == Some(ChangeState::Pending)) else {
        return Ok(None);
    };
    let seen = head.at.unwrap_or(Timestamp(0));
    if now.since(seen) < PENDING_EXPIRY {
        return Err(ReleaseError::DuringRelease {
            env: env.to_owned(),
            refused,
            head: Box::new(head.clone()),
            since,
        });
    }
    Ok(Some(format!(
        "a change of {env}'s build to {} by {} (last seen {seen}) never finished and its \
         release lock lapsed; if it was a release, `ce --env {env} blue-green status` shows \
         what it left",
        head.key.as_deref().unwrap_or("(none)"),
        head.by.as_deref().unwrap_or("someone"),
    )))
}

/// [`check_release_lock`] against the env's versions log; an env without a storage stack (not
/// deployed yet) has no release to wait for.
pub async fn release_guard(
    aws: &crate::aws::Aws,
    env: &str,
    refused: &'static str,
) -> Result<Option<String>, OpsError> {
    let resources = match super::Resources::read(aws, env).await {
        Ok(r) => r,
        Err(OpsError::StackMissing { .. } | OpsError::OutputMissing { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let log = VersionsLog::new(aws, &resources.versions_table, env);
    let head = log.head().await?;
    let pending = head
        .as_ref()
        .filter(|h| h.state == Some(ChangeState::Pending));
    let since = match pending {
        Some(head) => log
            .history(Some(5))
            .await?
            .into_iter()
            .find(|e| e.seq == head.seq)
            .map(|e| e.at),
        None => None,
    };
    check_release_lock(env, head.as_ref(), since, Timestamp::now(), refused)
        .map_err(|e| OpsError::Release(Box::new(e)))
}

/// [`release_guard`] again, for a deploy that has waited (at a prompt, or for an earlier
/// stack's change set): a release may have taken the lock meanwhile. `Err` is why the
/// approved change is refused (a lock that cannot be read refuses it too: nothing is changed
/// on a guess).
pub async fn recheck_release_lock(aws: &crate::aws::Aws, env: &str) -> Result<(), String> {
    match release_guard(aws, env, "the approved change was not executed").await {
        Ok(_) => Ok(()),
        Err(OpsError::Release(e)) => Err(e.to_string()),
        // The whole chain, on the one line the deploy's report has for it.
        Err(e) => Err(format!(
            "the release lock could not be read again before executing ({:#}), so the \
             approved change was not executed; run `ce deploy` again",
            anyhow::Error::from(e)
        )),
    }
}

/// Claims the change, writes the pointer (the env's, and the live colour's when there is
/// one, so the live colour's new nodes boot it) and records the outcome; returns the log
/// entry.
pub async fn apply(
    bucket: &BuildsBucket,
    log: &VersionsLog,
    env: &str,
    pending: &Pending,
    by: &str,
    principal: &str,
    colour: Option<Colour>,
) -> Result<Entry, ReleaseError> {
    let change = super::versionslog::Change {
        seq: pending.head.as_ref().map_or(0, |h| h.seq) + 1,
        at: Timestamp::now(),
        from: pending.current.clone(),
        to: pending.build.key.clone(),
        by: by.to_owned(),
        principal: principal.to_owned(),
        colour,
        switch: false,
        scaled_up: None,
    };
    log.claim(pending.head.as_ref(), &change).await?;
    let written = match colour {
        Some(colour) => {
            bucket
                .set_colour_pointer(env, colour, Some(&change.to))
                .await
        }
        None => Ok(()),
    };
    if let Err(source) = written.and(bucket.set_pointer(env, &change.to).await) {
        // Best effort: if this fails too, the claim expires after PENDING_EXPIRY.
        let _ = log.finish(&change, ChangeState::Failed).await;
        return Err(ReleaseError::PointerWrite {
            env: env.to_owned(),
            bucket: bucket.name().to_owned(),
            from: change.from,
            source: Box::new(source),
        });
    }
    log.finish(&change, ChangeState::Done).await?;
    Ok(Entry {
        at: change.at,
        seq: change.seq,
        to: change.to,
        from: change.from,
        by: change.by,
        principal: Some(change.principal),
        state: ChangeState::Done,
        colour: change.colour,
        switch: false,
        scaled_up: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(state: ChangeState, at: i64) -> Head {
        Head {
            seq: 3,
            key: Some("dist/master/3.tar.xz".into()),
            from: Some("dist/master/2.tar.xz".into()),
            state: Some(state),
            at: Some(Timestamp(at)),
            by: Some("dave@admin".into()),
            lock: None,
        }
    }

    #[test]
    fn a_locked_env_refuses_and_shows_the_reason_and_who() {
        let mut h = head(ChangeState::Done, 0);
        h.lock = Some(Lock {
            reason: Some("keynote".into()),
            by: "erin@admin".into(),
            at: Timestamp(0),
        });
        let err =
            check_head("prod", Some(&h), Some("dist/master/3.tar.xz"), Timestamp(1)).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("locked by erin@admin") && text.contains("keynote"),
            "{text}"
        );
    }

    #[test]
    fn a_fresh_pending_change_makes_others_wait() {
        let h = head(ChangeState::Pending, 1_000_000);
        let err = check_head("prod", Some(&h), None, Timestamp(1_030_000)).unwrap_err();
        assert!(matches!(err, ReleaseError::Busy { .. }));
        assert!(err.to_string().contains("dave@admin is changing"), "{err}");
    }

    #[test]
    fn an_expired_pending_change_is_noted_not_blocking() {
        let h = head(ChangeState::Pending, 0);
        let now = Timestamp(0).plus(PENDING_EXPIRY);
        let notes = check_head("prod", Some(&h), Some("dist/master/2.tar.xz"), now).unwrap();
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("never finished"), "{}", notes[0]);
    }

    #[test]
    fn a_pointer_changed_by_hand_is_noted() {
        let h = head(ChangeState::Done, 0);
        let notes =
            check_head("prod", Some(&h), Some("dist/other/9.tar.xz"), Timestamp(5)).unwrap();
        assert!(notes[0].contains("changed outside ce"), "{}", notes[0]);
        let consistent =
            check_head("prod", Some(&h), Some("dist/master/3.tar.xz"), Timestamp(5)).unwrap();
        assert!(consistent.is_empty());
    }

    #[test]
    fn a_deploy_waits_for_a_fresh_claim_names_who_and_since_when_and_notes_a_lapsed_one() {
        let mut h = head(ChangeState::Pending, 1_000_000);
        h.by = Some("ci-release".into());
        let err = check_release_lock(
            "prod",
            Some(&h),
            Some(Timestamp(900_000)),
            Timestamp(1_060_000),
            "nothing was deployed",
        )
        .unwrap_err();
        let text = err.to_string();
        for part in [
            "ci-release holds the release lock of prod",
            "putting dist/master/3.tar.xz live since 1970-01-01T00:15:00.000Z",
            "last seen 1970-01-01T00:16:40.000Z",
            "nothing was deployed",
            "ce --env prod blue-green status",
            "lapses by itself at 1970-01-01T00:18:40.000Z",
        ] {
            assert!(text.contains(part), "{part:?} in {text}");
        }
        let lapsed = check_release_lock(
            "prod",
            Some(&h),
            None,
            Timestamp(1_000_000).plus(PENDING_EXPIRY),
            "nothing was deployed",
        )
        .unwrap()
        .expect("a note");
        assert!(lapsed.contains("never finished"), "{lapsed}");
        // Finished changes and a builds lock do not stop a deploy.
        let mut done = head(ChangeState::Done, 1_000_000);
        assert_eq!(
            check_release_lock("prod", Some(&done), None, Timestamp(1_000_001), "x").unwrap(),
            None
        );
        done.lock = Some(Lock {
            reason: None,
            by: "erin".into(),
            at: Timestamp(0),
        });
        assert_eq!(
            check_release_lock("prod", Some(&done), None, Timestamp(1_000_001), "x").unwrap(),
            None
        );
        assert_eq!(
            check_release_lock("prod", None, None, Timestamp(0), "x").unwrap(),
            None
        );
    }
}
