//! Scenario suite: edits of the staging env, each diffed offline against the committed render.
//! The expected resources and impacts come from the AWS resource reference's "Update requires"
//! for the properties each edit touches (quoted beside each scenario), and from the update
//! behaviour it documents for `UpdatePolicy` and `Fn::ImportValue`, not from the code. Each
//! scenario is also checked against the change set the sandbox (moto) produces for it.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use ce_infra::aws::{Aws, Target};
use ce_infra::diff::{Action, Consequence, DiffClass, EnvDiff, Impact, StackInput, diff_env};
use ce_infra::{config, render};
use common::Sandbox;
use serde_json::Value;
use tempfile::TempDir;

const STACKS: [&str; 5] = ["network", "storage", "compute", "edge", "monitoring"];

/// One env edit and what the resource reference says it does.
struct Scenario {
    name: &'static str,
    from: &'static str,
    to: &'static str,
    /// `(stack, logical id, impact, blocked)` for every resource that changes.
    expected: &'static [(&'static str, &'static str, Impact, bool)],
    class: DiffClass,
    /// Groups whose update the rolling-update policy turns into a replacement of every node:
    /// none, since the colours' groups have no rolling update (new nodes come with releases).
    rolling: &'static [&'static str],
}

const SCENARIOS: &[Scenario] = &[
    // LaunchTemplateData: "Update requires: No interruption"; a new version moves
    // LatestVersionNumber, read by both colours' LaunchTemplate.Version ("No interruption").
    // Without AutoScalingRollingUpdate no node is replaced: the next release's nodes get it.
    Scenario {
        name: "instance type",
        from: "instance_type = \"m5.large\"",
        to: "instance_type = \"m5.xlarge\"",
        expected: &[
            ("compute", "GreenAutoScalingGroup", Impact::Update, false),
            ("compute", "NodeAutoScalingGroup", Impact::Update, false),
            ("compute", "NodeLaunchTemplate", Impact::Update, false),
        ],
        class: DiffClass::Changes,
        rolling: &[],
    },
    Scenario {
        name: "ami",
        from: "ami = \"ami-0f2092af088f26ebc\"",
        to: "ami = \"ami-0123456789abcdef0\"",
        expected: &[
            ("compute", "GreenAutoScalingGroup", Impact::Update, false),
            ("compute", "NodeAutoScalingGroup", Impact::Update, false),
            ("compute", "NodeLaunchTemplate", Impact::Update, false),
        ],
        class: DiffClass::Changes,
        rolling: &[],
    },
    // MaxSize: "Update requires: No interruption"; not a rolling-update trigger.
    Scenario {
        name: "max size",
        from: "max_size = 4",
        to: "max_size = 6",
        // The group-at-maximum alarm's Threshold is the max size: "No interruption" too.
        expected: &[
            ("compute", "GreenAutoScalingGroup", Impact::Update, false),
            ("compute", "NodeAutoScalingGroup", Impact::Update, false),
            ("monitoring", "GroupAtMaxAlarm", Impact::Update, false),
        ],
        class: DiffClass::Changes,
        rolling: &[],
    },
    // AWS::CloudWatch::Alarm Threshold: "Update requires: No interruption".
    Scenario {
        name: "latency threshold",
        from: "latency_p90_seconds = 6.0",
        to: "latency_p90_seconds = 7.0",
        expected: &[("monitoring", "LatencyAlarm", Impact::Update, false)],
        class: DiffClass::Changes,
        rolling: &[],
    },
    // AWS::S3::Bucket BucketName: "Update requires: Replacement"; the bucket policy's Bucket:
    // "Replacement"; the exported name changes under the load balancer's access-log attribute
    // ("No interruption") and the distribution's logging bucket ("No interruption").
    Scenario {
        name: "logs bucket name",
        from: "logs = \"compiler-explorer-staging-logs\"",
        to: "logs = \"compiler-explorer-staging-logs-2\"",
        expected: &[
            ("storage", "LogsBucket", Impact::Replace, false),
            ("storage", "LogsBucketPolicy", Impact::Replace, false),
            ("compute", "LoadBalancer", Impact::Update, true),
            ("edge", "Distribution", Impact::Update, true),
        ],
        class: DiffClass::NeedsApproval,
        rolling: &[],
    },
    // AWS::EC2::Subnet CidrBlock: "Replacement"; SubnetRouteTableAssociation SubnetId:
    // "Replacement"; EFS MountTarget SubnetId: "Replacement"; load balancer Subnets and the
    // groups' VPCZoneIdentifier: "No interruption".
    Scenario {
        name: "subnet range",
        from: "cidr = \"172.29.2.0/24\"",
        to: "cidr = \"172.29.3.0/24\"",
        expected: &[
            ("network", "SubnetUsEast1c", Impact::Replace, false),
            (
                "network",
                "SubnetUsEast1cRouteTableAssociation",
                Impact::Replace,
                false,
            ),
            ("storage", "MountTargetUsEast1c", Impact::Replace, true),
            ("compute", "LoadBalancer", Impact::Update, true),
            ("compute", "GreenAutoScalingGroup", Impact::Update, true),
            ("compute", "NodeAutoScalingGroup", Impact::Update, true),
        ],
        class: DiffClass::NeedsApproval,
        rolling: &[],
    },
];

