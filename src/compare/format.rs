//! `ce compare`'s report: the comparison as JSON (with its verdict and exit code), text for a
//! terminal, and markdown for a pull request or a wiki.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::Value;

use super::{Comparison, Outcome, Presence, ResourceDifference};
use crate::diff::format::show;
use crate::printer::{Report, Styles};

/// What `ce compare` prints ([`Comparison::report`]): the comparison's fields, then `outcome`
/// and the `exit_code` it gives; the printer puts `format_version` first.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ComparisonReport<'a> {
    /// The comparison.
    #[serde(flatten)]
    pub comparison: &'a Comparison,
    /// Equal, different, or different where it must not be.
    pub outcome: Outcome,
    /// The exit code the outcome gives.
    pub exit_code: u8,
}

impl Report for ComparisonReport<'_> {
    fn write_text(&self, out: &mut dyn Write, _styles: Styles) -> io::Result<()> {
        write_text(out, self.comparison)
    }

    fn write_markdown(&self, out: &mut dyn Write) -> io::Result<()> {
        write_markdown(out, self.comparison)
    }
}

/// A value as one line; `(unset)` when absent.
fn value(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "(unset)".to_owned(),
        Some(v) => show(v),
    }
}

/// The one-line verdict.
fn headline(c: &Comparison) -> String {
    let count = c.resource_count();
    let differs = match count {
        0 => "equal after normalisation".to_owned(),
        1 => "1 resource differs".to_owned(),
        n => format!("{n} resources differ"),
    };
    let broken = c.must_match.iter().filter(|m| !m.matches).count();
    if broken > 0 {
        format!(
            "{differs}; {broken} setting{} that must match do{} not",
            if broken == 1 { "" } else { "s" },
            if broken == 1 { "es" } else { "" }
        )
    } else {
        differs
    }
}

fn presence_note(c: &Comparison, r: &ResourceDifference) -> Option<String> {
    match r.presence {
        Presence::OnlyA => Some(format!("only in {}", c.env_a)),
        Presence::OnlyB => Some(format!("only in {}", c.env_b)),
        Presence::Both => None,
    }
}

/// Text: the verdict, then each group with its resources and values (`A → B`), then the
/// `must_match` settings.
pub fn write_text(out: &mut dyn Write, c: &Comparison) -> io::Result<()> {
    writeln!(out, "compare {} → {}: {}", c.env_a, c.env_b, headline(c))?;
    for group in &c.groups {
        writeln!(out)?;
        writeln!(
            out,
            "{} ({} resource{})",
            group.category.label(),
            group.resources.len(),
            if group.resources.len() == 1 { "" } else { "s" }
        )?;
        for r in &group.resources {
            match presence_note(c, r) {
                Some(note) => writeln!(
                    out,
                    "  {}/{} ({}): {note}",
                    r.stack, r.logical_id, r.resource_type
                )?,
                None => {
                    writeln!(out, "  {}/{} ({})", r.stack, r.logical_id, r.resource_type)?;
                    for v in &r.values {
                        writeln!(
                            out,
                            "      {}: {} → {}",
                            v.path,
                            value(v.a.as_ref()),
                            value(v.b.as_ref())
                        )?;
                    }
                }
            }
        }
    }
    if !c.must_match.is_empty() {
        writeln!(out)?;
        writeln!(out, "must match (env files' must_match):")?;
        for m in &c.must_match {
            if m.matches {
                writeln!(out, "  ok       {}: {}", m.setting, value(Some(&m.a)))?;
            } else {
                writeln!(
                    out,
                    "  DIFFERS  {}: {} ({}) ≠ {} ({}), listed by {}",
                    m.setting,
                    value(Some(&m.a)),
                    c.env_a,
                    value(Some(&m.b)),
                    c.env_b,
                    m.listed_by.join(", ")
                )?;
            }
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "normalised away: each env's name, bucket names, certificates and account id"
    )?;
    Ok(())
}

/// Keeps a value from breaking a markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// Markdown: a heading with the verdict, a warning for settings that must match, a table of
/// groups, then a table per group.
pub fn write_markdown(out: &mut dyn Write, c: &Comparison) -> io::Result<()> {
    writeln!(
        out,
        "### ce compare `{}` → `{}`: {}",
        c.env_a,
        c.env_b,
        headline(c)
    )?;
    let broken: Vec<_> = c.must_match.iter().filter(|m| !m.matches).collect();
    if !broken.is_empty() {
        writeln!(out)?;
        writeln!(out, "> [!CAUTION]")?;
        writeln!(out, "> Settings listed in `must_match` differ:")?;
        for m in broken {
            writeln!(
                out,
                "> - `{}`: `{}` in {}, `{}` in {}",
                m.setting,
                cell(&value(Some(&m.a))),
                c.env_a,
                cell(&value(Some(&m.b))),
                c.env_b
            )?;
        }
    }
    if !c.groups.is_empty() {
        writeln!(out)?;
        writeln!(out, "| group | resources |")?;
        writeln!(out, "|---|---:|")?;
        for g in &c.groups {
            writeln!(out, "| {} | {} |", g.category.label(), g.resources.len())?;
        }
    }
    for g in &c.groups {
        writeln!(out)?;
        writeln!(out, "#### {}", g.category.label())?;
        writeln!(out)?;
        writeln!(
            out,
            "| resource | setting | `{}` | `{}` |",
            c.env_a, c.env_b
        )?;
        writeln!(out, "|---|---|---|---|")?;
        for r in &g.resources {
            let name = format!("`{}/{}` ({})", r.stack, r.logical_id, r.resource_type);
            match r.presence {
                Presence::OnlyA => {
                    writeln!(out, "| {name} | (whole resource) | present | absent |")?
                }
                Presence::OnlyB => {
                    writeln!(out, "| {name} | (whole resource) | absent | present |")?
                }
                Presence::Both => {
                    for v in &r.values {
                        writeln!(
                            out,
                            "| {name} | `{}` | {} | {} |",
                            cell(&v.path),
                            cell(&value(v.a.as_ref())),
                            cell(&value(v.b.as_ref()))
                        )?;
                    }
                }
            }
        }
    }
    if !c.must_match.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "Settings that must match: {}",
            c.must_match
                .iter()
                .map(|m| format!("`{}` {}", m.setting, if m.matches { "✓" } else { "✗" }))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "<sub>Normalised away: each env's name, bucket names, certificates and account id.</sub>"
    )?;
    Ok(())
}
