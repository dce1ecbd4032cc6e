//! `ce diff [--stack S] [--unified]`: the deployed stacks against freshly rendered templates,
//! as text, JSON, a markdown report, or a unified diff of the template JSON.
//!
//! The exit code is the diff's class (0 no changes, 2 changes, 3 needs approval), so CI can
//! gate on it without parsing anything.

use std::io::Write;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};
use handlebars::{Handlebars, handlebars_helper};
use serde_json::{Value, json};

use super::Ui;
use crate::aws::{self, Aws, Target};
use crate::cli::Format;
use crate::diff::EnvDiff;
use crate::diff::format::{self, show};
use crate::graph::change::ChangeDiagram;
use crate::graph::{ResourceGraph, StackTemplate};
use crate::live::{self, LiveEnv};
use crate::{Status, config};

/// The markdown report, rendered from the diff's JSON form.
const MARKDOWN_TEMPLATE: &str = include_str!("../../templates/diff.md.hbs");

/// `ce diff`.
pub fn run_diff(
    ui: &Ui,
    out: &mut dyn Write,
    stack: Option<&str>,
    unified: bool,
) -> Result<Status> {
    if unified && ui.format != Format::Text {
        bail!("--unified prints a text diff; leave out --format or use --format text");
    }
    let env = config::load(&ui.envs_dir, &ui.env)?;
    let only = stack.map(live::parse_stack).transpose()?;
    let target = aws::target(ui.local)?;
    let count = if only.is_some() { 1 } else { 5 };
    eprintln!(
        "diff {}: reading {count} stack{} from {}",
        env.name,
        if count == 1 { "" } else { "s" },
        describe_target(&target, &env.file.region)
    );
    let runtime = aws::runtime().context("starting the async runtime")?;
    let env = runtime.block_on(aws::local::env_for_target(env, &target))?;
    let begun = std::time::Instant::now();
    let live = runtime.block_on(async {
        let aws = Aws::connect(&env.file.region, target).await;
        live::diff_env(&aws, &env, only).await
    })?;
    if ui.verbose {
        eprintln!(
            "diff {}: compared in {:.0} ms",
            env.name,
            begun.elapsed().as_secs_f64() * 1000.0
        );
    }
    match ui.format {
        Format::Text if unified => write_unified(out, &live, ui.color)?,
        Format::Text => write_text(out, &live, ui.color)?,
        Format::Json => {
            let text = serde_json::to_string_pretty(&json_form(&live))?;
            writeln!(out, "{text}")?;
        }
        Format::Markdown => {
            let mut doc = json_form(&live);
            let diagram = change_diagram(&live, &live.diff)?;
            doc["diagram"] = json!((!diagram.is_empty()).then(|| diagram.to_mermaid()));
            write!(out, "{}", markdown(&doc)?)?
        }
    }
    Ok(live.diff.class().status())
}

/// The diagram of `diff`'s changes over the graph of the env's rendered stacks.
pub fn change_diagram(live: &LiveEnv, diff: &EnvDiff) -> Result<ChangeDiagram> {
    let inputs: Vec<StackTemplate<'_>> = live
        .stacks
        .iter()
        .map(|s| StackTemplate {
            stack: s.id.as_str(),
            stack_name: &s.name,
            template: &s.rendered_json,
        })
        .collect();
    let graph = ResourceGraph::build(live.env.as_str(), &inputs)?;
    Ok(ChangeDiagram::build(diff, &graph))
}

/// Where the stacks are read from, for the progress line.
fn describe_target(target: &Target, region: &str) -> String {
    match target {
        Target::Account => format!("AWS ({region})"),
        Target::Sandbox { endpoint } => format!("the sandbox at {endpoint}"),
    }
}

/// The diff core's JSON form, with each stack's deployed status, what that status means, and
/// which stacks import each export.
pub fn json_form(live: &LiveEnv) -> Value {
    let mut doc = format::to_json(&live.diff);
    doc["blocked_exports"] = json!(live.diff.blocked_exports_ways(&live.importers));
    let Some(stacks) = doc.get_mut("stacks").and_then(Value::as_array_mut) else {
        return doc;
    };
    for (entry, stack) in stacks.iter_mut().zip(&live.stacks) {
        entry["stack_status"] = json!(stack.status());
        entry["status_note"] = json!(stack.status_note());
        entry["drift"] = json!(stack.deployed.as_ref().and_then(|d| d.drift));
        entry["drift_note"] = json!(stack.drift_note());
        if let Some(exports) = entry.get_mut("exports").and_then(Value::as_array_mut) {
            for export in exports {
                let importers = export
                    .get("name")
                    .and_then(Value::as_str)
                    .and_then(|name| live.importers.get(name))
                    .cloned()
                    .unwrap_or_default();
                export["imported_by"] = json!(importers);
            }
        }
    }
    doc
}

