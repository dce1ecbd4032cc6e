//! The text form: per stack, resources with `+`, `-`, `~`, `±` markers and `old → new`
//! values, then parameters, outputs, exports, data at risk and security changes.

use std::io::{self, Write};

use super::{Styles, cut, show};
use crate::diff::blocked::BlockedExport;
use crate::diff::model::{
    Action, Basis, Change, DataOutcome, EnvDiff, ExportChange, Impact, StackDiff, Summary,
};
use crate::diff::security::{Direction, IamStatement, SgRule};

/// Writes every stack's diff as text, then what needs approval.
pub fn write_text(out: &mut dyn Write, diff: &EnvDiff, colour: bool) -> io::Result<()> {
    for stack in &diff.stacks {
        write_stack_text(out, stack, colour)?;
    }
    let reasons = diff.approval_reasons();
    if !reasons.is_empty() {
        let p = Styles::new(colour);
        writeln!(out, "{}", p.alarm("Needs approval:"))?;
        for reason in reasons {
            writeln!(out, "  {reason}")?;
        }
    }
    write_ways_forward(out, &diff.blocked_exports_ways(&Default::default()))
}

/// Writes how to carry out each blocked export change, step by step.
pub fn write_ways_forward(out: &mut dyn Write, ways: &[BlockedExport]) -> io::Result<()> {
    for way in ways {
        writeln!(
            out,
            "Blocked: {} of {} (imported by {})",
            way.export,
            way.exporter,
            if way.importers.is_empty() {
                "another stack".to_owned()
            } else {
                way.importers.join(", ")
            }
        )?;
        for (i, step) in way.steps.iter().enumerate() {
            writeln!(out, "  {}. {step}", i + 1)?;
        }
    }
    Ok(())
}

/// Writes one stack's diff as text: resources with +, -, ~, ± markers and `old → new`.
pub fn write_stack_text(out: &mut dyn Write, stack: &StackDiff, colour: bool) -> io::Result<()> {
    let p = Styles::new(colour);
    let name = p.bold(&stack.stack_name);
    if !stack.has_changes() {
        return writeln!(out, "{name}: no changes");
    }
    let new = if stack.exists { "" } else { " (new stack)" };
    writeln!(out, "{name}{new}: {}", summary_text(stack.summary()))?;
    for r in &stack.resources {
        let marker = match r.action {
            Action::Add => p.green("+"),
            Action::Remove => p.red("-"),
            Action::Modify => p.yellow("~"),
            Action::Replace => p.magenta("±"),
        };
        let basis = match (r.basis, r.predicted_impact) {
            (Basis::Predicted, _) => "predicted".to_owned(),
            (Basis::ConfirmedByChangeSet, None) => "confirmed by change set".to_owned(),
            (Basis::ConfirmedByChangeSet, Some(was)) => {
                format!("by change set; predicted {}", was.label())
            }
        };
        let blocked = if r.blocked_by.is_empty() {
            String::new()
        } else {
            format!(" {}", p.alarm("BLOCKED"))
        };
        writeln!(
            out,
            "  {marker} {} ({}) {}{blocked} {}",
            r.logical_id,
            r.resource_type,
            r.impact.label(),
            p.dim(&format!("[{basis}]"))
        )?;
        for c in &r.changes {
            writeln!(out, "      {}", change_text(c, p))?;
        }
        for cause in &r.causes {
            writeln!(out, "      {}", p.dim(&format!("because {cause}")))?;
        }
        for consequence in &r.consequences {
            writeln!(out, "      {} {}", p.magenta("=>"), consequence.describe())?;
        }
        for export in &r.blocked_by {
            writeln!(
                out,
                "      {}",
                p.alarm(&format!(
                    "blocked: happens only once {export} can change, which CloudFormation \
                     refuses while this stack imports it"
                ))
            )?;
        }
    }
    named_section(
        out,
        "Parameters",
        stack
            .parameters
            .iter()
            .map(|d| (d.action, &d.name, &d.changes, &[][..])),
        p,
    )?;
    named_section(
        out,
        "Outputs",
        stack
            .outputs
            .iter()
            .map(|d| (d.action, &d.name, &d.changes, &d.causes[..])),
        p,
    )?;
    if !stack.exports.is_empty() {
        writeln!(out, "  Exports")?;
        for e in &stack.exports {
            let marker = match e.change {
                ExportChange::Added => p.green("+"),
                ExportChange::Removed => p.red("-"),
                ExportChange::ValueChanged => p.yellow("~"),
            };
            let note = if e.blocker {
                format!("  {}", p.alarm("BLOCKER: imported by another stack"))
            } else if e.imported {
                "  (imported by another stack)".to_owned()
            } else {
                String::new()
            };
            writeln!(out, "    {marker} {}{note}", e.name)?;
            for cause in &e.causes {
                writeln!(out, "        {}", p.dim(&format!("because {cause}")))?;
            }
        }
    }
    if !stack.template.is_empty() {
        writeln!(out, "  Template")?;
        for c in &stack.template {
            writeln!(out, "    {}", change_text(c, p))?;
        }
    }
    if !stack.data_loss.is_empty() {
        writeln!(out, "  Data at risk")?;
        for d in &stack.data_loss {
            let outcome = match d.outcome {
                DataOutcome::Deleted => p.alarm(d.outcome.label()),
                _ => d.outcome.label().to_owned(),
            };
            let which = if d.impact >= Impact::Orphan {
                "DeletionPolicy"
            } else {
                "UpdateReplacePolicy"
            };
            writeln!(
                out,
                "    {} ({}) {}: data {outcome} ({which} {:?})",
                d.logical_id,
                d.resource_type,
                d.impact.label(),
                d.policy
            )?;
        }
    }
    write_security(out, stack, p)
}

