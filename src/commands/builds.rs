//! `ce builds list|set-current|history|lock|unlock`: the env's builds and which one is live.

use std::io::{self, Write};

use anyhow::Result;
use serde::Serialize;

use super::operate::{self, Session};
use super::{Context, Report};
use crate::Status;
use crate::architecture::Colour;
use crate::cli::BuildsAction;
use crate::ops::Resources;
use crate::ops::bluegreen::Platform;
use crate::ops::bluegreen::edge::AwsPlatform;
use crate::ops::bucket::BuildsBucket;
use crate::ops::builds::{self, Build, Wanted};
use crate::ops::instances::version_label;
use crate::ops::release::{self, Prepared};
use crate::ops::retention::{self, Kept};
use crate::ops::statics;
use crate::ops::table;
use crate::ops::time::Timestamp;
use crate::ops::versionslog::{ChangeState, Entry, Lock, VersionsLog};
use crate::printer::Styles;

/// Runs one `ce builds` action.
pub fn run(ctx: &Context, action: &BuildsAction) -> Result<Status> {
    let remote = operate::remote(ctx)?;
    remote.block_on(async {
        let session = operate::connect(&remote).await?;
        match action {
            BuildsAction::List { branch } => list(ctx, &session, branch.as_deref()).await,
            BuildsAction::SetCurrent {
                version,
                branch,
                yes,
            } => set_current(ctx, &session, version, branch.as_deref(), *yes).await,
            BuildsAction::History { limit } => history(ctx, &session, *limit).await,
            BuildsAction::Lock { reason } => lock(ctx, &session, reason.clone()).await,
            BuildsAction::Unlock => unlock(ctx, &session).await,
            BuildsAction::RmOld { keep, yes } => rm_old(ctx, &session, *keep, *yes).await,
        }
    })
}

fn bucket(s: &Session) -> BuildsBucket {
    BuildsBucket::new(&s.aws, &s.resources.builds_bucket)
}

fn log(s: &Session) -> VersionsLog {
    VersionsLog::new(&s.aws, &s.resources.versions_table, &s.resources.env)
}

async fn list(ctx: &Context, s: &Session, branch: Option<&str>) -> Result<Status> {
    let bucket = bucket(s);
    let (found, live) = tokio::join!(bucket.builds(branch), bucket.pointer(&s.resources.env));
    let (mut found, live) = (found?, live?);
    bucket.read_hashes(&mut found).await?;
    ctx.printer.report(&ListReport {
        env: &s.resources.env,
        bucket: &s.resources.builds_bucket,
        live: live.as_deref(),
        builds: found
            .iter()
            .map(|b| ListedBuild {
                live: live.as_deref() == Some(b.key.as_str()),
                branch: &b.branch,
                version: &b.version,
                key: &b.key,
                size: b.size,
                hash: b.hash.as_deref(),
                complete: b.has_info,
                static_key: b.static_key.as_deref(),
            })
            .collect(),
        found: &found,
    })?;
    if live.is_none() {
        ctx.printer.note(format_args!(
            "no build is live in {} yet: `ce --env {} builds set-current VERSION` puts one live",
            s.resources.env, s.resources.env
        ))?;
    }
    Ok(Status::Success)
}

/// The builds in the bucket, newest first.
#[derive(Serialize)]
struct ListReport<'a> {
    env: &'a str,
    bucket: &'a str,
    /// The live build's key.
    live: Option<&'a str>,
    builds: Vec<ListedBuild<'a>>,
    #[serde(skip)]
    found: &'a [Build],
}

/// One build, as listed.
#[derive(Serialize)]
struct ListedBuild<'a> {
    live: bool,
    branch: &'a str,
    version: &'a str,
    key: &'a str,
    size: u64,
    hash: Option<&'a str>,
    /// Its `.txt` exists, so it may go live.
    complete: bool,
    static_key: Option<&'a str>,
}

impl Report for ListReport<'_> {
    fn write_text(&self, out: &mut dyn Write, _: Styles) -> io::Result<()> {
        out.write_all(builds::list_table(self.found, self.live).as_bytes())
    }
}

