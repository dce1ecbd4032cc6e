//! `ce graph`: every env's graph is real DOT (Graphviz draws it) and a real mermaid flowchart
//! (mermaid's own parser accepts it), with every resource, its stack and its state marked.

mod checkers;
mod common;

use checkers::{dot_svg, fenced, mermaid_parse};
use common::{env_names, run_ce};
use serde_json::Value;

fn graph(env: &str, format: &str) -> String {
    let run = run_ce(["--env", env, "graph", "--format", format]);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    run.stdout
}

fn resource_count(env: &str) -> usize {
    let doc: Value = serde_json::from_str(&graph(env, "json")).expect("graph JSON");
    doc["stacks"]
        .as_array()
        .expect("stacks")
        .iter()
        .map(|s| s["nodes"].as_array().expect("nodes").len())
        .sum()
}

#[test]
fn every_env_draws_with_graphviz_one_box_per_resource() {
    for env in env_names() {
        let dot = graph(&env, "dot");
        let svg = dot_svg(&dot);
        assert!(
            svg.ok,
            "{env}: dot -Tsvg refused the graph: {}\n{dot}",
            svg.stderr
        );
        let svg = String::from_utf8_lossy(&svg.stdout);
        assert!(svg.contains("<svg"), "{env}: not SVG");
        assert_eq!(
            svg.matches("class=\"node\"").count(),
            resource_count(&env),
            "{env}: one node per resource"
        );
        assert_eq!(
            svg.matches("class=\"cluster\"").count(),
            5,
            "{env}: a cluster per stack"
        );
    }
}

#[test]
fn every_env_is_a_flowchart_mermaid_parses() {
    let envs = env_names();
    let texts: Vec<String> = envs.iter().map(|e| graph(e, "mermaid")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    for (env, checked) in envs.iter().zip(mermaid_parse(&refs)) {
        assert!(
            checked.ok,
            "{env}: mermaid refused the graph: {}",
            checked.stderr
        );
    }
}

#[test]
fn the_mermaid_parser_rejects_a_broken_flowchart() {
    let good = graph("staging", "mermaid");
    // Each breaks the syntax the way a bug in the writer would.
    let unclosed_label = good.replacen("[\"Vpc<br/>", "[\"Vpc<br/", 1).replacen(
        "AWS::EC2::VPC\"]",
        "AWS::EC2::VPC]",
        1,
    );
    let missing_end = match good.rfind("  end\n") {
        Some(at) => format!("{}{}", &good[..at], &good[at + "  end\n".len()..]),
        None => panic!("no subgraph in\n{good}"),
    };
    let bad_shape = good.replacen("[(\"", "[((\"", 1);
    let checked = mermaid_parse(&[&good, &unclosed_label, &missing_end, &bad_shape]);
    assert!(
        checked[0].ok,
        "the unbroken graph parses: {}",
        checked[0].stderr
    );
    for (name, c) in [
        "unclosed label",
        "subgraph without end",
        "unbalanced cylinder",
    ]
    .iter()
    .zip(&checked[1..])
    {
        assert!(!c.ok, "{name}: the parser accepted a broken flowchart");
        assert!(
            c.stderr.contains("Parse error") || c.stderr.contains("Lexical error"),
            "{name}: {}",
            c.stderr
        );
    }
}

#[test]
fn stacks_are_groups_and_stateful_resources_are_marked() {
    let doc: Value = serde_json::from_str(&graph("prod", "json")).expect("graph JSON");
    assert_eq!(doc["format_version"], 1);
    let stacks: Vec<&str> = doc["stacks"]
        .as_array()
        .expect("stacks")
        .iter()
        .map(|s| s["stack_name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        stacks,
        [
            "ce-prod-network",
            "ce-prod-storage",
            "ce-prod-compute",
            "ce-prod-edge",
            "ce-prod-monitoring"
        ]
    );
    let mut stateful: Vec<&str> = doc["stacks"]
        .as_array()
        .expect("stacks")
        .iter()
        .flat_map(|s| s["nodes"].as_array().expect("nodes"))
        .filter(|n| n["stateful"] == true)
        .map(|n| n["logical_id"].as_str().expect("id"))
        .collect();
    stateful.sort_unstable();
    assert_eq!(
        stateful,
        [
            "BuildsBucket",
            "CompilerBuildsTable",
            "FileSystem",
            "LinksTable",
            "LogsBucket",
            "StaticBucket",
            "StorageBucket",
            "VersionsLogTable"
        ]
    );
    let imports = doc["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .filter(|e| e["kind"] == "import")
        .count();
    assert!(imports > 0, "cross-stack imports are edges");
    assert!(doc["edges"].as_array().expect("edges").iter().any(|e| {
        e["from"]["logical_id"] == "FileSystem"
            && e["to"]["stack"] == "compute"
            && e["kind"] == "import"
    }));
}

#[test]
fn markdown_fences_the_mermaid_graph_and_text_lists_what_reads_what() {
    let md = graph("beta", "markdown");
    let body = fenced(&md, "mermaid").expect("a mermaid block");
    assert_eq!(body, graph("beta", "mermaid"));
    let text = graph("beta", "text");
    assert!(text.starts_with("ce-beta-network ("), "{text}");
    assert!(
        text.contains("  FileSystem AWS::EFS::FileSystem  [stateful]\n"),
        "{text}"
    );
    assert!(
        text.contains("  PublicRouteTable AWS::EC2::RouteTable\n    read by: DefaultRoute, DynamoDbEndpoint, S3Endpoint, SubnetUsEast1aRouteTableAssociation, SubnetUsEast1bRouteTableAssociation\n"),
        "{text}"
    );
}

#[test]
fn diagram_formats_are_refused_by_commands_that_print_reports() {
    for args in [
        ["--format", "dot", "validate"],
        ["--format", "mermaid", "render"],
    ] {
        let run = run_ce(args);
        assert_eq!(run.code, Some(1), "{}", run.describe());
        assert!(run.stdout.is_empty());
        assert_eq!(
            run.stderr.trim(),
            format!(
                "error: --format {} draws a diagram, which only `ce graph` does; this command prints text, json or markdown",
                args[1]
            )
        );
    }
}
