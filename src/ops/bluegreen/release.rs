//! `ce release VERSION`: the build goes live on fresh nodes of the idle colour.
//!
//! The steps, each undone in reverse if a later one fails before traffic moves:
//! 1. **lock** — unless a deploy is changing one of the env's stacks (a release then refuses),
//!    claim the change in the versions log (the head that also serialises `builds
//!    set-current`), so releases, set-current and other releases exclude each other, and
//!    `ce deploy` refuses while it is held;
//! 2. **pin** — the live group's minimum and maximum are set to its desired capacity, so
//!    scaling cannot change it under the release;
//! 3. **point** — the idle colour's pointer names the build; the live colour's pointer is
//!    untouched, so a node the live colour launches meanwhile still boots the live build;
//! 4. **static** — the build's static files go to the static bucket; they are named by their
//!    content, and a key holding other content stops the release, so the live build's files
//!    are never overwritten (nor removed on the way back: unused, they harm nothing);
//! 5. **scale** — the idle group goes to the live group's size;
//! 6. **wait** — until that many nodes are in service and healthy in the idle target group;
//! 7. **gate** — every new node's health path answers 200, and so does the service through
//!    CloudFront and the load balancer, reached with a preview header that a temporary
//!    listener rule routes to the idle colour;
//! 8. **switch** — the listener forwards to the idle colour;
//! 9. **record** — the versions log records colour, build, who, when, and when the idle colour
//!    was asked to scale up (which tells the nodes it launched apart); the new live group
//!    keeps the env's minimum, the old one keeps its nodes (for `rollback`) with minimum 0.
//!
//! A failure or Ctrl-C before the switch leaves traffic where it was and puts everything back:
//! the idle group to its old sizes, its pointer to its old build, the live group unpinned, the
//! preview rule removed, the claim recorded as failed. The report says which step failed, on
//! which node, and what the check answered. Once traffic has moved nothing is undone: a
//! failure to record or restore sizes is reported, and the new colour keeps its nodes.

use std::cell::RefCell;
use std::future::Future;
use std::io::Read;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use super::{Answer, Claim, Gate, LiveChange, Platform, Probe, Sizes};
use crate::architecture::Colour;
use crate::ops::OpsError;
use crate::ops::builds::Build;
use crate::ops::instances::{Group, Node};
use crate::ops::time::Timestamp;

/// The header a release's preview route matches (the distribution forwards it).
pub use crate::architecture::PREVIEW_HEADER;

/// A step of a release.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Claiming the change in the versions log.
    Lock,
    /// Pinning the live group's size.
    Pin,
    /// Pointing the idle colour at the build.
    Point,
    /// Putting the build's static files in the static bucket.
    Static,
    /// Scaling the idle colour up.
    Scale,
    /// Waiting for its nodes to be in service and healthy.
    Wait,
    /// The health gate: the nodes' health path.
    NodeCheck,
    /// The health gate: the service through the load balancer.
    ServiceCheck,
    /// Moving the listener.
    Switch,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::Lock => "taking the release lock",
            Step::Pin => "pinning the live group's size",
            Step::Point => "pointing the idle colour at the build",
            Step::Static => "uploading the build's static files",
            Step::Scale => "scaling the idle colour up",
            Step::Wait => "waiting for the new nodes to be in service and healthy",
            Step::NodeCheck => "checking each new node's health path",
            Step::ServiceCheck => "checking the service through the load balancer",
            Step::Switch => "switching the listener",
        })
    }
}

