//! The roll against a fake group: the paths the sandbox cannot show (it reports every
//! registered target healthy at once).

use std::cell::RefCell;

use super::*;
use crate::ops::instances::tests::node;
use crate::ops::time::Timestamp;
use crate::ops::versionslog::{ChangeState, Entry};

/// What new instances do once launched.
#[derive(Clone, Copy, PartialEq)]
enum Launches {
    Healthy,
    Unhealthy,
    NeverReady,
}

struct Fake {
    state: RefCell<FakeState>,
}

struct FakeState {
    group: Group,
    launches: Launches,
    next: u32,
    /// Fewest serving instances seen after any change.
    least_serving: usize,
    calls: Vec<String>,
}

impl Fake {
    fn new(nodes: Vec<Node>, desired: u32, max: u32, launches: Launches) -> Self {
        let serving = nodes.iter().filter(|n| n.serving()).count();
        Fake {
            state: RefCell::new(FakeState {
                group: Group {
                    name: "ce-test-nodes".into(),
                    min: 1,
                    max,
                    desired,
                    grace: Duration::ZERO,
                    nodes,
                },
                launches,
                next: 0,
                least_serving: serving,
                calls: Vec::new(),
            }),
        }
    }

    fn settle(s: &mut FakeState) {
        while s.group.nodes.len() > s.group.desired as usize {
            s.group.nodes.pop();
        }
        while s.group.nodes.len() < s.group.desired as usize {
            s.next += 1;
            let mut n = node(&format!("i-new{}", s.next), 0);
            n.launched = Some(Timestamp::now());
            match s.launches {
                Launches::Healthy => {}
                Launches::Unhealthy => {
                    n.asg_health = "Unhealthy".into();
                    n.elb = Some("unhealthy".into());
                }
                Launches::NeverReady => {
                    n.lifecycle = "Pending".into();
                    n.elb = Some("initial".into());
                }
            }
            s.group.nodes.push(n);
        }
        let serving = s.group.nodes.iter().filter(|n| n.serving()).count();
        s.least_serving = s.least_serving.min(serving);
    }

    fn sizes(&self) -> (u32, u32, u32) {
        let s = self.state.borrow();
        (s.group.desired, s.group.min, s.group.max)
    }

    fn ids(&self) -> Vec<String> {
        let s = self.state.borrow();
        s.group.nodes.iter().map(|n| n.id.clone()).collect()
    }
}

impl Fleet for Fake {
    async fn group(&self) -> Result<Group, OpsError> {
        Ok(self.state.borrow().group.clone())
    }

    async fn resize(&self, desired: Option<u32>, max: Option<u32>) -> Result<(), OpsError> {
        let mut s = self.state.borrow_mut();
        s.calls.push(format!("resize {desired:?} {max:?}"));
        let max = max.unwrap_or(s.group.max);
        let desired = desired.unwrap_or(s.group.desired);
        assert!(
            desired <= max,
            "AWS refuses desired {desired} above max {max}"
        );
        s.group.max = max;
        s.group.desired = desired;
        Fake::settle(&mut s);
        Ok(())
    }

    async fn terminate(&self, id: &str) -> Result<(), OpsError> {
        let mut s = self.state.borrow_mut();
        s.calls.push(format!("terminate {id}"));
        let before = s.group.nodes.len();
        s.group.nodes.retain(|n| n.id != id);
        assert_eq!(s.group.nodes.len() + 1, before, "{id} is in the group");
        s.group.desired -= 1;
        Fake::settle(&mut s);
        Ok(())
    }
}

fn pointer_set_at(secs: i64) -> Pointer {
    Pointer::new(
        Some("dist/master/2.tar.xz".into()),
        vec![Entry {
            at: Timestamp::from_secs(secs),
            seq: 1,
            to: "dist/master/2.tar.xz".into(),
            from: Some("dist/master/1.tar.xz".into()),
            by: "x".into(),
            principal: None,
            state: ChangeState::Done,
            colour: None,
            switch: false,
            scaled_up: None,
        }],
    )
}

fn old_nodes(count: usize) -> Vec<Node> {
    (0..count)
        .map(|i| node(&format!("i-old{i}"), 100 + i as i64))
        .collect()
}

fn options() -> Options {
    Options {
        poll: Duration::from_millis(2),
        timeout: Duration::from_millis(60),
    }
}

fn roll(fake: &Fake, plan: &RollPlan, cancel: &mut Cancel<'_>) -> (RollReport, String) {
    let mut progress = Vec::new();
    let report = crate::aws::runtime().expect("runtime").block_on(run(
        fake,
        plan,
        options(),
        cancel,
        &mut progress,
    ));
    (report, String::from_utf8_lossy(&progress).into_owned())
}

#[test]
fn the_plan_replaces_stale_nodes_oldest_first_in_batches() {
    let mut nodes = vec![
        node("i-c", 300),
        node("i-b", 150),
        node("i-a", 100),
        node("i-d", 120),
    ];
    nodes[3].lifecycle = "Standby".into();
    let group = Fake::new(nodes, 4, 8, Launches::Healthy)
        .state
        .into_inner()
        .group;
    let plan = plan(&group, &pointer_set_at(200), 1);
    assert_eq!(plan.steps, [vec!["i-a".to_owned()], vec!["i-b".to_owned()]]);
    assert!(plan.unknown.is_empty());
    let two = super::plan(&group, &pointer_set_at(400), 2);
    assert_eq!(
        two.steps,
        [
            vec!["i-a".to_owned(), "i-b".to_owned()],
            vec!["i-c".to_owned()]
        ]
    );
}

