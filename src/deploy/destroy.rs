//! Taking an env down: which stacks go and in what order, what stays behind, who has to agree,
//! and deleting them one by one while saying what happens.
//!
//! Stacks are deleted in reverse dependency order, one at a time, and the first failure stops
//! the rest, so a stack is never deleted while one that imports from it still stands. Stateful
//! resources carry `DeletionPolicy: Retain`: deleting their stack leaves them, and their data, in
//! the account; the preview lists them with their physical ids so nobody has to guess what is
//! left. Reading ([`preview`]) and deciding ([`gate`]) happen before anything is deleted; deleting
//! ([`execute`]) goes through the deploy engine's [`StackApi`] seam, so its failure paths are
//! tested without AWS.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_cloudformation::Client;
use serde::Serialize;
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::Status;
use crate::architecture::{self, StackId};
use crate::aws::cloudformation::{DeployedStack, FetchError};
use crate::aws::{AccountError, Aws, AwsError, joined};
use crate::config::Env;
use crate::deploy::api::{StackApi, StackEvent};
use crate::deploy::approval::Question;
use crate::deploy::failure::{failure_line, first_failure};
use crate::deploy::progress::{Backoff, EventTracker, event_line};
use crate::deploy::timing::Timing;
use crate::diff::Policy;

/// One resource of a stack that is about to be deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Resource {
    /// Logical id.
    pub logical_id: String,
    /// Resource type.
    pub resource_type: String,
    /// The physical id (bucket name, table name, file system id), when CloudFormation has one.
    pub physical_id: Option<String>,
    /// Its `DeletionPolicy`.
    pub policy: Policy,
}

/// A deployed stack that the destroy deletes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DoomedStack {
    /// Which stack.
    #[serde(skip)]
    pub id: StackId,
    /// `ce-<env>-<stack>`.
    pub stack_name: String,
    /// Its status now.
    pub status: String,
    /// Whether termination protection is on.
    pub termination_protection: bool,
    /// Resources deleted with it.
    pub deleted: Vec<Resource>,
    /// Resources its `DeletionPolicy` keeps in the account (with their data).
    pub retained: Vec<Resource>,
}

/// An export of a doomed stack that a stack staying behind imports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Blocker {
    /// The export's name.
    pub export: String,
    /// The stack exporting it.
    pub stack_name: String,
    /// The stacks importing it that are not being destroyed.
    pub importers: Vec<String>,
}

/// What a destroy would do, read before anything is deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DestroyPreview {
    /// The env.
    pub env: String,
    /// Its region.
    pub region: String,
    /// Deployed stacks in the order they are deleted.
    pub stacks: Vec<DoomedStack>,
    /// Stacks of the selection that are not deployed.
    pub not_deployed: Vec<String>,
    /// Exports still imported by stacks that stay: any one of them stops the destroy.
    pub blockers: Vec<Blocker>,
}

impl DestroyPreview {
    /// The retained resources of every stack, with the stack's name.
    pub fn retained(&self) -> impl Iterator<Item = (&str, &Resource)> {
        self.stacks
            .iter()
            .flat_map(|s| s.retained.iter().map(move |r| (s.stack_name.as_str(), r)))
    }
}

/// Why the destroy could not be planned.
#[derive(Debug, thiserror::Error)]
pub enum DestroyError {
    /// The credentials are for another account than the env file's.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// The stacks could not be read; the AWS sentence says why and what to do.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// A stack's resources could not be listed.
    #[error("listing the resources of {stack}")]
    Resources {
        /// The stack.
        stack: String,
        /// Why.
        #[source]
        source: AwsError,
    },
    /// Who imports an export could not be found out.
    #[error("finding the stacks that import export {export}")]
    Imports {
        /// The export.
        export: String,
        /// Why.
        #[source]
        source: FetchError,
    },
}

