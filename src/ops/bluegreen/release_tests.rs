//! Releases, switches, rollbacks and cleanups against the fakes: every failure path asserts
//! where traffic ends up and what was put back.

use std::time::Duration;

use super::control::{self, ControlError};
use super::fake::{FakePlatform, FakeProbe, SwitchBehaviour};
use super::release::{self, Failed, Plan, PlanError, Released, Step};
use super::{Gate, Platform};
use crate::architecture::Colour;
use crate::ops::builds::Build;

const OLD: &str = "dist/gh/main/1.tar.xz";
const NEW: &str = "dist/gh/main/2.tar.xz";
const SERVICE: &str = "https://staging.example.org/healthcheck";

fn build(key: &str) -> Build {
    Build {
        branch: "main".into(),
        version: key
            .rsplit('/')
            .next()
            .unwrap()
            .trim_end_matches(".tar.xz")
            .into(),
        key: key.into(),
        size: 1,
        static_key: None,
        has_info: true,
        hash: Some("abc".into()),
    }
}

fn gate() -> Gate {
    Gate {
        health_path: "/healthcheck".into(),
        node_checks: true,
        node_port: 80,
        service_url: Some("https://staging.example.org".into()),
        request_timeout: Duration::from_secs(5),
        gate_timeout: Duration::from_secs(60),
        ready_timeout: Duration::from_secs(120),
        poll: Duration::from_secs(10),
    }
}

async fn plan(aws: &FakePlatform) -> Plan {
    release::plan(aws, build(NEW), None, 1, 1).await.unwrap()
}

async fn release_with(
    aws: &FakePlatform,
    probe: &FakeProbe,
    cancel: impl std::future::Future<Output = ()>,
) -> Result<Released, Failed> {
    let plan = plan(aws).await;
    release::run(aws, probe, &plan, &gate(), "alice@admin", &|_| {}, cancel).await
}

async fn release(aws: &FakePlatform, probe: &FakeProbe) -> Result<Released, Failed> {
    release_with(aws, probe, std::future::pending()).await
}

/// After a release that stopped before the switch: traffic where it was and nothing left over.
fn assert_put_back(aws: &FakePlatform) {
    let s = aws.state.borrow();
    assert_eq!(s.live, Some(Colour::Blue), "traffic must stay on blue");
    let green = &s.groups[&Colour::Green];
    assert_eq!((green.min, green.max, green.desired), (0, 4, 0));
    let blue = &s.groups[&Colour::Blue];
    assert_eq!((blue.min, blue.max, blue.desired), (1, 4, 2));
    assert_eq!(s.pointers[&Colour::Green], None);
    assert_eq!(s.pointers[&Colour::Blue].as_deref(), Some(OLD));
    assert!(s.previews.is_empty(), "preview rule left: {:?}", s.previews);
    assert_eq!(s.claims.last().unwrap().1, Some(false));
}

#[tokio::test(start_paused = true)]
async fn a_release_brings_the_build_up_on_the_idle_colour_and_moves_traffic_to_it() {
    let aws = FakePlatform::new(2, OLD);
    let probe = FakeProbe::default();
    let released = release(&aws, &probe).await.unwrap();
    assert_eq!(released.colour, Colour::Green);
    assert_eq!(released.previous_build.as_deref(), Some(OLD));

    let s = aws.state.borrow();
    assert_eq!(s.live, Some(Colour::Green));
    let green = &s.groups[&Colour::Green];
    assert_eq!((green.min, green.desired), (1, 2));
    // The old colour keeps its nodes for rollback, no longer pinned.
    let blue = &s.groups[&Colour::Blue];
    assert_eq!((blue.min, blue.max, blue.desired), (0, 4, 2));
    assert_eq!(s.pointers[&Colour::Green].as_deref(), Some(NEW));
    assert_eq!(s.pointers[&Colour::Blue].as_deref(), Some(OLD));
    assert!(s.previews.is_empty());
    let (change, done) = s.claims.last().unwrap();
    assert_eq!(
        (change.colour, change.to.as_str(), *done),
        (Colour::Green, NEW, Some(true))
    );
    assert_eq!(change.from.as_deref(), Some(OLD));
    assert_eq!(change.by, "alice@admin");
}

