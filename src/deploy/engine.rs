//! One deploy, stack by stack: settle, change set, diff, approval, execution, watching, and what
//! to say when it fails.
//!
//! Each stack's steps run in order; stacks run side by side as [`Schedule`] allows. Only one
//! stack at a time shows its diff and asks for approval, so prompts never interleave; the
//! others keep being watched meanwhile.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;

use serde_json::Value;

use super::api::{ChangeSetKind, ChangeSetRequest, StackApi, StackEvent};
use super::approval::{Answers, Decision};
use super::changeset::{self, Prepared};
use super::failure::{self, Start};
use super::jobs::{Planned, Settings, StackJob};
use super::order::Schedule;
use super::progress::{Backoff, EventTracker, Progress};
use super::report::{DeployReport, Outcome, StackReport};
use super::timing::Timing;
use super::{DeployError, policy};
use crate::Status;
use crate::architecture::StackId;
use crate::aws::AwsError;
use crate::aws::cloudformation::DeployedStack;
use crate::diff::{self, ChangeSetEvidence, DiffClass, StackDiff, StackInput, format};

/// A stack policy allowing every update, for lifting the guard of a protected env by hand.
/// Polls in a row whose reads may fail (each after the SDK's own retries) before watching a
/// stack gives up; the stack's operation is unaffected either way.
const MAX_FAILED_WATCH_READS: u32 = 5;

const OPEN_POLICY: &str =
    r#"{"Statement":[{"Effect":"Allow","Action":"Update:*","Principal":"*","Resource":"*"}]}"#;

/// A check made again once a person has approved a change, before it executes: what held
/// when the deploy began (no release holding the env's lock) may not hold after minutes at a
/// prompt. `Err` is why the change is refused, as the user reads it.
pub type Recheck<'a> = Box<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + 'a>> + 'a>;

/// The deploy engine over some [`StackApi`].
pub struct Engine<'a, A: StackApi> {
    api: &'a A,
    settings: &'a Settings,
    progress: &'a Progress,
    timing: &'a Timing,
    answers: &'a Answers,
    out: RefCell<Box<dyn Write + 'a>>,
    turn: tokio::sync::Mutex<()>,
    recheck: Option<Recheck<'a>>,
    /// Whether this run has waited yet (at a prompt, or for a change set to execute): from
    /// then on, what was checked when the deploy began is checked again before each change.
    waited: std::cell::Cell<bool>,
}

impl<'a, A: StackApi> Engine<'a, A> {
    /// An engine writing diffs to `out` and progress to `progress`.
    pub fn new(
        api: &'a A,
        settings: &'a Settings,
        progress: &'a Progress,
        timing: &'a Timing,
        answers: &'a Answers,
        out: Box<dyn Write + 'a>,
    ) -> Self {
        Engine {
            api,
            settings,
            progress,
            timing,
            answers,
            out: RefCell::new(out),
            turn: tokio::sync::Mutex::new(()),
            recheck: None,
            waited: std::cell::Cell::new(false),
        }
    }

    /// Makes `recheck` before each change set executes once the run has waited: after an
    /// approval given at a prompt, or after an earlier stack's change set ran (minutes, on a
    /// real account). A run that has not waited was checked just before it began.
    pub fn with_recheck(mut self, recheck: Recheck<'a>) -> Self {
        self.recheck = Some(recheck);
        self
    }

    /// Deploys the jobs in dependency order, independent ones at once; after a failure nothing
    /// new starts.
    pub async fn run(&self, jobs: &[StackJob]) -> DeployReport {
        let by_id: BTreeMap<StackId, &StackJob> = jobs.iter().map(|j| (j.id, j)).collect();
        let ids: Vec<StackId> = by_id.keys().copied().collect();
        let schedule = Schedule::new(&ids);
        let results = schedule
            .run(
                |id| self.deploy(by_id[&id]),
                |r: &StackReport| r.outcome.ok(),
            )
            .await;
        let stacks = results
            .into_iter()
            .map(|(id, report)| {
                report.unwrap_or_else(|| StackReport::not_started(&by_id[&id].name))
            })
            .collect();
        DeployReport {
            env: self.settings.env.clone(),
            stacks,
        }
    }

