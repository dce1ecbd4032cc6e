//! `ce diff [--stack S] [--unified]`: the deployed stacks against freshly rendered templates,
//! as text, JSON, a markdown report, or a unified diff of the template JSON.
//!
//! The exit code is the diff's class (0 no changes, 2 changes, 3 needs approval), so CI can
//! gate on it without parsing anything.

use std::io::{self, Write};
use std::sync::OnceLock;

use anyhow::{Result, bail};
use handlebars::{Handlebars, handlebars_helper};
use serde::Serialize;

use super::{Context, Purpose, Report};
use crate::Status;
use crate::architecture::StackId;
use crate::deploy::deployed::{self, DeployedEnv};
use crate::diff::blocked::BlockedExport;
use crate::diff::format::{self, JsonStack, show};
use crate::diff::{DiffClass, EnvDiff};
use crate::drift::StackDriftStatus;
use crate::graph::change::ChangeDiagram;
use crate::graph::{ResourceGraph, StackTemplate};
use crate::printer::{FORMAT_VERSION, Styles};

/// The markdown report, rendered from the diff's JSON form.
const MARKDOWN_TEMPLATE: &str = include_str!("../../templates/diff.md.hbs");

/// `ce diff`.
pub fn run_diff(ctx: &Context, only: Option<StackId>, unified: bool) -> Result<Status> {
    if unified && !ctx.printer.writes_text() {
        bail!("--unified prints a text diff; leave out --format or use --format text");
    }
    let remote = ctx.remote(ctx.env()?, Purpose::Render)?;
    let env = &remote.env;
    let count = if only.is_some() { 1 } else { 5 };
    ctx.printer.note(format_args!(
        "diff {}: reading {count} stack{} from {}",
        env.name,
        if count == 1 { "" } else { "s" },
        remote.describe_target()
    ))?;
    let begun = std::time::Instant::now();
    let live =
        remote.block_on(async { deployed::diff_env(remote.aws().await, env, only).await })?;
    ctx.printer.detail(format_args!(
        "diff {}: compared in {:.0} ms",
        env.name,
        begun.elapsed().as_secs_f64() * 1000.0
    ))?;
    ctx.printer.report(&DiffReport::new(&live, unified))?;
    Ok(live.diff.class().status())
}

/// The diff of the deployed env: the diff core's JSON form, with each stack's deployed status,
/// what that status means, and (in each export) the stacks that import it.
#[derive(Serialize)]
pub struct DiffReport<'a> {
    env: &'a str,
    class: DiffClass,
    exit_code: u8,
    approval_reasons: Vec<String>,
    /// How to carry out each export change that an importing stack blocks.
    blocked_exports: Vec<BlockedExport>,
    /// One entry per stack, in deploy order.
    pub stacks: Vec<DeployedStackEntry<'a>>,
    #[serde(skip)]
    deployed: &'a DeployedEnv,
    #[serde(skip)]
    unified: bool,
}

/// One stack's entry: the diff core's, and the deployed stack's status.
#[derive(Clone, Serialize)]
pub struct DeployedStackEntry<'a> {
    /// The diff core's entry.
    #[serde(flatten)]
    pub diff: JsonStack<'a>,
    stack_status: Option<&'a str>,
    status_note: Option<String>,
    /// What the stack's last drift detection found; `None` when never checked.
    drift: Option<StackDriftStatus>,
    /// A sentence for a stack whose last detection found drift.
    drift_note: Option<String>,
}

impl<'a> DiffReport<'a> {
    /// The report of `deployed`; `unified` asks for the template diff as its text form.
    pub fn new(deployed: &'a DeployedEnv, unified: bool) -> Self {
        let diff = &deployed.diff;
        DiffReport {
            env: &diff.env,
            class: diff.class(),
            exit_code: diff.class().exit_code(),
            approval_reasons: diff.approval_reasons(),
            blocked_exports: diff.blocked_exports_ways(&deployed.importers),
            stacks: deployed
                .stacks
                .iter()
                .zip(&diff.stacks)
                .map(|(stack, diff)| DeployedStackEntry {
                    diff: JsonStack::new(diff),
                    stack_status: stack.status(),
                    status_note: stack.status_note(),
                    drift: stack.deployed.as_ref().and_then(|d| d.drift),
                    drift_note: stack.drift_note(),
                })
                .collect(),
            deployed,
            unified,
        }
    }
}

impl Report for DiffReport<'_> {
    fn write_text(&self, out: &mut dyn Write, styles: Styles) -> io::Result<()> {
        if self.unified {
            write_unified(out, self.deployed, styles)
        } else {
            write_text(out, self.deployed, styles)
        }
    }

    /// The report, with the diagram of the changes drawn in it.
    fn write_markdown(&self, out: &mut dyn Write) -> io::Result<()> {
        #[derive(Serialize)]
        struct Drawn<'a, 'b> {
            #[serde(flatten)]
            report: &'a DiffReport<'b>,
            diagram: Option<String>,
        }
        let diagram =
            change_diagram(self.deployed, &self.deployed.diff).map_err(io::Error::other)?;
        let drawn = Drawn {
            report: self,
            diagram: (!diagram.is_empty()).then(|| diagram.to_mermaid()),
        };
        out.write_all(markdown(&drawn).map_err(io::Error::other)?.as_bytes())
    }
}

