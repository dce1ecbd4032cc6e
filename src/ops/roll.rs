//! `instances restart`: a rolling replacement of the nodes that predate the current build,
//! which never lowers serving capacity.
//!
//! Each step raises the group's desired capacity by the batch (and its maximum, if that is in
//! the way), waits until as many new instances are in service and healthy in the target group,
//! then terminates as many old ones with `ShouldDecrementDesiredCapacity`, and puts the maximum
//! back: between steps the group is at its own sizes. When a step fails (a new instance
//! unhealthy, a timeout, Ctrl-C, an AWS error) the roll stops and tidies up: new instances that
//! are not serving are terminated, each healthy one that is lets one old one go, capacity that
//! never came is given back, the maximum is restored, and the report says what was left.
//!
//! The plan is pure ([`plan`]); the steps run against the narrow [`Fleet`] trait, which the
//! AWS edge implements and tests fake (the sandbox reports every registered target healthy).

use std::collections::BTreeSet;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use super::OpsError;
use super::instances::{Freshness, Group, Node, Pointer, judge};

/// What the roll needs from the Auto Scaling group.
pub trait Fleet {
    /// The group and its instances, with their target health, as they are now.
    fn group(&self) -> impl Future<Output = Result<Group, OpsError>>;
    /// Sets the desired capacity and/or the maximum size.
    fn resize(
        &self,
        desired: Option<u32>,
        max: Option<u32>,
    ) -> impl Future<Output = Result<(), OpsError>>;
    /// Terminates an instance, decrementing the desired capacity.
    fn terminate(&self, id: &str) -> impl Future<Output = Result<(), OpsError>>;
}

/// The roll, decided before anything changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RollPlan {
    /// The group.
    pub group: String,
    /// Its desired capacity at the start.
    pub desired: u32,
    /// Its minimum size.
    pub min: u32,
    /// Its maximum size.
    pub max: u32,
    /// The old instances to replace, oldest first, one batch per step.
    pub steps: Vec<Vec<String>>,
    /// Instances replaced because whether they run the current build cannot be told.
    pub unknown: Vec<String>,
}

/// Plans replacing every in-service or pending node that is stale (or unknown), `batch` at a
/// time, oldest first. Nodes in standby or leaving the group are left alone.
pub fn plan(group: &Group, pointer: &Pointer, batch: u32) -> RollPlan {
    let batch = usize::try_from(batch.max(1)).unwrap_or(1);
    let mut old: Vec<&Node> = group
        .nodes
        .iter()
        .filter(|n| {
            !n.leaving() && (n.lifecycle == "InService" || n.lifecycle.starts_with("Pending"))
        })
        .filter(|n| judge(n.launched, pointer) != Freshness::Current)
        .collect();
    old.sort_by(|a, b| (a.launched, &a.id).cmp(&(b.launched, &b.id)));
    let unknown = old
        .iter()
        .filter(|n| judge(n.launched, pointer) == Freshness::Unknown)
        .map(|n| n.id.clone())
        .collect();
    let ids: Vec<String> = old.iter().map(|n| n.id.clone()).collect();
    RollPlan {
        group: group.name.clone(),
        desired: group.desired,
        min: group.min,
        max: group.max,
        steps: ids.chunks(batch).map(<[String]>::to_vec).collect(),
        unknown,
    }
}

impl RollPlan {
    /// Instances to replace.
    pub fn count(&self) -> usize {
        self.steps.iter().map(Vec::len).sum()
    }

    /// The plan in words, one line per step.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "rolling restart of {} (desired {}, min {}, max {}): {} instance{} to replace\n",
            self.group,
            self.desired,
            self.min,
            self.max,
            self.count(),
            if self.count() == 1 { "" } else { "s" }
        );
        for (i, step) in self.steps.iter().enumerate() {
            let k = u32::try_from(step.len()).unwrap_or(u32::MAX);
            let raised = self.desired.saturating_add(k);
            let max_note = if raised > self.max {
                format!(" (max {}→{raised} for the step)", self.max)
            } else {
                String::new()
            };
            text.push_str(&format!(
                "  step {}: desired {}→{raised}{max_note}; wait until {k} new instance{} in service and healthy; terminate {} (desired {raised}→{})\n",
                i + 1,
                self.desired,
                if k == 1 { " is" } else { "s are" },
                step.join(", "),
                self.desired,
            ));
        }
        if !self.unknown.is_empty() {
            text.push_str(&format!(
                "  ({} cannot be judged against the current build, so {} replaced too)\n",
                self.unknown.join(", "),
                if self.unknown.len() == 1 {
                    "it is"
                } else {
                    "they are"
                }
            ));
        }
        text
    }
}

