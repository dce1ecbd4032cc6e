//! `ce compare ENV_A ENV_B`: two envs' rendered stacks compared offline, env-specific names
//! normalised away, differences grouped by meaning in order of weight, and the env files'
//! `must_match` settings turning a difference into exit 3.

mod common;

use std::path::Path;

use common::{Run, copy_tree, envs_dir, run_ce};
use serde_json::Value;
use tempfile::TempDir;

fn compare_in(envs: &Path, args: &[&str]) -> Run {
    let mut all = vec!["--envs-dir".to_owned(), envs.display().to_string()];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    run_ce(all)
}

fn json_of(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.describe()))
}

/// The committed envs, with `prod.toml`'s `must_match` line replaced by `line`.
fn envs_with_prod_must_match(line: &str) -> TempDir {
    let dir = TempDir::new().expect("temp dir");
    copy_tree(&envs_dir(), dir.path());
    let prod = dir.path().join("prod.toml");
    let text = std::fs::read_to_string(&prod).expect("prod env");
    let rest: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("must_match"))
        .collect();
    std::fs::write(&prod, format!("{line}\n{}\n", rest.join("\n"))).expect("write prod env");
    dir
}

#[test]
fn an_env_compared_with_itself_is_equal_and_exits_0() {
    let run = run_ce(["compare", "prod", "prod"]);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert!(
        run.stdout
            .starts_with("compare prod → prod: equal after normalisation\n"),
        "{}",
        run.describe()
    );
}

#[test]
fn staging_and_prod_differ_grouped_by_weight_and_exit_2() {
    let run = run_ce(["--format", "json", "compare", "staging", "prod"]);
    assert_eq!(run.code, Some(2), "{}", run.describe());
    let doc = json_of(&run);
    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["outcome"], "differ");
    assert_eq!(doc["exit_code"], 2);
    // prod.toml's own must_match list holds for staging.
    let must_match = doc["must_match"].as_array().expect("must_match");
    assert!(!must_match.is_empty());
    for m in must_match {
        assert_eq!(m["matches"], true, "{m}");
        assert_eq!(m["listed_by"], serde_json::json!(["prod"]), "{m}");
    }
    let groups: Vec<&str> = doc["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| g["category"].as_str().expect("category"))
        .collect();
    assert_eq!(
        groups,
        ["topology", "capacity", "storage", "edge", "alarms"]
    );

    let find = |category: &str, id: &str| -> Value {
        let group = doc["groups"]
            .as_array()
            .and_then(|gs| gs.iter().find(|g| g["category"] == category))
            .unwrap_or_else(|| panic!("no group {category}"));
        group["resources"]
            .as_array()
            .and_then(|rs| rs.iter().find(|r| r["logical_id"] == id))
            .cloned()
            .unwrap_or_else(|| panic!("no {id} in {category}: {group}"))
    };
    assert_eq!(find("topology", "SubnetUsEast1d")["presence"], "only_b");
    assert_eq!(find("topology", "MountTargetUsEast1f")["stack"], "storage");
    assert_eq!(find("alarms", "EfsBurstCreditAlarm")["presence"], "only_a");
    let fs = find("storage", "FileSystem");
    assert!(
        fs["values"].as_array().expect("values").iter().any(|v| {
            v["path"] == "ThroughputMode" && v["a"] == "bursting" && v["b"] == "elastic"
        }),
        "{fs}"
    );
    let asg = find("capacity", "NodeAutoScalingGroup");
    assert!(
        asg["values"]
            .as_array()
            .expect("values")
            .iter()
            .any(|v| { v["path"] == "MaxSize" && v["a"] == "4" && v["b"] == "40" }),
        "{asg}"
    );
    let dist = find("edge", "Distribution");
    assert!(dist.to_string().contains("PriceClass_100"), "{dist}");
}

#[test]
fn env_names_buckets_and_certificates_are_normalised_away() {
    let run = run_ce(["--format", "json", "compare", "staging", "prod"]);
    let doc = json_of(&run);
    let groups = doc["groups"].to_string();
    for specific in [
        "staging",
        "prod",
        "compiler-explorer-prod-builds",
        "certificate/",
    ] {
        assert!(
            !groups.contains(specific),
            "{specific:?} left in the differences: {groups}"
        );
    }
    // Resources that differ only through an env-specific name are not listed at all.
    for same in ["BuildsBucket", "LogsBucket", "AlbSecurityGroup", "NodeRole"] {
        assert!(
            !groups.contains(&format!("\"{same}\"")),
            "{same} listed: {groups}"
        );
    }
    let normalised = &doc["normalised"]["prod"];
    assert!(
        normalised
            .to_string()
            .contains("compiler-explorer-prod-builds"),
        "{normalised}"
    );
}

