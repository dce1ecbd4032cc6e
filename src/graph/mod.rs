//! The env's resources as a graph: one node per resource, grouped by stack, and an edge for
//! every reference between them — `Ref`, `Fn::GetAtt` and `Fn::Sub` inside a stack,
//! `DependsOn`, and `Fn::ImportValue` across stacks, resolved through the exporting stack's
//! output to the resources it reads.
//!
//! The graph is read from rendered templates, not from the architecture code, so a resource
//! type added to a stack shows up without any change here. Edges run from a resource to the
//! resources that read it, the direction in which a change travels; [`change`] uses that to
//! draw what a diff's changes reach, and [`mermaid`] and [`dot`] write either graph for
//! people.

pub mod change;
pub mod dot;
pub mod mermaid;
mod text;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::diff::impact::STATEFUL_TYPES;
use crate::printer::{Report, Styles};

/// A template the graph cannot read.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// The template, or its `Resources`, is not a JSON object.
    #[error("the template of {stack_name} has no Resources object")]
    NoResources {
        /// The stack whose template it is.
        stack_name: String,
    },
}

/// One resource: which stack holds it and its logical id there.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId {
    /// The stack's short name (`network`, `compute`, ...).
    pub stack: String,
    /// The logical id inside that stack.
    pub logical_id: String,
}

impl NodeId {
    /// A node id from its parts.
    pub fn new(stack: &str, logical_id: &str) -> Self {
        NodeId {
            stack: stack.to_owned(),
            logical_id: logical_id.to_owned(),
        }
    }
}

/// A resource of the env.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Node {
    /// Where it is.
    #[serde(flatten)]
    pub id: NodeId,
    /// Its CloudFormation type.
    pub resource_type: String,
    /// Holds data that replacing or deleting it would lose (EFS, S3, DynamoDB).
    pub stateful: bool,
}

/// How one resource reads another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// `Ref`, `Fn::GetAtt` or a `Fn::Sub` variable in the same stack.
    Reference,
    /// `DependsOn`: ordering only, no value read.
    DependsOn,
    /// `Fn::ImportValue` of another stack's export.
    Import,
}

/// `from` is read by `to`: a change to `from` can reach `to`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Edge {
    /// The resource read.
    pub from: NodeId,
    /// The resource that reads it.
    pub to: NodeId,
    /// How.
    pub kind: EdgeKind,
}

/// One stack's resources, sorted by logical id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StackNodes {
    /// The stack's short name.
    pub stack: String,
    /// Its CloudFormation name, `ce-<env>-<stack>`.
    pub stack_name: String,
    /// Its resources.
    pub nodes: Vec<Node>,
}

/// The resources of an env and how they read each other.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResourceGraph {
    /// The env.
    pub env: String,
    /// Stacks in deploy order.
    pub stacks: Vec<StackNodes>,
    /// Every edge, sorted; one per (from, to, kind).
    pub edges: BTreeSet<Edge>,
}

/// One stack's template, as the graph reads it.
#[derive(Clone, Copy, Debug)]
pub struct StackTemplate<'a> {
    /// The stack's short name.
    pub stack: &'a str,
    /// Its CloudFormation name; fills in `${AWS::StackName}` in export names.
    pub stack_name: &'a str,
    /// The template.
    pub template: &'a Value,
}

