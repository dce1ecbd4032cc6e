//! The diagram of a change, for the markdown diff (the pull-request comment): the resources
//! that change, coloured by impact, and the resources their changes reach — the ones that read
//! a changed resource directly. Unchanged readers collapse into one node per stack, so a
//! change to the VPC shows as a handful of boxes rather than the whole env.
//!
//! The diagram is data first ([`ChangeDiagram`], kept in plan files so `ce plan --show`
//! draws exactly what was planned) and mermaid second ([`ChangeDiagram::to_mermaid`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde::{Deserialize, Serialize};

use super::mermaid::{self, HEADER, label, node, node_id, stack_id};
use super::{EdgeKind, NodeId, ResourceGraph};
use crate::diff::{EnvDiff, Impact};

/// Most changed resources drawn; the rest are counted per stack (the table lists them all).
pub const MAX_CHANGED: usize = 30;

/// Most names listed in a collapsed group's label.
const MAX_NAMES: usize = 4;

/// A resource that changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedNode {
    /// Where it is.
    pub id: NodeId,
    /// Its type.
    pub resource_type: String,
    /// How badly it changes.
    pub impact: Impact,
    /// Holds data (EFS, S3, DynamoDB).
    pub stateful: bool,
}

/// Where an arrow of the diagram ends.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reach {
    /// Another changed resource.
    Changed(NodeId),
    /// The collapsed unchanged readers of one stack.
    Unchanged(String),
}

/// An arrow: `from` (changed) is read by `to`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ReachEdge {
    /// The changed resource.
    pub from: NodeId,
    /// What reads it.
    pub to: Reach,
    /// How.
    pub kind: EdgeKind,
}

/// The change as a small graph.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeDiagram {
    /// The changed resources drawn, worst impact first.
    pub changed: Vec<ChangedNode>,
    /// Per stack, the unchanged resources that read a changed one.
    pub unchanged: BTreeMap<String, BTreeSet<String>>,
    /// The arrows.
    pub edges: BTreeSet<ReachEdge>,
    /// Per stack, changed resources left out to keep the diagram readable.
    pub left_out: BTreeMap<String, usize>,
}

impl ChangeDiagram {
    /// The diagram of `diff` over the env's graph (built from the rendered templates; removed
    /// resources are drawn without arrows, as the render no longer has them).
    pub fn build(diff: &EnvDiff, graph: &ResourceGraph) -> Self {
        let mut all: Vec<ChangedNode> = diff
            .stacks
            .iter()
            .flat_map(|s| {
                let stack = short_stack(&s.stack_name, &diff.env);
                s.resources.iter().map(move |r| ChangedNode {
                    id: NodeId::new(&stack, &r.logical_id),
                    stateful: crate::diff::impact::STATEFUL_TYPES
                        .contains(&r.resource_type.as_str()),
                    resource_type: r.resource_type.clone(),
                    impact: r.impact,
                })
            })
            .filter(|n| n.impact != Impact::NoChange)
            .collect();
        all.sort_by(|a, b| b.impact.cmp(&a.impact).then_with(|| a.id.cmp(&b.id)));
        let mut left_out = BTreeMap::new();
        for extra in all.iter().skip(MAX_CHANGED) {
            *left_out.entry(extra.id.stack.clone()).or_insert(0) += 1;
        }
        all.truncate(MAX_CHANGED);
        let drawn: BTreeSet<NodeId> = all.iter().map(|n| n.id.clone()).collect();
        let every_changed: BTreeSet<NodeId> = diff
            .stacks
            .iter()
            .flat_map(|s| {
                let stack = short_stack(&s.stack_name, &diff.env);
                s.resources
                    .iter()
                    .map(move |r| NodeId::new(&stack, &r.logical_id))
            })
            .collect();

        let mut unchanged: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut edges = BTreeSet::new();
        for from in &drawn {
            for e in graph.readers(from) {
                let to = if drawn.contains(&e.to) {
                    Reach::Changed(e.to.clone())
                } else if every_changed.contains(&e.to) {
                    // Changed but left out of the drawing: its stack's count says so.
                    continue;
                } else {
                    unchanged
                        .entry(e.to.stack.clone())
                        .or_default()
                        .insert(e.to.logical_id.clone());
                    Reach::Unchanged(e.to.stack.clone())
                };
                edges.insert(ReachEdge {
                    from: from.clone(),
                    to,
                    kind: e.kind,
                });
            }
        }
        // One arrow per (changed resource, collapsed group): the strongest kind wins.
        let mut seen = BTreeSet::new();
        let edges = edges
            .into_iter()
            .rev()
            .filter(|e| seen.insert((e.from.clone(), e.to.clone())))
            .collect();
        ChangeDiagram {
            changed: all,
            unchanged,
            edges,
            left_out,
        }
    }