/// Why a release cannot start; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The listener forwards to neither colour.
    #[error(
        "the HTTPS listener forwards to neither the blue nor the green target group; \
         redeploy the compute stack (`ce deploy --stack compute`) to put it back"
    )]
    NoLiveColour,
    /// The idle colour still runs nodes.
    #[error(
        "the idle colour {colour} still runs {desired} node(s) (desired capacity {desired}), \
         kept for rollback; run `ce blue-green cleanup` first (or `ce blue-green switch \
         {colour}` to go back to it)"
    )]
    IdleBusy {
        /// The idle colour.
        colour: Colour,
        /// Its desired capacity.
        desired: u32,
    },
    /// The build is live already.
    #[error("{build} is already live on {colour}; nothing to do")]
    AlreadyLive {
        /// The build.
        build: String,
        /// The live colour.
        colour: Colour,
    },
    /// More nodes than the idle group may hold.
    #[error("the release needs {capacity} nodes but group {group} allows at most {max}")]
    TooBig {
        /// Nodes wanted.
        capacity: u32,
        /// The idle group.
        group: String,
        /// Its maximum.
        max: u32,
    },
    /// An AWS read failed.
    #[error(transparent)]
    Ops(#[from] OpsError),
}

/// A release, decided before anything changes.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    /// The build to put live.
    pub build: Build,
    /// The colour serving now.
    pub live: Colour,
    /// The colour the build comes up on.
    pub idle: Colour,
    /// The build the live colour runs (its pointer).
    pub live_build: Option<String>,
    /// What the idle colour's pointer named before.
    pub idle_pointer: Option<String>,
    /// Nodes to bring up.
    pub capacity: u32,
    /// The live group as it was.
    pub live_group: Group,
    /// The idle group as it was.
    pub idle_group: Group,
    /// The minimum the live colour keeps between releases (the env's).
    pub env_min: u32,
    /// The preview header's value for this release only.
    #[serde(skip)]
    pub token: String,
}

impl Plan {
    /// The plan in words.
    pub fn describe(&self) -> String {
        format!(
            "release {} to {}: {} ({}) is live with {} node(s) running {}; bring up {} {} \
             node(s) on {}, check them, then switch the listener",
            self.build.label(),
            self.idle,
            self.live,
            self.live_group.name,
            self.live_group.desired,
            self.live_build.as_deref().unwrap_or("(no build)"),
            self.capacity,
            self.idle,
            self.idle_group.name,
        )
    }
}

/// Reads what a release of `build` would start from, and decides its size: `capacity` if
/// given, else the live group's desired capacity, else `fallback` (the env's).
pub async fn plan<P: Platform>(
    platform: &P,
    build: Build,
    capacity: Option<u32>,
    fallback: u32,
    env_min: u32,
) -> Result<Plan, PlanError> {
    // Before asking: a deploy running now is reason enough not to start.
    platform.refuse_during_deploy().await?;
    let live = platform.live().await?.ok_or(PlanError::NoLiveColour)?;
    let idle = live.other();
    let (live_group, idle_group, live_build, idle_pointer) = tokio::try_join!(
        platform.group(live),
        platform.group(idle),
        platform.pointer(live),
        platform.pointer(idle),
    )?;
    if live_build.as_deref() == Some(build.key.as_str()) && live_group.desired > 0 {
        return Err(PlanError::AlreadyLive {
            build: build.label(),
            colour: live,
        });
    }
    if idle_group.desired > 0 {
        return Err(PlanError::IdleBusy {
            colour: idle,
            desired: idle_group.desired,
        });
    }
    let capacity = capacity
        .or((live_group.desired > 0).then_some(live_group.desired))
        .unwrap_or(fallback)
        .max(1);
    if capacity > idle_group.max {
        return Err(PlanError::TooBig {
            capacity,
            group: idle_group.name.clone(),
            max: idle_group.max,
        });
    }
    Ok(Plan {
        build,
        live,
        idle,
        live_build,
        idle_pointer,
        capacity,
        live_group,
        idle_group,
        env_min,
        token: preview_token(),
    })
}

