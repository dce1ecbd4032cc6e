//! `ce drift [--stack S]`: drift detection for the env's stacks, printed in the diff's formats;
//! exit 0 in sync, 2 drifted. The work is [`crate::drift::detect`]; this is its glue.

use std::io::Write;

use anyhow::{Context, Result};

use super::Ui;
use crate::architecture::{self, StackId};
use crate::aws::{self, Aws};
use crate::cli::Format;
use crate::deploy::sdk::Cfn;
use crate::drift::{self, Polling, format};
use crate::{Status, config, live};

/// `ce drift`.
pub fn run_drift(ui: &Ui, out: &mut dyn Write, stack: Option<&str>) -> Result<Status> {
    let env = config::load(&ui.envs_dir, &ui.env)?;
    let only = stack.map(live::parse_stack).transpose()?;
    let env_name = env.name.to_string();
    let names: Vec<String> = StackId::ALL
        .into_iter()
        .filter(|id| only.is_none_or(|o| o == *id))
        .map(|id| architecture::stack_name(&env_name, id))
        .collect();
    let target = aws::target(ui.local)?;
    eprintln!(
        "drift {env_name}: detecting drift of {} stack{}",
        names.len(),
        if names.len() == 1 { "" } else { "s" }
    );
    let runtime = aws::runtime().context("starting the async runtime")?;
    let report = runtime.block_on(async {
        let aws = Aws::connect(&env.file.region, target).await;
        drift::detect(&Cfn::new(&aws), &env_name, &names, Polling::default()).await
    })?;
    match ui.format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
        Format::Markdown => format::write_markdown(out, &report)?,
        Format::Text => format::write_text(out, &report)?,
    }
    Ok(report.status())
}
