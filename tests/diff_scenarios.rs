//! Scenario suite: edits of the staging env, each diffed offline against the committed render
//! and checked against the resources and impacts the AWS resource reference ("Update
//! requires") gives for the properties the edit touches.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use ce_infra::diff::{EnvDiff, StackInput, diff_env};
use ce_infra::{config, render};
use serde_json::Value;
use tempfile::TempDir;

/// The committed staging templates, by stack name.
fn committed() -> Vec<(String, Value)> {
    ["network", "storage", "compute", "edge", "monitoring"]
        .iter()
        .map(|s| {
            let path = common::stacks_dir().join("staging").join(format!("{s}.json"));
            let text = std::fs::read_to_string(&path).expect("committed template");
            (format!("ce-staging-{s}"), serde_json::from_str(&text).expect("JSON"))
        })
        .collect()
}

/// Export names imported anywhere in `templates`, with the importing stacks.
fn importers(templates: &[(String, Value)]) -> BTreeMap<String, Vec<String>> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(name)) = o.get("Fn::ImportValue") {
                    out.push(name.clone());
                }
                o.values().for_each(|v| walk(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (stack, t) in templates {
        let mut names = Vec::new();
        walk(t, &mut names);
        for n in names.into_iter().collect::<BTreeSet<_>>() {
            map.entry(n).or_default().push(stack.clone());
        }
    }
    map
}

/// The staging env with `edit` applied, rendered, diffed against the committed render.
fn scenario(edit: impl Fn(String) -> String) -> EnvDiff {
    let dir = TempDir::new().expect("temp dir");
    let text = std::fs::read_to_string(common::envs_dir().join("staging.toml")).expect("env");
    let edited = edit(text.clone());
    assert_ne!(edited, text, "the edit changes the env");
    std::fs::write(dir.path().join("staging.toml"), edited).expect("write env");
    let env = config::load(dir.path(), "staging").expect("edited env loads");
    let rendered: Vec<Value> = render::render_env(&env)
        .expect("renders")
        .iter()
        .map(|r| serde_json::from_str(&r.text).expect("JSON"))
        .collect();
    let deployed = committed();
    let imported: BTreeSet<String> = importers(&deployed).into_keys().collect();
    let inputs: Vec<StackInput<'_>> = deployed
        .iter()
        .zip(&rendered)
        .map(|((name, old), new)| StackInput::new(name, Some(old), new, &imported))
        .collect();
    diff_env("staging", &inputs).expect("diffs")
}

#[test]
fn explore() {
    for (name, edit) in [
        ("instance", Box::new(|t: String| t.replace("instance_type = \"m5.large\"", "instance_type = \"m5.xlarge\"")) as Box<dyn Fn(String) -> String>),
        ("max", Box::new(|t: String| t.replace("max_size = 4", "max_size = 6"))),
        ("subnet", Box::new(|t: String| t.replace("cidr = \"172.29.2.0/24\"", "cidr = \"172.29.3.0/24\""))),
        ("logs", Box::new(|t: String| t.replace("logs = \"compiler-explorer-staging-logs\"", "logs = \"compiler-explorer-staging-logs-2\""))),
        ("latency", Box::new(|t: String| t.replace("latency_p90_seconds = 6.0", "latency_p90_seconds = 7.0"))),
    ] {
        let d = scenario(edit);
        let mut out = Vec::new();
        ce_infra::diff::format::write_text(&mut out, &d, false).unwrap();
        std::fs::write(format!("/tmp/scn/{name}.txt"), out).unwrap();
    }
}
