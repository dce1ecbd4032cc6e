//! `ce graph`: the env's resources and how they read each other, as text, JSON, a mermaid
//! flowchart (fenced in markdown) or Graphviz DOT. Offline: drawn from a fresh render.

use anyhow::Result;

use super::Context;
use super::compare::rendered;
use crate::Status;
use crate::graph::{ResourceGraph, StackTemplate};

/// `ce graph`: the graph is the report; every `--format` is one of its forms.
pub fn run_graph(ctx: &Context) -> Result<Status> {
    let env = ctx.env()?;
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
    ctx.printer.report(&graph)?;
    Ok(Status::Success)
}