/// The stacks to delete, in order: the one asked for, or all of them in reverse dependency order.
pub fn deletion_order(only: Option<StackId>) -> Vec<StackId> {
    match only {
        Some(id) => vec![id],
        None => StackId::ALL.into_iter().rev().collect(),
    }
}

/// Reads what a destroy of `env` (or of its stack `only`) would delete and keep, and what would
/// stop it. Deletes nothing.
pub async fn preview(
    aws: &Aws,
    env: &Env,
    only: Option<StackId>,
) -> Result<DestroyPreview, DestroyError> {
    let env_name = env.name.to_string();
    let order = deletion_order(only);
    let names: Vec<String> = order
        .iter()
        .map(|id| architecture::stack_name(&env_name, *id))
        .collect();
    let guard = {
        let aws = aws.clone();
        let account = env.file.account_id.clone();
        tokio::spawn(async move { aws.guard_account(account.as_deref()).await })
    };
    let cfn = aws.cloudformation();
    let fetched = cfn.fetch_stacks(names.clone()).await;
    joined(guard).await?;
    let fetched = fetched?;

    let mut not_deployed = Vec::new();
    let mut deployed: Vec<(StackId, DeployedStack)> = Vec::new();
    for ((id, name), stack) in order.into_iter().zip(names).zip(fetched) {
        match stack {
            Some(stack) => deployed.push((id, stack)),
            None => not_deployed.push(name),
        }
    }

    let listings: Vec<JoinHandle<_>> = deployed
        .iter()
        .map(|(_, s)| {
            let client = cfn.client().clone();
            let name = s.name.clone();
            tokio::spawn(async move { physical_ids(&client, &name).await })
        })
        .collect();
    let doomed: BTreeSet<String> = deployed.iter().map(|(_, s)| s.name.clone()).collect();
    let exports: Vec<(String, String)> = deployed
        .iter()
        .flat_map(|(_, s)| {
            s.outputs
                .values()
                .filter_map(|o| o.export_name.clone())
                .map(|e| (e, s.name.clone()))
        })
        .collect();
    let lookups: Vec<JoinHandle<_>> = exports
        .iter()
        .map(|(export, _)| {
            let cfn = cfn.clone();
            let export = export.clone();
            tokio::spawn(async move { cfn.list_imports(&export).await })
        })
        .collect();

    let mut stacks = Vec::with_capacity(deployed.len());
    for ((id, stack), listing) in deployed.into_iter().zip(listings) {
        let physical = joined(listing)
            .await
            .map_err(|source| DestroyError::Resources {
                stack: stack.name.clone(),
                source,
            })?;
        stacks.push(doomed_stack(id, stack, &physical));
    }
    let mut blockers = Vec::new();
    for ((export, stack_name), lookup) in exports.into_iter().zip(lookups) {
        let importers: Vec<String> = joined(lookup)
            .await
            .map_err(|source| DestroyError::Imports {
                export: export.clone(),
                source,
            })?
            .into_iter()
            .filter(|importer| !doomed.contains(importer))
            .collect();
        if !importers.is_empty() {
            blockers.push(Blocker {
                export,
                stack_name,
                importers,
            });
        }
    }
    Ok(DestroyPreview {
        env: env_name,
        region: env.file.region.clone(),
        stacks,
        not_deployed,
        blockers,
    })
}

/// Logical id → physical id of every resource of the stack (ListStackResources, all pages).
async fn physical_ids(client: &Client, stack: &str) -> Result<BTreeMap<String, String>, AwsError> {
    let mut pages = client
        .list_stack_resources()
        .stack_name(stack)
        .into_paginator()
        .items()
        .send();
    let mut ids = BTreeMap::new();
    while let Some(resource) = pages.next().await {
        let resource =
            resource.map_err(|e| AwsError::from_sdk("ListStackResources", Some(stack), e))?;
        if let (Some(logical), Some(physical)) =
            (resource.logical_resource_id, resource.physical_resource_id)
            && !logical.is_empty()
            && !physical.is_empty()
        {
            ids.insert(logical, physical);
        }
    }
    Ok(ids)
}

