//! Blue/green releases: each env runs two node groups, blue and green, and the load balancer's
//! HTTPS listener forwards to one of them, the live colour. A release brings a build up on
//! fresh nodes of the idle colour, checks them, and moves traffic in one listener change;
//! going back is the same change the other way, while the old colour's nodes still run.
//!
//! The steps are pure orchestration over two narrow interfaces: [`Platform`] (the groups,
//! target health, the listener, the per-colour build pointers and the versions log, which the
//! AWS edge in [`edge`] implements) and [`Probe`] (one HTTP GET with a timeout, in
//! [`probe`]). The sandbox reports every target healthy at once and runs no HTTP on its
//! instances, so the paths where a node never becomes healthy, a check answers 500, a switch
//! fails or the operator presses Ctrl-C are tested against fakes of these two.
//!
//! [`release`] is `ce release`; [`control`] holds `ce blue-green status|switch|rollback|cleanup`.

pub mod control;
pub mod edge;
pub mod probe;
pub mod release;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod release_tests;

use std::future::Future;
use std::time::Duration;

use serde::Serialize;

use super::OpsError;
use super::builds::Build;
use super::instances::Group;
use super::statics::Uploaded;
use super::time::Timestamp;
use crate::architecture::Colour;

/// Sizes of an Auto Scaling group; `None` leaves that one as it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Sizes {
    /// Minimum size.
    pub min: Option<u32>,
    /// Maximum size.
    pub max: Option<u32>,
    /// Desired capacity.
    pub desired: Option<u32>,
}

impl Sizes {
    /// All three.
    pub fn exactly(min: u32, max: u32, desired: u32) -> Self {
        Sizes {
            min: Some(min),
            max: Some(max),
            desired: Some(desired),
        }
    }

    /// The AWS CLI command that gives `group` these sizes: what a note tells the operator to
    /// run when setting them failed.
    pub fn command(&self, group: &str) -> String {
        let mut command =
            format!("aws autoscaling update-auto-scaling-group --auto-scaling-group-name {group}");
        for (flag, value) in [
            ("--min-size", self.min),
            ("--max-size", self.max),
            ("--desired-capacity", self.desired),
        ] {
            if let Some(value) = value {
                command.push_str(&format!(" {flag} {value}"));
            }
        }
        command
    }
}

/// The sizes a colour keeps while it is live, as a release leaves them and as the compute
/// template gives the live colour: the env's minimum, but no more than the `nodes` it serves
/// with (so setting it starts no node; at least 1, so scaling never takes the live colour to
/// zero unless the env's minimum is 0), and a maximum that holds them (`max`, the group's).
/// Desired capacity stays as it is.
pub fn live_sizes(env_min: u32, max: u32, nodes: u32) -> Sizes {
    let nodes = nodes.max(1);
    Sizes {
        min: Some(env_min.min(nodes)),
        max: Some(max.max(nodes)),
        desired: None,
    }
}

/// A change of which build or colour is live, as the versions log records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LiveChange {
    /// The colour that goes live.
    pub colour: Colour,
    /// The build key the live colour ran before.
    pub from: Option<String>,
    /// The build key that goes live.
    pub to: String,
    /// Who.
    pub by: String,
    /// Only traffic moves (switch, rollback): the colour's pointer named the build already.
    pub switch: bool,
}

/// A claimed change: the env's release lock, held until finished.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// What was claimed.
    pub change: LiveChange,
    /// The platform's handle on it (the versions log's sequence number and time).
    pub token: String,
    /// For a release, once it has pointed the idle colour: when it asked that colour to scale
    /// up. Recorded with the outcome, it tells the nodes the release launched (which boot its
    /// build) to the second.
    pub scaled_up: Option<Timestamp>,
}

/// An HTTP answer, as much of it as a report needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// The start of the body, for the report.
    pub body: String,
}