type Named<'a> = (Action, &'a String, &'a Vec<Change>, &'a [String]);

fn named_section<'a>(
    out: &mut dyn Write,
    title: &str,
    items: impl Iterator<Item = Named<'a>>,
    p: Styles,
) -> io::Result<()> {
    let mut items = items.peekable();
    if items.peek().is_none() {
        return Ok(());
    }
    writeln!(out, "  {title}")?;
    for (action, name, changes, causes) in items {
        let marker = match action {
            Action::Add => p.green("+"),
            Action::Remove => p.red("-"),
            Action::Modify | Action::Replace => p.yellow("~"),
        };
        writeln!(out, "    {marker} {name}")?;
        for c in changes {
            writeln!(out, "        {}", change_text(c, p))?;
        }
        for cause in causes {
            writeln!(out, "        {}", p.dim(&format!("because {cause}")))?;
        }
    }
    Ok(())
}

fn write_security(out: &mut dyn Write, stack: &StackDiff, p: Styles) -> io::Result<()> {
    let s = &stack.security;
    for note in &s.notes {
        writeln!(out, "  {} {note}", p.alarm("Note:"))?;
    }
    if s.is_empty() {
        return Ok(());
    }
    let verdict = if s.broadened {
        p.alarm("permissions broadened")
    } else {
        "no broadening".to_owned()
    };
    writeln!(out, "  Security: {verdict}")?;
    for (marker, st) in s
        .statements_added
        .iter()
        .map(|st| (p.green("+"), st))
        .chain(s.statements_removed.iter().map(|st| (p.red("-"), st)))
    {
        writeln!(out, "    {marker} IAM {}", statement_text(st))?;
    }
    for (marker, m) in s
        .managed_policies_added
        .iter()
        .map(|m| (p.green("+"), m))
        .chain(s.managed_policies_removed.iter().map(|m| (p.red("-"), m)))
    {
        writeln!(
            out,
            "    {marker} IAM managed policy {} on {}",
            m.arn, m.role
        )?;
    }
    for (marker, r) in s
        .rules_added
        .iter()
        .map(|r| (p.green("+"), r))
        .chain(s.rules_removed.iter().map(|r| (p.red("-"), r)))
    {
        let world = if r.open_to_world {
            format!(" {}", p.alarm("[open to the world]"))
        } else {
            String::new()
        };
        writeln!(out, "    {marker} SG {}{world}", rule_text(r))?;
    }
    Ok(())
}

fn statement_text(st: &IamStatement) -> String {
    let mut text = st.effect.clone();
    let list = |v: &[String]| v.join(", ");
    if !st.principals.is_empty() {
        text.push_str(&format!(" {}", list(&st.principals)));
    }
    if !st.actions.is_empty() {
        text.push_str(&format!(" {}", list(&st.actions)));
    }
    if !st.not_actions.is_empty() {
        text.push_str(&format!(" all but {}", list(&st.not_actions)));
    }
    if !st.resources.is_empty() {
        text.push_str(&format!(" on {}", list(&st.resources)));
    }
    if !st.not_resources.is_empty() {
        text.push_str(&format!(" on all but {}", list(&st.not_resources)));
    }
    if let Some(c) = &st.condition {
        text.push_str(&format!(" when {}", cut(c)));
    }
    text.push_str(&format!(" ({} {})", st.resource, st.source));
    if st.wildcard {
        text.push_str(" [wildcard]");
    }
    text
}

fn rule_text(r: &SgRule) -> String {
    let (dir, way) = match r.direction {
        Direction::Ingress => ("ingress", "from"),
        Direction::Egress => ("egress", "to"),
    };
    format!(
        "{} {dir} {} {} {way} {}",
        r.group, r.protocol, r.ports, r.peer
    )
}

fn summary_text(s: Summary) -> String {
    format!(
        "{} to add, {} to modify, {} to replace, {} to remove",
        s.add, s.modify, s.replace, s.remove
    )
}

fn change_text(c: &Change, p: Styles) -> String {
    let note = match c.impact {
        Impact::Replace => format!(" {}", p.magenta("(replaces)")),
        Impact::MayReplace => format!(" {}", p.magenta("(may replace)")),
        _ => String::new(),
    };
    let body = match (&c.old, &c.new) {
        (Some(old), Some(new)) => format!(
            "{} {}: {} → {}",
            p.yellow("~"),
            c.path,
            show(old),
            show(new)
        ),
        (None, Some(new)) => format!("{} {}: {}", p.green("+"), c.path, show(new)),
        (Some(old), None) => format!("{} {}: {}", p.red("-"), c.path, show(old)),
        (None, None) => format!("{} {}", p.yellow("~"), c.path),
    };
    body + &note
}