/// How patient the roll is.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Between looks at the group while waiting.
    pub poll: Duration,
    /// Longest wait for one step's new instances.
    pub timeout: Duration,
}

/// Ctrl-C (or whatever a test makes it), checked whenever the roll waits.
pub struct Cancel<'a> {
    signal: Pin<Box<dyn Future<Output = ()> + 'a>>,
    fired: bool,
}

impl<'a> Cancel<'a> {
    /// Cancels when `signal` completes.
    pub fn new(signal: impl Future<Output = ()> + 'a) -> Self {
        Cancel {
            signal: Box::pin(signal),
            fired: false,
        }
    }

    /// Never cancels.
    pub fn never() -> Self {
        Self::new(std::future::pending())
    }

    /// Whether it has fired, without waiting (the first call also arms a signal handler).
    pub async fn fired(&mut self) -> bool {
        if !self.fired {
            tokio::select! {
                biased;
                _ = &mut self.signal => self.fired = true,
                _ = std::future::ready(()) => {}
            }
        }
        self.fired
    }

    /// Sleeps for `d`; true if cancelled meanwhile.
    async fn sleep(&mut self, d: Duration) -> bool {
        if self.fired {
            return true;
        }
        tokio::select! {
            _ = &mut self.signal => self.fired = true,
            _ = tokio::time::sleep(d) => {}
        }
        self.fired
    }
}

/// Why a roll stopped early.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Stop {
    /// New instances failed their health checks or were taken out.
    Unhealthy {
        /// The failed instances.
        instances: Vec<String>,
    },
    /// New instances did not become healthy in time.
    Timeout {
        /// How long was waited.
        waited_seconds: u64,
    },
    /// The operator pressed Ctrl-C.
    Interrupted,
    /// An AWS call failed.
    Error {
        /// What failed.
        message: String,
    },
}

impl Stop {
    /// In words.
    pub fn describe(&self) -> String {
        match self {
            Stop::Unhealthy { instances } => {
                format!("new instance(s) {} became unhealthy", instances.join(", "))
            }
            Stop::Timeout { waited_seconds } => {
                format!("new instances were not healthy after {waited_seconds} s")
            }
            Stop::Interrupted => "interrupted".into(),
            Stop::Error { message } => message.clone(),
        }
    }
}

/// One old instance and the one that took its place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Replacement {
    /// The instance terminated.
    pub old: String,
    /// The new instance serving in its stead.
    pub new: String,
}

/// How the roll ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RollReport {
    /// Instances replaced, in order.
    pub replaced: Vec<Replacement>,
    /// Why it stopped early, if it did.
    pub stopped: Option<Stop>,
    /// Planned instances not replaced.
    pub remaining: Vec<String>,
    /// The group's desired capacity, min and max at the end (`None` if it could not be read).
    pub sizes: Option<(u32, u32, u32)>,
    /// Problems met while tidying up after a stop; the group may need a hand.
    pub cleanup_errors: Vec<String>,
}