/// The diagram of `diff`'s changes over the graph of the env's rendered stacks.
pub fn change_diagram(live: &DeployedEnv, diff: &EnvDiff) -> Result<ChangeDiagram> {
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

/// Each stack's analysis, with a line for a stack whose status needs attention, then what
/// needs approval.
fn write_text(out: &mut dyn Write, live: &DeployedEnv, styles: Styles) -> io::Result<()> {
    for (stack, diff) in live.stacks.iter().zip(&live.diff.stacks) {
        format::write_stack_text(out, diff, styles.colour())?;
        if let (Some(status), Some(note)) = (stack.status(), stack.status_note()) {
            writeln!(out, "  {} {note}", styles.alarm(&format!("! {status}:")))?;
        }
        if let Some(note) = stack.drift_note() {
            writeln!(out, "  {} {note}", styles.alarm("! drifted:"))?;
        }
    }
    let reasons = live.diff.approval_reasons();
    if !reasons.is_empty() {
        writeln!(out, "{}", styles.alarm("Needs approval:"))?;
        for reason in reasons {
            writeln!(out, "  {reason}")?;
        }
    }
    format::write_ways_forward(out, &live.diff.blocked_exports_ways(&live.importers))
}

/// The unified diff of each changed stack's template JSON; nothing when nothing changes.
fn write_unified(out: &mut dyn Write, live: &DeployedEnv, styles: Styles) -> io::Result<()> {
    for (stack, diff) in live.stacks.iter().zip(&live.diff.stacks) {
        if diff.has_changes() {
            format::write_unified(
                out,
                &stack.name,
                stack.baseline(),
                &stack.rendered_json,
                styles.colour(),
            )?;
        }
    }
    Ok(())
}

/// The markdown report of a diff's JSON form (a [`DiffReport`], or a plan's diffs).
pub fn markdown(doc: &impl Serialize) -> Result<String> {
    #[derive(Serialize)]
    struct Versioned<'a, T> {
        format_version: u32,
        #[serde(flatten)]
        doc: &'a T,
    }
    let versioned = Versioned {
        format_version: FORMAT_VERSION,
        doc,
    };
    Ok(registry()?.render("diff", &versioned)?)
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

    use serde_json::json;

    use super::*;
    use crate::architecture::StackId;
    use crate::aws::DeployedStack;
    use crate::deploy::deployed::StackPair;
    use crate::render::RenderedStack;

    /// A one-stack env whose deployed stack has `status` and the same template as the render.
    fn live_with_status(status: &str, reason: Option<&str>) -> DeployedEnv {
        let template = json!({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}});
        let name = "ce-beta-monitoring".to_owned();
        let stack = StackPair {
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
        DeployedEnv::new("beta".into(), vec![stack], BTreeMap::new()).expect("diffs")
    }

    fn text_of(live: &DeployedEnv) -> String {
        let mut out = Vec::new();
        write_text(&mut out, live, Styles::plain()).expect("writes");
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
        let doc = serde_json::to_value(DiffReport::new(&live, false)).expect("serialises");
        assert_eq!(doc["stacks"][0]["stack_status"], "UPDATE_ROLLBACK_FAILED");
        assert!(doc["stacks"][0]["status_note"].is_string());
        let md = markdown(&DiffReport::new(&live, false)).expect("renders");
        assert!(
            md.contains("> `ce-beta-monitoring` is UPDATE_ROLLBACK_FAILED: an update failed"),
            "{md}"
        );
    }

    #[test]
    fn a_stack_whose_last_drift_detection_found_drift_is_mentioned_in_every_format() {
        let mut live = live_with_status("UPDATE_COMPLETE", None);
        if let Some(deployed) = live.stacks[0].deployed.as_mut() {
            deployed.drift = Some(StackDriftStatus::Drifted);
            deployed.drift_checked = Some("2026-11-29T22:00:07Z".into());
        }

        let text = text_of(&live);
        assert_eq!(
            text,
            "ce-beta-monitoring: no changes\n  ! drifted: its last drift detection \
             (2026-11-29T22:00:07Z) found resources changed outside CloudFormation, which this \
             diff does not see; `ce drift` shows them\n"
        );
        let doc = serde_json::to_value(DiffReport::new(&live, false)).expect("serialises");
        assert_eq!(doc["stacks"][0]["drift"], "drifted");
        let md = markdown(&DiffReport::new(&live, false)).expect("renders");
        assert!(
            md.contains("> `ce-beta-monitoring` has drifted: its last drift detection"),
            "{md}"
        );
    }

    #[test]
    fn an_in_sync_stack_has_no_drift_note() {
        let mut live = live_with_status("UPDATE_COMPLETE", None);
        if let Some(deployed) = live.stacks[0].deployed.as_mut() {
            deployed.drift = Some(StackDriftStatus::InSync);
        }
        assert_eq!(text_of(&live), "ce-beta-monitoring: no changes\n");
        let doc = serde_json::to_value(DiffReport::new(&live, false)).expect("serialises");
        assert_eq!(doc["stacks"][0]["drift_note"], serde_json::Value::Null);
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

        let md = markdown(&DiffReport::new(&live, false)).expect("renders");

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
