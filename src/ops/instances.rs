//! The env's web nodes as the operations commands see them, and which build each one runs.
//!
//! A node reads its colour's pointer (`version/<env>/<colour>`, else `version/<env>`) once, at
//! boot, so the build it runs is the one the pointer named when it launched. Which that was is
//! judged from the versions log and the node's launch time. EC2 reports launch times to the
//! second. A release records when it asked its colour (empty until then) to scale up, after
//! pointing it: a node of that colour launched in that second or later booted the release's
//! build. For any other change (`set-current`, or a release logged before that was recorded) a
//! node launched in the same second counts as launched before it, and is marked for restart
//! ([`Entry::boots_from`]). (A node that found S3 unreachable at boot runs its EFS-cached build
//! instead; only the node itself knows that.)

use std::time::Duration;

use serde::Serialize;

use super::builds;
use super::table;
use super::time::Timestamp;
use super::versionslog::{ChangeState, Entry};
use crate::architecture::Colour;

/// One instance of the group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Node {
    /// Instance id.
    pub id: String,
    /// Private IPv4 address.
    pub private_ip: Option<String>,
    /// Public IPv4 address.
    pub public_ip: Option<String>,
    /// EC2 state (`running`, `pending`, …).
    pub state: String,
    /// Instance type.
    pub instance_type: String,
    /// Auto Scaling lifecycle state (`InService`, `Pending`, `Terminating`, …).
    pub lifecycle: String,
    /// Auto Scaling health (`Healthy` or `Unhealthy`).
    pub asg_health: String,
    /// Target health in the target group (`healthy`, `initial`, `unhealthy`, `draining`, …);
    /// `None` when not registered.
    pub elb: Option<String>,
    /// When it launched.
    pub launched: Option<Timestamp>,
}

impl Node {
    /// In service and passing the load balancer's health check: serving traffic.
    pub fn serving(&self) -> bool {
        self.lifecycle == "InService" && self.elb.as_deref() == Some("healthy")
    }

    /// On its way out, or gone.
    pub fn leaving(&self) -> bool {
        self.lifecycle.starts_with("Terminat")
            || matches!(self.state.as_str(), "shutting-down" | "terminated")
    }
}

/// The group and its instances.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Group {
    /// The Auto Scaling group's name.
    pub name: String,
    /// Its minimum size.
    pub min: u32,
    /// Its maximum size.
    pub max: u32,
    /// Its desired capacity.
    pub desired: u32,
    /// How long after launch failed health checks start to count.
    pub grace: Duration,
    /// Its instances, oldest first.
    pub nodes: Vec<Node>,
}

/// The pointer and its history, as far as the versions log tells it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Pointer {
    /// The key the pointer holds now.
    pub key: Option<String>,
    /// From when nodes launched boot that key ([`Entry::boots_from`] of the change that set
    /// it); `None` when the log does not say (set outside ce).
    pub set_at: Option<Timestamp>,
    /// Changes that reached the pointer, oldest first.
    changes: Vec<Entry>,
}

impl Pointer {
    /// Builds the view from the pointer's value and the log's entries (in any order).
    pub fn new(key: Option<String>, mut entries: Vec<Entry>) -> Self {
        entries.retain(|e| e.state != ChangeState::Failed);
        entries.sort_by_key(|e| e.at);
        let set_at = entries
            .last()
            .filter(|e| Some(&e.to) == key.as_ref())
            .map(Entry::boots_from);
        Pointer {
            key,
            set_at,
            changes: entries,
        }
    }

    /// The key a node launched at `time` booted, by the log: that of the last change it booted
    /// from ([`Entry::boots_from`] at or before `time`), else what the first change replaced.
    pub fn at(&self, time: Timestamp) -> Option<&str> {
        match self.changes.iter().rev().find(|e| e.boots_from() <= time) {
            Some(e) => Some(&e.to),
            None => self.changes.first().and_then(|e| e.from.as_deref()),
        }
    }
}

/// What a colour's nodes boot: its own pointer (`colour_key`), else the env's (`env_key`,
/// until a release points the colour), with the changes that wrote it, which say which of its
/// nodes predate its build. Changes for the other colour, and switches (which wrote no
/// pointer), do not count.
pub fn colour_pointer(
    colour: Colour,
    colour_key: Option<String>,
    env_key: Option<String>,
    history: &[Entry],
) -> Pointer {
    let changes = history
        .iter()
        .filter(|e| !e.switch && e.colour.is_none_or(|c| c == colour))
        .cloned()
        .collect();
    Pointer::new(colour_key.or(env_key), changes)
}