/// Splits a deployed stack's resources into what is deleted and what its policy keeps.
fn doomed_stack(
    id: StackId,
    stack: DeployedStack,
    physical: &BTreeMap<String, String>,
) -> DoomedStack {
    let mut deleted = Vec::new();
    let mut retained = Vec::new();
    let resources = stack
        .template
        .get("Resources")
        .and_then(Value::as_object)
        .into_iter()
        .flatten();
    for (logical_id, resource) in resources {
        let policy = Policy::parse(resource.get("DeletionPolicy"));
        let entry = Resource {
            logical_id: logical_id.clone(),
            resource_type: resource
                .get("Type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            physical_id: physical.get(logical_id).cloned(),
            policy,
        };
        match policy {
            Policy::Delete => deleted.push(entry),
            Policy::Retain | Policy::RetainExceptOnCreate | Policy::Snapshot => {
                retained.push(entry)
            }
        }
    }
    DoomedStack {
        id,
        stack_name: stack.name,
        status: stack.status,
        termination_protection: stack.termination_protection,
        deleted,
        retained,
    }
}

/// What the person running the destroy said and can say.
#[derive(Clone, Debug)]
pub struct Consent {
    /// `--yes`.
    pub yes: bool,
    /// A person can answer prompts.
    pub interactive: bool,
    /// The env file says `protected = true`.
    pub protected: bool,
    /// `--lift-termination-protection`.
    pub lift_protection: bool,
    /// The env's name.
    pub env: String,
}

/// What has to happen before anything is deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gate {
    /// No stack of the selection is deployed.
    Nothing,
    /// Go ahead.
    Proceed,
    /// Ask the person at the terminal.
    Ask(Question),
    /// Delete nothing; end with this status and sentence.
    Refuse {
        /// 3 when only a confirmation is missing, else 1.
        status: Status,
        /// Why, and what would allow it.
        reason: String,
    },
}

/// Decides whether the preview may go ahead, in the order a person would want to hear it.
pub fn gate(preview: &DestroyPreview, consent: &Consent) -> Gate {
    if preview.stacks.is_empty() {
        return Gate::Nothing;
    }
    let refuse = |reason: String| Gate::Refuse {
        status: Status::Failure,
        reason: format!("nothing was deleted: {reason}"),
    };
    if !preview.blockers.is_empty() {
        let lines: Vec<String> = preview
            .blockers
            .iter()
            .map(|b| {
                format!(
                    "export {} of {} is imported by {}",
                    b.export,
                    b.stack_name,
                    b.importers.join(", ")
                )
            })
            .collect();
        return refuse(format!(
            "{}; CloudFormation refuses to delete a stack whose exports are imported. Destroy \
             the importing stacks first, or the whole env",
            lines.join("; ")
        ));
    }
    let busy: Vec<String> = preview
        .stacks
        .iter()
        .filter(|s| s.status.ends_with("_IN_PROGRESS"))
        .map(|s| format!("{} is {}", s.stack_name, s.status))
        .collect();
    if !busy.is_empty() {
        return refuse(format!(
            "{}; wait until that finishes (`ce status`) and run again",
            busy.join(", ")
        ));
    }
    if let Some(refusal) = protection_gate(consent) {
        return refusal;
    }
    if consent.protected {
        return Gate::Ask(Question::TypeEnvName);
    }
    let guarded: Vec<&str> = preview
        .stacks
        .iter()
        .filter(|s| s.termination_protection)
        .map(|s| s.stack_name.as_str())
        .collect();
    if !guarded.is_empty() && !consent.lift_protection {
        return refuse(format!(
            "termination protection is on for {}; pass --lift-termination-protection to turn \
             it off and delete {}",
            guarded.join(", "),
            if guarded.len() == 1 { "it" } else { "them" }
        ));
    }
    if consent.interactive && !consent.yes {
        return Gate::Ask(Question::YesNo);
    }
    if consent.yes {
        return Gate::Proceed;
    }
    Gate::Refuse {
        status: Status::NeedsApproval,
        reason: "nothing was deleted: there is no terminal to confirm at; pass --yes to delete \
                 these stacks"
            .to_owned(),
    }
}