/// 128 random bits, hex: the preview header's value, known only to this release.
fn preview_token() -> String {
    let mut bytes = [0u8; 16];
    // The kernel's generator; should it be unreadable, the time and process id still make a
    // value nobody else knows in advance (the route only lives for the release).
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_err()
    {
        let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
        let digest = crate::deploy::sha256_hex(&seed);
        return digest[..32].to_owned();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A release that went live.
#[derive(Clone, Debug, Serialize)]
pub struct Released {
    /// The colour now live.
    pub colour: Colour,
    /// The build now live.
    pub build: String,
    /// The colour that served before, still up for rollback.
    pub previous: Colour,
    /// The build it runs.
    pub previous_build: Option<String>,
    /// Nodes serving.
    pub capacity: u32,
    /// How long the listener change took, from the request to reading it back.
    pub switch_ms: u64,
    /// Things that went wrong after the switch, which did not undo it.
    pub notes: Vec<String>,
}

/// A release that stopped before traffic moved.
#[derive(Debug, thiserror::Error, Serialize)]
#[error("{}", self.describe())]
pub struct Failed {
    /// The step that failed.
    pub step: Step,
    /// Why, with the node and the check's answer where there is one.
    pub reason: String,
    /// Where traffic is.
    pub traffic: Option<Colour>,
    /// What was put back.
    pub restored: Vec<String>,
    /// What could not be put back, with the way to do it by hand.
    pub left: Vec<String>,
}

impl Failed {
    fn describe(&self) -> String {
        let mut text = format!("release failed while {}: {}", self.step, self.reason);
        match self.traffic {
            Some(colour) => text.push_str(&format!("\ntraffic stays on {colour}")),
            None => text.push_str("\ntraffic: the listener could not be read back"),
        }
        for line in &self.restored {
            text.push_str(&format!("\nput back: {line}"));
        }
        for line in &self.left {
            text.push_str(&format!("\nNOT put back: {line}"));
        }
        text
    }
}

/// Why the steps stopped.
struct Stop {
    step: Step,
    reason: String,
}

impl Stop {
    fn new(step: Step, reason: impl Into<String>) -> Self {
        Stop {
            step,
            reason: reason.into(),
        }
    }

    fn aws(step: Step) -> impl FnOnce(OpsError) -> Stop {
        move |e| Stop::new(step, e.to_string())
    }
}

/// What has been changed so far, for the undo.
#[derive(Default)]
struct Journal {
    step: Option<Step>,
    claim: Option<Claim>,
    pinned: bool,
    pointed: bool,
    scaled: bool,
    preview: Option<String>,
    switch_tried: bool,
}

/// Runs the release. `cancel` completing (Ctrl-C) stops it like a failure: before the switch
/// everything is put back. `progress` hears each step.
pub async fn run<P: Platform, H: Probe>(
    platform: &P,
    probe: &H,
    plan: &Plan,
    gate: &Gate,
    by: &str,
    progress: &dyn Fn(&str),
    cancel: impl Future<Output = ()>,
) -> Result<Released, Failed> {
    let journal = RefCell::new(Journal::default());
    let outcome = {
        let work = steps(platform, probe, plan, gate, by, progress, &journal);
        tokio::select! {
            outcome = work => outcome,
            () = cancel => {
                let step = journal.borrow().step.unwrap_or(Step::Lock);
                Err(Stop::new(step, "interrupted (Ctrl-C)"))
            }
        }
    };
    let stop = match outcome {
        Ok(released) => return Ok(released),
        Err(stop) => stop,
    };
    let traffic = platform.live().await.ok().flatten();
    if journal.borrow().switch_tried && traffic == Some(plan.idle) {
        // The switch took effect although its answer was lost: finish forwards.
        progress(&format!(
            "the listener forwards to {} although {}: finishing the release",
            plan.idle, stop.reason
        ));
        return Ok(after_switch(platform, plan, &journal, 0, progress).await);
    }
    progress(&format!(
        "release stopped while {}: {}; putting things back",
        stop.step, stop.reason
    ));
    let (restored, left) = undo(platform, plan, &journal).await;
    Err(Failed {
        step: stop.step,
        reason: stop.reason,
        traffic,
        restored,
        left,
    })
}

async fn steps<P: Platform, H: Probe>(
    platform: &P,
    probe: &H,
    plan: &Plan,
    gate: &Gate,
    by: &str,
    progress: &dyn Fn(&str),
    journal: &RefCell<Journal>,
) -> Result<Released, Stop> {
    let enter = |step: Step| {
        journal.borrow_mut().step = Some(step);
        progress(&format!("{step}"));
    };
    let (live, idle, n) = (plan.live, plan.idle, plan.capacity);

    enter(Step::Lock);
    // Again just before the lock (the operator may have taken a while to confirm): once the
    // lock is held, a deploy refuses to start.
    platform
        .refuse_during_deploy()
        .await
        .map_err(Stop::aws(Step::Lock))?;
    let claim = platform
        .claim(&LiveChange {
            colour: idle,
            from: plan.live_build.clone(),
            to: plan.build.key.clone(),
            by: by.to_owned(),
            switch: false,
        })
        .await
        .map_err(Stop::aws(Step::Lock))?;
    journal.borrow_mut().claim = Some(claim.clone());

    enter(Step::Pin);
    let d = plan.live_group.desired;
    journal.borrow_mut().pinned = true;
    platform
        .set_sizes(live, Sizes::exactly(d, d.max(plan.live_group.min), d))
        .await
        .map_err(Stop::aws(Step::Pin))?;

    enter(Step::Point);
    journal.borrow_mut().pointed = true;
    platform
        .set_pointer(idle, Some(&plan.build.key))
        .await
        .map_err(Stop::aws(Step::Point))?;

    enter(Step::Static);
    let uploaded = platform
        .upload_static(&plan.build)
        .await
        .map_err(Stop::aws(Step::Static))?;
    if uploaded.uploaded + uploaded.present > 0 {
        progress(&format!(
            "static files: {} uploaded, {} already there",
            uploaded.uploaded, uploaded.present
        ));
    }

    enter(Step::Scale);
    {
        let mut journal = journal.borrow_mut();
        journal.scaled = true;
        // The idle colour is empty and points at the build: every node it launches from now
        // on is one this asks for, and boots the build. Taken before the call, so no such
        // node launches before it; the versions log records it with the outcome.
        if let Some(claim) = journal.claim.as_mut() {
            claim.scaled_up = Some(Timestamp::now());
        }
    }
    platform
        .set_sizes(idle, Sizes::exactly(n, plan.idle_group.max.max(n), n))
        .await
        .map_err(Stop::aws(Step::Scale))?;

    enter(Step::Wait);
    let nodes = wait_ready(platform, &claim, idle, n, gate).await?;

    enter(Step::NodeCheck);
    let handle = platform
        .open_preview(idle, &plan.token)
        .await
        .map_err(Stop::aws(Step::NodeCheck))?;
    journal.borrow_mut().preview = Some(handle);
    let deadline = Instant::now() + gate.gate_timeout;
    if gate.node_checks {
        for node in &nodes {
            let ip = node.private_ip.as_deref().ok_or_else(|| {
                Stop::new(
                    Step::NodeCheck,
                    format!("node {} has no private address to check", node.id),
                )
            })?;
            let url = format!("http://{ip}:{}{}", gate.node_port, gate.health_path);
            check_until_ok(probe, gate, &url, &[], deadline)
                .await
                .map_err(|why| {
                    Stop::new(Step::NodeCheck, format!("node {} ({ip}) {why}", node.id))
                })?;
        }
    }
    if let Some(base) = &gate.service_url {
        enter(Step::ServiceCheck);
        let url = format!("{}{}", base.trim_end_matches('/'), gate.health_path);
        check_until_ok(
            probe,
            gate,
            &url,
            &[(PREVIEW_HEADER, &plan.token)],
            deadline,
        )
        .await
        .map_err(|why| Stop::new(Step::ServiceCheck, format!("the service {why}")))?;
    }

    enter(Step::Switch);
    journal.borrow_mut().switch_tried = true;
    let started = Instant::now();
    platform
        .switch(idle)
        .await
        .map_err(Stop::aws(Step::Switch))?;
    let now_live = platform.live().await.map_err(Stop::aws(Step::Switch))?;
    if now_live != Some(idle) {
        return Err(Stop::new(
            Step::Switch,
            format!(
                "the listener was changed but reads back as forwarding to {}",
                now_live.map_or("neither colour".to_owned(), |c| c.to_string())
            ),
        ));
    }
    let switch_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    progress(&format!("traffic moved to {idle} in {switch_ms} ms"));
    Ok(after_switch(platform, plan, journal, switch_ms, progress).await)
}

/// Polls the idle group until `n` nodes are in service and healthy; returns them.
async fn wait_ready<P: Platform>(
    platform: &P,
    claim: &Claim,
    colour: Colour,
    n: u32,
    gate: &Gate,
) -> Result<Vec<Node>, Stop> {
    let deadline = Instant::now() + gate.ready_timeout;
    loop {
        let group = platform
            .group(colour)
            .await
            .map_err(Stop::aws(Step::Wait))?;
        let serving: Vec<Node> = group
            .nodes
            .iter()
            .filter(|n| n.serving())
            .cloned()
            .collect();
        if serving.len() >= usize::try_from(n).unwrap_or(usize::MAX) {
            return Ok(serving);
        }
        if Instant::now() + gate.poll > deadline {
            return Err(Stop::new(
                Step::Wait,
                not_ready(&group, n, gate.ready_timeout),
            ));
        }
        // A release waits minutes here; the claim must not look abandoned meanwhile.
        platform.touch(claim).await.map_err(Stop::aws(Step::Wait))?;
        tokio::time::sleep(gate.poll).await;
    }
}

fn not_ready(group: &Group, n: u32, limit: Duration) -> String {
    let waiting: Vec<String> = group
        .nodes
        .iter()
        .filter(|node| !node.serving())
        .map(|node| {
            format!(
                "{} ({}): {}, target {}",
                node.id,
                node.private_ip.as_deref().unwrap_or("no address"),
                node.lifecycle,
                node.elb.as_deref().unwrap_or("not registered")
            )
        })
        .collect();
    let serving = group.nodes.iter().filter(|node| node.serving()).count();
    format!(
        "{serving} of {n} node(s) of {} in service and healthy after {} s{}",
        group.name,
        limit.as_secs(),
        if waiting.is_empty() {
            String::new()
        } else {
            format!("; not serving: {}", waiting.join("; "))
        }
    )
}

/// GETs `url` until it answers 200 or `deadline` passes; the error says what it answered last.
async fn check_until_ok<H: Probe>(
    probe: &H,
    gate: &Gate,
    url: &str,
    headers: &[(&str, &str)],
    deadline: Instant,
) -> Result<(), String> {
    loop {
        let why = match probe.get(url, headers, gate.request_timeout).await {
            Ok(Answer { status: 200, .. }) => return Ok(()),
            Ok(answer) => format!(
                "answered {} to GET {url}: {}",
                answer.status,
                answer.body.trim()
            ),
            Err(e) => format!("did not answer GET {url}: {e}"),
        };
        if Instant::now() + gate.poll > deadline {
            return Err(format!(
                "{why} (still failing when the {} s gate ended)",
                gate.gate_timeout.as_secs()
            ));
        }
        tokio::time::sleep(gate.poll).await;
    }
}

/// Once traffic is on the new colour: record, set the groups' resting sizes, remove the
/// preview route. Nothing here moves traffic back; what fails becomes a note.
async fn after_switch<P: Platform>(
    platform: &P,
    plan: &Plan,
    journal: &RefCell<Journal>,
    switch_ms: u64,
    progress: &dyn Fn(&str),
) -> Released {
    let mut notes = Vec::new();
    let claim = journal.borrow().claim.clone();
    if let Some(claim) = claim
        && let Err(e) = platform.finish(&claim, true).await
    {
        notes.push(format!(
            "the release is live but the versions log could not record it: {e}"
        ));
    }
    let n = plan.capacity;
    let new_live = super::live_sizes(plan.env_min, plan.idle_group.max, n);
    if let Err(e) = platform.set_sizes(plan.idle, new_live).await {
        notes.push(format!(
            "{} keeps minimum {n} (the release's) instead of {}: {e}; to give it the live \
             colour's sizes: {}",
            plan.idle_group.name,
            plan.env_min,
            new_live.command(&plan.idle_group.name)
        ));
    }
    let old_live = Sizes {
        min: Some(0),
        max: Some(plan.live_group.max),
        desired: None,
    };
    if let Err(e) = platform.set_sizes(plan.live, old_live).await {
        notes.push(format!(
            "{} stays pinned at {} node(s) although {} is live now: {e}; to let it scale in \
             (its nodes stay for rollback): {}",
            plan.live_group.name,
            plan.live_group.desired,
            plan.idle,
            old_live.command(&plan.live_group.name)
        ));
    }
    let preview = journal.borrow_mut().preview.take();
    if let Some(handle) = preview
        && let Err(e) = platform.close_preview(&handle).await
    {
        notes.push(format!("the preview listener rule {handle} is left: {e}"));
    }
    for note in &notes {
        progress(note);
    }
    Released {
        colour: plan.idle,
        build: plan.build.key.clone(),
        previous: plan.live,
        previous_build: plan.live_build.clone(),
        capacity: n,
        switch_ms,
        notes,
    }
}

/// Puts back what the journal says was changed, in reverse order; returns what was put back
/// and what could not be.
async fn undo<P: Platform>(
    platform: &P,
    plan: &Plan,
    journal: &RefCell<Journal>,
) -> (Vec<String>, Vec<String>) {
    let (mut restored, mut left) = (Vec::new(), Vec::new());
    let mut outcome = |what: String, by_hand: String, result: Result<(), OpsError>| match result {
        Ok(()) => restored.push(what),
        Err(e) => left.push(format!("{what}: {e}; by hand: {by_hand}")),
    };
    let preview = journal.borrow_mut().preview.take();
    if let Some(handle) = preview {
        outcome(
            "removed the preview listener rule".into(),
            format!("aws elbv2 delete-rule --rule-arn {handle}"),
            platform.close_preview(&handle).await,
        );
    }
    let idle = &plan.idle_group;
    if journal.borrow().scaled {
        outcome(
            format!(
                "{} back to min {} max {} desired {}",
                idle.name, idle.min, idle.max, idle.desired
            ),
            Sizes::exactly(idle.min, idle.max, idle.desired).command(&idle.name),
            platform
                .set_sizes(plan.idle, Sizes::exactly(idle.min, idle.max, idle.desired))
                .await,
        );
    }
    if journal.borrow().pointed {
        let old = plan.idle_pointer.as_deref();
        outcome(
            format!(
                "the {} pointer back to {}",
                plan.idle,
                old.unwrap_or("nothing (removed)")
            ),
            format!(
                "ce --env <env> blue-green status, then fix the {} pointer",
                plan.idle
            ),
            platform.set_pointer(plan.idle, old).await,
        );
    }
    let live = &plan.live_group;
    if journal.borrow().pinned {
        let unpinned = Sizes {
            min: Some(live.min),
            max: Some(live.max),
            desired: None,
        };
        outcome(
            format!("{} unpinned: min {} max {}", live.name, live.min, live.max),
            unpinned.command(&live.name),
            platform.set_sizes(plan.live, unpinned).await,
        );
    }
    let claim = journal.borrow_mut().claim.take();
    if let Some(claim) = claim {
        outcome(
            "the versions log records the release as failed".into(),
            "it expires by itself after two minutes".into(),
            platform.finish(&claim, false).await,
        );
    }
    (restored, left)
}
