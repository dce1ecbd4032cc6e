//! `ce builds list|set-current|history|lock|unlock`: the env's builds and which one is live.

use std::io::Write;

use anyhow::Result;
use serde_json::json;

use super::operate::{self, Session};
use super::{FORMAT_VERSION, Ui};
use crate::Status;
use crate::cli::{BuildsAction, Format};
use crate::ops::bucket::BuildsBucket;
use crate::ops::builds::{self, Wanted};
use crate::ops::instances::version_label;
use crate::ops::release::{self, Prepared};
use crate::ops::table;
use crate::ops::time::Timestamp;
use crate::ops::versionslog::{ChangeState, Entry, Lock, VersionsLog};

/// Runs one `ce builds` action.
pub fn run(ui: &Ui, action: &BuildsAction, out: &mut dyn Write) -> Result<Status> {
    let (runtime, env, target) = operate::runtime(ui)?;
    runtime.block_on(async {
        let session = operate::connect(env, target).await?;
        match action {
            BuildsAction::List { branch } => list(ui, &session, branch.as_deref(), out).await,
            BuildsAction::SetCurrent {
                version,
                branch,
                yes,
            } => set_current(ui, &session, version, branch.as_deref(), *yes, out).await,
            BuildsAction::History { limit } => history(ui, &session, *limit, out).await,
            BuildsAction::Lock { reason } => lock(ui, &session, reason.clone(), out).await,
            BuildsAction::Unlock => unlock(ui, &session, out).await,
        }
    })
}

fn bucket(s: &Session) -> BuildsBucket {
    BuildsBucket::new(&s.aws, &s.resources.builds_bucket)
}

fn log(s: &Session) -> VersionsLog {
    VersionsLog::new(&s.aws, &s.resources.versions_table, &s.resources.env)
}

