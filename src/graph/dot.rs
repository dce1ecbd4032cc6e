//! Graphviz DOT for `ce graph --format dot`: a cluster per stack, stateful resources as
//! cylinders, imports drawn bold and DependsOn dashed. `dot -Tsvg` turns it into a picture.

use std::fmt::Write;

use super::{EdgeKind, NodeId, ResourceGraph};

/// A DOT string literal: quotes and backslashes escaped, newlines as DOT's centred line break.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn node_name(id: &NodeId) -> String {
    quoted(&format!("{}/{}", id.stack, id.logical_id))
}

/// The whole graph as a DOT digraph.
pub fn render(graph: &ResourceGraph) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", quoted(&format!("ce-{}", graph.env)));
    let _ = writeln!(
        out,
        "  graph [rankdir=LR, fontname=\"Helvetica\", labelloc=t, label={}];",
        quoted(&format!(
            "ce graph {}: arrows run from a resource to the resources that read it",
            graph.env
        ))
    );
    let _ = writeln!(
        out,
        "  node [shape=box, style=rounded, fontname=\"Helvetica\", fontsize=10];"
    );
    let _ = writeln!(out, "  edge [color=\"#57606a\"];");
    for stack in &graph.stacks {
        let _ = writeln!(
            out,
            "  subgraph {} {{",
            quoted(&format!("cluster_{}", stack.stack))
        );
        let _ = writeln!(out, "    label={};", quoted(&stack.stack_name));
        for n in &stack.nodes {
            let attrs = if n.stateful {
                ", shape=cylinder, style=bold"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "    {} [label={}{attrs}];",
                node_name(&n.id),
                quoted(&format!("{}\n{}", n.id.logical_id, n.resource_type))
            );
        }
        let _ = writeln!(out, "  }}");
    }
    for e in &graph.edges {
        let attrs = match e.kind {
            EdgeKind::Reference => "",
            EdgeKind::DependsOn => " [style=dashed]",
            EdgeKind::Import => " [style=bold, color=\"#0969da\"]",
        };
        let _ = writeln!(
            out,
            "  {} -> {}{attrs};",
            node_name(&e.from),
            node_name(&e.to)
        );
    }
    let _ = writeln!(out, "}}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::StackTemplate;
    use serde_json::json;

    #[test]
    fn quoting_escapes_quotes_backslashes_and_newlines() {
        assert_eq!(quoted("a\"b\\c\nd"), r#""a\"b\\c\nd""#);
    }

    #[test]
    fn stacks_are_clusters_and_imports_are_bold() {
        let n = json!({"Resources": {"Vpc": {"Type": "AWS::EC2::VPC"}},
            "Outputs": {"V": {"Value": {"Ref": "Vpc"}, "Export": {"Name": "ce-t-network-VpcId"}}}});
        let s = json!({"Resources": {"Table": {"Type": "AWS::DynamoDB::Table",
            "Properties": {"Tags": [{"Key": "v", "Value": {"Fn::ImportValue": "ce-t-network-VpcId"}}]}}}});
        let g = ResourceGraph::build(
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
        .expect("builds");
        let text = render(&g);
        assert!(
            text.contains("  subgraph \"cluster_network\" {\n    label=\"ce-t-network\";\n"),
            "{text}"
        );
        assert!(
            text.contains("\"storage/Table\" [label=\"Table\\nAWS::DynamoDB::Table\", shape=cylinder, style=bold];"),
            "{text}"
        );
        assert!(
            text.contains("\"network/Vpc\" -> \"storage/Table\" [style=bold, color=\"#0969da\"];"),
            "{text}"
        );
        assert!(text.ends_with("}\n"));
    }
}