async fn set_current(
    ctx: &Context,
    s: &Session,
    version: &str,
    branch: Option<&str>,
    yes: bool,
) -> Result<Status> {
    let env = &s.resources.env;
    let (bucket, log) = (bucket(s), log(s));
    let prepared = release::prepare(&bucket, &log, env, &Wanted::parse(version), branch).await?;
    let pending = match prepared {
        Prepared::AlreadyLive(build) => {
            ctx.printer.report(&SetReport {
                env,
                changed: false,
                from: None,
                to: &build.key,
                at: None,
                by: None,
                seq: None,
            })?;
            return Ok(Status::Success);
        }
        Prepared::Change(pending) => pending,
    };
    for note in &pending.notes {
        ctx.printer.note(format_args!("note: {note}"))?;
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
    if !operate::confirm(ctx, &s.env, yes, &question)? {
        return Ok(Status::NeedsApproval);
    }
    operate::guard(s).await?;
    let principal = crate::ops::principal(&s.aws).await?;
    // The live colour's nodes boot its own pointer: it must name the build too.
    let colour = match AwsPlatform::new(&s.aws, &s.resources, &principal) {
        Ok(platform) => platform.live().await?,
        Err(_) => None,
    };
    let entry = release::apply(
        &bucket,
        &log,
        env,
        &pending,
        &crate::ops::operator(),
        &principal,
        colour,
    )
    .await?;
    ctx.printer.report(&SetReport {
        env,
        changed: true,
        from: entry.from.as_deref(),
        to: &entry.to,
        at: Some(entry.at),
        by: Some(&entry.by),
        seq: Some(entry.seq),
    })?;
    ctx.printer.note(format_args!(
        "running nodes keep their build: `ce --env {env} instances restart` replaces them"
    ))?;
    Ok(Status::Success)
}

/// What `builds set-current` did.
#[derive(Serialize)]
struct SetReport<'a> {
    env: &'a str,
    changed: bool,
    from: Option<&'a str>,
    to: &'a str,
    /// When, by whom and as which change of the log; null when nothing changed.
    at: Option<Timestamp>,
    by: Option<&'a str>,
    seq: Option<u64>,
}

impl Report for SetReport<'_> {
    fn write_text(&self, out: &mut dyn Write, _: Styles) -> io::Result<()> {
        if self.changed {
            writeln!(
                out,
                "{} now runs {} for new nodes (was {})",
                self.env,
                version_label(self.to),
                self.from
                    .map(version_label)
                    .unwrap_or_else(|| "none".into())
            )
        } else {
            writeln!(
                out,
                "{} is already live in {}",
                version_label(self.to),
                self.env
            )
        }
    }
}

async fn history(ctx: &Context, s: &Session, limit: usize) -> Result<Status> {
    let log = log(s);
    let (entries, head) = tokio::join!(log.history(Some(limit)), log.head());
    let (mut changes, head) = (entries?, head?);
    changes.truncate(limit);
    let lock = head.and_then(|h| h.lock);
    ctx.printer.report(&HistoryReport {
        env: &s.resources.env,
        lock: lock.as_ref(),
        changes,
    })?;
    if let Some(lock) = &lock {
        ctx.printer.note(format_args!(
            "builds of {} are locked {}",
            s.resources.env,
            lock.describe()
        ))?;
    }
    Ok(Status::Success)
}

/// Who put which build live when, newest first.
#[derive(Serialize)]
struct HistoryReport<'a> {
    env: &'a str,
    lock: Option<&'a Lock>,
    changes: Vec<Entry>,
}

impl Report for HistoryReport<'_> {
    fn write_text(&self, out: &mut dyn Write, _: Styles) -> io::Result<()> {
        out.write_all(history_table(&self.changes).as_bytes())
    }
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

async fn lock(ctx: &Context, s: &Session, reason: Option<String>) -> Result<Status> {
    operate::guard(s).await?;
    let lock = Lock {
        reason,
        by: crate::ops::operator(),
        at: Timestamp::now(),
    };
    log(s).lock(&lock).await?;
    ctx.printer.report(&LockReport {
        env: &s.resources.env,
        locked: true,
        lock: Some(&lock),
        was: None,
    })?;
    Ok(Status::Success)
}

async fn unlock(ctx: &Context, s: &Session) -> Result<Status> {
    operate::guard(s).await?;
    let was = log(s).unlock().await?;
    ctx.printer.report(&LockReport {
        env: &s.resources.env,
        locked: false,
        lock: None,
        was: Some(was.as_ref()),
    })?;
    Ok(Status::Success)
}

