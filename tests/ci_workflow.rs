//! The GitHub Actions workflow users copy from `examples/ci/`: actionlint finds nothing in it,
//! the linter does catch a broken copy, and the workflow keeps the shape the README promises
//! (OIDC roles, plan on pull requests, deploy of the kept plan behind an environment).

mod checkers;
mod common;

use checkers::actionlint;
use common::crate_root;

fn workflow() -> String {
    std::fs::read_to_string(crate_root().join("examples/ci/ce-infra.yml")).expect("workflow")
}

#[test]
fn the_example_workflow_passes_actionlint() {
    let checked = actionlint(&crate_root().join("examples/ci/ce-infra.yml"));
    assert!(checked.ok, "actionlint: {}", checked.stderr);
}

#[test]
fn actionlint_catches_a_broken_copy() {
    let dir = tempfile::tempdir().expect("temp dir");
    let broken = workflow()
        .replacen("runs-on: ubuntu-latest", "runs-onn: ubuntu-latest", 1)
        .replacen("${{ github.run_id }}", "${{ github.run_idd }}", 1);
    let file = dir.path().join("ce-infra.yml");
    std::fs::write(&file, broken).expect("write");

    let checked = actionlint(&file);

    assert!(!checked.ok, "actionlint accepted a broken workflow");
    assert!(checked.stderr.contains("runs-onn"), "{}", checked.stderr);
    assert!(checked.stderr.contains("run_idd"), "{}", checked.stderr);
}

#[test]
fn pull_requests_plan_with_the_plan_role_and_merges_deploy_the_kept_plan() {
    let w = workflow();
    let (_, jobs) = w.split_once("\n  plan:\n").expect("a plan job");
    let (plan, deploy) = jobs
        .split_once("\n  deploy:\n")
        .expect("a deploy job after the plan job");
    for part in [
        "if: github.event_name == 'pull_request'",
        "id-token: write",
        "role-to-assume: ${{ vars.CE_PLAN_ROLE_ARN }}",
        "target/release/ce plan --out plan.json",
        "ce plan --show plan.json --format markdown > plan.md",
        "gh pr comment",
        "uses: actions/upload-artifact@v4",
    ] {
        assert!(plan.contains(part), "plan job lacks {part:?}");
    }
    assert!(!plan.contains("CE_DEPLOY_ROLE_ARN") && !plan.contains("ce deploy"));
    for part in [
        "if: github.event_name == 'push'",
        "environment: production",
        "id-token: write",
        "gh run download",
        "role-to-assume: ${{ vars.CE_DEPLOY_ROLE_ARN }}",
        "ce deploy --plan plan.json --yes",
    ] {
        assert!(deploy.contains(part), "deploy job lacks {part:?}");
    }
    assert!(
        !deploy.contains("ce plan --out"),
        "the deploy job executes the reviewed plan only"
    );
}

#[test]
fn the_plan_role_may_create_change_sets_but_never_execute_them() {
    let read = |name: &str| -> serde_json::Value {
        let path = crate_root().join("examples/ci/iam").join(name);
        serde_json::from_str(&std::fs::read_to_string(&path).expect("policy")).expect("policy JSON")
    };
    let actions = |doc: &serde_json::Value, effect: &str| -> Vec<String> {
        doc["Statement"]
            .as_array()
            .expect("statements")
            .iter()
            .filter(|s| s["Effect"] == effect)
            .flat_map(|s| match &s["Action"] {
                serde_json::Value::String(a) => vec![a.clone()],
                serde_json::Value::Array(a) => a
                    .iter()
                    .filter_map(|a| a.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            })
            .collect()
    };
    let plan = read("plan-role-policy.json");
    let allowed = actions(&plan, "Allow");
    assert!(
        allowed.contains(&"cloudformation:CreateChangeSet".to_owned()),
        "{allowed:?}"
    );
    assert!(
        !allowed
            .iter()
            .any(|a| a == "cloudformation:ExecuteChangeSet" || a.ends_with(":*") || a == "*"),
        "{allowed:?}"
    );
    assert!(actions(&plan, "Deny").contains(&"cloudformation:ExecuteChangeSet".to_owned()));
    let deploy = actions(&read("deploy-role-policy.json"), "Allow");
    assert!(
        deploy.contains(&"cloudformation:ExecuteChangeSet".to_owned()),
        "{deploy:?}"
    );
    for trust in ["plan-role-trust.json", "deploy-role-trust.json"] {
        let doc = read(trust);
        let text = doc.to_string();
        assert!(
            text.contains("token.actions.githubusercontent.com:sub"),
            "{trust}: {text}"
        );
        assert!(text.contains("sts:AssumeRoleWithWebIdentity"), "{trust}");
    }
    assert!(
        read("deploy-role-trust.json")
            .to_string()
            .contains(":environment:production")
    );
    assert!(
        read("plan-role-trust.json")
            .to_string()
            .contains(":pull_request")
    );
}
