//! Mermaid flowcharts: the whole graph for `ce graph --format mermaid` (and, fenced, for
//! `--format markdown`), and the helpers the change diagram of the markdown diff shares.
//!
//! GitHub renders a ```` ```mermaid ```` block in a pull-request comment, which is why the
//! change diagram speaks mermaid. Node ids are built from stack and logical id, restricted to
//! the characters every mermaid version accepts; labels are quoted, with `"` written as the
//! entity mermaid defines for it, so no resource name can break the syntax.

use std::fmt::Write;

use super::{EdgeKind, NodeId, ResourceGraph};

/// The first line of every diagram: left to right, stacks in deploy order.
pub(crate) const HEADER: &str = "flowchart LR";

/// What the arrows mean, as a mermaid comment and in the markdown legend.
pub const ARROWS: &str = "arrows run from a resource to the resources that read it: \
    --> reference, -.-> DependsOn, ==> import from another stack";

/// A node id mermaid accepts: letters, digits and underscores.
pub(crate) fn node_id(id: &NodeId) -> String {
    format!("{}_{}", id.stack, id.logical_id)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// A quoted label; lines are joined with `<br/>`.
pub(crate) fn label(lines: &[&str]) -> String {
    let text: Vec<String> = lines
        .iter()
        .map(|l| {
            l.replace('&', "#amp;")
                .replace('"', "#quot;")
                .replace('<', "#lt;")
                .replace('>', "#gt;")
        })
        .collect();
    format!("\"{}\"", text.join("<br/>"))
}

/// A node declaration: a cylinder for stateful resources, a box otherwise.
pub(crate) fn node(id: &str, label: &str, stateful: bool) -> String {
    if stateful {
        format!("{id}[({label})]")
    } else {
        format!("{id}[{label}]")
    }
}

/// The arrow of an edge kind.
pub(crate) fn arrow(kind: EdgeKind) -> &'static str {
    match kind {
        EdgeKind::Reference => "-->",
        EdgeKind::DependsOn => "-.->",
        EdgeKind::Import => "==>",
    }
}

/// The whole graph as a mermaid flowchart: a subgraph per stack, stateful resources as
/// thick-bordered cylinders.
pub fn render(graph: &ResourceGraph) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{HEADER}");
    let _ = writeln!(out, "  %% ce graph {}: {ARROWS}", graph.env);
    for stack in &graph.stacks {
        let _ = writeln!(
            out,
            "  subgraph {}[{}]",
            stack_id(&stack.stack),
            label(&[&stack.stack_name])
        );
        for n in &stack.nodes {
            let text = label(&[&n.id.logical_id, &n.resource_type]);
            let _ = writeln!(out, "    {}", node(&node_id(&n.id), &text, n.stateful));
        }
        let _ = writeln!(out, "  end");
    }
    for e in &graph.edges {
        let _ = writeln!(
            out,
            "  {} {} {}",
            node_id(&e.from),
            arrow(e.kind),
            node_id(&e.to)
        );
    }
    let stateful: Vec<String> = graph
        .nodes()
        .filter(|n| n.stateful)
        .map(|n| node_id(&n.id))
        .collect();
    if !stateful.is_empty() {
        let _ = writeln!(out, "  classDef stateful stroke-width:3px");
        let _ = writeln!(out, "  class {} stateful", stateful.join(","));
    }
    out
}

/// A subgraph id that cannot clash with a node id (those always hold an underscore after the
/// stack name).
pub(crate) fn stack_id(stack: &str) -> String {
    let clean: String = stack
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("stack{clean}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::StackTemplate;
    use serde_json::json;

    #[test]
    fn labels_cannot_break_out_of_their_quotes() {
        assert_eq!(
            label(&["a\"b", "<x> & y"]),
            "\"a#quot;b<br/>#lt;x#gt; #amp; y\""
        );
        assert_eq!(node_id(&NodeId::new("edge", "Web-Acl.1")), "edge_Web_Acl_1");
    }

    #[test]
    fn stacks_are_subgraphs_and_stateful_resources_cylinders() {
        let t = json!({"Resources": {
            "Bucket": {"Type": "AWS::S3::Bucket"},
            "Policy": {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": {"Ref": "Bucket"}}}
        }});
        let g = ResourceGraph::build(
            "t",
            &[StackTemplate {
                stack: "storage",
                stack_name: "ce-t-storage",
                template: &t,
            }],
        )
        .expect("builds");
        let text = render(&g);
        assert!(text.starts_with("flowchart LR\n"), "{text}");
        assert!(
            text.contains("  subgraph stackstorage[\"ce-t-storage\"]\n"),
            "{text}"
        );
        assert!(
            text.contains("    storage_Bucket[(\"Bucket<br/>AWS::S3::Bucket\")]\n"),
            "{text}"
        );
        assert!(
            text.contains("  storage_Bucket --> storage_Policy\n"),
            "{text}"
        );
        assert!(text.contains("  class storage_Bucket stateful\n"), "{text}");
    }
}