/// Each stack's analysis, with a line for a stack whose status needs attention, then what
/// needs approval.
fn write_text(out: &mut dyn Write, live: &LiveEnv, colour: bool) -> Result<()> {
    let alarm = |text: &str| {
        if colour {
            format!("\x1b[1;31m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    };
    for (stack, diff) in live.stacks.iter().zip(&live.diff.stacks) {
        format::write_stack_text(out, diff, colour)?;
        if let (Some(status), Some(note)) = (stack.status(), stack.status_note()) {
            writeln!(out, "  {} {note}", alarm(&format!("! {status}:")))?;
        }
        if let Some(note) = stack.drift_note() {
            writeln!(out, "  {} {note}", alarm("! drifted:"))?;
        }
    }
    let reasons = live.diff.approval_reasons();
    if !reasons.is_empty() {
        writeln!(out, "{}", alarm("Needs approval:"))?;
        for reason in reasons {
            writeln!(out, "  {reason}")?;
        }
    }
    format::write_ways_forward(out, &live.diff.blocked_exports_ways(&live.importers))?;
    Ok(())
}

/// The unified diff of each changed stack's template JSON; nothing when nothing changes.
fn write_unified(out: &mut dyn Write, live: &LiveEnv, colour: bool) -> Result<()> {
    for (stack, diff) in live.stacks.iter().zip(&live.diff.stacks) {
        if diff.has_changes() {
            format::write_unified(
                out,
                &stack.name,
                stack.baseline(),
                &stack.rendered_json,
                colour,
            )?;
        }
    }
    Ok(())
}

/// The markdown report of a diff's JSON form.
pub fn markdown(doc: &Value) -> Result<String> {
    Ok(registry()?.render("diff", doc)?)
}

/// The handlebars registry with the report template, compiled once per process.
fn registry() -> Result<&'static Handlebars<'static>> {
    static REGISTRY: OnceLock<Result<Handlebars<'static>, String>> = OnceLock::new();
    REGISTRY
        .get_or_init(|| {
            // Absent values are JSON null in the diff's form.
            handlebars_helper!(show_value: |v: Json| if v.is_null() {
                "(none)".to_owned()
            } else {
                show(v)
            });
            let mut hb = Handlebars::new();
            hb.set_strict_mode(true);
            hb.register_escape_fn(escape_markdown);
            hb.register_helper("show", Box::new(show_value));
            hb.register_template_string("diff", MARKDOWN_TEMPLATE)
                .map_err(|e| format!("templates/diff.md.hbs: {e}"))?;
            Ok(hb)
        })
        .as_ref()
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// Keeps values from breaking a markdown table: pipes are escaped and newlines become spaces.
/// Nothing else is touched, so names and ARNs print as they are.
fn escape_markdown(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::architecture::StackId;
    use crate::aws::DeployedStack;
    use crate::live::LiveStack;
    use crate::render::RenderedStack;

    /// A one-stack env whose deployed stack has `status` and the same template as the render.
    fn live_with_status(status: &str, reason: Option<&str>) -> LiveEnv {
        let template = json!({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}});
        let name = "ce-beta-monitoring".to_owned();
        let stack = LiveStack {
            id: StackId::Monitoring,
            name: name.clone(),
            rendered: RenderedStack {
                env: "beta".into(),
                id: StackId::Monitoring,
                stack_name: name.clone(),
                text: template.to_string(),
                compact_size: template.to_string().len(),
            },
            rendered_json: template.clone(),
            deployed: Some(DeployedStack {
                name,
                stack_id: "arn:aws:cloudformation:us-east-1:1:stack/ce-beta-monitoring/1".into(),
                status: status.into(),
                status_reason: reason.map(str::to_owned),
                created: None,
                last_updated: None,
                parameters: BTreeMap::new(),
                outputs: BTreeMap::new(),
                tags: BTreeMap::new(),
                termination_protection: false,
                drift: None,
                drift_checked: None,
                template,
            }),
        };
        LiveEnv::new("beta".into(), vec![stack], BTreeMap::new()).expect("diffs")
    }

    fn text_of(live: &LiveEnv) -> String {
        let mut out = Vec::new();
        write_text(&mut out, live, false).expect("writes");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn a_stack_whose_rollback_failed_is_reported_with_its_status_and_what_to_do() {
        let live = live_with_status("UPDATE_ROLLBACK_FAILED", Some("Lb failed to update"));

        let text = text_of(&live);
        assert!(
            text.starts_with("ce-beta-monitoring: no changes\n  ! UPDATE_ROLLBACK_FAILED: an update failed and its rollback failed too (CloudFormation: Lb failed to update)"),
            "{text}"
        );
        assert!(text.contains("continue-update-rollback"), "{text}");
        let doc = json_form(&live);
        assert_eq!(doc["stacks"][0]["stack_status"], "UPDATE_ROLLBACK_FAILED");
        assert!(doc["stacks"][0]["status_note"].is_string());
        let md = markdown(&doc).expect("renders");
        assert!(
            md.contains("> `ce-beta-monitoring` is UPDATE_ROLLBACK_FAILED: an update failed"),
            "{md}"
        );
    }

    #[test]
    fn a_stack_whose_last_drift_detection_found_drift_is_mentioned_in_every_format() {
        let mut live = live_with_status("UPDATE_COMPLETE", None);
        if let Some(deployed) = live.stacks[0].deployed.as_mut() {
            deployed.drift = Some(crate::drift::StackDriftStatus::Drifted);
            deployed.drift_checked = Some("2026-11-29T22:00:07Z".into());
        }

        let text = text_of(&live);
        assert_eq!(
            text,
            "ce-beta-monitoring: no changes\n  ! drifted: its last drift detection \
             (2026-11-29T22:00:07Z) found resources changed outside CloudFormation, which this \
             diff does not see; `ce drift` shows them\n"
        );
        let doc = json_form(&live);
        assert_eq!(doc["stacks"][0]["drift"], "drifted");
        let md = markdown(&doc).expect("renders");
        assert!(
            md.contains("> `ce-beta-monitoring` has drifted: its last drift detection"),
            "{md}"
        );
    }

    #[test]
    fn an_in_sync_stack_has_no_drift_note() {
        let mut live = live_with_status("UPDATE_COMPLETE", None);
        if let Some(deployed) = live.stacks[0].deployed.as_mut() {
            deployed.drift = Some(crate::drift::StackDriftStatus::InSync);
        }
        assert_eq!(text_of(&live), "ce-beta-monitoring: no changes\n");
        assert_eq!(json_form(&live)["stacks"][0]["drift_note"], Value::Null);
    }

    #[test]
    fn a_creation_that_rolled_back_diffs_as_a_new_stack() {
        let live = live_with_status("ROLLBACK_COMPLETE", None);

        assert_eq!(live.diff.class(), crate::diff::DiffClass::Changes);
        let text = text_of(&live);
        assert!(
            text.starts_with("ce-beta-monitoring (new stack): 1 to add"),
            "{text}"
        );
        assert!(
            text.contains("must be deleted before it can be created again"),
            "{text}"
        );
    }

    #[test]
    fn the_markdown_report_of_an_unchanged_env_says_so_in_strict_mode() {
        let live = live_with_status("UPDATE_COMPLETE", None);

        let md = markdown(&json_form(&live)).expect("renders");

        assert!(md.starts_with("### ce diff `beta`: no changes\n"), "{md}");
        assert!(
            md.contains("| `ce-beta-monitoring` | UPDATE_COMPLETE | 0 | 0 | 0 | 0 |"),
            "{md}"
        );
        assert!(!md.contains("<details"), "{md}");
    }

    #[test]
    fn markdown_escaping_keeps_tables_intact_and_names_as_they_are() {
        assert_eq!(escape_markdown("a|b\nc"), "a\\|b c");
        assert_eq!(
            escape_markdown("compiler_explorer=<x>"),
            "compiler_explorer=<x>"
        );
    }
}
