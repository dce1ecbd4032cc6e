//! The engine against the fake: the states and failures the sandbox cannot produce.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::rc::Rc;

use serde_json::{Value, json};

use super::approval::{Answers, Approval, RequireApproval};
use super::fake::{self, Fake, deployed};
use super::progress::{Mode, Progress};
use super::timing::Timing;
use super::{DeployReport, Engine, Outcome, Recheck, Settings, StackJob, StackReport, job};
use crate::Status;
use crate::architecture::StackId;
use crate::config::{self, Env};
use crate::diff::DiffClass;

const ROLLBACK_COMPLETE: &str =
    include_str!("../../tests/fixtures/deploy/create_rollback_complete.json");
const UPDATE_ROLLBACK_FAILED: &str =
    include_str!("../../tests/fixtures/deploy/update_rollback_failed.json");
const BUSY_ELSEWHERE: &str =
    include_str!("../../tests/fixtures/deploy/update_in_progress_elsewhere.json");
const EMPTY: &str = include_str!("../../tests/fixtures/deploy/change_set_empty.json");
const REPLACES_TABLE: &str =
    include_str!("../../tests/fixtures/deploy/change_set_replaces_table.json");

fn env() -> Env {
    config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("envs"), "beta").expect("beta env")
}

fn topic(name: &str) -> Value {
    json!({"Resources": {"Topic": {"Type": "AWS::SNS::Topic",
        "Properties": {"TopicName": name}}}})
}

fn table(billing: &str) -> Value {
    json!({"Resources": {"Table": {"Type": "AWS::DynamoDB::Table", "Properties": {
        "BillingMode": billing,
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}]}}}})
}

fn stack_job(id: StackId, template: Value) -> StackJob {
    let env = env();
    job(
        &env,
        id,
        &format!("ce-beta-{id}"),
        &template,
        BTreeSet::new(),
    )
}

fn settings() -> Settings {
    Settings {
        env: "beta".into(),
        region: "us-east-1".into(),
        protected: false,
        recreate_failed: false,
        approval: Approval {
            policy: RequireApproval::Risky,
            yes: true,
            interactive: false,
            protected: false,
            env: "beta".into(),
        },
        change_set_name: "ce-deploy-test".into(),
        show_text: true,
        colour: false,
        local: false,
    }
}

/// A sink the test reads afterwards.
#[derive(Clone, Default)]
struct Shared(Rc<RefCell<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.borrow()).into_owned()
    }
}

/// What one run of the engine left behind.
struct Run {
    report: DeployReport,
    stdout: String,
    stderr: String,
}

fn run_with(api: &Fake, settings: &Settings, answers: Answers, jobs: &[StackJob]) -> Run {
    run_rechecked(api, settings, answers, jobs, None)
}

/// As [`run_with`], with a check the engine makes again after each approval at a prompt.
fn run_rechecked(
    api: &Fake,
    settings: &Settings,
    answers: Answers,
    jobs: &[StackJob],
    recheck: Option<&dyn Fn() -> Result<(), String>>,
) -> Run {
    let stdout = Shared::default();
    let stderr = Shared::default();
    let progress = Progress::new(Mode::Lines, Box::new(stderr.clone()));
    let timing = Timing::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    let report = runtime.block_on(async {
        let mut engine = Engine::new(
            api,
            settings,
            &progress,
            &timing,
            &answers,
            Box::new(stdout.clone()),
        );
        if let Some(check) = recheck {
            let recheck: Recheck<'_> = Box::new(move || Box::pin(std::future::ready(check())));
            engine = engine.with_recheck(recheck);
        }
        engine.run(jobs).await
    });
    Run {
        report,
        stdout: stdout.text(),
        stderr: stderr.text(),
    }
}

fn run(api: &Fake, settings: &Settings, jobs: &[StackJob]) -> Run {
    run_with(api, settings, Answers::scripted(Vec::<String>::new()), jobs)
}

fn only(run: &Run) -> &StackReport {
    assert_eq!(run.report.stacks.len(), 1);
    &run.report.stacks[0]
}

