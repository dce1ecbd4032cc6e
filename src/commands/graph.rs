//! `ce graph`: the env's resources and how they read each other, as text, JSON, a mermaid
//! flowchart (fenced in markdown) or Graphviz DOT. Offline: drawn from a fresh render.

use std::io::Write;

use anyhow::Result;

use super::Context;
use super::compare::rendered;
use crate::Status;
use crate::cli::FormatArg;
use crate::graph::{self, ResourceGraph, StackTemplate};

/// `ce graph`: reads `format` from the flags, since it also speaks the diagram languages.
pub fn run_graph(ctx: &Context, format: FormatArg) -> Result<Status> {
    let env = ctx.env()?;
    let out = &mut ctx.printer.stdout();
    let stacks = rendered(&env)?;
    let names: Vec<String> = stacks
        .stacks
        .iter()
        .map(|(s, _)| format!("ce-{}-{s}", env.name))
        .collect();
    let inputs: Vec<StackTemplate<'_>> = stacks
        .stacks
        .iter()
        .zip(&names)
        .map(|((stack, template), name)| StackTemplate {
            stack,
            stack_name: name,
            template,
        })
        .collect();
    let graph = ResourceGraph::build(env.name.as_str(), &inputs)?;
    match format {
        FormatArg::Text => graph::write_text(out, &graph)?,
        FormatArg::Json => writeln!(out, "{}", serde_json::to_string_pretty(&graph.to_json())?)?,
        FormatArg::Markdown => write!(
            out,
            "### ce graph `{}`\n\n{}\n\n```mermaid\n{}```\n",
            env.name,
            graph::mermaid::ARROWS,
            graph::mermaid::render(&graph)
        )?,
        FormatArg::Mermaid => write!(out, "{}", graph::mermaid::render(&graph))?,
        FormatArg::Dot => write!(out, "{}", graph::dot::render(&graph))?,
    }
    Ok(Status::Success)
}
