//! `ce status`: the env's stacks as CloudFormation has them (status, last change, drift when
//! it was checked, termination protection, outputs), read all at once with one DescribeStacks
//! per stack.

use std::collections::BTreeMap;
use std::io::{self, Write};

use anyhow::Result;
use aws_sdk_cloudformation::primitives::{DateTime, DateTimeFormat};
use aws_sdk_cloudformation::types::Stack;
use serde::Serialize;
use tokio::task::JoinHandle;

use super::{Context, Purpose, Report};
use crate::Status;
use crate::architecture::{self, StackId};
use crate::aws::{self, Aws, AwsError};
use crate::deploy::deployed;
use crate::printer::Styles;

/// One stack's state.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StackState {
    /// `network`, `storage`, ...
    pub stack: &'static str,
    /// `ce-<env>-<stack>`.
    pub stack_name: String,
    /// Whether it exists.
    pub deployed: bool,
    /// Its status, e.g. `UPDATE_COMPLETE`.
    pub status: Option<String>,
    /// Why it has that status, when CloudFormation says.
    pub status_reason: Option<String>,
    /// What an unusual status means.
    pub status_note: Option<String>,
    /// When it was created (RFC 3339).
    pub created: Option<String>,
    /// When it was last updated (RFC 3339).
    pub last_updated: Option<String>,
    /// Drift as last detected: `IN_SYNC`, `DRIFTED`, `NOT_CHECKED`, `UNKNOWN`.
    pub drift: Option<String>,
    /// When drift was last detected (RFC 3339).
    pub drift_checked: Option<String>,
    /// Whether termination protection is on.
    pub termination_protection: bool,
    /// Outputs by name.
    pub outputs: BTreeMap<String, OutputState>,
}

/// One output of a stack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OutputState {
    /// Its value.
    pub value: String,
    /// The name it is exported under, if exported.
    pub export_name: Option<String>,
}

/// `ce status`.
pub fn run_status(ctx: &Context) -> Result<Status> {
    let remote = ctx.remote(ctx.env()?, Purpose::Operate)?;
    let env = &remote.env;
    let stacks =
        remote.block_on(async { read_states(remote.aws().await, env.name.as_str()).await })?;
    ctx.printer.report(&StatusReport {
        env: env.name.as_str(),
        region: &env.file.region,
        stacks,
    })?;
    Ok(Status::Success)
}

/// The env's stacks as CloudFormation has them.
#[derive(Serialize)]
struct StatusReport<'a> {
    env: &'a str,
    region: &'a str,
    stacks: Vec<StackState>,
}

impl Report for StatusReport<'_> {
    fn write_text(&self, out: &mut dyn Write, _: Styles) -> io::Result<()> {
        write_text(out, self.env, self.region, &self.stacks)
    }
}

/// Every stack of the env, in deploy order, read concurrently.
pub async fn read_states(aws: &Aws, env: &str) -> Result<Vec<StackState>, AwsError> {
    let client = aws.cloudformation().client().clone();
    let tasks: Vec<(StackId, String, JoinHandle<_>)> = StackId::ALL
        .into_iter()
        .map(|id| {
            let name = architecture::stack_name(env, id);
            let client = client.clone();
            let task_name = name.clone();
            (
                id,
                name,
                tokio::spawn(
                    async move { aws::cloudformation::describe(&client, &task_name).await },
                ),
            )
        })
        .collect();
    let mut states = Vec::with_capacity(tasks.len());
    for (id, name, task) in tasks {
        let stack = aws::joined(task).await?;
        states.push(state(id, name, stack));
    }
    Ok(states)
}

fn state(id: StackId, stack_name: String, stack: Option<Stack>) -> StackState {
    let Some(stack) = stack else {
        return StackState {
            stack: id.as_str(),
            stack_name,
            deployed: false,
            status: None,
            status_reason: None,
            status_note: None,
            created: None,
            last_updated: None,
            drift: None,
            drift_checked: None,
            termination_protection: false,
            outputs: BTreeMap::new(),
        };
    };
    let status = stack.stack_status.as_ref().map(|s| s.as_str().to_owned());
    let status_note = status
        .as_deref()
        .and_then(|s| deployed::status_note(s, stack.stack_status_reason.as_deref()));
    let drift = stack.drift_information.as_ref();
    StackState {
        stack: id.as_str(),
        stack_name,
        deployed: true,
        status_note,
        status,
        status_reason: stack.stack_status_reason,
        created: stack.creation_time.as_ref().and_then(rfc3339),
        last_updated: stack.last_updated_time.as_ref().and_then(rfc3339),
        drift: drift
            .and_then(|d| d.stack_drift_status.as_ref())
            .map(|s| s.as_str().to_owned()),
        drift_checked: drift
            .and_then(|d| d.last_check_timestamp.as_ref())
            .and_then(rfc3339),
        termination_protection: stack.enable_termination_protection.unwrap_or(false),
        outputs: stack
            .outputs
            .unwrap_or_default()
            .into_iter()
            .filter_map(|o| {
                Some((
                    o.output_key?,
                    OutputState {
                        value: o.output_value.unwrap_or_default(),
                        export_name: o.export_name,
                    },
                ))
            })
            .collect(),
    }
}

fn rfc3339(time: &DateTime) -> Option<String> {
    time.fmt(DateTimeFormat::DateTime).ok()
}

/// One block per stack: its line, a note for an unusual status, then its outputs.
fn write_text(
    out: &mut dyn Write,
    env: &str,
    region: &str,
    states: &[StackState],
) -> std::io::Result<()> {
    let deployed = states.iter().filter(|s| s.deployed).count();
    writeln!(
        out,
        "env {env} ({region}): {deployed} of {} stacks deployed",
        states.len()
    )?;
    for s in states {
        let Some(status) = &s.status else {
            writeln!(out, "{:<24} not deployed", s.stack_name)?;
            continue;
        };
        let when = match (&s.last_updated, &s.created) {
            (Some(t), _) => format!("updated {t}"),
            (None, Some(t)) => format!("created {t}"),
            (None, None) => String::new(),
        };
        let drift = match (s.drift.as_deref(), &s.drift_checked) {
            (Some("DRIFTED"), Some(at)) => format!("  DRIFTED (checked {at})"),
            (Some("IN_SYNC"), Some(at)) => format!("  in sync (checked {at})"),
            (Some(d), Some(at)) => format!("  drift {d} (checked {at})"),
            _ => "  drift not checked".to_owned(),
        };
        let protection = if s.termination_protection {
            "  termination protection on"
        } else {
            ""
        };
        writeln!(
            out,
            "{:<24} {status:<20} {when}{drift}{protection}",
            s.stack_name
        )?;
        if let Some(note) = &s.status_note {
            writeln!(out, "    ! {note}")?;
        }
        for (name, output) in &s.outputs {
            let export = output
                .export_name
                .as_deref()
                .map(|e| format!("  (export {e})"))
                .unwrap_or_default();
            writeln!(out, "    {name} = {}{export}", output.value)?;
        }
    }
    Ok(())
}