/// Runs the plan, writing progress to `progress`.
pub async fn run<F: Fleet>(
    fleet: &F,
    plan: &RollPlan,
    options: Options,
    cancel: &mut Cancel<'_>,
    progress: &mut dyn Write,
) -> RollReport {
    let mut report = RollReport {
        replaced: Vec::new(),
        stopped: None,
        remaining: Vec::new(),
        sizes: None,
        cleanup_errors: Vec::new(),
    };
    let total = plan.steps.len();
    for (i, olds) in plan.steps.iter().enumerate() {
        if cancel.fired().await {
            report.stopped = Some(Stop::Interrupted);
        } else {
            let _ = writeln!(
                progress,
                "step {}/{total}: replacing {}",
                i + 1,
                olds.join(", ")
            );
            if let Err(stop) = step(fleet, olds, options, cancel, progress, &mut report).await {
                report.stopped = Some(stop);
            }
        }
        if report.stopped.is_some() {
            let done: BTreeSet<&str> = report.replaced.iter().map(|r| r.old.as_str()).collect();
            report.remaining = plan.steps[i..]
                .iter()
                .flatten()
                .filter(|id| !done.contains(id.as_str()))
                .cloned()
                .collect();
            break;
        }
    }
    if let Ok(g) = fleet.group().await {
        report.sizes = Some((g.desired, g.min, g.max));
    }
    report
}

/// Where a step stands, for tidying up after it stops.
struct Step<'p> {
    olds: Vec<&'p str>,
    known: BTreeSet<String>,
    desired: u32,
    max: u32,
    raised_max: bool,
}

async fn step<F: Fleet>(
    fleet: &F,
    planned: &[String],
    options: Options,
    cancel: &mut Cancel<'_>,
    progress: &mut dyn Write,
    report: &mut RollReport,
) -> Result<(), Stop> {
    let g = fleet.group().await.map_err(error)?;
    let present: BTreeSet<&str> = g
        .nodes
        .iter()
        .filter(|n| !n.leaving())
        .map(|n| n.id.as_str())
        .collect();
    let olds: Vec<&str> = planned
        .iter()
        .map(String::as_str)
        .filter(|id| present.contains(id))
        .collect();
    if olds.is_empty() {
        let _ = writeln!(progress, "  already gone from the group; nothing to do");
        return Ok(());
    }
    let k = u32::try_from(olds.len()).unwrap_or(u32::MAX);
    let raised = g.desired.saturating_add(k);
    let state = Step {
        olds,
        known: g.nodes.iter().map(|n| n.id.clone()).collect(),
        desired: g.desired,
        max: g.max,
        raised_max: raised > g.max,
    };
    let new_max = state.raised_max.then_some(raised);
    if let Err(e) = fleet.resize(Some(raised), new_max).await {
        // The raise may have half happened (max without desired); put both back.
        let stop = error(e);
        tidy(fleet, &state, progress, report).await;
        return Err(stop);
    }
    let _ = writeln!(
        progress,
        "  desired {}→{raised}{}; waiting for {k} new instance{} to be in service and healthy",
        state.desired,
        new_max
            .map(|m| format!(", max {}→{m}", state.max))
            .unwrap_or_default(),
        if k == 1 { "" } else { "s" },
    );
    let news = match wait_for_new(fleet, &state, options, cancel, progress).await {
        Ok(news) => news,
        Err(stop) => {
            let _ = writeln!(progress, "  stopping: {}; tidying up", stop.describe());
            tidy(fleet, &state, progress, report).await;
            return Err(stop);
        }
    };
    for (old, new) in state.olds.iter().zip(&news) {
        if let Err(e) = fleet.terminate(old).await {
            let stop = error(e);
            tidy(fleet, &state, progress, report).await;
            return Err(stop);
        }
        let _ = writeln!(progress, "  terminated {old}; {new} serves in its place");
        report.replaced.push(Replacement {
            old: (*old).to_owned(),
            new: new.clone(),
        });
    }
    if state.raised_max {
        fleet.resize(None, Some(state.max)).await.map_err(error)?;
        let _ = writeln!(progress, "  max back to {}", state.max);
    }
    Ok(())
}