/// The refusal a protected env gets whatever is deployed: without
/// `--lift-termination-protection`, or without a terminal to type its name at. `None` when the
/// env is not protected or may be confirmed.
pub fn protection_gate(consent: &Consent) -> Option<Gate> {
    if !consent.protected {
        return None;
    }
    let reason = if !consent.lift_protection {
        format!(
            "env {} is protected (protected = true in its env file): destroying it needs \
             --lift-termination-protection and its name typed at a terminal",
            consent.env
        )
    } else if !consent.interactive {
        format!(
            "env {} is protected: its name has to be typed at a terminal to destroy it, which \
             --yes does not do",
            consent.env
        )
    } else {
        return None;
    };
    Some(Gate::Refuse {
        status: Status::Failure,
        reason: format!("nothing was deleted: {reason}"),
    })
}

/// The prompt for a question.
pub fn prompt(question: Question, preview: &DestroyPreview) -> String {
    let count = preview.stacks.len();
    let stacks = if count == 1 { "stack" } else { "stacks" };
    match question {
        Question::YesNo => format!("Delete {count} {stacks} of {}? [y/N] ", preview.env),
        Question::TypeEnvName => format!(
            "{env} is a protected env. Type {env} to lift termination protection and delete \
             {count} {stacks}: ",
            env = preview.env
        ),
    }
}

/// Whether an answer to a question agrees.
pub fn approves(question: Question, answer: &str, env: &str) -> bool {
    let answer = answer.trim();
    match question {
        Question::YesNo => matches!(answer, "y" | "Y" | "yes" | "Yes" | "YES"),
        Question::TypeEnvName => answer == env,
    }
}

/// How deleting one stack ended.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum StackResult {
    /// The stack is gone.
    Deleted {
        /// How long it took, in seconds.
        seconds: f64,
    },
    /// It could not be deleted; the sentence says why and what to do.
    Failed {
        /// Why, and what to do.
        reason: String,
    },
    /// An earlier stack failed, so this one was left alone.
    NotAttempted,
}

/// Every stack's result, in deletion order.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DestroyReport {
    /// `(stack name, result)`.
    pub results: Vec<(String, StackResult)>,
}

impl DestroyReport {
    /// Whether every stack was deleted.
    pub fn complete(&self) -> bool {
        self.results
            .iter()
            .all(|(_, r)| matches!(r, StackResult::Deleted { .. }))
    }
}

/// Deletes the previewed stacks one at a time, waiting for each; stops at the first failure.
/// Progress lines go to `log`.
pub async fn execute<A: StackApi>(
    api: &A,
    preview: &DestroyPreview,
    lift_protection: bool,
    local: bool,
    log: &mut dyn FnMut(String),
) -> DestroyReport {
    let mut report = DestroyReport::default();
    let mut failed = false;
    for stack in &preview.stacks {
        let name = &stack.stack_name;
        if failed {
            report
                .results
                .push((name.clone(), StackResult::NotAttempted));
            continue;
        }
        let begun = std::time::Instant::now();
        let result = match delete_one(api, preview, stack, lift_protection, local, log).await {
            Ok(()) => {
                let seconds = begun.elapsed().as_secs_f64();
                log(format!("{name}: deleted in {seconds:.1} s"));
                StackResult::Deleted { seconds }
            }
            Err(reason) => {
                failed = true;
                StackResult::Failed { reason }
            }
        };
        report.results.push((name.clone(), result));
    }
    report
}