#[test]
fn nodes_that_cannot_be_judged_are_replaced_and_the_plan_says_why() {
    let group = Fake::new(old_nodes(1), 1, 4, Launches::Healthy)
        .state
        .into_inner()
        .group;
    let unlogged = Pointer::new(Some("dist/hand/1.tar.xz".into()), Vec::new());
    let plan = plan(&group, &unlogged, 1);
    assert_eq!(plan.unknown, ["i-old0"]);
    assert!(
        plan.describe().contains("cannot be judged"),
        "{}",
        plan.describe()
    );
}

#[test]
fn the_plan_text_shows_each_step_and_a_raised_maximum() {
    let group = Fake::new(old_nodes(2), 2, 2, Launches::Healthy)
        .state
        .into_inner()
        .group;
    let text = plan(&group, &pointer_set_at(200), 1).describe();
    assert_eq!(
        text,
        "rolling restart of ce-test-nodes (desired 2, min 1, max 2): 2 instances to replace\n  \
         step 1: desired 2→3 (max 2→3 for the step); wait until 1 new instance is in service and healthy; terminate i-old0 (desired 3→2)\n  \
         step 2: desired 2→3 (max 2→3 for the step); wait until 1 new instance is in service and healthy; terminate i-old1 (desired 3→2)\n"
    );
}

#[test]
fn a_healthy_roll_replaces_every_old_node_without_losing_capacity() {
    let fake = Fake::new(old_nodes(3), 3, 3, Launches::Healthy);
    let plan = plan(&fake.state.borrow().group, &pointer_set_at(200), 1);
    let (report, progress) = roll(&fake, &plan, &mut Cancel::never());
    assert_eq!(report.stopped, None, "{progress}");
    assert_eq!(report.replaced.len(), 3);
    assert_eq!(fake.ids(), ["i-new1", "i-new2", "i-new3"]);
    assert_eq!(fake.sizes(), (3, 1, 3), "desired and max are back");
    assert_eq!(report.sizes, Some((3, 1, 3)));
    assert_eq!(fake.state.borrow().least_serving, 3);
    assert!(
        progress.contains("terminated i-old0; i-new1 serves in its place"),
        "{progress}"
    );
}

#[test]
fn a_batch_launches_and_terminates_several_at_once() {
    let fake = Fake::new(old_nodes(2), 2, 10, Launches::Healthy);
    let plan = plan(&fake.state.borrow().group, &pointer_set_at(200), 2);
    let (report, _) = roll(&fake, &plan, &mut Cancel::never());
    assert_eq!(report.replaced.len(), 2);
    let calls = fake.state.borrow().calls.clone();
    assert_eq!(
        calls,
        [
            "resize Some(4) None",
            "terminate i-old0",
            "terminate i-old1"
        ]
    );
}

#[test]
fn an_unhealthy_new_node_stops_the_roll_and_restores_the_group() {
    let fake = Fake::new(old_nodes(2), 2, 2, Launches::Unhealthy);
    let plan = plan(&fake.state.borrow().group, &pointer_set_at(200), 1);
    let (report, progress) = roll(&fake, &plan, &mut Cancel::never());
    assert_eq!(
        report.stopped,
        Some(Stop::Unhealthy {
            instances: vec!["i-new1".into()]
        })
    );
    assert!(report.replaced.is_empty());
    assert_eq!(report.remaining, ["i-old0", "i-old1"]);
    assert_eq!(
        fake.ids(),
        ["i-old0", "i-old1"],
        "the old nodes still serve"
    );
    assert_eq!(fake.sizes(), (2, 1, 2));
    assert!(report.cleanup_errors.is_empty());
    assert!(
        progress.contains("terminated new instance i-new1 (not serving)"),
        "{progress}"
    );
}

#[test]
fn a_timeout_stops_the_roll_and_gives_back_the_capacity() {
    let fake = Fake::new(old_nodes(1), 1, 5, Launches::NeverReady);
    let plan = plan(&fake.state.borrow().group, &pointer_set_at(200), 1);
    let (report, _) = roll(&fake, &plan, &mut Cancel::never());
    assert!(
        matches!(report.stopped, Some(Stop::Timeout { .. })),
        "{report:?}"
    );
    assert_eq!(fake.ids(), ["i-old0"]);
    assert_eq!(fake.sizes(), (1, 1, 5));
}

#[test]
fn ctrl_c_while_waiting_stops_and_tidies_up() {
    let fake = Fake::new(old_nodes(1), 1, 1, Launches::NeverReady);
    let plan = plan(&fake.state.borrow().group, &pointer_set_at(200), 1);
    let mut options_long = options();
    options_long.timeout = Duration::from_secs(60);
    let mut cancel = Cancel::new(async { tokio::time::sleep(Duration::from_millis(20)).await });
    let mut progress = Vec::new();
    let report = crate::aws::runtime().expect("runtime").block_on(run(
        &fake,
        &plan,
        options_long,
        &mut cancel,
        &mut progress,
    ));
    assert_eq!(report.stopped, Some(Stop::Interrupted));
    assert_eq!(fake.ids(), ["i-old0"]);
    assert_eq!(
        fake.sizes(),
        (1, 1, 1),
        "max raised for the step is restored"
    );
}

#[test]
fn ctrl_c_before_the_first_step_changes_nothing() {
    let fake = Fake::new(old_nodes(1), 1, 3, Launches::Healthy);
    let plan = plan(&fake.state.borrow().group, &pointer_set_at(200), 1);
    let (report, _) = roll(&fake, &plan, &mut Cancel::new(async {}));
    assert_eq!(report.stopped, Some(Stop::Interrupted));
    assert!(fake.state.borrow().calls.is_empty());
    assert_eq!(report.remaining, ["i-old0"]);
}