impl ResourceGraph {
    /// Builds the graph of an env's stacks, given in deploy order.
    pub fn build(env: &str, stacks: &[StackTemplate<'_>]) -> Result<Self, GraphError> {
        let mut exports: BTreeMap<String, Vec<NodeId>> = BTreeMap::new();
        let mut nodes = Vec::new();
        for stack in stacks {
            let resources = resources_of(stack)?;
            nodes.push(StackNodes {
                stack: stack.stack.to_owned(),
                stack_name: stack.stack_name.to_owned(),
                nodes: resources
                    .iter()
                    .map(|(id, resource)| {
                        let resource_type = resource
                            .get("Type")
                            .and_then(Value::as_str)
                            .unwrap_or("(no type)")
                            .to_owned();
                        Node {
                            id: NodeId::new(stack.stack, id),
                            stateful: STATEFUL_TYPES.contains(&resource_type.as_str()),
                            resource_type,
                        }
                    })
                    .collect(),
            });
            let outputs = stack.template.get("Outputs").and_then(Value::as_object);
            for output in outputs.into_iter().flat_map(|o| o.values()) {
                let Some(name) = output
                    .pointer("/Export/Name")
                    .and_then(|n| export_name(n, stack))
                else {
                    continue;
                };
                let read = output
                    .get("Value")
                    .map(local_references)
                    .unwrap_or_default();
                exports.insert(
                    name,
                    read.into_iter()
                        .filter(|id| resources.contains_key(id))
                        .map(|id| NodeId::new(stack.stack, &id))
                        .collect(),
                );
            }
        }

        let mut edges = BTreeSet::new();
        for stack in stacks {
            let resources = resources_of(stack)?;
            for (id, resource) in resources {
                let to = NodeId::new(stack.stack, id);
                let mut local: Vec<(String, EdgeKind)> = Vec::new();
                for key in ["Properties", "Metadata", "UpdatePolicy"] {
                    if let Some(value) = resource.get(key) {
                        local.extend(
                            local_references(value)
                                .into_iter()
                                .map(|r| (r, EdgeKind::Reference)),
                        );
                    }
                }
                match resource.get("DependsOn") {
                    Some(Value::String(d)) => local.push((d.clone(), EdgeKind::DependsOn)),
                    Some(Value::Array(ds)) => local.extend(
                        ds.iter()
                            .filter_map(Value::as_str)
                            .map(|d| (d.to_owned(), EdgeKind::DependsOn)),
                    ),
                    _ => {}
                }
                for (target, kind) in local {
                    // Parameters and conditions are not resources; a reference to one is not
                    // an edge. Self-references cannot occur in a valid template.
                    if target != *id && resources.contains_key(&target) {
                        edges.insert(Edge {
                            from: NodeId::new(stack.stack, &target),
                            to: to.clone(),
                            kind,
                        });
                    }
                }
                let mut imported = Vec::new();
                crate::render::lint::collect_imports(resource, &mut imported);
                for name in imported {
                    for from in exports.get(&name).into_iter().flatten() {
                        edges.insert(Edge {
                            from: from.clone(),
                            to: to.clone(),
                            kind: EdgeKind::Import,
                        });
                    }
                }
            }
        }
        // A `DependsOn` next to a reference says nothing more: keep the reference only.
        let referenced: BTreeSet<(NodeId, NodeId)> = edges
            .iter()
            .filter(|e| e.kind != EdgeKind::DependsOn)
            .map(|e| (e.from.clone(), e.to.clone()))
            .collect();
        edges.retain(|e| {
            e.kind != EdgeKind::DependsOn || !referenced.contains(&(e.from.clone(), e.to.clone()))
        });
        Ok(ResourceGraph {
            env: env.to_owned(),
            stacks: nodes,
            edges,
        })
    }

    /// Every node, stack by stack.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.stacks.iter().flat_map(|s| &s.nodes)
    }

    /// The node with this id, if the graph has it.
    pub fn node(&self, id: &NodeId) -> Option<&Node> {
        self.stacks
            .iter()
            .find(|s| s.stack == id.stack)
            .and_then(|s| s.nodes.iter().find(|n| n.id.logical_id == id.logical_id))
    }

    /// The resources that read `id` directly, with how.
    pub fn readers<'a>(&'a self, id: &'a NodeId) -> impl Iterator<Item = &'a Edge> + 'a {
        self.edges.iter().filter(move |e| &e.from == id)
    }
}

/// `ce graph` prints the graph itself: its fields as JSON (the printer puts `format_version`
/// first), an outline as text, the mermaid flowchart fenced under a heading as markdown, and
/// the two diagram languages as they are.
impl Report for ResourceGraph {
    fn write_text(&self, out: &mut dyn Write, _styles: Styles) -> io::Result<()> {
        text::write_text(out, self)
    }

    fn write_markdown(&self, out: &mut dyn Write) -> io::Result<()> {
        write!(
            out,
            "### ce graph `{}`\n\n{}\n\n```mermaid\n{}```\n",
            self.env,
            mermaid::ARROWS,
            mermaid::render(self)
        )
    }

    fn write_mermaid(&self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(mermaid::render(self).as_bytes())
    }

    fn write_dot(&self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(dot::render(self).as_bytes())
    }
}

fn resources_of<'a>(
    stack: &StackTemplate<'a>,
) -> Result<&'a serde_json::Map<String, Value>, GraphError> {
    stack
        .template
        .get("Resources")
        .and_then(Value::as_object)
        .ok_or_else(|| GraphError::NoResources {
            stack_name: stack.stack_name.to_owned(),
        })
}

/// The resource (or parameter) names a value reads through `Ref`, `Fn::GetAtt` or `Fn::Sub`.
fn local_references(value: &Value) -> Vec<String> {
    crate::render::lint::references_in_json(value)
        .into_iter()
        .filter(|name| !name.starts_with("AWS::"))
        .collect()
}