#[test]
fn a_failed_create_shows_the_first_real_failure_then_the_rollback_outcome() {
    let api = Fake::default().on_execute("ce-beta-edge", fake::recording(ROLLBACK_COMPLETE));

    let run = run(&api, &settings(), &[stack_job(StackId::Edge, topic("t"))]);

    let report = only(&run);
    assert_eq!(report.outcome, Outcome::Failed);
    assert_eq!(report.status.as_deref(), Some("ROLLBACK_COMPLETE"));
    assert!(
        report.messages[0].starts_with(
            "first failure: Distribution (AWS::CloudFront::Distribution) CREATE_FAILED: \
             Resource handler returned message: \"Invalid request provided"
        ),
        "{:?}",
        report.messages
    );
    assert!(
        report.messages[1].contains("was rolled back"),
        "{:?}",
        report.messages
    );
    assert!(report.messages[1].contains("ce deploy --recreate-failed"));
    assert_eq!(run.report.status(), Status::Failure);
    let first_failure_line = run.stderr.find("first failure").expect("shown");
    assert!(
        run.stderr.find("was rolled back").expect("shown") > first_failure_line,
        "the failure comes before the rollback outcome:\n{}",
        run.stderr
    );
}

#[test]
fn events_are_printed_oldest_first_as_timestamped_lines() {
    let api = Fake::default().on_execute("ce-beta-edge", fake::recording(ROLLBACK_COMPLETE));

    let run = run(&api, &settings(), &[stack_job(StackId::Edge, topic("t"))]);

    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("  ce-beta-edge  "))
        .collect();
    let started = lines
        .iter()
        .position(|l| l.starts_with("09:21:50  ce-beta-edge  CREATE_IN_PROGRESS"))
        .expect("the first event");
    let rolled_back = lines
        .iter()
        .position(|l| l.starts_with("09:21:58  ce-beta-edge  ROLLBACK_COMPLETE"))
        .expect("the last event");
    assert!(started < rolled_back, "{lines:#?}");
}

#[test]
fn a_failed_update_rollback_gives_the_exact_continue_update_rollback_command() {
    let api = Fake::default()
        .with_stack(deployed("ce-beta-compute", "UPDATE_COMPLETE", topic("old")))
        .on_execute("ce-beta-compute", fake::recording(UPDATE_ROLLBACK_FAILED));

    let run = run(
        &api,
        &settings(),
        &[stack_job(StackId::Compute, topic("new"))],
    );

    let report = only(&run);
    assert_eq!(report.outcome, Outcome::Failed);
    assert!(
        report.messages[0].contains(
            "LaunchTemplate (AWS::EC2::LaunchTemplate) UPDATE_FAILED: \
                                     The image id"
        ),
        "{:?}",
        report.messages
    );
    assert!(
        report.messages[1].contains(
            "aws cloudformation continue-update-rollback --stack-name ce-beta-compute \
             --region us-east-1"
        ),
        "{:?}",
        report.messages
    );
}

