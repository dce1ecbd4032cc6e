//! `ce drift [--stack S]`: drift detection for the env's stacks, printed in the diff's formats;
//! exit 0 in sync, 2 drifted. The work is [`crate::drift::detect`]; this is its glue.

use std::io::{self, Write};

use anyhow::Result;

use super::{Context, Purpose, Report};
use crate::Status;
use crate::architecture::{self, StackId};
use crate::deploy::sdk::Cfn;
use crate::drift::{self, DriftReport, Polling, format};
use crate::printer::Styles;

/// `ce drift`.
pub fn run_drift(ctx: &Context, only: Option<StackId>) -> Result<Status> {
    let remote = ctx.remote(ctx.env()?, Purpose::Operate)?;
    let env_name = remote.env.name.to_string();
    let names: Vec<String> = StackId::ALL
        .into_iter()
        .filter(|id| only.is_none_or(|o| o == *id))
        .map(|id| architecture::stack_name(&env_name, id))
        .collect();
    ctx.printer.note(format_args!(
        "drift {env_name}: detecting drift of {} stack{} in {}",
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        remote.describe_target()
    ))?;
    let report = remote.block_on(async {
        let aws = remote.aws().await;
        drift::detect(&Cfn::new(aws), &env_name, &names, Polling::default()).await
    })?;
    ctx.printer.report(&Drift(&report))?;
    Ok(report.status())
}

/// The printed form of a [`DriftReport`], which carries its own `format_version`.
#[derive(serde::Serialize)]
#[serde(transparent)]
struct Drift<'a>(&'a DriftReport);

impl Report for Drift<'_> {
    const ENVELOPE: bool = false;

    fn write_text(&self, out: &mut dyn Write, _: Styles) -> io::Result<()> {
        format::write_text(out, self.0)
    }

    fn write_markdown(&self, out: &mut dyn Write) -> io::Result<()> {
        format::write_markdown(out, self.0)
    }
}