/// The lock after `builds lock` (with `lock`) or `builds unlock` (with `was`).
#[derive(Serialize)]
struct LockReport<'a> {
    env: &'a str,
    locked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    lock: Option<&'a Lock>,
    /// The lock `unlock` lifted, null when there was none.
    #[serde(skip_serializing_if = "Option::is_none")]
    was: Option<Option<&'a Lock>>,
}

impl Report for LockReport<'_> {
    fn write_text(&self, out: &mut dyn Write, _: Styles) -> io::Result<()> {
        let env = self.env;
        match (self.lock, self.was) {
            (Some(lock), _) => writeln!(out, "locked builds of {env} {}", lock.describe()),
            (None, Some(Some(was))) => {
                writeln!(out, "unlocked builds of {env} (locked {})", was.describe())
            }
            (None, _) => writeln!(out, "builds of {env} were not locked"),
        }
    }
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
            colour: None,
            switch: false,
            scaled_up: None,
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

/// What every env sharing this env's builds bucket can boot or go back to, and their static
/// buckets (where releases put the builds' static files).
async fn kept(ctx: &Context, s: &Session, keep: usize) -> Result<(Kept, Vec<String>)> {
    let mut kept = Kept::default();
    let mut statics = Vec::new();
    let bucket = &s.resources.builds_bucket;
    for other in ctx.envs(true)? {
        let name = other.name.as_str();
        let shares = name == s.resources.env
            || (other.file.storage.buckets.builds == s.env.file.storage.buckets.builds
                && other.file.region == s.env.file.region);
        if !shares {
            continue;
        }
        let resources = match Resources::read(&s.aws, name).await {
            Ok(r) => r,
            // Not deployed here: it cannot boot or roll back to anything.
            Err(crate::ops::OpsError::StackMissing { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        if &resources.builds_bucket != bucket {
            continue;
        }
        if let Some(static_bucket) = &resources.static_bucket
            && !statics.contains(static_bucket)
        {
            statics.push(static_bucket.clone());
        }
        let store = BuildsBucket::new(&s.aws, bucket);
        kept.keep(
            store.pointer(name).await?.as_deref(),
            format!("{name} pointer"),
        );
        for colour in Colour::ALL {
            kept.keep(
                store.colour_pointer(name, colour).await?.as_deref(),
                format!("{name} {colour} pointer"),
            );
        }
        let history = VersionsLog::new(&s.aws, &resources.versions_table, name)
            .history(Some(keep * 2))
            .await?;
        kept.keep_releases(name, &history, keep);
    }
    Ok((kept, statics))
}

/// Finds, in each of `static_buckets`, the static files of the builds that go which no build
/// that stays uses (read from the builds' static tarballs), and adds them to `doomed`. Returns
/// notes on tarballs it could not read: a leaving build's files then stay, and when a staying
/// build's tarball cannot be read no static file goes at all, since what it uses is unknown.
async fn doomed_static_files(
    s: &Session,
    found: &[Build],
    doomed: &mut [retention::Doomed],
    static_buckets: &[String],
) -> Result<Vec<String>> {
    if static_buckets.is_empty() || doomed.iter().all(|d| d.build.static_key.is_none()) {
        return Ok(Vec::new());
    }
    let going: std::collections::BTreeSet<&str> =
        doomed.iter().map(|d| d.build.key.as_str()).collect();
    let staying_tarballs: Vec<String> = found
        .iter()
        .filter(|b| !going.contains(b.key.as_str()))
        .filter_map(|b| b.static_key.clone())
        .collect();
    let tarballs = staying_tarballs
        .iter()
        .cloned()
        .chain(doomed.iter().filter_map(|d| d.build.static_key.clone()))
        .collect();
    let manifests = bucket(s).static_manifests(tarballs).await?;
    let mut notes = Vec::new();
    let mut staying = std::collections::BTreeSet::new();
    for key in &staying_tarballs {
        match manifests.get(key) {
            Some(Ok(files)) => staying.extend(files.iter().map(|f| f.key.clone())),
            Some(Err(e)) => notes.push(format!(
                "{e}; no static file is deleted, since the files of a build that stays are not \
                 known"
            )),
            None => {}
        }
    }
    if !notes.is_empty() {
        return Ok(notes);
    }
    let leaving: Vec<Vec<statics::Named>> = doomed
        .iter()
        .map(
            |d| match d.build.static_key.as_ref().and_then(|k| manifests.get(k)) {
                Some(Ok(files)) => files.clone(),
                Some(Err(e)) => {
                    notes.push(format!("{e}; the static files of {} stay", d.build.label()));
                    Vec::new()
                }
                None => Vec::new(),
            },
        )
        .collect();
    let mut candidates: Vec<String> = leaving
        .iter()
        .flatten()
        .filter(|f| !staying.contains(&f.key))
        .map(|f| f.key.clone())
        .collect();
    candidates.sort();
    candidates.dedup();
    if candidates.is_empty() {
        return Ok(notes);
    }
    for name in static_buckets {
        let existing = BuildsBucket::new(&s.aws, name)
            .hashes_of(candidates.clone())
            .await?;
        for (d, keys) in doomed
            .iter_mut()
            .zip(statics::orphans(&leaving, &staying, &existing))
        {
            d.static_files
                .extend(keys.into_iter().map(|key| retention::StaticObject {
                    bucket: name.clone(),
                    key,
                }));
        }
    }
    Ok(notes)
}

async fn rm_old(ctx: &Context, s: &Session, keep: u32, yes: bool) -> Result<Status> {
    let keep = usize::try_from(keep).unwrap_or(usize::MAX);
    let bucket = bucket(s);
    let (found, kept) = tokio::join!(bucket.builds(None), kept(ctx, s, keep));
    let (found, (kept, static_buckets)) = (found?, kept?);
    let mut doomed = retention::select(&found, &kept, keep);
    for note in doomed_static_files(s, &found, &mut doomed, &static_buckets).await? {
        ctx.printer.note(note)?;
    }
    let objects: Vec<String> = doomed.iter().flat_map(|d| d.objects.clone()).collect();
    let mut static_files: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for file in doomed.iter().flat_map(|d| &d.static_files) {
        static_files
            .entry(file.bucket.as_str())
            .or_default()
            .push(file.key.clone());
    }
    let static_count: usize = static_files.values().map(Vec::len).sum();
    let mut report = RmOldReport {
        deleted: doomed.clone(),
        objects_deleted: 0,
        static_files_deleted: 0,
        builds: found.len(),
        kept: kept.reasons,
    };
    if report.deleted.is_empty() {
        ctx.printer.report(&report)?;
        return Ok(Status::Success);
    }
    let listing: Vec<String> = report
        .deleted
        .iter()
        .flat_map(|d| {
            std::iter::once(format!("  {}", d.build.label())).chain(
                d.static_files
                    .iter()
                    .map(|f| format!("    s3://{}/{}", f.bucket, f.key)),
            )
        })
        .collect();
    let statics_part = if static_count == 0 {
        String::new()
    } else {
        format!(" and {static_count} static file(s) no build that stays uses")
    };
    let question = format!(
        "{}: delete {} of {} build(s) ({} objects) from s3://{}{statics_part}:\n{}",
        s.resources.env,
        report.deleted.len(),
        found.len(),
        objects.len(),
        bucket.name(),
        listing.join("\n")
    );
    if !operate::confirm(ctx, &s.env, yes, &question)? {
        return Ok(Status::NeedsApproval);
    }
    operate::guard(s).await?;
    // Static files first: once a build's static tarball is gone, nothing says which files
    // were its, so a failure here must leave the tarball for a re-run.
    for (name, keys) in &static_files {
        report.static_files_deleted += BuildsBucket::new(&s.aws, name).delete(keys).await?;
    }
    report.objects_deleted = bucket.delete(&objects).await?;
    ctx.printer.report(&report)?;
    Ok(Status::Success)
}

/// What `builds rm-old` deleted, and what it kept and why.
#[derive(Serialize)]
struct RmOldReport {
    deleted: Vec<retention::Doomed>,
    objects_deleted: usize,
    static_files_deleted: usize,
    builds: usize,
    kept: std::collections::BTreeMap<String, Vec<String>>,
}

impl Report for RmOldReport {
    fn write_text(&self, out: &mut dyn Write, _: Styles) -> io::Result<()> {
        if self.deleted.is_empty() {
            return writeln!(out, "nothing to delete: {} build(s), all kept", self.builds);
        }
        for d in &self.deleted {
            writeln!(out, "deleted {}", d.build.label())?;
            for f in &d.static_files {
                writeln!(out, "  deleted s3://{}/{}", f.bucket, f.key)?;
            }
        }
        writeln!(
            out,
            "deleted {} build(s), {} objects, {} static file(s); kept {}",
            self.deleted.len(),
            self.objects_deleted,
            self.static_files_deleted,
            self.builds - self.deleted.len()
        )
    }
}
