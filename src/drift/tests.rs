//! Drift detection through a fake CloudFormation fed with responses in the real API's JSON
//! shapes (`tests/fixtures/drift/`): the sandbox has no drift detection to test against.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde_json::Value;

use super::*;

/// One stack's recorded answers.
struct Recorded {
    id: String,
    statuses: RefCell<VecDeque<DetectionStatus>>,
    drifts: Vec<ResourceDrift>,
}

#[derive(Default)]
struct FakeDrift {
    stacks: BTreeMap<String, Recorded>,
    calls: RefCell<Vec<String>>,
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

impl FakeDrift {
    /// Adds a stack answering with a recording.
    fn with(mut self, stack: &str, fixture: &str) -> Self {
        let doc: Value = serde_json::from_str(fixture).expect("fixture is JSON");
        let statuses = doc["DescribeStackDriftDetectionStatus"]
            .as_array()
            .expect("statuses")
            .iter()
            .map(|s| DetectionStatus {
                detection: text(s, "DetectionStatus")
                    .and_then(Detection::parse)
                    .expect("detection status"),
                stack_drift: text(s, "StackDriftStatus").and_then(StackDriftStatus::parse),
                reason: text(s, "DetectionStatusReason").map(str::to_owned),
            })
            .collect();
        let drifts = doc["DescribeStackResourceDrifts"]["StackResourceDrifts"]
            .as_array()
            .expect("drifts")
            .iter()
            .map(|d| ResourceDrift {
                logical_id: text(d, "LogicalResourceId").expect("id").to_owned(),
                physical_id: text(d, "PhysicalResourceId").map(str::to_owned),
                resource_type: text(d, "ResourceType").expect("type").to_owned(),
                status: match text(d, "StackResourceDriftStatus") {
                    Some("MODIFIED") => ResourceDriftStatus::Modified,
                    Some("DELETED") => ResourceDriftStatus::Deleted,
                    other => panic!("filtered out: {other:?}"),
                },
                properties: d["PropertyDifferences"]
                    .as_array()
                    .expect("differences")
                    .iter()
                    .map(|p| {
                        let difference = text(p, "DifferenceType")
                            .and_then(DifferenceType::parse)
                            .expect("difference type");
                        PropertyDrift {
                            path: property_path(text(p, "PropertyPath").expect("path")),
                            difference,
                            expected: (difference != DifferenceType::Add)
                                .then(|| drift_value(text(p, "ExpectedValue")))
                                .flatten(),
                            actual: (difference != DifferenceType::Remove)
                                .then(|| drift_value(text(p, "ActualValue")))
                                .flatten(),
                        }
                    })
                    .collect(),
            })
            .collect();
        let id = text(&doc["DetectStackDrift"], "StackDriftDetectionId")
            .expect("detection id")
            .to_owned();
        self.stacks.insert(
            stack.to_owned(),
            Recorded {
                id,
                statuses: RefCell::new(statuses),
                drifts,
            },
        );
        self
    }

    fn log(&self, call: String) {
        self.calls.borrow_mut().push(call);
    }

    fn calls_of(&self, operation: &str) -> usize {
        self.calls
            .borrow()
            .iter()
            .filter(|c| c.starts_with(operation))
            .count()
    }
}

fn not_found() -> AwsError {
    AwsError::Unhandled {
        operation: "no such recording".into(),
        http_status: 404,
    }
}

impl DriftApi for FakeDrift {
    async fn stack_exists(&self, stack: &str) -> Result<bool, AwsError> {
        self.log(format!("DescribeStacks {stack}"));
        Ok(self.stacks.contains_key(stack))
    }

    async fn detect_stack_drift(&self, stack: &str) -> Result<String, AwsError> {
        self.log(format!("DetectStackDrift {stack}"));
        self.stacks
            .get(stack)
            .map(|r| r.id.clone())
            .ok_or_else(not_found)
    }

