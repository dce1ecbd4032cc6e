//! `ce blue-green status|switch|rollback|cleanup`: looking at both colours, moving traffic
//! between them, and retiring the old one once a release is stable.
//!
//! A switch only goes to a colour that has nodes serving, so traffic is never sent to an empty
//! target group; it is recorded in the versions log like a release (the colour's build went
//! live) and takes the same lock. Like a release, a switch (or rollback) refuses while a deploy
//! is changing one of the env's stacks.

use serde::Serialize;

use super::{LiveChange, Platform, Sizes, in_service, live_sizes};
use crate::architecture::Colour;
use crate::ops::OpsError;
use crate::ops::instances::{self, Group, Node, NodeView, version_label};
use crate::ops::versionslog::Entry;

/// Why a blue/green command refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The listener forwards to neither colour.
    #[error(
        "the HTTPS listener forwards to neither colour's target group; redeploy the compute \
         stack (`ce deploy --stack compute`) to put it back"
    )]
    NoLiveColour,
    /// The colour asked for has no node serving.
    #[error(
        "{colour} has no node serving (desired {desired}, {in_service} in service, {healthy} \
         healthy): switching would send traffic nowhere. {hint}"
    )]
    Empty {
        /// The colour.
        colour: Colour,
        /// Its desired capacity.
        desired: u32,
        /// Its nodes in service.
        in_service: usize,
        /// Its nodes healthy in the target group.
        healthy: usize,
        /// What to do instead.
        hint: String,
    },
    /// Cleanup of a colour that is live.
    #[error("the live colour is not cleaned up")]
    CleanupLive,
    /// The live colour is not fully healthy: keep the other for rollback.
    #[error(
        "the live colour {colour} has {healthy} of {desired} node(s) healthy; cleanup would \
         leave nothing to roll back to. Wait, or roll back (`ce blue-green rollback`)"
    )]
    LiveUnhealthy {
        /// The live colour.
        colour: Colour,
        /// Its healthy nodes.
        healthy: usize,
        /// Its desired capacity.
        desired: u32,
    },
    /// The new live colour's minimum could not be raised; traffic did not move.
    #[error(
        "{group}'s minimum could not be raised to {min} before the switch, so traffic stays on \
         {traffic}"
    )]
    NotRaised {
        /// The colour's group.
        group: String,
        /// The minimum it was to get.
        min: u32,
        /// Where traffic stays.
        traffic: String,
        /// Why.
        #[source]
        cause: OpsError,
    },
    /// The switch failed and the colour's raised minimum could not be put back.
    #[error(
        "the switch failed, so traffic stays on {traffic}; {group}'s sizes could not be put \
         back ({undo}): by hand, aws autoscaling update-auto-scaling-group \
         --auto-scaling-group-name {group} --min-size {min} --max-size {max}"
    )]
    NotSwitched {
        /// Where traffic stays.
        traffic: String,
        /// The colour's group.
        group: String,
        /// Its minimum before.
        min: u32,
        /// Its maximum before.
        max: u32,
        /// Why they could not be put back.
        undo: String,
        /// Why the switch failed.
        #[source]
        cause: OpsError,
    },
    /// An AWS call failed.
    #[error(transparent)]
    Ops(#[from] OpsError),
}

/// One colour as `status` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ColourStatus {
    /// The colour.
    pub colour: Colour,
    /// Whether the listener forwards to it.
    pub live: bool,
    /// The build its pointer names: what its nodes boot.
    pub build: Option<String>,
    /// Its group (its sizes in JSON; the nodes are in `nodes`).
    #[serde(serialize_with = "group_sizes")]
    pub group: Group,
    /// Summary of its target health.
    pub health: &'static str,
    /// Its nodes, oldest first, with target health and the build each one booted, judged as
    /// `instances list` judges it (from the versions log and the node's launch time).
    pub nodes: Vec<NodeView>,
}

/// A group's name and sizes.
fn group_sizes<S: serde::Serializer>(group: &Group, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let mut out = s.serialize_struct("Group", 4)?;
    out.serialize_field("name", &group.name)?;
    out.serialize_field("min", &group.min)?;
    out.serialize_field("max", &group.max)?;
    out.serialize_field("desired", &group.desired)?;
    out.end()
}

/// Both colours.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    /// The live colour; `None` when the listener forwards to neither.
    pub live: Option<Colour>,
    /// Blue, then green.
    pub colours: Vec<ColourStatus>,
}

/// Reads both colours and which is live. `env_key` (the env's pointer, which a colour no
/// release has pointed boots) and `history` (the versions log) say which build each node
/// booted.
pub async fn status<P: Platform>(
    platform: &P,
    env_key: Option<&str>,
    history: &[Entry],
) -> Result<Status, OpsError> {
    let (live, blue, green, blue_build, green_build) = tokio::try_join!(
        platform.live(),
        platform.group(Colour::Blue),
        platform.group(Colour::Green),
        platform.pointer(Colour::Blue),
        platform.pointer(Colour::Green),
    )?;
    Ok(assemble(
        live,
        [
            (Colour::Blue, blue, blue_build),
            (Colour::Green, green, green_build),
        ],
        env_key,
        history,
    ))
}