#[test]
fn a_must_match_setting_that_differs_exits_3_and_says_so() {
    let envs = envs_with_prod_must_match(
        "must_match = [\"storage.efs_throughput_mode\", \"edge.minimum_protocol_version\"]",
    );

    let run = compare_in(envs.path(), &["compare", "staging", "prod"]);

    assert_eq!(run.code, Some(3), "{}", run.describe());
    assert!(
        run.stdout.starts_with(
            "compare staging → prod: 27 resources differ; 1 setting that must match does not\n"
        ),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout.contains(
            "  DIFFERS  storage.efs_throughput_mode: bursting (staging) ≠ elastic (prod), listed by prod\n"
        ),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout
            .contains("  ok       edge.minimum_protocol_version: TLSv1.2_2021\n"),
        "{}",
        run.describe()
    );

    let md = compare_in(
        envs.path(),
        &["--format", "markdown", "compare", "staging", "prod"],
    );
    assert_eq!(md.code, Some(3));
    assert!(
        md.stdout.contains("> [!CAUTION]\n> Settings listed in `must_match` differ:\n> - `storage.efs_throughput_mode`: `bursting` in staging, `elastic` in prod\n"),
        "{}",
        md.describe()
    );
    let json = json_of(&compare_in(
        envs.path(),
        &["--format", "json", "compare", "prod", "staging"],
    ));
    assert_eq!(json["outcome"], "must_match_differs");
    assert_eq!(json["exit_code"], 3);
    assert_eq!(
        json["must_match"][1]["setting"],
        "storage.efs_throughput_mode"
    );
    assert_eq!(json["must_match"][1]["matches"], false);
}

#[test]
fn must_match_settings_that_match_leave_the_exit_code_to_the_differences() {
    let envs = envs_with_prod_must_match("must_match = [\"compute.health_check\", \"region\"]");

    let run = compare_in(envs.path(), &["compare", "staging", "prod"]);

    assert_eq!(run.code, Some(2), "{}", run.describe());
    assert!(
        run.stdout.contains("  ok       region: us-east-1\n"),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout.contains("  ok       compute.health_check: {"),
        "{}",
        run.describe()
    );
}

#[test]
fn an_unknown_must_match_setting_is_refused_when_the_env_loads() {
    let envs = envs_with_prod_must_match("must_match = [\"storage.efs_thruput_mode\"]");

    let run = compare_in(envs.path(), &["compare", "staging", "prod"]);

    assert_eq!(run.code, Some(1), "{}", run.describe());
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr.contains(
            "prod.toml:1: must_match[0]: unknown setting \"storage.efs_thruput_mode\"; known keys there: buckets, efs_admin_role_arns, efs_backup,"
        ),
        "{}",
        run.describe()
    );
    let validate = compare_in(envs.path(), &["validate", "--all"]);
    assert_eq!(validate.code, Some(1), "{}", validate.describe());
}

#[test]
fn the_markdown_report_has_a_table_per_group() {
    let run = run_ce(["--format", "markdown", "compare", "staging", "prod"]);
    assert_eq!(run.code, Some(2), "{}", run.describe());
    let md = &run.stdout;
    for part in [
        "### ce compare `staging` → `prod`: 27 resources differ\n",
        "| group | resources |\n|---|---:|\n| topology | 10 |\n",
        "#### storage\n\n| resource | setting | `staging` | `prod` |\n|---|---|---|---|\n",
        "| `storage/FileSystem` (AWS::EFS::FileSystem) | `ThroughputMode` | bursting | elastic |\n",
        "| `network/SubnetUsEast1d` (AWS::EC2::Subnet) | (whole resource) | absent | present |\n",
    ] {
        assert!(md.contains(part), "missing {part:?} in\n{md}");
    }
}

#[test]
fn an_unknown_env_is_one_error_naming_the_envs() {
    let run = run_ce(["compare", "staging", "qa"]);
    assert_eq!(run.code, Some(1), "{}", run.describe());
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr.starts_with("error: unknown env \"qa\"")
            && run.stderr.contains("known envs: beta, prod, staging"),
        "{}",
        run.describe()
    );
}