/// Waits until as many new instances serve as there are old ones; returns their ids.
async fn wait_for_new<F: Fleet>(
    fleet: &F,
    state: &Step<'_>,
    options: Options,
    cancel: &mut Cancel<'_>,
    progress: &mut dyn Write,
) -> Result<Vec<String>, Stop> {
    let begun = Instant::now();
    let mut last_note = String::new();
    loop {
        let g = fleet.group().await.map_err(error)?;
        let now = super::time::Timestamp::now();
        let new: Vec<&Node> = g
            .nodes
            .iter()
            .filter(|n| !state.known.contains(&n.id))
            .collect();
        let failed: Vec<String> = new
            .iter()
            .filter(|n| {
                n.asg_health == "Unhealthy"
                    || n.leaving()
                    || (n.elb.as_deref() == Some("unhealthy")
                        && n.launched.is_some_and(|t| now.since(t) >= g.grace))
            })
            .map(|n| n.id.clone())
            .collect();
        if !failed.is_empty() {
            return Err(Stop::Unhealthy { instances: failed });
        }
        let serving: Vec<String> = new
            .iter()
            .filter(|n| n.serving())
            .map(|n| n.id.clone())
            .collect();
        if serving.len() >= state.olds.len() {
            return Ok(serving);
        }
        let note = new
            .iter()
            .map(|n| {
                format!(
                    "{} {}/{}",
                    n.id,
                    n.lifecycle,
                    n.elb.as_deref().unwrap_or("unregistered")
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        if note != last_note && !note.is_empty() {
            let _ = writeln!(progress, "  {note}");
            last_note = note;
        }
        if begun.elapsed() >= options.timeout {
            return Err(Stop::Timeout {
                waited_seconds: begun.elapsed().as_secs(),
            });
        }
        if cancel.sleep(options.poll).await {
            return Err(Stop::Interrupted);
        }
    }
}

/// After a stop: drop new instances that do not serve, let each that does replace one old one,
/// give back capacity that never came, restore the maximum.
async fn tidy<F: Fleet>(
    fleet: &F,
    state: &Step<'_>,
    progress: &mut dyn Write,
    report: &mut RollReport,
) {
    let g = match fleet.group().await {
        Ok(g) => g,
        Err(e) => {
            note(progress, report, "read the group to tidy up".into(), e);
            return;
        }
    };
    let new: Vec<&Node> = g
        .nodes
        .iter()
        .filter(|n| !state.known.contains(&n.id) && !n.leaving())
        .collect();
    let serving: Vec<&str> = new
        .iter()
        .filter(|n| n.serving())
        .map(|n| n.id.as_str())
        .take(state.olds.len())
        .collect();
    for n in new.iter().filter(|n| !serving.contains(&n.id.as_str())) {
        match fleet.terminate(&n.id).await {
            Ok(()) => {
                let _ = writeln!(progress, "  terminated new instance {} (not serving)", n.id);
            }
            Err(e) => note(progress, report, format!("terminate {}", n.id), e),
        }
    }
    for (old, new) in state.olds.iter().zip(&serving) {
        match fleet.terminate(old).await {
            Ok(()) => {
                let _ = writeln!(progress, "  terminated {old}; {new} serves in its place");
                report.replaced.push(Replacement {
                    old: (*old).to_owned(),
                    new: (*new).to_owned(),
                });
            }
            Err(e) => note(progress, report, format!("terminate {old}"), e),
        }
    }
    let desired = match fleet.group().await {
        Ok(g) => Some(g.desired),
        Err(e) => {
            note(
                progress,
                report,
                "read the group to restore its size".into(),
                e,
            );
            None
        }
    };
    let give_back = desired
        .filter(|&d| d > state.desired)
        .map(|_| state.desired);
    let max = state.raised_max.then_some(state.max);
    if give_back.is_some() || max.is_some() {
        match fleet.resize(give_back, max).await {
            Ok(()) => {
                let _ = writeln!(
                    progress,
                    "  group back to desired {}, max {}",
                    state.desired, state.max
                );
            }
            Err(e) => note(
                progress,
                report,
                format!(
                    "restore desired {} and max {} (set them by hand)",
                    state.desired, state.max
                ),
                e,
            ),
        }
    }
}

/// Reports a tidying step that failed.
fn note(progress: &mut dyn Write, report: &mut RollReport, what: String, e: OpsError) {
    let text = format!("{what}: {e}");
    let _ = writeln!(progress, "  could not {text}");
    report.cleanup_errors.push(text);
}

fn error(e: OpsError) -> Stop {
    Stop::Error {
        message: e.to_string(),
    }
}

#[cfg(test)]
#[path = "roll_tests.rs"]
mod tests;
