//! `ce compare ENV_A ENV_B`: renders both envs and prints how they differ, offline.
//!
//! The exit code is the comparison's outcome: 0 equal after normalisation, 2 different, 3 a
//! setting some env lists in `must_match` differs.

use anyhow::{Context as _, Result};
use serde_json::Value;

use super::Context;
use crate::Status;
use crate::compare::{self, EnvStacks};
use crate::config::Env;
use crate::render;

/// `ce compare`.
pub fn run_compare(ctx: &Context, env_a: &str, env_b: &str) -> Result<Status> {
    let a = ctx.env_named(env_a)?;
    let b = ctx.env_named(env_b)?;
    let (stacks_a, stacks_b) = (rendered(&a)?, rendered(&b)?);
    let comparison = compare::compare(&stacks_a, &stacks_b)?;
    ctx.printer.report(&comparison.report())?;
    Ok(comparison.outcome().status())
}

/// An env's stacks, freshly rendered and parsed.
pub(crate) fn rendered(env: &Env) -> Result<EnvStacks<'_>> {
    let stacks = render::render_env(env)
        .with_context(|| format!("rendering {}", env.name))?
        .into_iter()
        .map(|s| {
            let template: Value = serde_json::from_str(&s.text)
                .with_context(|| format!("the rendered {} template is not JSON", s.stack_name))?;
            Ok((s.id.to_string(), template))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(EnvStacks { env, stacks })
}