#[tokio::test(start_paused = true)]
async fn a_release_records_when_it_scaled_the_idle_colour_up_and_a_rollback_does_not() {
    use crate::ops::time::Timestamp;
    let aws = FakePlatform::new(1, OLD);
    let before = Timestamp::now();
    release(&aws, &FakeProbe::default()).await.unwrap();
    let after = Timestamp::now();
    control::rollback(&aws, 1, "bob@admin").await.unwrap();
    let s = aws.state.borrow();
    let [released, rolled_back] = &s.finished[..] else {
        panic!("{:?}", s.finished)
    };
    assert!(!released.change.switch);
    let scaled_up = released.scaled_up.expect("the release's scale-up moment");
    assert!(before <= scaled_up && scaled_up <= after, "{scaled_up}");
    assert!(rolled_back.change.switch);
    assert_eq!(rolled_back.scaled_up, None, "a rollback launches no node");
}

#[tokio::test(start_paused = true)]
async fn a_release_that_stops_before_scaling_up_records_no_scale_up() {
    let aws = FakePlatform::new(1, OLD);
    aws.state.borrow_mut().failing = Some("upload_static");
    release(&aws, &FakeProbe::default()).await.unwrap_err();
    let s = aws.state.borrow();
    assert_eq!(s.finished.len(), 1);
    assert_eq!(s.claims[0].1, Some(false));
    assert_eq!(s.finished[0].scaled_up, None);
}

#[tokio::test(start_paused = true)]
async fn the_gate_checks_every_new_node_and_the_service_with_the_preview_header() {
    let aws = FakePlatform::new(2, OLD);
    let probe = FakeProbe::default();
    release(&aws, &probe).await.unwrap();
    let asked = probe.asked.borrow();
    let urls: Vec<&str> = asked.iter().map(|(u, _)| u.as_str()).collect();
    // Blue had i-0001 and i-0002; green's new nodes are i-0003 and i-0004.
    assert_eq!(
        urls,
        [
            "http://10.0.0.3:80/healthcheck",
            "http://10.0.0.4:80/healthcheck",
            SERVICE
        ]
    );
    let (_, headers) = &asked[2];
    assert_eq!(headers.len(), 1);
    assert_eq!(headers[0].0, "X-CE-Preview");
    assert_eq!(headers[0].1.len(), 32, "a 128-bit token");
    assert_eq!(aws.state.borrow().previews_opened, 1);
}

