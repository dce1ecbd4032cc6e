//! The drift report as text and markdown, in the diff's own style: `~` for a modified resource,
//! `-` for a deleted one, `expected → actual` per property. The JSON form is the report's serde
//! form.

use std::io::{self, Write};

use super::{DifferenceType, DriftReport, PropertyDrift, ResourceDriftStatus, StackDriftStatus};
use crate::diff::format::show;

fn stack_verdict(status: Option<StackDriftStatus>, count: usize) -> String {
    match status {
        None => "not deployed".to_owned(),
        Some(StackDriftStatus::InSync) => "in sync".to_owned(),
        Some(StackDriftStatus::Drifted) => format!(
            "drifted, {count} resource{}",
            if count == 1 { "" } else { "s" }
        ),
        Some(StackDriftStatus::NotChecked) => "not checked".to_owned(),
        Some(StackDriftStatus::Unknown) => "unknown".to_owned(),
    }
}

fn property_text(p: &PropertyDrift) -> String {
    let value = |v: &Option<serde_json::Value>| v.as_ref().map(show).unwrap_or_default();
    match p.difference {
        DifferenceType::NotEqual => format!(
            "~ {}: {} → {}",
            p.path,
            value(&p.expected),
            value(&p.actual)
        ),
        DifferenceType::Add => format!("+ {}: {}", p.path, value(&p.actual)),
        DifferenceType::Remove => format!("- {}: {}", p.path, value(&p.expected)),
    }
}

/// Writes the report as text, one block per stack.
pub fn write_text(out: &mut dyn Write, report: &DriftReport) -> io::Result<()> {
    for stack in &report.stacks {
        writeln!(
            out,
            "{}: {}",
            stack.stack_name,
            stack_verdict(stack.status, stack.resources.len())
        )?;
        if let Some(note) = &stack.note {
            writeln!(out, "  ! {note}")?;
        }
        for r in &stack.resources {
            let (marker, what) = match r.status {
                ResourceDriftStatus::Modified => ("~", "modified"),
                ResourceDriftStatus::Deleted => ("-", "deleted outside CloudFormation"),
            };
            let physical = r
                .physical_id
                .as_deref()
                .map(|p| format!(" [{p}]"))
                .unwrap_or_default();
            writeln!(
                out,
                "  {marker} {} ({}) {what}{physical}",
                r.logical_id, r.resource_type
            )?;
            for p in &r.properties {
                writeln!(out, "      {}", property_text(p))?;
            }
        }
    }
    if report.drifted {
        writeln!(
            out,
            "Drift is undone by the next deploy of the stack only where the template sets the \
             property; bring the template in line instead where the change should stay."
        )?;
    }
    Ok(())
}

/// Escapes what would break a markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// Writes the report as a markdown section for a pull-request or issue comment.
pub fn write_markdown(out: &mut dyn Write, report: &DriftReport) -> io::Result<()> {
    let verdict = if report.drifted { "drifted" } else { "in sync" };
    writeln!(out, "### ce drift `{}`: {verdict}\n", report.env)?;
    writeln!(out, "| stack | drift | resources |\n|---|---|---:|")?;
    for stack in &report.stacks {
        writeln!(
            out,
            "| `{}` | {} | {} |",
            stack.stack_name,
            stack_verdict(stack.status, stack.resources.len()),
            stack.resources.len()
        )?;
    }
    for stack in report.stacks.iter().filter(|s| !s.resources.is_empty()) {
        writeln!(
            out,
            "\n**`{}`**\n\n| | resource | type | drift | properties |\n|---|---|---|---|---|",
            stack.stack_name
        )?;
        for r in &stack.resources {
            let (marker, what) = match r.status {
                ResourceDriftStatus::Modified => ("~", "modified"),
                ResourceDriftStatus::Deleted => ("-", "deleted"),
            };
            let properties: Vec<String> = r
                .properties
                .iter()
                .map(|p| format!("`{}`", cell(&property_text(p))))
                .collect();
            writeln!(
                out,
                "| {marker} | `{}` | `{}` | {what} | {} |",
                r.logical_id,
                r.resource_type,
                properties.join("<br>")
            )?;
        }
    }
    Ok(())
}