/// The status from what was read: the live colour, each colour with its group and pointer,
/// the env's pointer and the versions log. Each node's build is judged against its own
/// colour's pointer and the changes that wrote it ([`instances::colour_pointer`]).
pub fn assemble(
    live: Option<Colour>,
    colours: [(Colour, Group, Option<String>); 2],
    env_key: Option<&str>,
    history: &[Entry],
) -> Status {
    let colours = colours
        .into_iter()
        .map(|(colour, group, build)| {
            let pointer = instances::colour_pointer(
                colour,
                build.clone(),
                env_key.map(str::to_owned),
                history,
            );
            ColourStatus {
                colour,
                live: live == Some(colour),
                build,
                health: summary(&group),
                nodes: instances::view(&group, &pointer),
                group,
            }
        })
        .collect();
    Status { live, colours }
}

/// The real tool's words for a target group's state.
pub fn summary(group: &Group) -> &'static str {
    let nodes: Vec<&Node> = group.nodes.iter().filter(|n| !n.leaving()).collect();
    let healthy = nodes.iter().filter(|n| n.serving()).count();
    if nodes.is_empty() {
        "empty"
    } else if healthy == nodes.len() {
        "all healthy"
    } else if healthy == 0 {
        if nodes.iter().any(|n| n.elb.as_deref() == Some("unhealthy")) {
            "unhealthy"
        } else {
            "starting"
        }
    } else {
        "partially healthy"
    }
}

impl Status {
    /// The status as text: one block per colour, one line per node with the build it booted.
    pub fn text(&self) -> String {
        let mut text = String::new();
        match self.live {
            Some(c) => text.push_str(&format!("live colour: {c}\n")),
            None => text.push_str("live colour: none (the listener forwards to neither)\n"),
        }
        for c in &self.colours {
            let g = &c.group;
            text.push_str(&format!(
                "\n{}{}  {}  desired {} min {} max {}  {}  build {}\n",
                c.colour,
                if c.live { " (live)" } else { "" },
                g.name,
                g.desired,
                g.min,
                g.max,
                c.health,
                c.build.as_deref().unwrap_or("(none)"),
            ));
            for v in &c.nodes {
                let n = &v.node;
                let build = v
                    .build
                    .as_deref()
                    .map_or_else(|| "(unknown)".to_owned(), version_label);
                text.push_str(&format!(
                    "  {:<20} {:<15} {:<12} {:<10} target {:<15} build {build}{}\n",
                    n.id,
                    n.private_ip.as_deref().unwrap_or("-"),
                    n.lifecycle,
                    n.asg_health,
                    n.elb.as_deref().unwrap_or("not registered"),
                    match v.freshness {
                        instances::Freshness::Stale => " (may predate its pointer)",
                        _ => "",
                    },
                ));
            }
        }
        text
    }
}

/// What a switch did.
#[derive(Clone, Debug, Serialize)]
pub struct Switched {
    /// The colour live before.
    pub from: Option<Colour>,
    /// The colour live now.
    pub to: Colour,
    /// The build it runs.
    pub build: Option<String>,
    /// Nothing to do: it was live already.
    pub unchanged: bool,
    /// Things that went wrong after traffic moved.
    pub notes: Vec<String>,
}