#[tokio::test(start_paused = true)]
async fn the_live_colour_is_pinned_and_its_pointer_untouched_while_the_release_runs() {
    let aws = FakePlatform::new(2, OLD);
    release(&aws, &FakeProbe::default()).await.unwrap();
    let calls = aws.state.borrow().calls.clone();
    let pin = calls
        .iter()
        .position(|c| c == "set_sizes blue min Some(2) max Some(2) desired Some(2)");
    let scale = calls
        .iter()
        .position(|c| c.starts_with("set_sizes green min Some(2)"));
    let switch = calls.iter().position(|c| c == "switch green");
    assert!(pin < scale && scale < switch, "{calls:#?}");
    assert!(
        !calls.iter().any(|c| c.starts_with("set_pointer blue")),
        "the live colour's pointer must not change: {calls:#?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_node_that_never_becomes_healthy_stops_the_release_and_traffic_stays() {
    let aws = FakePlatform::new(2, OLD);
    aws.state.borrow_mut().new_node_health = "unhealthy".into();
    let failed = release(&aws, &FakeProbe::default()).await.unwrap_err();
    assert_eq!(failed.step, Step::Wait);
    assert!(failed.reason.contains("0 of 2"), "{}", failed.reason);
    assert!(
        failed
            .reason
            .contains("i-0003 (10.0.0.3): InService, target unhealthy"),
        "{}",
        failed.reason
    );
    assert_eq!(failed.traffic, Some(Colour::Blue));
    assert!(failed.left.is_empty(), "{:?}", failed.left);
    assert!(
        aws.state.borrow().touches > 0,
        "the claim is kept fresh while waiting"
    );
    assert_put_back(&aws);
}

#[tokio::test(start_paused = true)]
async fn a_health_check_answering_500_stops_the_release_with_the_answer() {
    let aws = FakePlatform::new(2, OLD);
    let probe = FakeProbe::default().answer(
        "http://10.0.0.4:80/healthcheck",
        500,
        "no compilers found\n",
    );
    let failed = release(&aws, &probe).await.unwrap_err();
    assert_eq!(failed.step, Step::NodeCheck);
    assert!(
        failed
            .reason
            .contains("node i-0004 (10.0.0.4) answered 500"),
        "{}",
        failed.reason
    );
    assert!(
        failed.reason.contains("no compilers found"),
        "{}",
        failed.reason
    );
    assert!(
        failed.to_string().contains("traffic stays on blue"),
        "{failed}"
    );
    assert_put_back(&aws);
}

#[tokio::test(start_paused = true)]
async fn a_service_check_that_times_out_stops_the_release() {
    let aws = FakePlatform::new(2, OLD);
    let probe = FakeProbe::default().silent(SERVICE, "timed out after 5 s");
    let failed = release(&aws, &probe).await.unwrap_err();
    assert_eq!(failed.step, Step::ServiceCheck);
    assert!(
        failed.reason.contains("did not answer"),
        "{}",
        failed.reason
    );
    assert!(
        failed.reason.contains("timed out after 5 s"),
        "{}",
        failed.reason
    );
    // Retried every poll for the whole gate, not given up at the first failure.
    let tries = probe
        .asked
        .borrow()
        .iter()
        .filter(|(u, _)| u == SERVICE)
        .count();
    assert!(tries > 1, "{tries}");
    assert_put_back(&aws);
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_while_waiting_puts_everything_back_and_traffic_stays() {
    let aws = FakePlatform::new(2, OLD);
    // Nodes that stay in their initial health check: the release waits until interrupted.
    aws.state.borrow_mut().new_node_health = "initial".into();
    let ctrl_c = tokio::time::sleep(Duration::from_secs(25));
    let failed = release_with(&aws, &FakeProbe::default(), ctrl_c)
        .await
        .unwrap_err();
    assert_eq!(failed.step, Step::Wait);
    assert!(failed.reason.contains("interrupted"), "{}", failed.reason);
    assert_put_back(&aws);
}

#[tokio::test(start_paused = true)]
async fn static_files_go_up_before_any_node_starts() {
    let aws = FakePlatform::new(2, OLD);
    release(&aws, &FakeProbe::default()).await.unwrap();
    let calls = aws.state.borrow().calls.clone();
    let uploaded = calls
        .iter()
        .position(|c| c == &format!("upload_static {NEW}"));
    let scaled = calls.iter().position(|c| c.starts_with("set_sizes green"));
    assert!(uploaded.is_some() && uploaded < scaled, "{calls:#?}");
}

#[tokio::test(start_paused = true)]
async fn a_static_file_that_would_overwrite_the_live_builds_stops_the_release() {
    let aws = FakePlatform::new(2, OLD);
    aws.state.borrow_mut().failing = Some("upload_static");
    let failed = release(&aws, &FakeProbe::default()).await.unwrap_err();
    assert_eq!(failed.step, Step::Static);
    assert!(
        failed.reason.contains("static/main.js"),
        "{}",
        failed.reason
    );
    assert!(
        !aws.state
            .borrow()
            .calls
            .iter()
            .any(|c| c.starts_with("set_sizes green")),
        "no node of green was started"
    );
    assert_put_back(&aws);
}

#[tokio::test(start_paused = true)]
async fn a_failed_listener_switch_leaves_traffic_on_the_old_colour() {
    let aws = FakePlatform::new(2, OLD);
    aws.state.borrow_mut().switch = SwitchBehaviour::Fails;
    let failed = release(&aws, &FakeProbe::default()).await.unwrap_err();
    assert_eq!(failed.step, Step::Switch);
    assert!(
        failed.reason.contains("ModifyListener"),
        "{}",
        failed.reason
    );
    assert_put_back(&aws);
}

#[tokio::test(start_paused = true)]
async fn a_switch_that_took_effect_despite_an_error_finishes_the_release() {
    let aws = FakePlatform::new(2, OLD);
    aws.state.borrow_mut().switch = SwitchBehaviour::MovesButErrs;
    let released = release(&aws, &FakeProbe::default()).await.unwrap();
    assert_eq!(released.colour, Colour::Green);
    let s = aws.state.borrow();
    assert_eq!(s.live, Some(Colour::Green));
    assert_eq!(
        s.groups[&Colour::Green].desired,
        2,
        "the new live colour keeps its nodes"
    );
    assert_eq!(s.claims.last().unwrap().1, Some(true));
}

#[tokio::test(start_paused = true)]
async fn sizes_failing_after_the_release_switch_leave_it_live_and_say_what_to_run() {
    let aws = FakePlatform::new(2, OLD);
    aws.state.borrow_mut().sizes_fail_once_live = Some(Colour::Green);

    let released = release(&aws, &FakeProbe::default()).await.unwrap();

    assert_eq!(released.colour, Colour::Green);
    assert_eq!(aws.state.borrow().live, Some(Colour::Green));
    assert_eq!(released.notes.len(), 2, "{:?}", released.notes);
    // The same command the switch and rollback notes give, with the sizes the release meant.
    assert!(
        released.notes[0]
            .starts_with("ce-test-nodes-green keeps minimum 2 (the release's) instead of 1: ")
            && released.notes[0].ends_with(
                "; to give it the live colour's sizes: aws autoscaling \
                 update-auto-scaling-group --auto-scaling-group-name ce-test-nodes-green \
                 --min-size 1 --max-size 4"
            ),
        "{:?}",
        released.notes
    );
    assert!(
        released.notes[1]
            .starts_with("ce-test-nodes stays pinned at 2 node(s) although green is live now: ")
            && released.notes[1].ends_with(
                "; to let it scale in (its nodes stay for rollback): aws autoscaling \
                 update-auto-scaling-group --auto-scaling-group-name ce-test-nodes \
                 --min-size 0 --max-size 4"
            ),
        "{:?}",
        released.notes
    );
}

#[tokio::test(start_paused = true)]
async fn a_failure_after_the_switch_never_strands_traffic() {
    let aws = FakePlatform::new(2, OLD);
    // Recording in the versions log fails once traffic has moved.
    aws.state.borrow_mut().failing = Some("finish");
    let released = release(&aws, &FakeProbe::default()).await.unwrap();
    assert!(
        released.notes[0].contains("could not record"),
        "{:?}",
        released.notes
    );
    let s = aws.state.borrow();
    assert_eq!(s.live, Some(Colour::Green));
    assert_eq!(s.groups[&Colour::Green].desired, 2);
    assert!(s.groups[&Colour::Green].min >= 1);
}

#[tokio::test(start_paused = true)]
async fn a_release_refuses_while_the_idle_colour_still_runs_nodes() {
    let aws = FakePlatform::new(2, OLD);
    aws.set_sizes(Colour::Green, super::Sizes::exactly(0, 4, 1))
        .await
        .unwrap();
    let err = release::plan(&aws, build(NEW), None, 1, 1)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        PlanError::IdleBusy {
            colour: Colour::Green,
            desired: 1
        }
    ));
    assert!(err.to_string().contains("ce blue-green cleanup"), "{err}");
    assert!(aws.state.borrow().claims.is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_release_size_is_the_live_size_or_the_envs_when_nothing_runs() {
    let aws = FakePlatform::new(3, OLD);
    assert_eq!(plan(&aws).await.capacity, 3);
    let empty = FakePlatform::new(0, OLD);
    let p = release::plan(&empty, build(NEW), None, 2, 1).await.unwrap();
    assert_eq!(p.capacity, 2);
    let forced = release::plan(&aws, build(NEW), Some(1), 2, 1)
        .await
        .unwrap();
    assert_eq!(forced.capacity, 1);
    let too_big = release::plan(&aws, build(NEW), Some(9), 2, 1)
        .await
        .unwrap_err();
    assert!(too_big.to_string().contains("at most 4"), "{too_big}");
}

#[tokio::test(start_paused = true)]
async fn releasing_the_live_build_again_is_nothing_to_do() {
    let aws = FakePlatform::new(2, OLD);
    let err = release::plan(&aws, build(OLD), None, 1, 1)
        .await
        .unwrap_err();
    assert!(matches!(err, PlanError::AlreadyLive { .. }), "{err}");
}

#[tokio::test(start_paused = true)]
async fn rollback_goes_back_to_the_old_colour_at_once_and_is_recorded() {
    let aws = FakePlatform::new(2, OLD);
    release(&aws, &FakeProbe::default()).await.unwrap();
    let back = control::rollback(&aws, 1, "bob@admin").await.unwrap();
    assert_eq!((back.from, back.to), (Some(Colour::Green), Colour::Blue));
    let s = aws.state.borrow();
    assert_eq!(s.live, Some(Colour::Blue));
    let (change, done) = s.claims.last().unwrap();
    assert_eq!(
        (change.colour, change.to.as_str(), *done),
        (Colour::Blue, OLD, Some(true))
    );
}

/// (min, max, desired) of a colour's group in the fake.
fn sizes(aws: &FakePlatform, colour: Colour) -> (u32, u32, u32) {
    let g = aws.group_now(colour);
    (g.min, g.max, g.desired)
}

/// Where `call` is in the fake's calls, failing the test when it is not there.
fn position(calls: &[String], call: &str) -> usize {
    calls
        .iter()
        .position(|c| c == call)
        .unwrap_or_else(|| panic!("no {call:?} in {calls:#?}"))
}

#[tokio::test(start_paused = true)]
async fn rollback_leaves_the_groups_sized_as_a_release_leaves_them() {
    let aws = FakePlatform::new(2, OLD);
    release(&aws, &FakeProbe::default()).await.unwrap();
    assert_eq!(sizes(&aws, Colour::Green), (1, 4, 2));
    assert_eq!(sizes(&aws, Colour::Blue), (0, 4, 2));
    aws.state.borrow_mut().calls.clear();

    let back = control::rollback(&aws, 1, "bob@admin").await.unwrap();
    assert!(back.notes.is_empty(), "{:?}", back.notes);
    // Blue, live again, has the env's minimum; green keeps its nodes for rollback, minimum 0.
    assert_eq!(sizes(&aws, Colour::Blue), (1, 4, 2));
    assert_eq!(sizes(&aws, Colour::Green), (0, 4, 2));
    // Blue's minimum goes up before traffic reaches it, green's down only once it has left.
    let calls = aws.state.borrow().calls.clone();
    let raise = position(
        &calls,
        "set_sizes blue min Some(1) max Some(4) desired None",
    );
    let switch = position(&calls, "switch blue");
    let lower = position(&calls, "set_sizes green min Some(0) max None desired None");
    assert!(raise < switch && switch < lower, "{calls:#?}");
    assert_eq!(calls.len(), 3, "{calls:#?}");
}

#[tokio::test(start_paused = true)]
async fn a_switch_gives_the_env_minimum_but_never_more_than_the_colour_runs() {
    let aws = FakePlatform::new(2, OLD);
    release(&aws, &FakeProbe::default()).await.unwrap();
    control::rollback(&aws, 1, "bob@admin").await.unwrap();
    // An env minimum of 3 against green's 2 nodes: minimum 2, so the switch starts no node.
    let switched = control::switch(&aws, Colour::Green, 3, "bob@admin")
        .await
        .unwrap();
    assert_eq!(
        (switched.from, switched.to),
        (Some(Colour::Blue), Colour::Green)
    );
    assert_eq!(aws.state.borrow().live, Some(Colour::Green));
    assert_eq!(sizes(&aws, Colour::Green), (2, 4, 2));
    assert_eq!(sizes(&aws, Colour::Blue), (0, 4, 2));
    // Switching to the live colour changes nothing, sizes included.
    aws.state.borrow_mut().calls.clear();
    let again = control::switch(&aws, Colour::Green, 1, "bob@admin")
        .await
        .unwrap();
    assert!(again.unchanged);
    assert!(aws.state.borrow().calls.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_failed_rollback_switch_puts_the_raised_minimum_back_and_traffic_stays() {
    let aws = FakePlatform::new(2, OLD);
    release(&aws, &FakeProbe::default()).await.unwrap();
    aws.state.borrow_mut().switch = SwitchBehaviour::Fails;
    let err = control::rollback(&aws, 1, "bob@admin").await.unwrap_err();
    assert!(err.to_string().contains("ModifyListener"), "{err}");
    let s = aws.state.borrow();
    assert_eq!(s.live, Some(Colour::Green));
    assert_eq!(s.claims.last().unwrap().1, Some(false));
    drop(s);
    assert_eq!(sizes(&aws, Colour::Blue), (0, 4, 2));
    assert_eq!(sizes(&aws, Colour::Green), (1, 4, 2));
}

#[tokio::test(start_paused = true)]
async fn a_rollback_whose_minimum_cannot_be_raised_does_not_move_traffic() {
    let aws = FakePlatform::new(2, OLD);
    release(&aws, &FakeProbe::default()).await.unwrap();
    aws.state.borrow_mut().calls.clear();
    aws.state.borrow_mut().sizes_fail_for = Some(Colour::Blue);
    let err = control::rollback(&aws, 1, "bob@admin").await.unwrap_err();
    assert!(
        matches!(&err, ControlError::NotRaised { group, min: 1, .. } if group == "ce-test-nodes"),
        "{err}"
    );
    assert!(err.to_string().contains("traffic stays on green"), "{err}");
    let s = aws.state.borrow();
    assert_eq!(s.live, Some(Colour::Green));
    assert!(
        !s.calls.iter().any(|c| c.starts_with("switch")),
        "{:#?}",
        s.calls
    );
    assert_eq!(s.claims.last().unwrap().1, Some(false));
}

#[tokio::test(start_paused = true)]
async fn sizes_failing_after_the_rollback_switch_leave_traffic_switched_and_say_what_to_run() {
    let aws = FakePlatform::new(2, OLD);
    release(&aws, &FakeProbe::default()).await.unwrap();
    aws.state.borrow_mut().sizes_fail_for = Some(Colour::Green);
    let back = control::rollback(&aws, 1, "bob@admin").await.unwrap();
    assert_eq!(back.to, Colour::Blue);
    assert_eq!(back.notes.len(), 1, "{:?}", back.notes);
    assert!(
        back.notes[0].contains("ce-test-nodes-green keeps minimum 1 although blue is live now")
            && back.notes[0].contains(
                "aws autoscaling update-auto-scaling-group --auto-scaling-group-name \
                 ce-test-nodes-green --min-size 0"
            ),
        "{:?}",
        back.notes
    );
    assert_eq!(aws.state.borrow().live, Some(Colour::Blue));
    assert_eq!(aws.state.borrow().claims.last().unwrap().1, Some(true));
    // The live colour has its minimum, set before the switch.
    assert_eq!(sizes(&aws, Colour::Blue), (1, 4, 2));
    assert_eq!(sizes(&aws, Colour::Green), (1, 4, 2));
}

#[tokio::test(start_paused = true)]
async fn a_rollback_switch_that_took_effect_despite_an_error_still_sizes_both_groups() {
    let aws = FakePlatform::new(2, OLD);
    release(&aws, &FakeProbe::default()).await.unwrap();
    aws.state.borrow_mut().switch = SwitchBehaviour::MovesButErrs;
    let back = control::rollback(&aws, 1, "bob@admin").await.unwrap();
    assert!(
        back.notes[0].contains("answered with an error"),
        "{:?}",
        back.notes
    );
    assert_eq!(aws.state.borrow().live, Some(Colour::Blue));
    assert_eq!(sizes(&aws, Colour::Blue), (1, 4, 2));
    assert_eq!(sizes(&aws, Colour::Green), (0, 4, 2));
}

#[tokio::test(start_paused = true)]
async fn rollback_after_cleanup_refuses_and_says_how_to_go_back() {
    let aws = FakePlatform::new(2, OLD);
    release(&aws, &FakeProbe::default()).await.unwrap();
    let cleaned = control::cleanup(&aws).await.unwrap();
    assert_eq!((cleaned.colour, cleaned.had), (Colour::Blue, 2));
    assert_eq!(aws.group_now(Colour::Blue).desired, 0);
    let err = control::rollback(&aws, 1, "bob@admin").await.unwrap_err();
    assert!(matches!(
        err,
        ControlError::Empty {
            colour: Colour::Blue,
            ..
        }
    ));
    let text = err.to_string();
    assert!(text.contains("ce release VERSION"), "{text}");
    assert!(
        text.contains(&format!("its pointer still names {OLD}"))
            && text.contains(
                "aws autoscaling set-desired-capacity --auto-scaling-group-name \
                 ce-test-nodes --desired-capacity N"
            ),
        "{text}"
    );
    assert_eq!(aws.state.borrow().live, Some(Colour::Green));
}

#[tokio::test(start_paused = true)]
async fn switch_refuses_a_colour_without_serving_nodes() {
    let aws = FakePlatform::new(2, OLD);
    let err = control::switch(&aws, Colour::Green, 1, "bob@admin")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("green has no node serving"),
        "{err}"
    );
    assert_eq!(aws.state.borrow().live, Some(Colour::Blue));
    assert!(aws.state.borrow().claims.is_empty());
}

#[tokio::test(start_paused = true)]
async fn cleanup_refuses_while_the_live_colour_is_not_all_healthy() {
    let aws = FakePlatform::new(2, OLD);
    release(&aws, &FakeProbe::default()).await.unwrap();
    aws.state
        .borrow_mut()
        .groups
        .get_mut(&Colour::Green)
        .unwrap()
        .nodes[0]
        .elb = Some("unhealthy".into());
    let err = control::cleanup(&aws).await.unwrap_err();
    assert!(
        matches!(
            err,
            ControlError::LiveUnhealthy {
                healthy: 1,
                desired: 2,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        aws.group_now(Colour::Blue).desired,
        2,
        "the rollback colour stays up"
    );
}

#[tokio::test(start_paused = true)]
async fn status_shows_both_colours_and_which_is_live() {
    let aws = FakePlatform::new(2, OLD);
    release(&aws, &FakeProbe::default()).await.unwrap();
    let status = control::status(&aws, None, &[]).await.unwrap();
    assert_eq!(status.live, Some(Colour::Green));
    let text = status.text();
    assert!(text.contains("live colour: green"), "{text}");
    assert!(text.contains("green (live)  ce-test-nodes-green  desired 2 min 1 max 4  all healthy  build dist/gh/main/2.tar.xz"), "{text}");
    assert!(
        text.contains(
            "blue  ce-test-nodes  desired 2 min 0 max 4  all healthy  build dist/gh/main/1.tar.xz"
        ),
        "{text}"
    );
    assert!(text.contains("i-0003"), "{text}");
}

/// Puts one of the fake env's stacks in `status`, as a running deploy would.
fn deploying(aws: &FakePlatform, stack: &str, status: &str) {
    let mut s = aws.state.borrow_mut();
    let entry = s.stacks.iter_mut().find(|(n, _)| n == stack).unwrap();
    entry.1 = Some(status.to_owned());
}

#[test]
fn a_deploy_runs_while_a_stack_is_in_progress_but_not_while_a_change_set_waits_for_review() {
    use super::deploy_running;
    let stacks = |compute: Option<&'static str>| {
        [
            ("ce-prod-network", Some("UPDATE_COMPLETE")),
            ("ce-prod-compute", compute),
            ("ce-prod-edge", Some("UPDATE_ROLLBACK_IN_PROGRESS")),
        ]
    };
    assert_eq!(
        deploy_running(stacks(Some("UPDATE_IN_PROGRESS"))),
        Some(("ce-prod-compute", "UPDATE_IN_PROGRESS")),
        "the first busy stack"
    );
    assert_eq!(
        deploy_running(stacks(None)),
        Some(("ce-prod-edge", "UPDATE_ROLLBACK_IN_PROGRESS"))
    );
    let quiet = [
        ("ce-prod-network", Some("UPDATE_COMPLETE")),
        ("ce-prod-compute", Some("UPDATE_ROLLBACK_COMPLETE")),
        ("ce-prod-edge", Some("REVIEW_IN_PROGRESS")),
        ("ce-prod-monitoring", None),
    ];
    assert_eq!(deploy_running(quiet), None);
}

#[tokio::test(start_paused = true)]
async fn a_release_refuses_to_start_while_a_deploy_changes_a_stack_and_changes_nothing() {
    let aws = FakePlatform::new(2, OLD);
    deploying(&aws, "ce-test-compute", "UPDATE_IN_PROGRESS");
    let err = release::plan(&aws, build(NEW), None, 1, 1)
        .await
        .unwrap_err();
    let text = err.to_string();
    for part in [
        "stack ce-test-compute is UPDATE_IN_PROGRESS",
        "a deploy is changing test's stacks",
        "nothing was changed",
        "Wait for the deploy to end (`ce --env test status` shows it)",
    ] {
        assert!(text.contains(part), "{part:?} in {text}");
    }
    let s = aws.state.borrow();
    assert!(s.claims.is_empty(), "no lock taken");
    assert!(s.calls.is_empty(), "nothing changed: {:?}", s.calls);
    assert_eq!(s.live, Some(Colour::Blue));
}

#[tokio::test(start_paused = true)]
async fn a_deploy_that_starts_after_the_plan_stops_the_release_before_the_lock() {
    let aws = FakePlatform::new(2, OLD);
    let plan = plan(&aws).await;
    // The operator confirms; meanwhile someone starts `ce deploy` of the edge stack.
    deploying(&aws, "ce-test-edge", "UPDATE_IN_PROGRESS");
    let failed = release::run(
        &aws,
        &FakeProbe::default(),
        &plan,
        &gate(),
        "alice@admin",
        &|_| {},
        std::future::pending(),
    )
    .await
    .unwrap_err();
    assert_eq!(failed.step, Step::Lock);
    assert!(
        failed
            .reason
            .contains("stack ce-test-edge is UPDATE_IN_PROGRESS"),
        "{failed}"
    );
    assert_eq!(failed.traffic, Some(Colour::Blue));
    let s = aws.state.borrow();
    assert_eq!(s.deploy_checks, 2, "at the plan and again before the lock");
    assert!(s.claims.is_empty(), "no lock taken");
    assert!(s.calls.is_empty(), "nothing changed: {:?}", s.calls);
}

#[tokio::test(start_paused = true)]
async fn switch_and_rollback_refuse_while_a_deploy_changes_a_stack() {
    let aws = FakePlatform::new(2, OLD);
    release(&aws, &FakeProbe::default()).await.unwrap();
    let claims = aws.state.borrow().claims.len();
    deploying(&aws, "ce-test-compute", "UPDATE_IN_PROGRESS");
    for err in [
        control::rollback(&aws, 1, "bob@admin").await.unwrap_err(),
        control::switch(&aws, Colour::Blue, 1, "bob@admin")
            .await
            .unwrap_err(),
    ] {
        assert!(
            matches!(
                &err,
                ControlError::Ops(crate::ops::OpsError::Deploying { stack, status, .. })
                    if stack == "ce-test-compute" && status == "UPDATE_IN_PROGRESS"
            ),
            "{err}"
        );
    }
    {
        let s = aws.state.borrow();
        assert_eq!(s.live, Some(Colour::Green), "traffic stays");
        assert_eq!(s.claims.len(), claims, "no lock taken");
    }
    // Once the deploy ends, the rollback goes through.
    deploying(&aws, "ce-test-compute", "UPDATE_COMPLETE");
    control::rollback(&aws, 1, "bob@admin").await.unwrap();
    assert_eq!(aws.state.borrow().live, Some(Colour::Blue));
}

#[test]
fn status_shows_the_build_each_node_booted_by_its_own_colours_pointer() {
    use crate::ops::instances::tests::node;
    use crate::ops::instances::{Freshness, Group};
    use crate::ops::time::Timestamp;
    use crate::ops::versionslog::{ChangeState, Entry};
    let change = |at: i64, from: &str, to: &str, colour: Colour, switch: bool| Entry {
        at: Timestamp::from_secs(at),
        seq: 0,
        to: to.into(),
        from: Some(from.into()),
        by: "alice@admin".into(),
        principal: None,
        state: ChangeState::Done,
        colour: Some(colour),
        switch,
        scaled_up: None,
    };
    // OLD released to blue at 100, NEW to green at 200, then a rollback to blue at 300.
    let history = [
        change(300, NEW, OLD, Colour::Blue, true),
        change(200, OLD, NEW, Colour::Green, false),
        change(100, "dist/gh/main/0.tar.xz", OLD, Colour::Blue, false),
    ];
    let group = |name: &str, nodes| Group {
        name: name.into(),
        min: 0,
        max: 4,
        desired: 2,
        grace: Duration::from_secs(240),
        nodes,
    };
    let blue = group("ce-test-nodes", vec![node("i-b1", 110), node("i-b2", 310)]);
    // i-g0 launched before green's pointer named NEW: it booted what that change replaced.
    let green = group(
        "ce-test-nodes-green",
        vec![node("i-g1", 210), node("i-g0", 150)],
    );
    let status = control::assemble(
        Some(Colour::Blue),
        [
            (Colour::Blue, blue, Some(OLD.into())),
            (Colour::Green, green, Some(NEW.into())),
        ],
        Some(OLD),
        &history,
    );
    let builds = |i: usize| -> Vec<(&str, Option<&str>, Freshness)> {
        status.colours[i]
            .nodes
            .iter()
            .map(|v| (v.node.id.as_str(), v.build.as_deref(), v.freshness))
            .collect()
    };
    assert_eq!(
        builds(0),
        [
            ("i-b1", Some(OLD), Freshness::Current),
            ("i-b2", Some(OLD), Freshness::Current)
        ],
        "the rollback (a switch) wrote no pointer: blue's nodes are judged by its release"
    );
    assert_eq!(
        builds(1),
        [
            ("i-g0", Some(OLD), Freshness::Stale),
            ("i-g1", Some(NEW), Freshness::Current)
        ],
        "oldest first"
    );
    let text = status.text();
    for line in [
        "blue (live)  ce-test-nodes  desired 2 min 0 max 4  all healthy  build dist/gh/main/1.tar.xz\n",
        "  i-g0                 10.0.0.1        InService    Healthy    target healthy         build 1 (gh/main) (may predate its pointer)\n",
        "  i-g1                 10.0.0.1        InService    Healthy    target healthy         build 2 (gh/main)\n",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
    let json = serde_json::to_value(&status).unwrap();
    let green = &json["colours"][1];
    assert_eq!(
        green["group"],
        serde_json::json!({"name": "ce-test-nodes-green", "min": 0, "max": 4, "desired": 2}),
        "sizes only: the nodes are listed once, with their builds"
    );
    assert_eq!(green["nodes"][1]["id"], "i-g1");
    assert_eq!(green["nodes"][1]["build"], NEW);
    assert_eq!(green["nodes"][1]["freshness"], "current");
    assert_eq!(green["nodes"][1]["elb"], "healthy");
    assert_eq!(green["nodes"][0]["freshness"], "stale");
}