/// What the release and the blue/green commands need from AWS.
pub trait Platform {
    /// A colour's group with its nodes and their target health.
    fn group(&self, colour: Colour) -> impl Future<Output = Result<Group, OpsError>>;
    /// Sets a colour's group sizes.
    fn set_sizes(&self, colour: Colour, sizes: Sizes)
    -> impl Future<Output = Result<(), OpsError>>;
    /// The colour the listener forwards to; `None` when it forwards to neither.
    fn live(&self) -> impl Future<Output = Result<Option<Colour>, OpsError>>;
    /// Moves traffic: the listener forwards to `colour` from now on.
    fn switch(&self, colour: Colour) -> impl Future<Output = Result<(), OpsError>>;
    /// Routes requests carrying the preview header with `token` to `colour`; returns the
    /// route's handle.
    fn open_preview(
        &self,
        colour: Colour,
        token: &str,
    ) -> impl Future<Output = Result<String, OpsError>>;
    /// Removes a preview route.
    fn close_preview(&self, handle: &str) -> impl Future<Output = Result<(), OpsError>>;
    /// The build key a colour's pointer names.
    fn pointer(&self, colour: Colour) -> impl Future<Output = Result<Option<String>, OpsError>>;
    /// Points a colour at a build key (`None`: removes the pointer).
    fn set_pointer(
        &self,
        colour: Colour,
        key: Option<&str>,
    ) -> impl Future<Output = Result<(), OpsError>>;
    /// Puts the build's static files in the static bucket, never overwriting a file the live
    /// build serves.
    fn upload_static(&self, build: &Build) -> impl Future<Output = Result<Uploaded, OpsError>>;
    /// Takes the env's release lock for `change` (the versions log's head), refusing when the
    /// env is locked or another change is under way.
    fn claim(&self, change: &LiveChange) -> impl Future<Output = Result<Claim, OpsError>>;
    /// Keeps a claim fresh while a long release waits.
    fn touch(&self, claim: &Claim) -> impl Future<Output = Result<(), OpsError>>;
    /// Records how a claimed change ended (and releases the lock); `done` when it went live.
    fn finish(&self, claim: &Claim, done: bool) -> impl Future<Output = Result<(), OpsError>>;
    /// Refuses ([`OpsError::Deploying`]) while CloudFormation changes one of the env's stacks,
    /// as [`deploy_running`] judges their statuses.
    fn refuse_during_deploy(&self) -> impl Future<Output = Result<(), OpsError>>;
}

/// The first stack a deploy is changing, with its status: any `*_IN_PROGRESS` one, except
/// `REVIEW_IN_PROGRESS` (a new stack whose change set waits for review: nothing runs on it).
/// `stacks` are the env's stacks with their statuses (`None`: not deployed).
pub fn deploy_running<'a>(
    stacks: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> Option<(&'a str, &'a str)> {
    stacks.into_iter().find_map(|(stack, status)| {
        let status = status?;
        (status.ends_with("_IN_PROGRESS") && status != "REVIEW_IN_PROGRESS")
            .then_some((stack, status))
    })
}

/// One HTTP GET.
pub trait Probe {
    /// GETs `url` with extra `headers`, giving up after `timeout`. An `Err` is a request that
    /// got no answer (refused, reset, timed out), in words.
    fn get(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        timeout: Duration,
    ) -> impl Future<Output = Result<Answer, String>>;
}

/// The health gate's and the waits' settings, from the env's `[release]` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gate {
    /// The nodes' health path (the target group's).
    pub health_path: String,
    /// Check every new node's health path on its private address.
    pub node_checks: bool,
    /// Port of the nodes' health path.
    pub node_port: u16,
    /// The service through CloudFront and the load balancer; `None` skips that check.
    pub service_url: Option<String>,
    /// One HTTP check's limit.
    pub request_timeout: Duration,
    /// The whole gate's limit.
    pub gate_timeout: Duration,
    /// The limit on new nodes becoming in service and healthy.
    pub ready_timeout: Duration,
    /// Between looks.
    pub poll: Duration,
}

impl Gate {
    /// The settings of an env.
    pub fn from_env(env: &crate::config::Env) -> Self {
        let r = &env.file.release;
        let secs = |s: u32| Duration::from_secs(u64::from(s));
        Gate {
            health_path: env.file.compute.health_check.path.clone(),
            node_checks: r.node_checks,
            node_port: r.node_port,
            service_url: Some(r.service_url.clone().unwrap_or_else(|| {
                format!(
                    "https://{}",
                    env.file.domain.aliases.first().map_or("", String::as_str)
                )
            })),
            request_timeout: secs(r.request_timeout),
            gate_timeout: secs(r.gate_timeout),
            ready_timeout: secs(r.ready_timeout),
            poll: secs(r.poll_interval),
        }
    }
}

/// How many nodes a colour serves with: desired capacity counts nodes on their way in too.
pub fn in_service(group: &Group) -> usize {
    group
        .nodes
        .iter()
        .filter(|n| n.lifecycle == "InService")
        .count()
}