async fn list(ui: &Ui, s: &Session, branch: Option<&str>, out: &mut dyn Write) -> Result<Status> {
    let bucket = bucket(s);
    let (found, live) = tokio::join!(bucket.builds(branch), bucket.pointer(&s.resources.env));
    let (mut found, live) = (found?, live?);
    bucket.read_hashes(&mut found).await?;
    match ui.format {
        Format::Text | Format::Markdown => {
            out.write_all(builds::list_table(&found, live.as_deref()).as_bytes())?
        }
        Format::Json => {
            let doc = json!({
                "format_version": FORMAT_VERSION,
                "env": s.resources.env,
                "bucket": s.resources.builds_bucket,
                "live": live,
                "builds": found.iter().map(|b| json!({
                    "live": live.as_deref() == Some(b.key.as_str()),
                    "branch": b.branch,
                    "version": b.version,
                    "key": b.key,
                    "size": b.size,
                    "hash": b.hash,
                    "complete": b.has_info,
                    "static_key": b.static_key,
                })).collect::<Vec<_>>(),
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
    }
    if live.is_none() {
        eprintln!(
            "no build is live in {} yet: `ce --env {} builds set-current VERSION` puts one live",
            s.resources.env, s.resources.env
        );
    }
    Ok(Status::Success)
}

async fn set_current(
    ui: &Ui,
    s: &Session,
    version: &str,
    branch: Option<&str>,
    yes: bool,
    out: &mut dyn Write,
) -> Result<Status> {
    let env = &s.resources.env;
    let (bucket, log) = (bucket(s), log(s));
    let prepared = release::prepare(&bucket, &log, env, &Wanted::parse(version), branch).await?;
    let pending = match prepared {
        Prepared::AlreadyLive(build) => {
            report_set(ui, out, env, false, None, &build.key, None)?;
            return Ok(Status::Success);
        }
        Prepared::Change(pending) => pending,
    };
    for note in &pending.notes {
        eprintln!("note: {note}");
    }
    let question = format!(
        "{env}: put build {} live (was {}); nodes launched from now on boot it",
        pending.build.label(),
        pending
            .current
            .as_deref()
            .map(version_label)
            .unwrap_or_else(|| "none".into()),
    );
    if !operate::confirm(ui, &s.env, yes, &question)? {
        return Ok(Status::NeedsApproval);
    }
    operate::guard(s).await?;
    let principal = crate::ops::principal(&s.aws).await?;
    let entry = release::apply(
        &bucket,
        &log,
        env,
        &pending,
        &crate::ops::operator(),
        &principal,
    )
    .await?;
    report_set(
        ui,
        out,
        env,
        true,
        entry.from.as_deref(),
        &entry.to,
        Some(&entry),
    )?;
    Ok(Status::Success)
}

fn report_set(
    ui: &Ui,
    out: &mut dyn Write,
    env: &str,
    changed: bool,
    from: Option<&str>,
    to: &str,
    entry: Option<&Entry>,
) -> Result<()> {
    match ui.format {
        Format::Json => {
            let doc = json!({
                "format_version": FORMAT_VERSION,
                "env": env,
                "changed": changed,
                "from": from,
                "to": to,
                "at": entry.map(|e| e.at),
                "by": entry.map(|e| &e.by),
                "seq": entry.map(|e| e.seq),
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        Format::Text | Format::Markdown if !changed => {
            writeln!(out, "{} is already live in {env}", version_label(to))?;
        }
        Format::Text | Format::Markdown => {
            writeln!(
                out,
                "{env} now runs {} for new nodes (was {})",
                version_label(to),
                from.map(version_label).unwrap_or_else(|| "none".into())
            )?;
            eprintln!(
                "running nodes keep their build: `ce --env {env} instances restart` replaces them"
            );
        }
    }
    Ok(())
}

async fn history(ui: &Ui, s: &Session, limit: usize, out: &mut dyn Write) -> Result<Status> {
    let log = log(s);
    let (entries, head) = tokio::join!(log.history(Some(limit)), log.head());
    let (mut entries, head) = (entries?, head?);
    entries.truncate(limit);
    let lock = head.and_then(|h| h.lock);
    match ui.format {
        Format::Json => {
            let doc = json!({
                "format_version": FORMAT_VERSION,
                "env": s.resources.env,
                "lock": lock,
                "changes": entries,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        Format::Text | Format::Markdown => {
            out.write_all(history_table(&entries).as_bytes())?;
            if let Some(lock) = &lock {
                eprintln!(
                    "builds of {} are locked {}",
                    s.resources.env,
                    lock.describe()
                );
            }
        }
    }
    Ok(Status::Success)
}

/// When, Build, Was, By, and a note for changes that did not reach the pointer.
fn history_table(entries: &[Entry]) -> String {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.at.short(),
                version_label(&e.to),
                e.from
                    .as_deref()
                    .map(version_label)
                    .unwrap_or_else(|| "-".into()),
                e.by.clone(),
                match e.state {
                    ChangeState::Done => String::new(),
                    ChangeState::Pending => "pending".into(),
                    ChangeState::Failed => "failed: pointer not written".into(),
                },
            ]
        })
        .collect();
    table::render(&["When (UTC)", "Build", "Was", "By", "Note"], &rows)
}

async fn lock(ui: &Ui, s: &Session, reason: Option<String>, out: &mut dyn Write) -> Result<Status> {
    operate::guard(s).await?;
    let lock = Lock {
        reason,
        by: crate::ops::operator(),
        at: Timestamp::now(),
    };
    log(s).lock(&lock).await?;
    match ui.format {
        Format::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json!({
                "format_version": FORMAT_VERSION,
                "env": s.resources.env,
                "locked": true,
                "lock": lock,
            }))?
        )?,
        Format::Text | Format::Markdown => writeln!(
            out,
            "locked builds of {} {}",
            s.resources.env,
            lock.describe()
        )?,
    }
    Ok(Status::Success)
}

async fn unlock(ui: &Ui, s: &Session, out: &mut dyn Write) -> Result<Status> {
    operate::guard(s).await?;
    let was = log(s).unlock().await?;
    match ui.format {
        Format::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json!({
                "format_version": FORMAT_VERSION,
                "env": s.resources.env,
                "locked": false,
                "was": was,
            }))?
        )?,
        Format::Text | Format::Markdown => match &was {
            Some(lock) => writeln!(
                out,
                "unlocked builds of {} (locked {})",
                s.resources.env,
                lock.describe()
            )?,
            None => writeln!(out, "builds of {} were not locked", s.resources.env)?,
        },
    }
    Ok(Status::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_reads_newest_first_with_failed_changes_called_out() {
        let entry = |at: i64, from: Option<&str>, to: &str, state| Entry {
            at: Timestamp::from_secs(at),
            seq: 0,
            to: to.into(),
            from: from.map(str::to_owned),
            by: "alice@admin".into(),
            principal: None,
            state,
        };
        let text = history_table(&[
            entry(
                1_714_564_900,
                Some("dist/master/3965.tar.xz"),
                "dist/master/3979.tar.xz",
                ChangeState::Failed,
            ),
            entry(
                1_714_564_803,
                None,
                "dist/master/3965.tar.xz",
                ChangeState::Done,
            ),
        ]);
        assert_eq!(
            text,
            "\
When (UTC)           Build          Was            By           Note
2024-05-01 12:01:40  3979 (master)  3965 (master)  alice@admin  failed: pointer not written
2024-05-01 12:00:03  3965 (master)  -              alice@admin
"
        );
    }
}