#[test]
fn a_stack_busy_with_an_update_started_elsewhere_is_waited_for_not_updated_again() {
    let api = Fake::default()
        .with_stack(deployed(
            "ce-beta-compute",
            "UPDATE_IN_PROGRESS",
            topic("old"),
        ))
        .with_running("ce-beta-compute", fake::recording(BUSY_ELSEWHERE));

    let run = run(
        &api,
        &settings(),
        &[stack_job(StackId::Compute, topic("new"))],
    );

    assert_eq!(only(&run).outcome, Outcome::Updated);
    let calls = api.calls();
    let settled = calls
        .iter()
        .position(|c| c == "DescribeStacks ce-beta-compute UPDATE_COMPLETE")
        .expect("polled until the other update finished");
    let created = calls
        .iter()
        .position(|c| c.starts_with("CreateChangeSet"))
        .expect("then deployed");
    assert!(settled < created, "{calls:#?}");
    assert!(
        run.stderr
            .contains("an operation started elsewhere is running")
    );
    assert!(
        run.stderr
            .contains("Asg (AWS::AutoScaling::AutoScalingGroup)"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_rolled_back_creation_is_explained_and_left_alone_without_recreate_failed() {
    let api = Fake::default().with_stack(deployed("ce-beta-edge", "ROLLBACK_COMPLETE", json!({})));

    let run = run(&api, &settings(), &[stack_job(StackId::Edge, topic("t"))]);

    let report = only(&run);
    assert_eq!(report.outcome, Outcome::Failed);
    assert!(
        report.messages[0].contains("--recreate-failed"),
        "{:?}",
        report.messages
    );
    assert_eq!(api.calls(), ["DescribeStacks+GetTemplate ce-beta-edge"]);
}

#[test]
fn recreate_failed_deletes_a_rolled_back_stack_and_creates_it_again() {
    let api = Fake::default().with_stack(deployed("ce-beta-edge", "ROLLBACK_COMPLETE", json!({})));
    let mut settings = settings();
    settings.recreate_failed = true;

    let run = run(&api, &settings, &[stack_job(StackId::Edge, topic("t"))]);

    assert_eq!(only(&run).outcome, Outcome::Created);
    let mutations: Vec<String> = api
        .calls()
        .into_iter()
        .filter(|c| !c.starts_with("Describe"))
        .collect();
    assert_eq!(
        mutations,
        [
            "DeleteStack ce-beta-edge",
            "CreateChangeSet ce-beta-edge CREATE",
            "ExecuteChangeSet ce-beta-edge"
        ]
    );
}

#[test]
fn an_empty_change_set_is_deleted_and_reported_as_no_change() {
    let api = Fake::default()
        .with_stack(deployed("ce-beta-network", "UPDATE_COMPLETE", topic("old")))
        .next_change_set(fake::change_set(EMPTY));

    let run = run(
        &api,
        &settings(),
        &[stack_job(StackId::Network, topic("new"))],
    );

    assert_eq!(only(&run).outcome, Outcome::NoChanges);
    assert_eq!(
        api.calls_of("DeleteChangeSet"),
        ["DeleteChangeSet ce-beta-network"]
    );
    assert!(api.calls_of("ExecuteChangeSet").is_empty());
    assert_eq!(run.report.status(), Status::Success);
}

#[test]
fn a_stack_identical_in_template_and_tags_gets_no_change_set() {
    let job = stack_job(StackId::Network, topic("same"));
    let mut current = deployed("ce-beta-network", "UPDATE_COMPLETE", topic("same"));
    current.tags = job.tags.clone();
    let api = Fake::default().with_stack(current);

    let run = run(&api, &settings(), &[job]);

    assert_eq!(only(&run).outcome, Outcome::NoChanges);
    assert!(api.calls_of("CreateChangeSet").is_empty());
}

#[test]
fn new_tags_alone_make_a_change_set() {
    let api = Fake::default()
        .with_stack(deployed(
            "ce-beta-network",
            "UPDATE_COMPLETE",
            topic("same"),
        ))
        .next_change_set(fake::change_set(EMPTY));

    run(
        &api,
        &settings(),
        &[stack_job(StackId::Network, topic("same"))],
    );

    assert_eq!(api.calls_of("CreateChangeSet").len(), 1);
}

#[test]
fn the_change_sets_replacement_overrules_the_prediction_and_needs_explicit_approval() {
    let api = Fake::default()
        .with_stack(deployed(
            "ce-beta-storage",
            "UPDATE_COMPLETE",
            table("PROVISIONED"),
        ))
        .next_change_set(fake::change_set(REPLACES_TABLE));

    let run = run(
        &api,
        &settings(),
        &[stack_job(StackId::Storage, table("PAY_PER_REQUEST"))],
    );

    let report = only(&run);
    assert_eq!(report.outcome, Outcome::Refused);
    assert_eq!(report.class, Some(DiffClass::NeedsApproval));
    assert_eq!(run.report.status(), Status::NeedsApproval);
    let table = &report.diff.as_ref().expect("diff")["resources"][0];
    assert_eq!(table["impact"], "replace");
    assert_eq!(table["basis"], "confirmed_by_change_set");
    assert!(
        run.stdout.contains("[by change set; predicted update]"),
        "{}",
        run.stdout
    );
    assert!(api.calls_of("ExecuteChangeSet").is_empty());
    assert_eq!(api.calls_of("DeleteChangeSet").len(), 1);
}

#[test]
fn without_a_terminal_or_yes_nothing_is_executed_and_a_new_stack_is_cleaned_up() {
    let api = Fake::default();
    let mut settings = settings();
    settings.approval.yes = false;

    let run = run(&api, &settings, &[stack_job(StackId::Network, topic("t"))]);

    let report = only(&run);
    assert_eq!(report.outcome, Outcome::Refused);
    assert_eq!(run.report.status(), Status::Failure);
    assert!(
        report.messages[0].contains("pass --yes"),
        "{:?}",
        report.messages
    );
    assert!(api.calls_of("ExecuteChangeSet").is_empty());
    assert_eq!(api.calls_of("DeleteChangeSet").len(), 1);
    assert_eq!(api.calls_of("DeleteStack"), ["DeleteStack ce-beta-network"]);
    assert!(
        run.stdout.contains("ce-beta-network (new stack)"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_no_at_the_prompt_executes_nothing() {
    let api = Fake::default();
    let mut settings = settings();
    settings.approval.yes = false;
    settings.approval.interactive = true;

    let run = run_with(
        &api,
        &settings,
        Answers::scripted(["n"]),
        &[stack_job(StackId::Network, topic("t"))],
    );

    assert_eq!(only(&run).outcome, Outcome::Declined);
    assert!(api.calls_of("ExecuteChangeSet").is_empty());
}

#[test]
fn a_yes_at_the_prompt_deploys() {
    let api = Fake::default();
    let mut settings = settings();
    settings.approval.yes = false;
    settings.approval.interactive = true;

    let run = run_with(
        &api,
        &settings,
        Answers::scripted(["y"]),
        &[stack_job(StackId::Network, topic("t"))],
    );

    assert_eq!(only(&run).outcome, Outcome::Created);
}

/// A check that counts its calls and refuses when `refuse` says so.
fn counting_recheck(calls: &RefCell<u32>, refuse: bool) -> impl Fn() -> Result<(), String> {
    move || {
        *calls.borrow_mut() += 1;
        if refuse {
            Err("alice holds the release lock of beta".to_owned())
        } else {
            Ok(())
        }
    }
}

#[test]
fn what_changed_during_the_prompt_is_checked_again_and_refuses_the_approved_change() {
    let api = Fake::default();
    let mut settings = settings();
    settings.approval.yes = false;
    settings.approval.interactive = true;
    let calls = RefCell::new(0);

    let run = run_rechecked(
        &api,
        &settings,
        Answers::scripted(["y"]),
        &[stack_job(StackId::Network, topic("t"))],
        Some(&counting_recheck(&calls, true)),
    );

    assert_eq!(*calls.borrow(), 1);
    let report = only(&run);
    assert_eq!(report.outcome, Outcome::Refused);
    assert_eq!(run.report.status(), Status::Failure);
    assert_eq!(
        report.messages,
        [
            "alice holds the release lock of beta",
            "its change set was deleted; nothing was changed"
        ]
    );
    assert!(api.calls_of("ExecuteChangeSet").is_empty());
    assert_eq!(api.calls_of("DeleteChangeSet").len(), 1);
}

#[test]
fn a_recheck_that_passes_lets_the_approved_change_execute() {
    let api = Fake::default();
    let mut settings = settings();
    settings.approval.yes = false;
    settings.approval.interactive = true;
    let calls = RefCell::new(0);

    let run = run_rechecked(
        &api,
        &settings,
        Answers::scripted(["y"]),
        &[stack_job(StackId::Network, topic("t"))],
        Some(&counting_recheck(&calls, false)),
    );

    assert_eq!(*calls.borrow(), 1);
    assert_eq!(only(&run).outcome, Outcome::Created);
    assert_eq!(api.calls_of("ExecuteChangeSet").len(), 1);
}

#[test]
fn a_change_after_another_stacks_execution_is_checked_again_without_a_prompt() {
    let api = Fake::default();
    let calls = RefCell::new(0);

    let run = run_rechecked(
        &api,
        &settings(),
        Answers::scripted(Vec::<String>::new()),
        &[
            stack_job(StackId::Network, topic("t")),
            stack_job(StackId::Storage, table("PAY_PER_REQUEST")),
        ],
        Some(&counting_recheck(&calls, true)),
    );

    // Network went first, checked when the deploy began; storage waited for it, so it is
    // checked again, and the release that took the lock meanwhile stops it.
    assert_eq!(*calls.borrow(), 1);
    let outcomes: Vec<Outcome> = run.report.stacks.iter().map(|s| s.outcome).collect();
    assert_eq!(outcomes, [Outcome::Created, Outcome::Refused]);
    assert_eq!(api.calls_of("ExecuteChangeSet").len(), 1);
    assert_eq!(run.report.status(), Status::Failure);
}

#[test]
fn no_prompt_no_wait_and_no_recheck() {
    let api = Fake::default();
    let calls = RefCell::new(0);

    let run = run_rechecked(
        &api,
        &settings(),
        Answers::scripted(Vec::<String>::new()),
        &[stack_job(StackId::Network, topic("t"))],
        Some(&counting_recheck(&calls, true)),
    );

    assert_eq!(*calls.borrow(), 0, "--yes asked nothing, so nothing waited");
    assert_eq!(only(&run).outcome, Outcome::Created);
}

#[test]
fn a_protected_env_gets_a_stack_policy_and_termination_protection_after_the_deploy() {
    let api = Fake::default();
    let mut settings = settings();
    settings.protected = true;

    run(
        &api,
        &settings,
        &[stack_job(StackId::Storage, table("PAY_PER_REQUEST"))],
    );

    let calls = api.calls();
    let executed = calls
        .iter()
        .position(|c| c.starts_with("ExecuteChangeSet"))
        .expect("ran");
    let policy = calls
        .iter()
        .position(|c| c.starts_with("SetStackPolicy"))
        .expect("policy");
    assert!(executed < policy);
    assert!(
        calls[policy].contains("LogicalResourceId/Table"),
        "{}",
        calls[policy]
    );
    assert_eq!(
        api.calls_of("UpdateTerminationProtection"),
        ["UpdateTerminationProtection ce-beta-storage true"]
    );
}

#[test]
fn a_stack_policy_guarding_a_resource_refuses_its_replacement_before_executing() {
    let guard = super::policy::stack_policy(&table("PROVISIONED")).expect("a policy");
    let api = Fake::default()
        .with_stack(deployed(
            "ce-beta-storage",
            "UPDATE_COMPLETE",
            table("PROVISIONED"),
        ))
        .with_policy("ce-beta-storage", &guard)
        .next_change_set(fake::change_set(REPLACES_TABLE));
    let mut settings = settings();
    settings.protected = true;
    settings.approval.policy = RequireApproval::Never;

    let run = run(
        &api,
        &settings,
        &[stack_job(StackId::Storage, table("PAY_PER_REQUEST"))],
    );

    let report = only(&run);
    assert_eq!(report.outcome, Outcome::Refused);
    assert_eq!(run.report.status(), Status::NeedsApproval);
    assert!(
        report.messages[0].contains("forbids replacing or deleting Table (AWS::DynamoDB::Table)")
            && report.messages[0].contains("set-stack-policy --stack-name ce-beta-storage"),
        "{:?}",
        report.messages
    );
    assert!(api.calls_of("ExecuteChangeSet").is_empty());
}

#[test]
fn once_the_policy_is_lifted_the_replacement_deploys_and_the_guard_is_put_back() {
    let open =
        r#"{"Statement":[{"Effect":"Allow","Action":"Update:*","Principal":"*","Resource":"*"}]}"#;
    let api = Fake::default()
        .with_stack(deployed(
            "ce-beta-storage",
            "UPDATE_COMPLETE",
            table("PROVISIONED"),
        ))
        .with_policy("ce-beta-storage", open)
        .next_change_set(fake::change_set(REPLACES_TABLE));
    let mut settings = settings();
    settings.protected = true;
    settings.approval.policy = RequireApproval::Never;

    let run = run(
        &api,
        &settings,
        &[stack_job(StackId::Storage, table("PAY_PER_REQUEST"))],
    );

    assert_eq!(only(&run).outcome, Outcome::Updated);
    let set = api.calls_of("SetStackPolicy");
    assert!(set[0].contains("\"Deny\""), "{set:?}");
}

#[test]
fn an_imported_export_that_would_change_is_refused_before_executing() {
    let exporting = |value: &str| {
        json!({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
               "Outputs": {"TopicName": {"Value": value,
                   "Export": {"Name": "ce-beta-network-TopicName"}}}})
    };
    let api = Fake::default().with_stack(deployed(
        "ce-beta-network",
        "UPDATE_COMPLETE",
        exporting("old"),
    ));
    let env = env();
    let job = job(
        &env,
        StackId::Network,
        "ce-beta-network",
        &exporting("new"),
        BTreeSet::from(["ce-beta-network-TopicName".to_owned()]),
    );
    let mut settings = settings();
    settings.approval.policy = RequireApproval::Never;

    let run = run(&api, &settings, &[job]);

    let report = only(&run);
    assert_eq!(report.outcome, Outcome::Refused);
    assert!(
        report.messages[0].contains("export ce-beta-network-TopicName would change"),
        "{:?}",
        report.messages
    );
    assert!(api.calls_of("ExecuteChangeSet").is_empty());
}

#[test]
fn stacks_deploy_in_dependency_order_and_a_failure_stops_what_depends_on_it() {
    let api = Fake::default()
        .with_stack(deployed("ce-beta-storage", "UPDATE_COMPLETE", topic("old")))
        .on_execute("ce-beta-storage", fake::recording(UPDATE_ROLLBACK_FAILED));
    let jobs = [
        stack_job(StackId::Compute, topic("c")),
        stack_job(StackId::Network, topic("n")),
        stack_job(StackId::Storage, topic("s")),
    ];

    let run = run(&api, &settings(), &jobs);

    let outcomes: Vec<(String, Outcome)> = run
        .report
        .stacks
        .iter()
        .map(|s| (s.stack_name.clone(), s.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("ce-beta-network".to_owned(), Outcome::Created),
            ("ce-beta-storage".to_owned(), Outcome::Failed),
            ("ce-beta-compute".to_owned(), Outcome::NotStarted)
        ]
    );
    assert_eq!(
        api.calls_of("ExecuteChangeSet"),
        [
            "ExecuteChangeSet ce-beta-network",
            "ExecuteChangeSet ce-beta-storage"
        ]
    );
}

#[test]
fn a_few_failed_progress_reads_do_not_fail_the_stack() {
    let api = Fake::default().with_failing_status_reads(3);

    let run = run(&api, &settings(), &[stack_job(StackId::Edge, topic("t"))]);

    assert_eq!(only(&run).outcome, Outcome::Created);
    let throttled = api
        .calls()
        .into_iter()
        .filter(|c| c.ends_with("throttled"))
        .count();
    assert_eq!(throttled, 3);
    assert!(
        run.stderr.contains("reading progress failed"),
        "{}",
        run.stderr
    );
}

#[test]
fn progress_reads_that_keep_failing_stop_the_watch_with_the_reason() {
    let api = Fake::default().with_failing_status_reads(100);

    let run = run(&api, &settings(), &[stack_job(StackId::Edge, topic("t"))]);

    assert_eq!(only(&run).outcome, Outcome::Failed);
    assert_eq!(run.report.status(), Status::Failure);
    assert!(run.stderr.contains("throttl"), "{}", run.stderr);
}