    /// Nothing to draw.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.left_out.is_empty()
    }

    /// The diagram as a mermaid flowchart: a subgraph per stack, changed resources filled by
    /// impact, stateful ones as cylinders, unchanged readers as one dashed box per stack.
    pub fn to_mermaid(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{HEADER}");
        let mut stacks: BTreeSet<&str> = self.changed.iter().map(|n| n.id.stack.as_str()).collect();
        stacks.extend(self.unchanged.keys().map(String::as_str));
        stacks.extend(self.left_out.keys().map(String::as_str));
        let mut stacks: Vec<&str> = stacks.into_iter().collect();
        stacks.sort_by_key(|s| stack_rank(s));
        let mut classes: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for stack in stacks {
            let _ = writeln!(out, "  subgraph {}[{}]", stack_id(stack), label(&[stack]));
            for n in self.changed.iter().filter(|n| n.id.stack == stack) {
                let id = node_id(&n.id);
                let text = label(&[&n.id.logical_id, &n.resource_type, n.impact.label()]);
                let _ = writeln!(out, "    {}", node(&id, &text, n.stateful));
                classes.entry(impact_class(n.impact)).or_default().push(id);
            }
            if let Some(names) = self.unchanged.get(stack) {
                let id = unchanged_id(stack);
                let mut listed: Vec<&str> =
                    names.iter().take(MAX_NAMES).map(String::as_str).collect();
                if names.len() > MAX_NAMES {
                    listed.push("…");
                }
                let count = format!("{} unchanged", names.len());
                let _ = writeln!(out, "    {id}[{}]", label(&[&count, &listed.join(", ")]));
                classes.entry("unchanged").or_default().push(id);
            }
            if let Some(count) = self.left_out.get(stack) {
                let id = format!("{}_more", stack_id(stack));
                let text = format!("{count} more changed (see the table)");
                let _ = writeln!(out, "    {id}[{}]", label(&[&text]));
                classes.entry("unchanged").or_default().push(id);
            }
            let _ = writeln!(out, "  end");
        }
        for e in &self.edges {
            let to = match &e.to {
                Reach::Changed(id) => node_id(id),
                Reach::Unchanged(stack) => unchanged_id(stack),
            };
            let _ = writeln!(
                out,
                "  {} {} {to}",
                node_id(&e.from),
                mermaid::arrow(e.kind)
            );
        }
        for (class, style) in CLASS_STYLES {
            if let Some(ids) = classes.get(class) {
                let _ = writeln!(out, "  classDef {class} {style}");
                let _ = writeln!(out, "  class {} {class}", ids.join(","));
            }
        }
        out
    }
}

/// Fill and stroke per impact: green creates, amber updates, orange and red replacements,
/// purple and dark red removals; unchanged readers grey and dashed.
const CLASS_STYLES: [(&str, &str); 7] = [
    ("create", "fill:#dafbe1,stroke:#1a7f37,color:#0f2e17"),
    ("update", "fill:#fff8c5,stroke:#9a6700,color:#3b2300"),
    ("may_replace", "fill:#fff1e5,stroke:#bc4c00,color:#3d1300"),
    (
        "replace",
        "fill:#ffebe9,stroke:#cf222e,stroke-width:2px,color:#4c0014",
    ),
    ("orphan", "fill:#fbefff,stroke:#8250df,color:#2e1461"),
    (
        "destroy",
        "fill:#cf222e,stroke:#82071e,stroke-width:2px,color:#ffffff",
    ),
    (
        "unchanged",
        "fill:#f6f8fa,stroke:#8c959f,stroke-dasharray:4 3,color:#57606a",
    ),
];

fn impact_class(impact: Impact) -> &'static str {
    match impact {
        Impact::NoChange => "unchanged",
        Impact::Create => "create",
        Impact::Update => "update",
        Impact::MayReplace => "may_replace",
        Impact::Replace => "replace",
        Impact::Orphan => "orphan",
        Impact::Destroy => "destroy",
    }
}

fn unchanged_id(stack: &str) -> String {
    format!("{}_unchanged", stack_id(stack))
}

/// Known stacks in deploy order, others after them by name.
fn stack_rank(stack: &str) -> (usize, String) {
    let rank = crate::architecture::StackId::parse(stack)
        .and_then(|id| {
            crate::architecture::StackId::ALL
                .iter()
                .position(|s| *s == id)
        })
        .unwrap_or(usize::MAX);
    (rank, stack.to_owned())
}

