//! `ce drift`: has anyone changed the env's resources outside CloudFormation? Starts drift
//! detection for each deployed stack at once, waits for all of them, and collects the drifted
//! resources with their property differences, as data the diff's formats can print.
//!
//! CloudFormation is reached only through [`DriftApi`], three calls wide (DetectStackDrift,
//! DescribeStackDriftDetectionStatus, DescribeStackResourceDrifts). The local sandbox has no
//! drift detection at all, so the tests drive [`detect`] through a fake fed with responses in
//! the real API's JSON shapes; [`sdk`] is the one implementation that calls AWS.

pub mod format;
pub mod sdk;
#[cfg(test)]
mod tests;

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::Status;
use crate::aws::AwsError;

/// Where a drift detection run stands (`DetectionStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Detection {
    /// `DETECTION_IN_PROGRESS`.
    InProgress,
    /// `DETECTION_COMPLETE`.
    Complete,
    /// `DETECTION_FAILED`: some resources could not be checked; the others were.
    Failed,
}

impl Detection {
    /// Reads the API's spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "DETECTION_IN_PROGRESS" => Some(Detection::InProgress),
            "DETECTION_COMPLETE" => Some(Detection::Complete),
            "DETECTION_FAILED" => Some(Detection::Failed),
            _ => None,
        }
    }
}

/// A stack's drift as detected (`StackDriftStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StackDriftStatus {
    /// Every checked resource matches its template.
    InSync,
    /// Drift could not be determined.
    Unknown,
    /// Not checked (yet).
    NotChecked,
    /// At least one resource differs from its template.
    Drifted,
}

impl StackDriftStatus {
    /// Reads the API's spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "IN_SYNC" => Some(StackDriftStatus::InSync),
            "DRIFTED" => Some(StackDriftStatus::Drifted),
            "NOT_CHECKED" => Some(StackDriftStatus::NotChecked),
            "UNKNOWN" => Some(StackDriftStatus::Unknown),
            _ => None,
        }
    }
}

/// What DescribeStackDriftDetectionStatus answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetectionStatus {
    /// In progress, complete or failed.
    pub detection: Detection,
    /// The stack's drift, once known.
    pub stack_drift: Option<StackDriftStatus>,
    /// Why detection failed, when it did.
    pub reason: Option<String>,
}

/// How a resource has drifted (`StackResourceDriftStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceDriftStatus {
    /// Its properties differ from the template's.
    Modified,
    /// It was deleted outside CloudFormation.
    Deleted,
}

/// How one property differs (`DifferenceType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DifferenceType {
    /// Present on the resource, absent from the template.
    Add,
    /// In the template, absent from the resource.
    Remove,
    /// Both have it, with different values.
    NotEqual,
}

impl DifferenceType {
    /// Reads the API's spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ADD" => Some(DifferenceType::Add),
            "REMOVE" => Some(DifferenceType::Remove),
            "NOT_EQUAL" => Some(DifferenceType::NotEqual),
            _ => None,
        }
    }
}

/// One drifted property.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PropertyDrift {
    /// The path in the diff's form (`SecurityGroupIngress[0].CidrIp`), from the API's JSON
    /// pointer (`/SecurityGroupIngress/0/CidrIp`).
    pub path: String,
    /// Add, remove or not equal.
    pub difference: DifferenceType,
    /// What the template says (parsed as JSON where it is), absent for an addition.
    pub expected: Option<Value>,
    /// What the resource has, absent for a removal.
    pub actual: Option<Value>,
}

/// One drifted resource.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResourceDrift {
    /// Logical id.
    pub logical_id: String,
    /// Physical id.
    pub physical_id: Option<String>,
    /// Resource type.
    pub resource_type: String,
    /// Modified or deleted.
    pub status: ResourceDriftStatus,
    /// The differing properties (none for a deletion).
    pub properties: Vec<PropertyDrift>,
}

/// One stack's drift.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StackDrift {
    /// `ce-<env>-<stack>`.
    pub stack_name: String,
    /// False when the stack does not exist: nothing was checked.
    pub deployed: bool,
    /// The detected drift; `None` when the stack does not exist.
    pub status: Option<StackDriftStatus>,
    /// Why detection did not check everything, when it failed part way.
    pub note: Option<String>,
    /// The drifted resources, by logical id.
    pub resources: Vec<ResourceDrift>,
}

/// The drift of an env's stacks.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DriftReport {
    /// Format version of the JSON form.
    pub format_version: u32,
    /// The env.
    pub env: String,
    /// Whether any stack drifted.
    pub drifted: bool,
    /// Exit code: 0 in sync, 2 drifted.
    pub exit_code: u8,
    /// One entry per stack, in deploy order.
    pub stacks: Vec<StackDrift>,
}

impl DriftReport {
    /// Builds the report of `stacks`.
    pub fn new(env: String, stacks: Vec<StackDrift>) -> Self {
        let drifted = stacks
            .iter()
            .any(|s| s.status == Some(StackDriftStatus::Drifted) || !s.resources.is_empty());
        let status = if drifted {
            Status::Changes
        } else {
            Status::Success
        };
        DriftReport {
            format_version: 1,
            env,
            drifted,
            exit_code: status.code(),
            stacks,
        }
    }