    /// Deploys one stack; every failure ends up in the report's messages.
    pub async fn deploy(&self, job: &StackJob) -> StackReport {
        let mut report = StackReport::new(&job.name);
        let result = match &job.planned {
            Some(planned) => self.deploy_planned(job, planned, &mut report).await,
            None => self.deploy_fresh(job, &mut report).await,
        };
        if let Err(e) = result {
            report.outcome = Outcome::Failed;
            report.exit = Status::Failure;
            report.messages.push(e.to_string());
        }
        let phase = match report.outcome {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::NoChanges => "no changes",
            Outcome::Refused => "not executed",
            Outcome::Declined => "declined",
            Outcome::Failed => "FAILED",
            Outcome::NotStarted => "not started",
        };
        self.progress.finish(&job.name, phase);
        for message in &report.messages {
            self.progress.note(&format!("{}: {message}", job.name));
        }
        report
    }

    async fn deploy_fresh(
        &self,
        job: &StackJob,
        report: &mut StackReport,
    ) -> Result<(), DeployError> {
        let name = &job.name;
        self.progress.phase(name, "reading stack");
        let mut deployed = self.settled(name).await?;
        let status = deployed.as_ref().map(|d| d.status.clone());
        report.status.clone_from(&status);
        self.progress
            .status(name, status.as_deref().unwrap_or("(no stack yet)"));
        let kind = match failure::start(
            name,
            &self.settings.region,
            status.as_deref(),
            self.settings.recreate_failed,
        ) {
            Start::Create => ChangeSetKind::Create,
            Start::Update => ChangeSetKind::Update,
            Start::Recreate => {
                self.recreate(name).await?;
                deployed = None;
                ChangeSetKind::Create
            }
            Start::Blocked(why) => return Err(DeployError::Blocked(why)),
            Start::Wait => {
                return Err(DeployError::Blocked(format!(
                    "{name} is still busy; run `ce deploy` again once its operation has finished"
                )));
            }
        };
        let baseline = match kind {
            ChangeSetKind::Update => deployed.as_ref().map(|d| &d.template),
            ChangeSetKind::Create => None,
        };
        if let (ChangeSetKind::Update, Some(current)) = (kind, &deployed) {
            let offline = self.diff(job, baseline, None)?;
            if !offline.has_changes() && !job.differs_outside_template(current) {
                report.outcome = Outcome::NoChanges;
                return Ok(());
            }
        }

        self.progress.phase(name, "creating change set");
        let request = self.request(job, kind);
        let (created, prepared) = changeset::prepare(self.api, self.timing, &request).await?;
        let description = match prepared {
            Prepared::Empty => {
                report.outcome = Outcome::NoChanges;
                return Ok(());
            }
            Prepared::Ready(description) => description,
        };
        report.change_set_id = Some(created.id.clone());
        let diff = self.diff(job, baseline, Some(&description.evidence))?;
        let class = diff.class();
        let diff_json = serde_json::to_value(&diff).unwrap_or(Value::Null);
        report.class = Some(class);
        let colour = self.settings.colour;
        let approved = self
            .approve(job, class, &diff_json, report, |out| {
                format::write_stack_text(out, &diff, colour)
            })
            .await;
        report.diff = Some(diff_json);
        if !approved? {
            // Leave nothing behind that was made for this deploy alone.
            self.delete_change_set(name, &created.id).await?;
            if kind == ChangeSetKind::Create && deployed.is_none() {
                let _ = self.timing.aws(self.api.delete_stack(name)).await;
            }
            report
                .messages
                .push("its change set was deleted; nothing was changed".to_owned());
            return Ok(());
        }
        self.execute(job, &created.id, &request, report).await
    }

    async fn deploy_planned(
        &self,
        job: &StackJob,
        planned: &Planned,
        report: &mut StackReport,
    ) -> Result<(), DeployError> {
        report.change_set_id = Some(planned.change_set_id.clone());
        report.class = Some(planned.class);
        report.diff = Some(planned.diff.clone());
        let approved = self
            .approve(job, planned.class, &planned.diff, report, |out| {
                out.write_all(planned.diff_text.as_bytes())
            })
            .await?;
        if !approved {
            report
                .messages
                .push("the plan's change set was kept; it can still be deployed".to_owned());
            return Ok(());
        }
        let request = self.request(job, planned.kind);
        self.execute(job, &planned.change_set_id, &request, report)
            .await
    }