/// An export's name: a literal, or a `Fn::Sub` on `${AWS::StackName}` (the two forms
/// CloudFormation users write); anything else cannot be matched to an import offline.
fn export_name(name: &Value, stack: &StackTemplate<'_>) -> Option<String> {
    match name {
        Value::String(s) => Some(s.clone()),
        Value::Object(obj) => match obj.get("Fn::Sub") {
            Some(Value::String(text)) if obj.len() == 1 => {
                Some(text.replace("${AWS::StackName}", stack.stack_name))
            }
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Format;
    use crate::printer::printed;
    use serde_json::json;

    fn network() -> Value {
        json!({
            "Resources": {
                "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
                "Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}}},
                "Gateway": {"Type": "AWS::EC2::InternetGateway"},
                "Route": {
                    "Type": "AWS::EC2::Route",
                    "DependsOn": ["Gateway", "Subnet"],
                    "Properties": {"GatewayId": {"Ref": "Gateway"}}
                }
            },
            "Outputs": {
                "SubnetIds": {
                    "Value": {"Fn::Join": [",", [{"Ref": "Subnet"}]]},
                    "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-SubnetIds"}}
                }
            }
        })
    }

    fn storage() -> Value {
        json!({
            "Parameters": {"Size": {"Type": "Number"}},
            "Resources": {
                "FileSystem": {"Type": "AWS::EFS::FileSystem", "Properties": {"Size": {"Ref": "Size"}}},
                "Mount": {
                    "Type": "AWS::EFS::MountTarget",
                    "Properties": {
                        "FileSystemId": {"Fn::Sub": "${FileSystem.Arn}"},
                        "SubnetId": {"Fn::Select": [0, {"Fn::Split": [",", {"Fn::ImportValue": "ce-t-network-SubnetIds"}]}]}
                    }
                }
            }
        })
    }

    fn graph() -> ResourceGraph {
        let (n, s) = (network(), storage());
        ResourceGraph::build(
            "t",
            &[
                StackTemplate {
                    stack: "network",
                    stack_name: "ce-t-network",
                    template: &n,
                },
                StackTemplate {
                    stack: "storage",
                    stack_name: "ce-t-storage",
                    template: &s,
                },
            ],
        )
        .expect("builds")
    }

    fn edge(from: (&str, &str), to: (&str, &str), kind: EdgeKind) -> Edge {
        Edge {
            from: NodeId::new(from.0, from.1),
            to: NodeId::new(to.0, to.1),
            kind,
        }
    }

    #[test]
    fn references_depends_on_and_imports_become_edges_from_the_resource_read() {
        let g = graph();
        let edges: Vec<Edge> = g.edges.iter().cloned().collect();
        assert_eq!(
            edges,
            vec![
                edge(
                    ("network", "Gateway"),
                    ("network", "Route"),
                    EdgeKind::Reference
                ),
                edge(
                    ("network", "Subnet"),
                    ("network", "Route"),
                    EdgeKind::DependsOn
                ),
                edge(
                    ("network", "Subnet"),
                    ("storage", "Mount"),
                    EdgeKind::Import
                ),
                edge(
                    ("network", "Vpc"),
                    ("network", "Subnet"),
                    EdgeKind::Reference
                ),
                edge(
                    ("storage", "FileSystem"),
                    ("storage", "Mount"),
                    EdgeKind::Reference
                ),
            ]
        );
    }

    #[test]
    fn stateful_resources_are_marked_and_parameters_are_not_nodes() {
        let g = graph();
        let stateful: Vec<&str> = g
            .nodes()
            .filter(|n| n.stateful)
            .map(|n| n.id.logical_id.as_str())
            .collect();
        assert_eq!(stateful, ["FileSystem"]);
        assert!(g.node(&NodeId::new("storage", "Size")).is_none());
        assert_eq!(g.nodes().count(), 6);
    }

    #[test]
    fn a_template_without_resources_is_an_error_naming_the_stack() {
        let bad = json!({"Outputs": {}});
        let err = ResourceGraph::build(
            "t",
            &[StackTemplate {
                stack: "edge",
                stack_name: "ce-t-edge",
                template: &bad,
            }],
        )
        .expect_err("no resources");
        assert_eq!(
            err.to_string(),
            "the template of ce-t-edge has no Resources object"
        );
    }

    #[test]
    fn the_json_form_carries_a_format_version() {
        let text = printed(&graph(), Format::Json);
        assert!(
            text.starts_with("{\n  \"format_version\": 1,\n  \"env\": \"t\",\n"),
            "{text}"
        );
        let doc: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(
            doc.as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>()),
            Some(vec![
                "edges".to_owned(),
                "env".to_owned(),
                "format_version".to_owned(),
                "stacks".to_owned()
            ])
        );
        assert_eq!(
            doc["stacks"][1]["nodes"][0]["logical_id"],
            json!("FileSystem")
        );
        assert_eq!(doc["stacks"][1]["nodes"][0]["stateful"], json!(true));
        assert_eq!(doc["edges"][0]["kind"], json!("reference"));
    }

    #[test]
    fn the_diagram_forms_are_the_graphs_own() {
        let g = graph();
        let mermaid = printed(&g, Format::Mermaid);
        assert!(mermaid.starts_with("flowchart LR\n"), "{mermaid}");
        assert_eq!(mermaid, mermaid::render(&g));
        let dot = printed(&g, Format::Dot);
        assert!(dot.starts_with("digraph \"ce-t\" {\n"), "{dot}");
        assert_eq!(dot, dot::render(&g));
        let markdown = printed(&g, Format::Markdown);
        assert_eq!(
            markdown,
            format!(
                "### ce graph `t`\n\n{}\n\n```mermaid\n{mermaid}```\n",
                mermaid::ARROWS
            )
        );
        let text = printed(&g, Format::Text);
        assert!(text.starts_with("ce-t-network (4 resources)\n"), "{text}");
    }
}