/// The committed staging templates, by stack name, in deploy order.
fn committed() -> Vec<(String, Value)> {
    STACKS
        .iter()
        .map(|s| {
            let path = common::stacks_dir()
                .join("staging")
                .join(format!("{s}.json"));
            let text = std::fs::read_to_string(&path).expect("committed template");
            (
                format!("ce-staging-{s}"),
                serde_json::from_str(&text).expect("JSON"),
            )
        })
        .collect()
}

/// Export names imported anywhere in `templates`.
fn imported(templates: &[(String, Value)]) -> BTreeSet<String> {
    fn walk(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(name)) = o.get("Fn::ImportValue") {
                    out.insert(name.clone());
                }
                o.values().for_each(|v| walk(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut names = BTreeSet::new();
    templates.iter().for_each(|(_, t)| walk(t, &mut names));
    names
}

fn edited_env_text(s: &Scenario) -> String {
    let text = std::fs::read_to_string(common::envs_dir().join("staging.toml")).expect("env");
    assert_eq!(
        text.matches(s.from).count(),
        1,
        "{}: edit is unambiguous",
        s.name
    );
    text.replace(s.from, s.to)
}

/// The edited staging env rendered, by stack name.
fn render_edited(s: &Scenario) -> Vec<(String, Value)> {
    let dir = TempDir::new().expect("temp dir");
    std::fs::write(dir.path().join("staging.toml"), edited_env_text(s)).expect("write env");
    let env = config::load(dir.path(), "staging").expect("edited env loads");
    render::render_env(&env)
        .expect("renders")
        .into_iter()
        .map(|r| (r.stack_name, serde_json::from_str(&r.text).expect("JSON")))
        .collect()
}

fn diff_scenario(s: &Scenario) -> EnvDiff {
    let deployed = committed();
    let rendered = render_edited(s);
    let imported = imported(&deployed);
    let inputs: Vec<StackInput<'_>> = deployed
        .iter()
        .zip(&rendered)
        .map(|((name, old), (_, new))| StackInput::new(name, Some(old), new, &imported))
        .collect();
    diff_env("staging", &inputs).expect("diffs")
}

fn check_offline(s: &Scenario) {
    let d = diff_scenario(s);
    let got: BTreeSet<(String, String, Impact, bool)> = d
        .stacks
        .iter()
        .flat_map(|st| {
            let stack = st.stack_name.trim_start_matches("ce-staging-").to_owned();
            st.resources.iter().map(move |r| {
                (
                    stack.clone(),
                    r.logical_id.clone(),
                    r.impact,
                    !r.blocked_by.is_empty(),
                )
            })
        })
        .collect();
    let want: BTreeSet<(String, String, Impact, bool)> = s
        .expected
        .iter()
        .map(|(st, id, i, b)| ((*st).to_owned(), (*id).to_owned(), *i, *b))
        .collect();
    assert_eq!(got, want, "{}", s.name);
    assert_eq!(d.class(), s.class, "{}", s.name);
    let rolling: Vec<&str> = d
        .stacks
        .iter()
        .flat_map(|st| &st.resources)
        .filter(|r| {
            r.consequences
                .iter()
                .any(|c| matches!(c, Consequence::RollingReplacement { .. }))
        })
        .map(|r| r.logical_id.as_str())
        .collect();
    assert_eq!(rolling, s.rolling, "{}", s.name);
}

#[test]
fn a_new_instance_type_updates_the_template_and_both_groups_without_replacing_nodes() {
    check_offline(&SCENARIOS[0]);
}

#[test]
fn a_new_ami_updates_the_template_and_both_groups_without_replacing_nodes() {
    check_offline(&SCENARIOS[1]);
}

#[test]
fn a_bigger_max_size_updates_the_group_without_replacing_nodes() {
    check_offline(&SCENARIOS[2]);
}

#[test]
fn a_new_alarm_threshold_updates_that_alarm_only() {
    check_offline(&SCENARIOS[3]);
}

#[test]
fn a_renamed_logs_bucket_replaces_it_and_shows_the_blocked_importers() {
    check_offline(&SCENARIOS[4]);
}

#[test]
fn a_moved_subnet_replaces_its_mount_target_blocked_and_updates_both_groups() {
    check_offline(&SCENARIOS[5]);
}

#[test]
fn every_attribute_the_committed_stacks_read_is_in_the_attribute_model() {
    use ce_infra::diff::attributes::{Source, attribute_rule, reads};
    use ce_infra::diff::normalise::PropertyPath;
    for env in common::env_names() {
        for stack in STACKS {
            let path = common::stacks_dir()
                .join(&env)
                .join(format!("{stack}.json"));
            let t: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let resources = t["Resources"].as_object().expect("resources");
            let mut found = Vec::new();
            reads(&t, &PropertyPath::default(), &mut found);
            for (_, source) in found {
                let Source::Resource {
                    id,
                    attribute: Some(attribute),
                } = source
                else {
                    continue;
                };
                let ty = resources[&id]["Type"].as_str().expect("type");
                let rule = attribute_rule(ty).unwrap_or_else(|| panic!("{ty} is modelled"));
                assert!(
                    rule.attributes.iter().any(|(a, _)| *a == attribute),
                    "{env}/{stack}: {id}.{attribute} ({ty}) is not in the attribute model"
                );
            }
        }
    }
}

/// The resources a sandbox change set lists for each changed stack, `(stack, id) → action`.
fn sandbox_change_sets(
    sandbox: &Sandbox,
    s: &Scenario,
    changed: &BTreeSet<String>,
) -> BTreeMap<(String, String), String> {
    let runtime = ce_infra::aws::runtime().expect("runtime");
    let target = Target::Sandbox {
        endpoint: sandbox.endpoint(),
    };
    let dir = TempDir::new().expect("temp dir");
    std::fs::write(dir.path().join("staging.toml"), edited_env_text(s)).expect("write env");
    let env = config::load(dir.path(), "staging").expect("env");
    let aws = runtime.block_on(Aws::connect("us-east-1", target));
    let env = runtime
        .block_on(ce_infra::aws::local::env_for_target(env, &aws))
        .expect("sandbox certificates");
    let client = aws.cloudformation().client().clone();
    let mut listed = BTreeMap::new();
    for stack in render::render_env(&env).expect("renders") {
        if !changed.contains(&stack.stack_name) {
            continue;
        }
        let name = format!("scenario-{}", s.name.replace(' ', "-"));
        let created = runtime
            .block_on(
                client
                    .create_change_set()
                    .stack_name(&stack.stack_name)
                    .change_set_name(&name)
                    .change_set_type(aws_sdk_cloudformation::types::ChangeSetType::Update)
                    .template_body(&stack.text)
                    .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityNamedIam)
                    .send(),
            )
            .unwrap_or_else(|e| panic!("{}: create change set: {e:?}", s.name));
        let id = created.id().expect("change set id").to_owned();
        let described = runtime
            .block_on(client.describe_change_set().change_set_name(&id).send())
            .unwrap_or_else(|e| panic!("{}: describe change set: {e:?}", s.name));
        for change in described.changes() {
            if let Some(rc) = change.resource_change() {
                listed.insert(
                    (
                        stack.stack_name.clone(),
                        rc.logical_resource_id().unwrap_or_default().to_owned(),
                    ),
                    rc.action()
                        .map(|a| a.as_str().to_owned())
                        .unwrap_or_default(),
                );
            }
        }
        runtime
            .block_on(client.delete_change_set().change_set_name(&id).send())
            .unwrap_or_else(|e| panic!("{}: delete change set: {e:?}", s.name));
    }
    listed
}

/// moto's change sets compare template text: they list every resource whose own text changes,
/// as `Modify`, and none of those reached only through an attribute, a replacement elsewhere
/// or an import. A real change set adds those (`ChangeSource: ResourceAttribute`,
/// `ResourceReference`, ...) and says `Replacement` per resource; the README's table says so.
#[test]
fn every_scenario_agrees_with_the_change_set_the_sandbox_produces() {
    let sandbox = Sandbox::with_current_env();
    for s in SCENARIOS {
        let d = diff_scenario(s);
        // Only the stacks whose own template changes get a change set: an importing stack's
        // template is the same, and CloudFormation would refuse the exporting one anyway.
        let changed: BTreeSet<String> = d
            .stacks
            .iter()
            .filter(|st| st.resources.iter().any(|r| !r.changes.is_empty()))
            .map(|st| st.stack_name.clone())
            .collect();
        let listed = sandbox_change_sets(&sandbox, s, &changed);
        let own_text: BTreeMap<(String, String), String> = d
            .stacks
            .iter()
            .filter(|st| changed.contains(&st.stack_name))
            .flat_map(|st| {
                st.resources
                    .iter()
                    .filter(|r| {
                        !r.changes.is_empty() || matches!(r.action, Action::Add | Action::Remove)
                    })
                    .map(|r| {
                        let action = match r.action {
                            Action::Add => "Add",
                            Action::Remove => "Remove",
                            Action::Modify | Action::Replace => "Modify",
                        };
                        (
                            (st.stack_name.clone(), r.logical_id.clone()),
                            action.to_owned(),
                        )
                    })
            })
            .collect();
        assert_eq!(listed, own_text, "{}: the sandbox's change sets", s.name);
    }
}