    async fn detection_status(&self, id: &str) -> Result<DetectionStatus, AwsError> {
        self.log(format!("DescribeStackDriftDetectionStatus {id}"));
        let recorded = self
            .stacks
            .values()
            .find(|r| r.id == id)
            .ok_or_else(not_found)?;
        let mut statuses = recorded.statuses.borrow_mut();
        // The last answer repeats, as the service keeps answering with the final state.
        if statuses.len() > 1 {
            statuses.pop_front().ok_or_else(not_found)
        } else {
            statuses.front().cloned().ok_or_else(not_found)
        }
    }

    async fn resource_drifts(&self, stack: &str) -> Result<Vec<ResourceDrift>, AwsError> {
        self.log(format!("DescribeStackResourceDrifts {stack}"));
        self.stacks
            .get(stack)
            .map(|r| r.drifts.clone())
            .ok_or_else(not_found)
    }
}

const DRIFTED: &str = include_str!("../../tests/fixtures/drift/network-drifted.json");
const IN_SYNC: &str = include_str!("../../tests/fixtures/drift/in-sync.json");
const FAILED: &str = include_str!("../../tests/fixtures/drift/detection-failed.json");

fn quick() -> Polling {
    Polling {
        interval: Duration::ZERO,
        attempts: 5,
    }
}

fn run(api: &FakeDrift, stacks: &[&str], polling: Polling) -> Result<DriftReport, DriftError> {
    let names: Vec<String> = stacks.iter().map(|s| (*s).to_owned()).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    runtime.block_on(detect(api, "staging", &names, polling))
}

#[test]
fn a_drifted_stack_lists_its_modified_and_deleted_resources_and_exits_2() {
    let api = FakeDrift::default()
        .with("ce-staging-network", DRIFTED)
        .with("ce-staging-storage", IN_SYNC);

    let report = run(&api, &["ce-staging-network", "ce-staging-storage"], quick()).unwrap();

    assert!(report.drifted);
    assert_eq!(report.exit_code, 2);
    assert_eq!(report.status(), Status::Changes);
    let network = &report.stacks[0];
    assert_eq!(network.status, Some(StackDriftStatus::Drifted));
    let ids: Vec<(&str, ResourceDriftStatus)> = network
        .resources
        .iter()
        .map(|r| (r.logical_id.as_str(), r.status))
        .collect();
    assert_eq!(
        ids,
        [
            ("NodeSecurityGroup", ResourceDriftStatus::Modified),
            ("PublicRoute", ResourceDriftStatus::Deleted)
        ]
    );
    assert_eq!(
        network.resources[0].properties[0],
        PropertyDrift {
            path: "SecurityGroupIngress[0].CidrIp".into(),
            difference: DifferenceType::NotEqual,
            expected: Some("10.0.0.0/8".into()),
            actual: Some("0.0.0.0/0".into()),
        }
    );
    assert_eq!(
        network.resources[0].properties[1].actual,
        Some(
            serde_json::json!({"CidrIp": "192.0.2.0/24", "FromPort": 80, "IpProtocol": "tcp", "ToPort": 80})
        )
    );
    assert_eq!(report.stacks[1].status, Some(StackDriftStatus::InSync));
    assert!(report.stacks[1].resources.is_empty());
    // Waited through the in-progress answer; resource drifts read only for the drifted stack.
    assert_eq!(api.calls_of("DescribeStackDriftDetectionStatus"), 3);
    assert_eq!(api.calls_of("DescribeStackResourceDrifts"), 1);
}

#[test]
fn every_detection_starts_before_any_is_waited_for() {
    let api = FakeDrift::default()
        .with("ce-staging-network", DRIFTED)
        .with("ce-staging-storage", IN_SYNC);

    run(&api, &["ce-staging-network", "ce-staging-storage"], quick()).unwrap();

    let calls = api.calls.borrow();
    let last_start = calls
        .iter()
        .rposition(|c| c.starts_with("DetectStackDrift"))
        .unwrap();
    let first_wait = calls
        .iter()
        .position(|c| c.starts_with("DescribeStackDriftDetectionStatus"))
        .unwrap();
    assert!(last_start < first_wait, "{calls:?}");
}

#[test]
fn an_env_in_sync_exits_0_and_a_missing_stack_is_reported_not_deployed() {
    let api = FakeDrift::default().with("ce-staging-storage", IN_SYNC);

    let report = run(&api, &["ce-staging-storage", "ce-staging-edge"], quick()).unwrap();

    assert!(!report.drifted);
    assert_eq!(report.exit_code, 0);
    assert!(!report.stacks[1].deployed);
    assert_eq!(report.stacks[1].status, None);
    assert_eq!(api.calls_of("DetectStackDrift ce-staging-edge"), 0);
}

#[test]
fn a_detection_that_failed_part_way_says_so_with_the_reason() {
    let api = FakeDrift::default().with("ce-staging-edge", FAILED);

    let report = run(&api, &["ce-staging-edge"], quick()).unwrap();

    assert_eq!(
        report.stacks[0].note.as_deref(),
        Some(
            "detection did not check every resource: Failed to detect drift on resource [WebAcl]: Access denied"
        )
    );
    assert!(!report.drifted);
}

#[test]
fn a_detection_still_running_after_the_last_attempt_is_an_error_naming_the_stack() {
    let api = FakeDrift::default().with("ce-staging-network", DRIFTED);
    // Only the in-progress answer is left to give.
    api.stacks["ce-staging-network"]
        .statuses
        .borrow_mut()
        .truncate(1);
    let polling = Polling {
        interval: Duration::ZERO,
        attempts: 3,
    };

    let err = run(&api, &["ce-staging-network"], polling).unwrap_err();

    assert!(matches!(err, DriftError::TimedOut { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("ce-staging-network: drift detection still running")
    );
    assert_eq!(api.calls_of("DescribeStackDriftDetectionStatus"), 3);
}

#[test]
fn the_text_form_shows_drift_like_the_diff() {
    let api = FakeDrift::default()
        .with("ce-staging-network", DRIFTED)
        .with("ce-staging-storage", IN_SYNC);
    let report = run(&api, &["ce-staging-network", "ce-staging-storage"], quick()).unwrap();

    let mut out = Vec::new();
    format::write_text(&mut out, &report).unwrap();
    let text = String::from_utf8(out).unwrap();

    assert!(
        text.starts_with(
            "ce-staging-network: drifted, 2 resources\n\
             \x20 ~ NodeSecurityGroup (AWS::EC2::SecurityGroup) modified [sg-0f1e2d3c4b5a69788]\n\
             \x20     ~ SecurityGroupIngress[0].CidrIp: 10.0.0.0/8 → 0.0.0.0/0\n\
             \x20     + SecurityGroupIngress[1]: "
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "  - PublicRoute (AWS::EC2::Route) deleted outside CloudFormation [rtb-0a1b2c3d|0.0.0.0/0]\nce-staging-storage: in sync\n"
        ),
        "{text}"
    );
}

#[test]
fn the_markdown_and_json_forms_carry_the_same_drift() {
    let api = FakeDrift::default().with("ce-staging-network", DRIFTED);
    let report = run(&api, &["ce-staging-network"], quick()).unwrap();

    let mut out = Vec::new();
    format::write_markdown(&mut out, &report).unwrap();
    let md = String::from_utf8(out).unwrap();
    assert!(md.starts_with("### ce drift `staging`: drifted\n"), "{md}");
    assert!(
        md.contains("| `ce-staging-network` | drifted, 2 resources | 2 |\n"),
        "{md}"
    );
    assert!(
        md.contains("| ~ | `NodeSecurityGroup` | `AWS::EC2::SecurityGroup` | modified | `~ SecurityGroupIngress[0].CidrIp: 10.0.0.0/8 → 0.0.0.0/0`<br>"),
        "{md}"
    );

    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["exit_code"], 2);
    let resource = &json["stacks"][0]["resources"][0];
    assert_eq!(resource["status"], "modified");
    assert_eq!(resource["properties"][0]["difference"], "not_equal");
    assert_eq!(json["stacks"][0]["resources"][1]["status"], "deleted");
}

#[test]
fn json_pointers_become_the_diffs_paths() {
    assert_eq!(property_path("/Tags/2/Value"), "Tags[2].Value");
    assert_eq!(property_path("/BucketName"), "BucketName");
    assert_eq!(property_path("/A~1B/C~0D"), "A/B.C~D");
}