/// Whether a node runs the current build.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Freshness {
    /// Launched after the pointer was last set.
    Current,
    /// Launched before: it runs an older build and needs a restart.
    Stale,
    /// Cannot tell (no pointer, or it was set outside ce).
    Unknown,
}

/// Judges a node launched at `launched` against the pointer.
pub fn judge(launched: Option<Timestamp>, pointer: &Pointer) -> Freshness {
    match (launched, pointer.key.as_ref(), pointer.set_at) {
        (Some(launched), Some(_), Some(set_at)) if launched < set_at => Freshness::Stale,
        (Some(_), Some(_), Some(_)) => Freshness::Current,
        _ => Freshness::Unknown,
    }
}

/// `3965 (master)` for a build key, the key itself for anything else.
pub fn version_label(key: &str) -> String {
    match builds::parse_key(key) {
        Some((branch, version)) => format!("{version} ({branch})"),
        None => key.to_owned(),
    }
}

/// One node with its judged build.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeView {
    /// The node.
    #[serde(flatten)]
    pub node: Node,
    /// The build it booted, by the log.
    pub build: Option<String>,
    /// Whether that is the current build.
    pub freshness: Freshness,
}

/// Every node of the group, judged, oldest first.
pub fn view(group: &Group, pointer: &Pointer) -> Vec<NodeView> {
    let mut views: Vec<NodeView> = group
        .nodes
        .iter()
        .map(|node| NodeView {
            build: node.launched.and_then(|t| pointer.at(t)).map(str::to_owned),
            freshness: judge(node.launched, pointer),
            node: node.clone(),
        })
        .collect();
    views.sort_by(|a, b| (a.node.launched, &a.node.id).cmp(&(b.node.launched, &b.node.id)));
    views
}

/// The `instances list` table: Address, Instance Id, State, Type, ELB, Launched, Version and
/// Restart (`yes` for a node older than the current build, `?` when that cannot be told).
pub fn list_table(views: &[NodeView]) -> String {
    table::render(&HEADERS, &rows(views))
}

/// The `instances list` table with each node's colour first (`green (live)` on the live one's).
pub fn list_table_with_colours(
    views: &[NodeView],
    colours: &[Option<Colour>],
    live: Option<Colour>,
) -> String {
    let mut headers = vec!["Colour"];
    headers.extend(HEADERS);
    let rows: Vec<Vec<String>> = rows(views)
        .into_iter()
        .zip(colours)
        .map(|(row, colour)| {
            let name = match colour {
                Some(c) if Some(*c) == live => format!("{c} (live)"),
                Some(c) => c.to_string(),
                None => "-".into(),
            };
            std::iter::once(name).chain(row).collect()
        })
        .collect();
    table::render(&headers, &rows)
}

const HEADERS: [&str; 8] = [
    "Address",
    "Instance Id",
    "State",
    "Type",
    "ELB",
    "Launched",
    "Version",
    "Restart",
];

