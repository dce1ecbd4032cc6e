//! The destroy's decisions and its deleting loop, against a fake CloudFormation.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};

use serde_json::json;

use super::*;
use crate::deploy::api::{
    ChangeSetDescription, ChangeSetRequest, CreatedChangeSet, EventPage, StackStatus as Polled,
};

fn resource(id: &str, kind: &str, physical: &str, policy: Policy) -> Resource {
    Resource {
        logical_id: id.into(),
        resource_type: kind.into(),
        physical_id: Some(physical.into()),
        policy,
    }
}

fn doomed(id: StackId, protected: bool) -> DoomedStack {
    DoomedStack {
        id,
        stack_name: format!("ce-beta-{id}"),
        status: "UPDATE_COMPLETE".into(),
        termination_protection: protected,
        deleted: Vec::new(),
        retained: Vec::new(),
    }
}

fn plan_of(stacks: Vec<DoomedStack>) -> DestroyPreview {
    DestroyPreview {
        env: "beta".into(),
        region: "us-east-1".into(),
        stacks,
        not_deployed: Vec::new(),
        blockers: Vec::new(),
    }
}

fn whole_env() -> DestroyPreview {
    plan_of(
        deletion_order(None)
            .into_iter()
            .map(|id| doomed(id, false))
            .collect(),
    )
}

fn consent(yes: bool, interactive: bool) -> Consent {
    Consent {
        yes,
        interactive,
        protected: false,
        lift_protection: false,
        env: "beta".into(),
    }
}

