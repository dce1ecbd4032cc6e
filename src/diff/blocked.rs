//! A way forward for an export change CloudFormation refuses because another stack imports
//! the export: the steps, in an order CloudFormation accepts, with the stacks named.
//!
//! `ce` does not carry these steps out by itself. Doing so would mean deploying importing
//! stacks with their imports pinned to literal values (or passing every cross-stack value as a
//! parameter instead of an export), which removes CloudFormation's own guard against deleting
//! or changing something another stack still uses — the guard that makes such a change stop
//! before it breaks anything. A change that moves a subnet or replaces a VPC is rare and
//! deserves a person reading each step; the diff shows what each importing stack would do.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::model::{EnvDiff, ExportChange};

/// A blocked export change and the steps that carry it out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockedExport {
    /// The export's name.
    pub export: String,
    /// The stack that exports it.
    pub exporter: String,
    /// Removed or changing value.
    pub change: ExportChange,
    /// The stacks importing it, sorted.
    pub importers: Vec<String>,
    /// Resources of the importing stacks whose change waits for it, as `stack/LogicalId`.
    pub waiting: Vec<String>,
    /// What to do, in order.
    pub steps: Vec<String>,
}

impl EnvDiff {
    /// Every blocked export change with its way forward; `importers` names the stacks that
    /// import each export (as far as the caller found out), to which the stacks of this diff
    /// whose resources wait for the export are added.
    pub fn blocked_exports_ways(
        &self,
        importers: &BTreeMap<String, Vec<String>>,
    ) -> Vec<BlockedExport> {
        let mut ways = Vec::new();
        for stack in &self.stacks {
            for export in stack.blockers() {
                let waiting: Vec<(String, String)> = self
                    .stacks
                    .iter()
                    .flat_map(|s| {
                        s.resources
                            .iter()
                            .filter(|r| r.blocked_by.contains(&export.name))
                            .map(|r| (s.stack_name.clone(), r.logical_id.clone()))
                    })
                    .collect();
                let importing: BTreeSet<String> = importers
                    .get(&export.name)
                    .into_iter()
                    .flatten()
                    .cloned()
                    .chain(waiting.iter().map(|(s, _)| s.clone()))
                    .collect();
                let importers: Vec<String> = importing.into_iter().collect();
                ways.push(BlockedExport {
                    steps: steps(&export.name, &stack.stack_name, export.change, &importers),
                    export: export.name.clone(),
                    exporter: stack.stack_name.clone(),
                    change: export.change,
                    importers,
                    waiting: waiting
                        .into_iter()
                        .map(|(s, r)| format!("{s}/{r}"))
                        .collect(),
                });
            }
        }
        ways
    }
}

fn steps(export: &str, exporter: &str, change: ExportChange, importers: &[String]) -> Vec<String> {
    let list = if importers.is_empty() {
        "the importing stacks".to_owned()
    } else {
        importers.join(", ")
    };
    let stop = format!(
        "Stop importing {export} in {list}: replace its Fn::ImportValue with the value it has \
         now (or remove the resources that use it — a resource {exporter} replaces, such as a \
         subnet, cannot be deleted while an importer's resource still sits in it), and deploy \
         them; CloudFormation changes an export only when nothing imports it."
    );
    match change {
        ExportChange::Removed => vec![stop, format!("Deploy {exporter}: {export} disappears.")],
        _ => vec![
            stop,
            format!("Deploy {exporter}: {export} takes its new value."),
            format!(
                "Deploy {list} as rendered again: they import the new value; what that does \
                 is listed under them, marked blocked."
            ),
        ],
    }
}
