//! The graph as text for a terminal: each stack's resources, what each reads and what reads
//! it, with stateful resources marked.

use std::io::{self, Write};

use super::{EdgeKind, NodeId, ResourceGraph};

fn name(id: &NodeId, from_stack: &str) -> String {
    if id.stack == from_stack {
        id.logical_id.clone()
    } else {
        format!("{}/{}", id.stack, id.logical_id)
    }
}

fn kind_note(kind: EdgeKind) -> &'static str {
    match kind {
        EdgeKind::Reference => "",
        EdgeKind::DependsOn => " (DependsOn)",
        EdgeKind::Import => " (import)",
    }
}

/// Writes the outline: one block per stack, one line per resource, then the resources that
/// read it.
pub fn write_text(out: &mut dyn Write, graph: &ResourceGraph) -> io::Result<()> {
    for stack in &graph.stacks {
        writeln!(
            out,
            "{} ({} resource{})",
            stack.stack_name,
            stack.nodes.len(),
            if stack.nodes.len() == 1 { "" } else { "s" }
        )?;
        for n in &stack.nodes {
            writeln!(
                out,
                "  {} {}{}",
                n.id.logical_id,
                n.resource_type,
                if n.stateful { "  [stateful]" } else { "" }
            )?;
            let readers: Vec<String> = graph
                .readers(&n.id)
                .map(|e| format!("{}{}", name(&e.to, &stack.stack), kind_note(e.kind)))
                .collect();
            if !readers.is_empty() {
                writeln!(out, "    read by: {}", readers.join(", "))?;
            }
        }
    }
    Ok(())
}