fn refusal(gate: Gate) -> (Status, String) {
    match gate {
        Gate::Refuse { status, reason } => (status, reason),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

// ---- what goes and what stays ---------------------------------------------------------

#[test]
fn the_whole_env_is_deleted_in_reverse_dependency_order() {
    assert_eq!(
        deletion_order(None),
        [
            StackId::Monitoring,
            StackId::Edge,
            StackId::Compute,
            StackId::Storage,
            StackId::Network
        ]
    );
    assert_eq!(deletion_order(Some(StackId::Edge)), [StackId::Edge]);
}

#[test]
fn retained_resources_are_listed_with_their_physical_ids() {
    let template = json!({"Resources": {
        "LogsBucket": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain"},
        "LinksTable": {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain"},
        "MountTarget": {"Type": "AWS::EFS::MountTarget"}
    }});
    let stack = crate::aws::DeployedStack {
        name: "ce-beta-storage".into(),
        stack_id: "arn".into(),
        status: "CREATE_COMPLETE".into(),
        status_reason: None,
        created: None,
        last_updated: None,
        parameters: BTreeMap::new(),
        outputs: BTreeMap::new(),
        tags: BTreeMap::new(),
        termination_protection: false,
        drift: None,
        drift_checked: None,
        template,
    };
    let physical: BTreeMap<String, String> = [
        ("LogsBucket", "ce-beta-logs"),
        ("LinksTable", "ce-beta-links"),
        ("MountTarget", "fsmt-1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();

    let doomed = doomed_stack(StackId::Storage, stack, &physical);

    assert_eq!(
        doomed.retained,
        [
            resource(
                "LinksTable",
                "AWS::DynamoDB::Table",
                "ce-beta-links",
                Policy::Retain
            ),
            resource(
                "LogsBucket",
                "AWS::S3::Bucket",
                "ce-beta-logs",
                Policy::Retain
            ),
        ]
    );
    assert_eq!(
        doomed.deleted,
        [resource(
            "MountTarget",
            "AWS::EFS::MountTarget",
            "fsmt-1",
            Policy::Delete
        )]
    );
}

// ---- who has to agree -----------------------------------------------------------------

#[test]
fn nothing_deployed_is_nothing_to_do() {
    assert_eq!(
        gate(&plan_of(Vec::new()), &consent(true, false)),
        Gate::Nothing
    );
}

#[test]
fn an_export_imported_by_a_stack_that_stays_blocks_and_names_the_importer() {
    let mut plan = plan_of(vec![doomed(StackId::Network, false)]);
    plan.blockers.push(Blocker {
        export: "ce-beta-network-VpcId".into(),
        stack_name: "ce-beta-network".into(),
        importers: vec!["ce-beta-storage".into()],
    });

    let (status, reason) = refusal(gate(&plan, &consent(true, false)));

    assert_eq!(status, Status::Failure);
    assert!(
        reason.contains(
            "export ce-beta-network-VpcId of ce-beta-network is imported by ce-beta-storage"
        ),
        "{reason}"
    );
    assert!(reason.starts_with("nothing was deleted"), "{reason}");
}

#[test]
fn a_busy_stack_is_not_deleted() {
    let mut stack = doomed(StackId::Compute, false);
    stack.status = "UPDATE_IN_PROGRESS".into();
    let (_, reason) = refusal(gate(&plan_of(vec![stack]), &consent(true, false)));
    assert!(
        reason.contains("ce-beta-compute is UPDATE_IN_PROGRESS"),
        "{reason}"
    );
}

#[test]
fn without_a_terminal_or_yes_nothing_is_deleted_and_the_exit_is_3() {
    let (status, reason) = refusal(gate(&whole_env(), &consent(false, false)));
    assert_eq!(status, Status::NeedsApproval);
    assert!(reason.contains("pass --yes"), "{reason}");
}

#[test]
fn yes_deletes_without_asking_and_a_terminal_without_yes_asks() {
    assert_eq!(gate(&whole_env(), &consent(true, false)), Gate::Proceed);
    assert_eq!(
        gate(&whole_env(), &consent(false, true)),
        Gate::Ask(Question::YesNo)
    );
}

#[test]
fn termination_protection_must_be_lifted_explicitly() {
    let plan = plan_of(vec![doomed(StackId::Edge, true)]);
    let (_, reason) = refusal(gate(&plan, &consent(true, false)));
    assert!(
        reason.contains("termination protection is on for ce-beta-edge"),
        "{reason}"
    );
    let lifted = Consent {
        lift_protection: true,
        ..consent(true, false)
    };
    assert_eq!(gate(&plan, &lifted), Gate::Proceed);
}

#[test]
fn a_protected_env_needs_the_lift_flag_and_its_name_typed_even_with_yes() {
    let protected = |lift, interactive| Consent {
        protected: true,
        lift_protection: lift,
        ..consent(true, interactive)
    };
    let (status, reason) = refusal(gate(&whole_env(), &protected(false, true)));
    assert_eq!(status, Status::Failure);
    assert!(reason.contains("--lift-termination-protection"), "{reason}");
    let (_, reason) = refusal(gate(&whole_env(), &protected(true, false)));
    assert!(reason.contains("typed at a terminal"), "{reason}");
    assert_eq!(
        gate(&whole_env(), &protected(true, true)),
        Gate::Ask(Question::TypeEnvName)
    );
    assert!(approves(Question::TypeEnvName, "beta\n", "beta"));
    assert!(!approves(Question::TypeEnvName, "y", "beta"));
}

// ---- deleting -------------------------------------------------------------------------

/// CloudFormation as the destroy sees it: per stack, what DeleteStack answers, the statuses
/// polls return (then: gone), and the events.
#[derive(Default)]
struct Fake {
    delete_errors: BTreeMap<String, AwsError>,
    statuses: RefCell<BTreeMap<String, VecDeque<Polled>>>,
    events: BTreeMap<String, Vec<StackEvent>>,
    calls: RefCell<Vec<String>>,
}

impl Fake {
    fn call(&self, text: String) {
        self.calls.borrow_mut().push(text);
    }

    fn unused<T>(&self, what: &str) -> Result<T, AwsError> {
        Err(AwsError::Other {
            operation: what.into(),
            code: "unused".into(),
            message: "the destroy does not make this call".into(),
        })
    }
}

impl StackApi for Fake {
    async fn describe_stack(&self, _: &str) -> Result<Option<DeployedStack>, AwsError> {
        self.unused("DescribeStack")
    }
    async fn stack_status(&self, name: &str) -> Result<Option<Polled>, AwsError> {
        Ok(self
            .statuses
            .borrow_mut()
            .get_mut(name)
            .and_then(VecDeque::pop_front))
    }
    async fn create_change_set(&self, _: &ChangeSetRequest) -> Result<CreatedChangeSet, AwsError> {
        self.unused("CreateChangeSet")
    }
    async fn describe_change_set(&self, _: &str) -> Result<ChangeSetDescription, AwsError> {
        self.unused("DescribeChangeSet")
    }
    async fn execute_change_set(&self, _: &str, _: &ChangeSetRequest) -> Result<(), AwsError> {
        self.unused("ExecuteChangeSet")
    }
    async fn delete_change_set(&self, _: &str) -> Result<(), AwsError> {
        self.unused("DeleteChangeSet")
    }
    async fn stack_events(&self, stack: &str, _: Option<&str>) -> Result<EventPage, AwsError> {
        let deleting = self.calls.borrow().contains(&format!("delete {stack}"));
        let events = if deleting {
            self.events.get(stack).cloned().unwrap_or_default()
        } else {
            Vec::new()
        };
        Ok(EventPage { events, next: None })
    }
    async fn delete_stack(&self, name: &str) -> Result<(), AwsError> {
        self.call(format!("delete {name}"));
        match self.delete_errors.get(name) {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
    async fn stack_policy(&self, _: &str) -> Result<Option<String>, AwsError> {
        self.unused("GetStackPolicy")
    }
    async fn set_stack_policy(&self, _: &str, _: &str) -> Result<(), AwsError> {
        self.unused("SetStackPolicy")
    }
    async fn set_termination_protection(&self, name: &str, on: bool) -> Result<(), AwsError> {
        self.call(format!("protection {name} {on}"));
        Ok(())
    }
}

fn run(
    fake: &Fake,
    plan: &DestroyPreview,
    lift: bool,
    local: bool,
) -> (DestroyReport, Vec<String>) {
    let runtime = crate::aws::runtime().expect("runtime");
    let mut lines = Vec::new();
    let report = runtime.block_on(execute(fake, plan, lift, local, &mut |l| lines.push(l)));
    (report, lines)
}

fn dependency_violation() -> AwsError {
    AwsError::Other {
        operation: "DeleteStack".into(),
        code: "DependencyViolation".into(),
        message: "The vpc vpc-1 has dependencies and cannot be deleted.".into(),
    }
}

#[test]
fn every_stack_is_deleted_in_order_and_reported() {
    let fake = Fake::default();
    let plan = whole_env();

    let (report, lines) = run(&fake, &plan, false, false);

    assert!(report.complete(), "{report:?}");
    let deletes: Vec<String> = fake.calls.borrow().clone();
    assert_eq!(
        deletes,
        [
            "delete ce-beta-monitoring",
            "delete ce-beta-edge",
            "delete ce-beta-compute",
            "delete ce-beta-storage",
            "delete ce-beta-network"
        ]
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("ce-beta-edge: deleted in "))
    );
}

#[test]
fn termination_protection_is_turned_off_first_when_lifted() {
    let fake = Fake::default();
    let plan = plan_of(vec![doomed(StackId::Edge, true)]);

    let (report, _) = run(&fake, &plan, true, false);

    assert!(report.complete());
    assert_eq!(
        *fake.calls.borrow(),
        ["protection ce-beta-edge false", "delete ce-beta-edge"]
    );
}

#[test]
fn a_refused_delete_stops_the_rest_and_says_what_holds_it() {
    let mut fake = Fake::default();
    fake.delete_errors
        .insert("ce-beta-storage".into(), dependency_violation());
    let plan = whole_env();

    let (report, _) = run(&fake, &plan, false, true);

    let results: Vec<&StackResult> = report.results.iter().map(|(_, r)| r).collect();
    assert!(matches!(results[2], StackResult::Deleted { .. }));
    let StackResult::Failed { reason } = results[3] else {
        panic!("storage failed: {report:?}")
    };
    assert!(reason.starts_with("ce-beta-storage could not be deleted: DeleteStack failed: The vpc vpc-1 has dependencies"), "{reason}");
    assert!(reason.contains("route table"), "the sandbox hint: {reason}");
    assert_eq!(results[4], &StackResult::NotAttempted);
    assert!(
        !fake
            .calls
            .borrow()
            .contains(&"delete ce-beta-network".to_owned())
    );
}

#[test]
fn delete_failed_is_explained_by_the_first_resource_that_failed() {
    let mut fake = Fake::default();
    fake.statuses.borrow_mut().insert(
        "ce-beta-network".into(),
        VecDeque::from([Polled {
            stack_id: "arn".into(),
            status: "DELETE_FAILED".into(),
            reason: Some("The following resource(s) failed to delete: [Vpc].".into()),
        }]),
    );
    fake.events.insert(
        "ce-beta-network".into(),
        vec![StackEvent {
            id: "2".into(),
            at_ms: 0,
            logical_id: "Vpc".into(),
            resource_type: "AWS::EC2::VPC".into(),
            status: "DELETE_FAILED".into(),
            reason: Some("The vpc 'vpc-1' has dependencies and cannot be deleted.".into()),
        }],
    );
    let plan = plan_of(vec![doomed(StackId::Network, false)]);

    let (report, _) = run(&fake, &plan, false, false);

    let StackResult::Failed { reason } = &report.results[0].1 else {
        panic!("failed: {report:?}")
    };
    assert!(
        reason.starts_with(
            "ce-beta-network could not be deleted (DELETE_FAILED): Vpc (AWS::EC2::VPC) DELETE_FAILED: The vpc 'vpc-1' has dependencies"
        ),
        "{reason}"
    );
    assert!(reason.contains("--retain-resources"), "{reason}");
}

#[test]
fn outside_the_sandbox_a_dependency_violation_has_no_sandbox_hint() {
    let text = explain_delete_error("ce-prod-network", &dependency_violation(), false);
    assert!(!text.contains("sandbox"), "{text}");
    assert!(
        text.contains("something outside the stack still uses"),
        "{text}"
    );
}