    /// The command's status: changes (exit 2) when anything drifted.
    pub fn status(&self) -> Status {
        if self.drifted {
            Status::Changes
        } else {
            Status::Success
        }
    }
}

/// The CloudFormation calls drift detection makes.
#[allow(async_fn_in_trait)]
pub trait DriftApi {
    /// Whether the stack exists (DescribeStacks).
    async fn stack_exists(&self, stack: &str) -> Result<bool, AwsError>;
    /// DetectStackDrift: starts a detection run, returns its id.
    async fn detect_stack_drift(&self, stack: &str) -> Result<String, AwsError>;
    /// DescribeStackDriftDetectionStatus of a run.
    async fn detection_status(&self, id: &str) -> Result<DetectionStatus, AwsError>;
    /// DescribeStackResourceDrifts filtered to modified and deleted resources, all pages.
    async fn resource_drifts(&self, stack: &str) -> Result<Vec<ResourceDrift>, AwsError>;
}

/// Why drift could not be detected.
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    /// A call failed; the AWS sentence says why.
    #[error("detecting drift of {stack}")]
    Aws {
        /// The stack.
        stack: String,
        /// The call's error.
        #[source]
        source: AwsError,
    },
    /// Detection ran longer than the tool waits.
    #[error("{stack}: drift detection still running after {waited:?}; run `ce drift` again later")]
    TimedOut {
        /// The stack.
        stack: String,
        /// How long was waited.
        waited: Duration,
    },
}

/// How [`detect`] waits for detection runs.
#[derive(Clone, Copy, Debug)]
pub struct Polling {
    /// Delay between status reads.
    pub interval: Duration,
    /// Status reads per stack before giving up.
    pub attempts: u32,
}

impl Default for Polling {
    /// Every 2 s, up to 10 minutes: detection of a large stack takes a few minutes.
    fn default() -> Self {
        Polling {
            interval: Duration::from_secs(2),
            attempts: 300,
        }
    }
}

/// Detects the drift of `stacks`: starts every run first, then waits for each and reads its
/// drifted resources. Stacks that do not exist are reported as not deployed.
pub async fn detect<A: DriftApi>(
    api: &A,
    env: &str,
    stacks: &[String],
    polling: Polling,
) -> Result<DriftReport, DriftError> {
    let fail = |stack: &str| {
        let stack = stack.to_owned();
        move |source| DriftError::Aws { stack, source }
    };
    let mut runs = Vec::with_capacity(stacks.len());
    for stack in stacks {
        let run = if api.stack_exists(stack).await.map_err(fail(stack))? {
            Some(api.detect_stack_drift(stack).await.map_err(fail(stack))?)
        } else {
            None
        };
        runs.push((stack, run));
    }
    let mut report = Vec::with_capacity(runs.len());
    for (stack, run) in runs {
        let Some(id) = run else {
            report.push(StackDrift {
                stack_name: stack.clone(),
                deployed: false,
                status: None,
                note: None,
                resources: Vec::new(),
            });
            continue;
        };
        let mut attempt = 0;
        let status = loop {
            let status = api.detection_status(&id).await.map_err(fail(stack))?;
            if status.detection != Detection::InProgress {
                break status;
            }
            attempt += 1;
            if attempt >= polling.attempts {
                return Err(DriftError::TimedOut {
                    stack: stack.clone(),
                    waited: polling.interval * polling.attempts,
                });
            }
            tokio::time::sleep(polling.interval).await;
        };
        let note = (status.detection == Detection::Failed).then(|| {
            format!(
                "detection did not check every resource{}",
                status
                    .reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            )
        });
        let resources = if status.stack_drift == Some(StackDriftStatus::Drifted) {
            let mut found = api.resource_drifts(stack).await.map_err(fail(stack))?;
            found.sort_by(|a, b| a.logical_id.cmp(&b.logical_id));
            found
        } else {
            Vec::new()
        };
        report.push(StackDrift {
            stack_name: stack.clone(),
            deployed: true,
            status: status.stack_drift,
            note,
            resources,
        });
    }
    Ok(DriftReport::new(env.to_owned(), report))
}

/// The diff's path form of a drift's JSON pointer: `/A/0/B` → `A[0].B`.
pub fn property_path(pointer: &str) -> String {
    let mut out = String::new();
    for part in pointer.trim_start_matches('/').split('/') {
        let part = part.replace("~1", "/").replace("~0", "~");
        if part.chars().all(|c| c.is_ascii_digit()) && !part.is_empty() {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&part);
        }
    }
    out
}

/// A drift value as JSON when it is JSON (objects, lists, numbers), else as the string it is.
pub fn drift_value(text: Option<&str>) -> Option<Value> {
    let text = text?;
    Some(match serde_json::from_str::<Value>(text) {
        Ok(v @ (Value::Object(_) | Value::Array(_))) => v,
        _ => Value::String(text.to_owned()),
    })
}