/// `ce-<env>-<stack>` → `<stack>`; any other name is kept whole.
fn short_stack(stack_name: &str, env: &str) -> String {
    stack_name
        .strip_prefix(&format!("ce-{env}-"))
        .unwrap_or(stack_name)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::{StackInput, diff_env};
    use crate::graph::StackTemplate;
    use serde_json::{Value, json};

    /// `port` is the security group's rule: changing it updates the group in place, which
    /// leaves its id, and so its export, as it was.
    fn network(cidr: &str, extra_subnet: bool, port: u16) -> Value {
        let mut t = json!({
            "Resources": {
                "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": cidr}},
                "Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "d", "VpcId": "vpc-1",
                    "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "CidrIp": "10.0.0.0/8"}]}},
                "SubnetA": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.0.0/24"}},
                "SubnetB": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.1.0/24"}},
                "Gateway": {"Type": "AWS::EC2::InternetGateway"},
                "Route": {"Type": "AWS::EC2::Route", "Properties": {"GatewayId": {"Ref": "Gateway"}}}
            },
            "Outputs": {
                "VpcId": {"Value": {"Ref": "Vpc"}, "Export": {"Name": "ce-t-network-VpcId"}},
                "SgId": {"Value": {"Fn::GetAtt": ["Sg", "GroupId"]}, "Export": {"Name": "ce-t-network-SgId"}}
            }
        });
        if extra_subnet {
            t["Resources"]["SubnetC"] =
                json!({"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}}});
        }
        t
    }

    fn storage() -> Value {
        json!({"Resources": {
            "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"Tags": [{"Key": "sg", "Value": {"Fn::ImportValue": "ce-t-network-SgId"}}]}}
        }})
    }

    /// The diagram of a VPC whose CIDR changes (so it is replaced), a subnet removed, and a
    /// security group updated in place whose exported id a stack reads unchanged.
    fn diagram() -> ChangeDiagram {
        let (old_net, new_net, st) = (
            network("10.0.0.0/16", true, 80),
            network("10.1.0.0/16", false, 443),
            storage(),
        );
        let none = Default::default();
        let diff = diff_env(
            "t",
            &[
                StackInput::new("ce-t-network", Some(&old_net), &new_net, &none),
                StackInput::new("ce-t-storage", Some(&st), &st, &none),
            ],
        )
        .expect("diff");
        let graph = ResourceGraph::build(
            "t",
            &[
                StackTemplate {
                    stack: "network",
                    stack_name: "ce-t-network",
                    template: &new_net,
                },
                StackTemplate {
                    stack: "storage",
                    stack_name: "ce-t-storage",
                    template: &st,
                },
            ],
        )
        .expect("graph");
        ChangeDiagram::build(&diff, &graph)
    }

    #[test]
    fn changed_resources_come_worst_first_with_their_impact() {
        let d = diagram();
        let drawn: Vec<(&str, Impact)> = d
            .changed
            .iter()
            .map(|n| (n.id.logical_id.as_str(), n.impact))
            .collect();
        assert_eq!(drawn[0], ("SubnetC", Impact::Destroy));
        assert!(drawn.contains(&("Vpc", Impact::Replace)), "{drawn:?}");
        assert!(
            !drawn
                .iter()
                .any(|(id, _)| *id == "Gateway" || *id == "Route"),
            "{drawn:?}"
        );
    }

    #[test]
    fn unchanged_readers_collapse_into_one_box_per_stack() {
        let d = diagram();
        let storage: Vec<&str> = d.unchanged["storage"].iter().map(String::as_str).collect();
        assert_eq!(storage, ["Table"]);
        assert!(d.edges.contains(&ReachEdge {
            from: NodeId::new("network", "Sg"),
            to: Reach::Unchanged("storage".into()),
            kind: EdgeKind::Import,
        }));
        let text = d.to_mermaid();
        assert!(
            text.contains("    stackstorage_unchanged[\"1 unchanged<br/>Table\"]\n"),
            "{text}"
        );
        assert!(
            text.contains("  network_Sg ==> stackstorage_unchanged\n"),
            "{text}"
        );
        assert!(text.contains("  class network_SubnetC destroy\n"), "{text}");
        assert!(
            text.contains("  class stackstorage_unchanged unchanged\n"),
            "{text}"
        );
        assert!(
            !text.contains("Gateway"),
            "untouched resources stay out: {text}"
        );
    }

    #[test]
    fn a_large_change_is_cut_to_the_worst_and_counted_per_stack() {
        let mut resources = serde_json::Map::new();
        for i in 0..(MAX_CHANGED + 5) {
            resources.insert(format!("Topic{i:02}"), json!({"Type": "AWS::SNS::Topic"}));
        }
        let new = json!({"Resources": resources});
        let none = Default::default();
        let diff = diff_env(
            "t",
            &[StackInput::new("ce-t-monitoring", None, &new, &none)],
        )
        .expect("diff");
        let graph = ResourceGraph::build(
            "t",
            &[StackTemplate {
                stack: "monitoring",
                stack_name: "ce-t-monitoring",
                template: &new,
            }],
        )
        .expect("graph");
        let d = ChangeDiagram::build(&diff, &graph);
        assert_eq!(d.changed.len(), MAX_CHANGED);
        assert_eq!(d.left_out["monitoring"], 5);
        assert!(d.to_mermaid().contains("5 more changed (see the table)"));
    }
}