fn rows(views: &[NodeView]) -> Vec<Vec<String>> {
    views
        .iter()
        .map(|v| {
            let n = &v.node;
            let state = if n.lifecycle == "InService" || n.lifecycle.is_empty() {
                n.state.clone()
            } else {
                format!("{} ({})", n.state, n.lifecycle)
            };
            vec![
                n.private_ip
                    .clone()
                    .or_else(|| n.public_ip.clone())
                    .unwrap_or_else(|| "-".into()),
                n.id.clone(),
                state,
                n.instance_type.clone(),
                n.elb.clone().unwrap_or_else(|| "-".into()),
                n.launched
                    .map(Timestamp::short)
                    .unwrap_or_else(|| "-".into()),
                v.build
                    .as_deref()
                    .map(version_label)
                    .unwrap_or_else(|| "(unknown)".into()),
                match v.freshness {
                    Freshness::Current => String::new(),
                    Freshness::Stale => "yes".into(),
                    Freshness::Unknown => "?".into(),
                },
            ]
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn node(id: &str, launched: i64) -> Node {
        Node {
            id: id.into(),
            private_ip: Some("10.0.0.1".into()),
            public_ip: None,
            state: "running".into(),
            instance_type: "t3.medium".into(),
            lifecycle: "InService".into(),
            asg_health: "Healthy".into(),
            elb: Some("healthy".into()),
            launched: Some(Timestamp::from_secs(launched)),
        }
    }

    fn entry(at: i64, from: Option<&str>, to: &str, state: ChangeState) -> Entry {
        Entry {
            at: Timestamp::from_secs(at),
            seq: 0,
            to: to.into(),
            from: from.map(str::to_owned),
            by: "x".into(),
            principal: None,
            state,
            colour: None,
            switch: false,
            scaled_up: None,
        }
    }

    fn pointer() -> Pointer {
        Pointer::new(
            Some("dist/master/3979.tar.xz".into()),
            vec![
                entry(
                    200,
                    Some("dist/master/3965.tar.xz"),
                    "dist/master/3979.tar.xz",
                    ChangeState::Done,
                ),
                entry(
                    100,
                    Some("dist/master/3900.tar.xz"),
                    "dist/master/3965.tar.xz",
                    ChangeState::Done,
                ),
                entry(
                    150,
                    Some("dist/master/3965.tar.xz"),
                    "dist/master/9999.tar.xz",
                    ChangeState::Failed,
                ),
            ],
        )
    }

    #[test]
    fn a_node_launched_before_the_pointer_was_set_is_stale() {
        let p = pointer();
        assert_eq!(judge(Some(Timestamp::from_secs(199)), &p), Freshness::Stale);
        assert_eq!(
            judge(Some(Timestamp::from_secs(201)), &p),
            Freshness::Current
        );
    }

    #[test]
    fn a_node_launched_in_the_second_the_pointer_was_set_counts_as_stale() {
        let mut p = pointer();
        p.set_at = Some(Timestamp::from_secs(200).plus(Duration::from_millis(400)));
        assert_eq!(judge(Some(Timestamp::from_secs(200)), &p), Freshness::Stale);
    }

    /// A colour's pointer after two changes of blue: 3965 set at 100.2 s, then 3979 set at
    /// 200.3 s by `last` (whose time and scale-up the test sets).
    fn blue_after(last: Entry) -> Pointer {
        let first = Entry {
            at: Timestamp(100_200),
            colour: Some(Colour::Blue),
            ..entry(
                0,
                Some("dist/master/3900.tar.xz"),
                "dist/master/3965.tar.xz",
                ChangeState::Done,
            )
        };
        colour_pointer(Colour::Blue, Some(last.to.clone()), None, &[last, first])
    }

    fn second_change(scaled_up: Option<Timestamp>) -> Entry {
        Entry {
            at: Timestamp(200_300),
            colour: Some(Colour::Blue),
            scaled_up,
            ..entry(
                0,
                Some("dist/master/3965.tar.xz"),
                "dist/master/3979.tar.xz",
                ChangeState::Done,
            )
        }
    }

    /// (build, freshness) of a node launched at `secs`.
    fn booted(p: &Pointer, secs: i64) -> (Option<&str>, Freshness) {
        let launched = Timestamp::from_secs(secs);
        (p.at(launched), judge(Some(launched), p))
    }

    const B3965: Option<&str> = Some("dist/master/3965.tar.xz");
    const B3979: Option<&str> = Some("dist/master/3979.tar.xz");

    #[test]
    fn a_node_a_release_launched_in_the_second_it_scaled_up_booted_its_build() {
        // Claimed at 200.3 s, pointed, then scaled up at 200.8 s: a node launched at 200 s
        // (whole seconds) is one the scale-up asked for.
        let p = blue_after(second_change(Some(Timestamp(200_800))));
        assert_eq!(p.set_at, Some(Timestamp::from_secs(200)));
        assert_eq!(booted(&p, 200), (B3979, Freshness::Current));
        assert_eq!(booted(&p, 201), (B3979, Freshness::Current));
        assert_eq!(booted(&p, 199), (B3965, Freshness::Stale));
        assert_eq!(
            booted(&p, 100),
            (Some("dist/master/3900.tar.xz"), Freshness::Stale),
            "in the second of 3965's change, which recorded no scale-up"
        );
    }

    #[test]
    fn a_node_launched_after_a_releases_claim_but_before_its_scale_up_second_predates_it() {
        // Scaled up at 202.5 s, two seconds after the claim: a node launched at 201 s came
        // before the release asked for any, so it may have read the pointer before it moved.
        let p = blue_after(second_change(Some(Timestamp(202_500))));
        assert_eq!(booted(&p, 201), (B3965, Freshness::Stale));
        assert_eq!(booted(&p, 202), (B3979, Freshness::Current));
    }

    #[test]
    fn without_a_recorded_scale_up_a_node_of_the_changes_second_predates_it() {
        // A release logged before scale-ups were recorded, and a colour-aware `set-current`
        // (which writes the pointer of a colour that keeps launching nodes): both are stored
        // with a colour and no switch, and keep the conservative rule.
        let p = blue_after(second_change(None));
        assert_eq!(p.set_at, Some(Timestamp(200_300)));
        assert_eq!(booted(&p, 200), (B3965, Freshness::Stale));
        assert_eq!(booted(&p, 201), (B3979, Freshness::Current));
    }

    #[test]
    fn an_entry_without_a_scale_up_reads_back_and_boots_from_its_own_time() {
        let e = second_change(None);
        assert_eq!(e.boots_from(), e.at);
        let e = second_change(Some(Timestamp(200_999)));
        assert_eq!(e.boots_from(), Timestamp::from_secs(200));
    }

    #[test]
    fn a_pointer_set_outside_ce_makes_every_node_unknown() {
        let p = Pointer::new(Some("dist/hand/1.tar.xz".into()), pointer().changes.clone());
        assert_eq!(p.set_at, None);
        assert_eq!(
            judge(Some(Timestamp::from_secs(500)), &p),
            Freshness::Unknown
        );
    }

    #[test]
    fn the_booted_build_is_the_last_change_before_launch_and_failed_changes_never_count() {
        let p = pointer();
        assert_eq!(
            p.at(Timestamp::from_secs(160)),
            Some("dist/master/3965.tar.xz")
        );
        assert_eq!(
            p.at(Timestamp::from_secs(250)),
            Some("dist/master/3979.tar.xz")
        );
        assert_eq!(
            p.at(Timestamp::from_secs(50)),
            Some("dist/master/3900.tar.xz"),
            "before the first change, the node booted what it replaced"
        );
    }

    #[test]
    fn list_table_shows_the_columns_and_marks_stale_nodes() {
        let group = Group {
            name: "ce-prod-nodes".into(),
            min: 1,
            max: 4,
            desired: 2,
            grace: Duration::from_secs(300),
            nodes: vec![
                Node {
                    private_ip: Some("10.0.1.23".into()),
                    ..node("i-0bbbbbbbbbbbbbbbb", 1_714_564_860)
                },
                Node {
                    lifecycle: "Pending".into(),
                    state: "pending".into(),
                    elb: Some("initial".into()),
                    ..node("i-0aaaaaaaaaaaaaaaa", 1_714_564_803)
                },
            ],
        };
        let mut p = pointer();
        p.set_at = Some(Timestamp::from_secs(1_714_564_830));
        let text = list_table(&view(&group, &p));
        assert_eq!(
            text,
            "\
Address    Instance Id          State              Type       ELB      Launched             Version        Restart
10.0.0.1   i-0aaaaaaaaaaaaaaaa  pending (Pending)  t3.medium  initial  2024-05-01 12:00:03  3979 (master)  yes
10.0.1.23  i-0bbbbbbbbbbbbbbbb  running            t3.medium  healthy  2024-05-01 12:01:00  3979 (master)
"
        );
    }

    #[test]
    fn each_colour_is_judged_by_the_changes_that_wrote_its_own_pointer() {
        let release = |at: i64, to: &str, colour: Colour, switch: bool| Entry {
            colour: Some(colour),
            switch,
            ..entry(at, None, to, ChangeState::Done)
        };
        // 100 released to green, 101 to blue, then a rollback to green.
        let history = [
            release(300, "dist/gh/main/100.tar.xz", Colour::Green, true),
            release(200, "dist/gh/main/101.tar.xz", Colour::Blue, false),
            release(100, "dist/gh/main/100.tar.xz", Colour::Green, false),
        ];
        let env = Some("dist/gh/main/100.tar.xz".to_owned());
        let blue = colour_pointer(
            Colour::Blue,
            Some("dist/gh/main/101.tar.xz".into()),
            env.clone(),
            &history,
        );
        let green = colour_pointer(
            Colour::Green,
            Some("dist/gh/main/100.tar.xz".into()),
            env,
            &history,
        );
        let group = |colour: &str, launched: i64| Group {
            name: colour.into(),
            min: 0,
            max: 4,
            desired: 1,
            grace: Duration::from_secs(240),
            nodes: vec![node(colour, launched)],
        };
        let blue_view = view(&group("blue", 210), &blue);
        let green_view = view(&group("green", 110), &green);
        assert_eq!(
            blue_view[0].build.as_deref(),
            Some("dist/gh/main/101.tar.xz")
        );
        assert_eq!(blue_view[0].freshness, Freshness::Current);
        assert_eq!(
            green_view[0].build.as_deref(),
            Some("dist/gh/main/100.tar.xz")
        );
        assert_eq!(green_view[0].freshness, Freshness::Current);
    }
}