/// Deletes one stack and waits until it is gone; the error is the sentence to show.
async fn delete_one<A: StackApi>(
    api: &A,
    preview: &DestroyPreview,
    stack: &DoomedStack,
    lift_protection: bool,
    local: bool,
    log: &mut dyn FnMut(String),
) -> Result<(), String> {
    let name = &stack.stack_name;
    if stack.termination_protection && lift_protection {
        log(format!("{name}: turning termination protection off"));
        api.set_termination_protection(name, false)
            .await
            .map_err(|e| format!("{name}: could not turn termination protection off: {e}"))?;
    }
    let timing = Timing::start();
    let mut events = EventTracker::default();
    // Events from before the deletion are history, not progress; a failure to read them only
    // costs the progress lines.
    let _ = events.baseline(api, &timing, name).await;
    log(format!("{name}: deleting"));
    if let Err(e) = api.delete_stack(name).await {
        return Err(explain_delete_error(name, &e, local));
    }
    let mut backoff = Backoff::new();
    let mut last_status = String::new();
    let mut seen: Vec<StackEvent> = Vec::new();
    loop {
        tokio::time::sleep(backoff.next_delay()).await;
        let status = api
            .stack_status(name)
            .await
            .map_err(|e| format!("{name}: could not read its status while deleting: {e}"))?;
        let Some(status) = status else {
            return Ok(());
        };
        if let Ok(fresh) = events.poll(api, &timing, name).await {
            if !fresh.is_empty() {
                backoff.reset();
            }
            for event in &fresh {
                log(event_line(name, event));
            }
            seen.extend(fresh);
        }
        if status.status != last_status {
            last_status = status.status.clone();
            if seen.is_empty() {
                log(format!("{name}: {}", status.status));
            }
        }
        match status.status.as_str() {
            "DELETE_COMPLETE" => return Ok(()),
            "DELETE_FAILED" => {
                return Err(explain_delete_failed(
                    name,
                    &preview.region,
                    status.reason.as_deref(),
                    first_failure(&seen),
                    local,
                ));
            }
            s if s.ends_with("_IN_PROGRESS") => {}
            other => {
                return Err(format!(
                    "{name} ended in {other} instead of being deleted{}",
                    status
                        .reason
                        .as_deref()
                        .map(|r| format!(" (CloudFormation: {r})"))
                        .unwrap_or_default()
                ));
            }
        }
    }
}

/// Why DeleteStack itself was refused, and what to do.
pub fn explain_delete_error(stack: &str, err: &AwsError, local: bool) -> String {
    let in_use = matches!(err, AwsError::Other { code, .. } if code == "DependencyViolation");
    if !in_use {
        return format!("{stack} could not be deleted: {err}");
    }
    let sandbox = if local {
        " The local sandbox (moto 5.2) cannot delete the VPC of a stack that holds a route \
         table, so the network stack always ends here locally: `ce sandbox stop` and start it \
         again for an empty account."
    } else {
        ""
    };
    format!(
        "{stack} could not be deleted: {err}; something outside the stack still uses one of its \
         resources (an instance, a network interface, a load balancer left by another stack): \
         remove that and run `ce destroy` again.{sandbox}"
    )
}

/// Why a deletion ended in `DELETE_FAILED`, and what to do.
pub fn explain_delete_failed(
    stack: &str,
    region: &str,
    reason: Option<&str>,
    first: Option<&StackEvent>,
    local: bool,
) -> String {
    let what = match (first, reason.filter(|r| !r.is_empty())) {
        (Some(event), _) => failure_line(event),
        (None, Some(reason)) => reason.to_owned(),
        (None, None) => "CloudFormation gave no reason".to_owned(),
    };
    let sandbox = if local && what.contains("RouteTable") {
        " (the local sandbox cannot delete route tables)"
    } else {
        ""
    };
    format!(
        "{stack} could not be deleted (DELETE_FAILED): {what}{sandbox}. The resources it could \
         not delete are still there; remove them or what uses them, then run `ce destroy` again \
         (or `aws cloudformation delete-stack --stack-name {stack} --region {region} \
         --retain-resources <LogicalId>` to leave them behind)"
    )
}

#[cfg(test)]
#[path = "destroy_tests.rs"]
mod tests;