    /// The change set inputs of a job.
    fn request(&self, job: &StackJob, kind: ChangeSetKind) -> ChangeSetRequest {
        ChangeSetRequest {
            stack_name: job.name.clone(),
            change_set_name: self.settings.change_set_name.clone(),
            kind,
            template: job.template.clone(),
            parameters: job.parameters.clone(),
            capabilities: job.capabilities.clone(),
            tags: job.tags.clone(),
            description: format!("ce {} deploy of {}", policy::VERSION, job.name),
        }
    }

    /// Diffs the job's template against `baseline`, refined by a change set's evidence.
    fn diff(
        &self,
        job: &StackJob,
        baseline: Option<&Value>,
        evidence: Option<&ChangeSetEvidence>,
    ) -> Result<StackDiff, DeployError> {
        let mut input = StackInput::new(&job.name, baseline, &job.rendered, &job.imported_exports);
        if let Some(evidence) = evidence {
            input = input.with_change_set(evidence);
        }
        diff::diff_stack(&input).map_err(|error| DeployError::Diff {
            stack: job.name.clone(),
            error,
        })
    }

    /// Shows the diff, then decides: go ahead, ask, or refuse. One stack at a time.
    async fn approve(
        &self,
        job: &StackJob,
        class: DiffClass,
        diff_json: &Value,
        report: &mut StackReport,
        show: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<bool, DeployError> {
        let _turn = self.turn.lock().await;
        if self.settings.show_text {
            self.progress.clear();
            let mut out = self.out.borrow_mut();
            let _ = show(&mut **out);
            let _ = out.flush();
        }
        let blockers: Vec<&str> = diff_json
            .get("exports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|e| e["blocker"] == true)
            .filter_map(|e| e["name"].as_str())
            .collect();
        if !blockers.is_empty() {
            report.outcome = Outcome::Refused;
            report.exit = Status::Failure;
            report.messages.push(format!(
                "export {} would change or disappear while other stacks import it (`ce diff` \
                 names them), which CloudFormation refuses; deploy the importing stacks without \
                 that import first, then this one",
                blockers.join(", ")
            ));
            return Ok(false);
        }
        let conflicts = self.policy_conflicts(job, diff_json).await?;
        if !conflicts.is_empty() {
            report.outcome = Outcome::Refused;
            report.exit = Status::NeedsApproval;
            report.messages.push(format!(
                "the stack policy of {} forbids replacing or deleting {}, so CloudFormation \
                 would refuse this update. If that is really wanted, lift the policy for this \
                 deploy (`aws cloudformation set-stack-policy --stack-name {} --stack-policy-body \
                 '{}'`) and deploy again; ce puts the guard back afterwards",
                job.name,
                conflicts.join(", "),
                job.name,
                OPEN_POLICY
            ));
            return Ok(false);
        }
        match self.settings.approval.decide(class) {
            Decision::Proceed => {}
            Decision::Refuse { status, reason } => {
                report.outcome = Outcome::Refused;
                report.exit = status;
                report.messages.push(reason);
                return Ok(false);
            }
            Decision::Ask(question) => {
                let prompt = self.settings.approval.prompt(question, &job.name);
                self.progress.hold(true);
                let answer = self.timing.prompt(self.answers.ask(&prompt)).await;
                self.progress.hold(false);
                self.waited.set(true);
                if !self.settings.approval.approves(question, &answer?) {
                    report.outcome = Outcome::Declined;
                    report.exit = Status::Failure;
                    report.messages.push("not approved".to_owned());
                    return Ok(false);
                }
            }
        }
        // The world may have moved on while the run waited.
        let Some(recheck) = self.recheck.as_ref().filter(|_| self.waited.get()) else {
            return Ok(true);
        };
        match self.timing.aws(recheck()).await {
            Ok(()) => Ok(true),
            Err(why) => {
                report.outcome = Outcome::Refused;
                report.exit = Status::Failure;
                report.messages.push(why);
                Ok(false)
            }
        }
    }

    /// What the stack's current policy would refuse of this diff. Only asked when the diff
    /// replaces or removes a stateful resource of an existing stack.
    async fn policy_conflicts(
        &self,
        job: &StackJob,
        diff_json: &Value,
    ) -> Result<Vec<String>, DeployError> {
        let at_risk = diff_json
            .get("resources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|r| {
                matches!(r["action"].as_str(), Some("replace" | "remove"))
                    && r["resource_type"]
                        .as_str()
                        .is_some_and(|t| policy::STATEFUL_TYPES.contains(&t))
            });
        if !at_risk {
            return Ok(Vec::new());
        }
        let current = self
            .timing
            .aws(self.api.stack_policy(&job.name))
            .await
            .map_err(|e| DeployError::aws(&job.name, e))?;
        Ok(policy::policy_conflicts(diff_json, current.as_deref()))
    }

    /// Executes a change set and watches the stack until CloudFormation is done.
    async fn execute(
        &self,
        job: &StackJob,
        change_set_id: &str,
        request: &ChangeSetRequest,
        report: &mut StackReport,
    ) -> Result<(), DeployError> {
        let name = &job.name;
        let kind = request.kind;
        let mut tracker = EventTracker::default();
        tracker
            .baseline(self.api, self.timing, name)
            .await
            .map_err(|e| DeployError::aws(name, e))?;
        self.progress.phase(name, "executing change set");
        self.waited.set(true);
        // From the moment the request may have left, an interruption must name this stack.
        self.progress.status(name, "change set executing");
        self.progress.executing(name, true);
        self.timing
            .aws(self.api.execute_change_set(change_set_id, request))
            .await
            .map_err(|e| DeployError::aws(name, e))?;
        let (status, reason, events) = self
            .watch(name, &mut tracker, |s| {
                failure::outcome(s) != failure::Outcome::Running
            })
            .await?;
        self.progress.executing(name, false);
        report.status = Some(status.clone());
        if failure::outcome(&status) == failure::Outcome::Succeeded {
            report.outcome = match kind {
                ChangeSetKind::Create => Outcome::Created,
                ChangeSetKind::Update => Outcome::Updated,
            };
            return self.protect(job).await;
        }
        report.outcome = Outcome::Failed;
        report.exit = Status::Failure;
        if let Some(first) = failure::first_failure(&events) {
            report
                .messages
                .push(format!("first failure: {}", failure::failure_line(first)));
        }
        report.messages.push(failure::rollback_outcome(
            name,
            &self.settings.region,
            &status,
            reason.as_deref(),
        ));
        Ok(())
    }

    /// Polls the stack's status and new events until `done(status)` (or the stack is gone,
    /// reported as `DELETE_COMPLETE`); returns the final status, its reason and the events.
    async fn watch(
        &self,
        name: &str,
        tracker: &mut EventTracker,
        done: impl Fn(&str) -> bool,
    ) -> Result<(String, Option<String>, Vec<StackEvent>), DeployError> {
        let mut backoff = Backoff::new();
        let mut log = Vec::new();
        let mut failed_reads = 0;
        loop {
            self.timing.sleep(backoff.next_delay()).await;
            // Events are read after the status, so the final ones are never missed.
            let read = async {
                let status = self.timing.aws(self.api.stack_status(name)).await?;
                let fresh = tracker.poll(self.api, self.timing, name).await?;
                Ok::<_, AwsError>((status, fresh))
            };
            let (status, fresh) = match read.await {
                Ok(read) => {
                    failed_reads = 0;
                    read
                }
                // Watching only reads: CloudFormation's operation goes on whatever happens
                // to one poll, so a read that failed even after the SDK's retries is tried
                // again at the next poll rather than failing the stack.
                Err(e) if failed_reads < MAX_FAILED_WATCH_READS => {
                    failed_reads += 1;
                    self.progress.note(&format!(
                        "{name}: reading progress failed ({e}); trying again"
                    ));
                    continue;
                }
                Err(e) => return Err(DeployError::aws(name, e)),
            };
            if !fresh.is_empty() {
                backoff.reset();
            }
            for event in &fresh {
                self.progress.event(name, event);
            }
            log.extend(fresh);
            let Some(status) = status else {
                return Ok(("DELETE_COMPLETE".to_owned(), None, log));
            };
            self.progress.status(name, &status.status);
            if done(&status.status) {
                return Ok((status.status, status.reason, log));
            }
        }
    }

    /// The stack as it is once no operation is running on it: an operation started elsewhere
    /// is waited for (never interrupted by a second one).
    async fn settled(&self, name: &str) -> Result<Option<DeployedStack>, DeployError> {
        loop {
            let deployed = self
                .timing
                .aws(self.api.describe_stack(name))
                .await
                .map_err(|e| DeployError::aws(name, e))?;
            let busy = deployed
                .as_ref()
                .filter(|d| d.in_progress() && d.status != "REVIEW_IN_PROGRESS");
            let Some(busy) = busy else {
                return Ok(deployed);
            };
            self.progress.note(&format!(
                "{name} is {}: an operation started elsewhere is running; waiting for it to \
                 finish before deploying (Ctrl-C stops waiting, not the operation)",
                busy.status
            ));
            self.progress.executing(name, true);
            self.progress.status(name, &busy.status);
            self.progress.phase(name, "waiting for other operation");
            let mut tracker = EventTracker::default();
            tracker
                .baseline(self.api, self.timing, name)
                .await
                .map_err(|e| DeployError::aws(name, e))?;
            self.watch(name, &mut tracker, |s| {
                !s.ends_with("_IN_PROGRESS") || s == "REVIEW_IN_PROGRESS"
            })
            .await?;
            self.progress.executing(name, false);
        }
    }

    /// Deletes a stack whose creation rolled back, and waits until it is gone.
    async fn recreate(&self, name: &str) -> Result<(), DeployError> {
        self.progress.note(&format!(
            "{name} is ROLLBACK_COMPLETE (a failed creation); deleting it to create it again \
             (--recreate-failed)"
        ));
        self.progress.phase(name, "deleting failed stack");
        let mut tracker = EventTracker::default();
        tracker
            .baseline(self.api, self.timing, name)
            .await
            .map_err(|e| DeployError::aws(name, e))?;
        self.timing
            .aws(self.api.delete_stack(name))
            .await
            .map_err(|e| DeployError::aws(name, e))?;
        self.progress.executing(name, true);
        let (status, reason, _) = self
            .watch(name, &mut tracker, |s| !s.ends_with("_IN_PROGRESS"))
            .await?;
        self.progress.executing(name, false);
        if status == "DELETE_COMPLETE" {
            Ok(())
        } else {
            Err(DeployError::Blocked(failure::rollback_outcome(
                name,
                &self.settings.region,
                &status,
                reason.as_deref(),
            )))
        }
    }

    async fn delete_change_set(&self, name: &str, id: &str) -> Result<(), DeployError> {
        self.timing
            .aws(self.api.delete_change_set(id))
            .await
            .map_err(|e| DeployError::aws(name, e))
    }

    /// In a protected env: the stack policy guarding stateful resources, and termination
    /// protection. The sandbox lacks the latter, which is said and skipped there.
    async fn protect(&self, job: &StackJob) -> Result<(), DeployError> {
        if !self.settings.protected {
            return Ok(());
        }
        let name = &job.name;
        if let Some(stack_policy) = policy::stack_policy(&job.rendered) {
            let set = self
                .timing
                .aws(self.api.set_stack_policy(name, &stack_policy))
                .await;
            self.tolerate_sandbox(name, "the stack policy", set)?;
        }
        let set = self
            .timing
            .aws(self.api.set_termination_protection(name, true))
            .await;
        self.tolerate_sandbox(name, "termination protection", set)
    }

    fn tolerate_sandbox(
        &self,
        name: &str,
        what: &str,
        result: Result<(), AwsError>,
    ) -> Result<(), DeployError> {
        match result {
            Err(AwsError::Unhandled { .. }) if self.settings.local => {
                self.progress.note(&format!(
                    "{name}: the sandbox does not implement {what}; skipped"
                ));
                Ok(())
            }
            Err(error) => Err(DeployError::Blocked(format!(
                "{name} was deployed, but {what} could not be set ({error}); run `ce deploy` \
                 again to set it"
            ))),
            Ok(()) => Ok(()),
        }
    }
}