/// Moves traffic to `colour`, refusing a colour with no node serving, and leaves the groups
/// sized as a release leaves them: `colour` gets the env's minimum (`env_min`, as
/// [`live_sizes`] caps it) before the listener moves, so the scale-in policy can never take the
/// live colour to zero; the old colour keeps its nodes for rollback, with minimum 0, once
/// traffic has left it. A failed switch puts `colour`'s sizes back; a failure after traffic
/// moved is a note saying what to run.
pub async fn switch<P: Platform>(
    platform: &P,
    colour: Colour,
    env_min: u32,
    by: &str,
) -> Result<Switched, ControlError> {
    let (live, group, old_group, build, from_build) = tokio::try_join!(
        platform.live(),
        platform.group(colour),
        platform.group(colour.other()),
        platform.pointer(colour),
        platform.pointer(colour.other()),
    )?;
    if live == Some(colour) {
        return Ok(Switched {
            from: live,
            to: colour,
            build,
            unchanged: true,
            notes: vec![],
        });
    }
    let healthy = group.nodes.iter().filter(|n| n.serving()).count();
    if healthy == 0 {
        return Err(ControlError::Empty {
            colour,
            desired: group.desired,
            in_service: in_service(&group),
            healthy,
            hint: format!(
                "Release a build to it instead (`ce release VERSION`), or scale {} up first \
                 (`aws autoscaling set-desired-capacity --auto-scaling-group-name {} \
                 --desired-capacity N`) and wait until its nodes are healthy",
                group.name, group.name
            ),
        });
    }
    // A deploy may be moving the live route or resizing the groups: wait for it.
    platform.refuse_during_deploy().await?;
    let claim = platform
        .claim(&LiveChange {
            colour,
            from: from_build.clone(),
            to: build.clone().unwrap_or_default(),
            by: by.to_owned(),
            switch: true,
        })
        .await?;
    let traffic = live.map_or("neither colour".to_owned(), |c| c.to_string());
    // The live colour's minimum, before it is live.
    let raised = live_sizes(env_min, group.max, group.desired);
    if let Err(e) = platform.set_sizes(colour, raised).await {
        let _ = platform.finish(&claim, false).await;
        return Err(ControlError::NotRaised {
            group: group.name,
            min: raised.min.unwrap_or_default(),
            traffic,
            cause: e,
        });
    }
    let mut notes = Vec::new();
    if let Err(e) = platform.switch(colour).await {
        // Traffic did not move (or did, and the answer was lost): say which.
        let moved = platform.live().await.ok().flatten() == Some(colour);
        if !moved {
            let _ = platform.finish(&claim, false).await;
            let before = Sizes {
                min: Some(group.min),
                max: Some(group.max),
                desired: None,
            };
            return Err(match platform.set_sizes(colour, before).await {
                Ok(()) => e.into(),
                Err(undo) => ControlError::NotSwitched {
                    traffic,
                    group: group.name,
                    min: group.min,
                    max: group.max,
                    undo: undo.to_string(),
                    cause: e,
                },
            });
        }
        notes.push("the switch answered with an error, but the listener forwards to it".into());
    }
    if let Err(e) = platform.finish(&claim, true).await {
        notes.push(format!("the versions log could not record the switch: {e}"));
    }
    if live.is_some() {
        let old = Sizes {
            min: Some(0),
            max: None,
            desired: None,
        };
        if let Err(e) = platform.set_sizes(colour.other(), old).await {
            notes.push(format!(
                "{} keeps minimum {} although {colour} is live now: {e}; to let it scale in \
                 (its nodes stay for rollback): {}",
                old_group.name,
                old_group.min,
                old.command(&old_group.name)
            ));
        }
    }
    Ok(Switched {
        from: live,
        to: colour,
        build,
        unchanged: false,
        notes,
    })
}

/// Back to the colour that was live before: the other one, if it still has nodes serving,
/// sized as [`switch`] sizes it.
/// When it has none, says how to scale it up again (its nodes boot the build its pointer still
/// names) or to release an older build.
pub async fn rollback<P: Platform>(
    platform: &P,
    env_min: u32,
    by: &str,
) -> Result<Switched, ControlError> {
    let live = platform.live().await?.ok_or(ControlError::NoLiveColour)?;
    match switch(platform, live.other(), env_min, by).await {
        Err(ControlError::Empty {
            colour,
            desired,
            in_service,
            healthy,
            hint: _,
        }) => {
            let (group, build) =
                tokio::try_join!(platform.group(colour), platform.pointer(colour))?;
            let release = format!(
                "release an older build again: `ce builds history` lists them, `ce release \
                 VERSION` brings one up on {colour}"
            );
            let hint = match build {
                Some(build) => format!(
                    "It was cleaned up; its pointer still names {build}. To go back to that, \
                     scale it up (`aws autoscaling set-desired-capacity \
                     --auto-scaling-group-name {} --desired-capacity N`), wait until `ce \
                     blue-green status` shows its nodes healthy, and roll back again; or \
                     {release}",
                    group.name
                ),
                None => format!("It was never released to. To go back, {release}"),
            };
            Err(ControlError::Empty {
                colour,
                desired,
                in_service,
                healthy,
                hint,
            })
        }
        other => other,
    }
}

/// What cleanup did.
#[derive(Clone, Debug, Serialize)]
pub struct CleanedUp {
    /// The colour scaled to zero.
    pub colour: Colour,
    /// Its group.
    pub group: String,
    /// Nodes it had.
    pub had: u32,
}

/// Scales the idle colour to zero, once the live one has all its nodes healthy.
pub async fn cleanup<P: Platform>(platform: &P) -> Result<CleanedUp, ControlError> {
    let live = platform.live().await?.ok_or(ControlError::NoLiveColour)?;
    let idle = live.other();
    let (live_group, idle_group) = tokio::try_join!(platform.group(live), platform.group(idle))?;
    let healthy = live_group.nodes.iter().filter(|n| n.serving()).count();
    if healthy == 0 || healthy < usize::try_from(live_group.desired).unwrap_or(usize::MAX) {
        return Err(ControlError::LiveUnhealthy {
            colour: live,
            healthy,
            desired: live_group.desired,
        });
    }
    if idle_group.desired > 0 || idle_group.min > 0 {
        platform
            .set_sizes(
                idle,
                Sizes {
                    min: Some(0),
                    max: None,
                    desired: Some(0),
                },
            )
            .await?;
    }
    Ok(CleanedUp {
        colour: idle,
        group: idle_group.name,
        had: idle_group.desired,
    })
}
