//! The diff core on template pairs: what counts as a change, how bad each change is, what is
//! at risk, and the text and JSON the caller prints. Also checks the replacement table
//! against the registry schemas cfn-lint ships.
//!
//! The snapshots live in `tests/fixtures/diff/`; run with `UPDATE_SNAPSHOTS=1` to rewrite them
//! after a deliberate change, and review the difference.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use ce_infra::diff::changeset::{ChangeAction, ChangeSetEvidence, Replacement, ResourceEvidence};
use ce_infra::diff::impact::REPLACEMENT_TABLE;
use ce_infra::diff::{
    Action, Basis, DataOutcome, DiffClass, EnvDiff, ExportChange, Impact, StackDiff, StackInput,
    diff_env, diff_stack, format, impacts,
};
use serde_json::{Value, json};

const STACK: &str = "ce-test-network";

fn template(resources: Value) -> Value {
    json!({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources})
}

fn diff_with(old: &Value, new: &Value, imported: &[&str]) -> StackDiff {
    let imported: BTreeSet<String> = imported.iter().map(|s| s.to_string()).collect();
    diff_stack(&StackInput::new(STACK, Some(old), new, &imported)).expect("templates are valid")
}

fn diff(old: &Value, new: &Value) -> StackDiff {
    diff_with(old, new, &[])
}

fn vpc(cidr: &str) -> Value {
    json!({"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": cidr, "EnableDnsHostnames": true}})
}

fn subnet() -> Value {
    json!({"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.0.0/24"}})
}

// ---- what is not a change -------------------------------------------------------------

#[test]
fn identical_templates_have_no_changes() {
    let t = template(json!({"Vpc": vpc("10.0.0.0/16"), "Subnet": subnet()}));
    let d = diff(&t, &t);
    assert!(!d.has_changes());
    assert_eq!(d.class(), DiffClass::NoChanges);
    assert_eq!(d.class().exit_code(), 0);
}

#[test]
fn scalar_forms_key_order_depends_on_and_get_att_forms_are_not_changes() {
    let old = template(json!({
        "Sg": {"Type": "AWS::EC2::SecurityGroup", "DependsOn": ["B", "A"], "Properties": {
            "GroupDescription": "d",
            "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                "SourceSecurityGroupId": {"Fn::GetAtt": ["Lb", "GroupId"]}}]}},
    }));
    let new = template(json!({
        "Sg": {"Properties": {
            "SecurityGroupIngress": [{"ToPort": "443", "FromPort": "443", "IpProtocol": "tcp",
                "SourceSecurityGroupId": {"Fn::GetAtt": "Lb.GroupId"}}],
            "GroupDescription": "d"}, "DependsOn": ["A", "B"], "Type": "AWS::EC2::SecurityGroup"},
    }));
    assert!(!diff(&old, &new).has_changes());
    let single = template(json!({"R": {"Type": "AWS::SNS::Topic", "DependsOn": "A"}}));
    let listed = template(json!({"R": {"Type": "AWS::SNS::Topic", "DependsOn": ["A"]}}));
    assert!(!diff(&single, &listed).has_changes());
}

#[test]
fn reordering_set_like_lists_is_not_a_change() {
    let asg = |zones: Value, tgs: Value| {
        template(
            json!({"Asg": {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {
            "MinSize": 1, "MaxSize": 2, "VPCZoneIdentifier": zones, "TargetGroupARNs": tgs,
            "Tags": [{"Key": "a", "Value": "1", "PropagateAtLaunch": true},
                     {"Key": "b", "Value": "2", "PropagateAtLaunch": true}]}}}),
        )
    };
    let old = asg(json!(["s1", "s2"]), json!([{"Ref": "Tg1"}, {"Ref": "Tg2"}]));
    let new = asg(json!(["s2", "s1"]), json!([{"Ref": "Tg2"}, {"Ref": "Tg1"}]));
    assert!(!diff(&old, &new).has_changes());
}

#[test]
fn reordering_an_ordered_list_is_a_change() {
    let dist = |methods: Value| {
        template(
            json!({"Cdn": {"Type": "AWS::CloudFront::Distribution", "Properties": {
            "DistributionConfig": {"CacheBehaviors": methods}}}}),
        )
    };
    let d = diff(
        &dist(json!([{"PathPattern": "a"}, {"PathPattern": "b"}])),
        &dist(json!([{"PathPattern": "b"}, {"PathPattern": "a"}])),
    );
    assert_eq!(impacts(&d)["Cdn"], Impact::Update);
}

#[test]
fn rendered_envs_diff_clean_against_reformatted_copies_of_themselves() {
    for name in common::env_names() {
        let env = ce_infra::config::load(&common::envs_dir(), &name).expect("env loads");
        let stacks = ce_infra::architecture::build(&env).expect("env builds");
        for stack in stacks {
            let rendered = serde_json::to_value(&stack.template).expect("template serialises");
            let deployed = reformat(&rendered, None);
            assert_ne!(deployed, rendered);
            let d = diff(&deployed, &rendered);
            assert!(
                !d.has_changes(),
                "{}: {}",
                stack.name,
                serde_json::to_string_pretty(&d).unwrap_or_default()
            );
        }
    }
}

/// What another tool might have submitted: scalars as strings, `GetAtt` as `"A.B"`, a lone
/// `DependsOn` as a string, `Fn::Sub` with an empty variable map, set-like lists reversed.
fn reformat(value: &Value, key: Option<&str>) -> Value {
    const SETS: &[&str] = &[
        "Tags",
        "SecurityGroupIngress",
        "SecurityGroupEgress",
        "VPCZoneIdentifier",
        "SecurityGroupIds",
        "Statement",
        "Action",
        "Subnets",
        "AttributeDefinitions",
        "Aliases",
    ];
    match value {
        // Integral floats as JavaScript prints them (`5.0` → `"5"`), as CDK and CloudFormation
        // agree; a string `"5.0"` would be a different string.
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 => Value::String(format!("{}", f as i64)),
            _ => Value::String(n.to_string()),
        },
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(|v| reformat(v, None)).collect();
            if key.is_some_and(|k| SETS.contains(&k)) {
                items.reverse();
            }
            if key == Some("DependsOn") && items.len() == 1 {
                return items.remove(0);
            }
            Value::Array(items)
        }
        Value::Object(obj) => {
            if let Some(Value::Array(parts)) = obj.get("Fn::GetAtt")
                && let [Value::String(id), Value::String(attr)] = parts.as_slice()
            {
                return json!({"Fn::GetAtt": format!("{id}.{attr}")});
            }
            if let Some(Value::String(text)) = obj.get("Fn::Sub") {
                return json!({"Fn::Sub": [text, {}]});
            }
            let mut out = serde_json::Map::new();
            for (k, v) in obj.iter().rev() {
                out.insert(k.clone(), reformat(v, Some(k)));
            }
            Value::Object(out)
        }
        Value::String(_) | Value::Null => value.clone(),
    }
}

// ---- impact kinds ------------------------------------------------------------------

#[test]
fn every_impact_kind_is_predicted() {
    let old = template(json!({
        "Vpc": vpc("10.0.0.0/16"),
        "Tenancy": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.9.0.0/16", "InstanceTenancy": "default"}},
        "Gone": {"Type": "AWS::EC2::InternetGateway"},
        "Kept": {"Type": "AWS::SNS::Topic", "DeletionPolicy": "Retain"},
        "Dns": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.8.0.0/16", "EnableDnsSupport": false}},
        "Unknown": {"Type": "AWS::Foo::Bar", "Properties": {"X": 1}},
    }));
    let new = template(json!({
        "Vpc": vpc("10.1.0.0/16"),
        "Tenancy": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.9.0.0/16", "InstanceTenancy": "dedicated"}},
        "Added": {"Type": "AWS::EC2::InternetGateway"},
        "Dns": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.8.0.0/16", "EnableDnsSupport": true}},
        "Unknown": {"Type": "AWS::Foo::Bar", "Properties": {"X": 2}},
    }));
    let d = diff(&old, &new);
    let got = impacts(&d);
    assert_eq!(got["Added"], Impact::Create);
    assert_eq!(got["Dns"], Impact::Update);
    assert_eq!(got["Tenancy"], Impact::MayReplace);
    assert_eq!(got["Unknown"], Impact::MayReplace);
    assert_eq!(got["Vpc"], Impact::Replace);
    assert_eq!(got["Kept"], Impact::Orphan);
    assert_eq!(got["Gone"], Impact::Destroy);
    assert_eq!(d.max_impact(), Impact::Destroy);
    let actions: Vec<(&str, Action)> = d
        .resources
        .iter()
        .map(|r| (r.logical_id.as_str(), r.action))
        .collect();
    assert!(actions.contains(&("Vpc", Action::Replace)));
    assert!(actions.contains(&("Tenancy", Action::Modify)));
    assert!(actions.contains(&("Added", Action::Add)));
    assert!(actions.contains(&("Gone", Action::Remove)));
}

#[test]
fn impacts_are_ordered_so_the_worst_is_the_max() {
    let all = [
        Impact::NoChange,
        Impact::Create,
        Impact::Update,
        Impact::MayReplace,
        Impact::Replace,
        Impact::Orphan,
        Impact::Destroy,
    ];
    assert!(all.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn changed_property_is_shown_at_its_nested_path_with_old_and_new() {
    let lt = |ty: &str| {
        template(
            json!({"Lt": {"Type": "AWS::EC2::LaunchTemplate", "Properties": {
            "LaunchTemplateData": {"InstanceType": ty, "ImageId": "ami-1"}}}}),
        )
    };
    let d = diff(&lt("t3.medium"), &lt("t3.large"));
    let change = &d.resources[0].changes[0];
    assert_eq!(change.path, "LaunchTemplateData.InstanceType");
    assert_eq!(
        (change.old.clone(), change.new.clone()),
        (Some(json!("t3.medium")), Some(json!("t3.large")))
    );
    assert_eq!(change.impact, Impact::Update);
}

#[test]
fn a_type_change_replaces() {
    let old = template(json!({"R": {"Type": "AWS::SNS::Topic"}}));
    let new = template(json!({"R": {"Type": "AWS::EC2::InternetGateway"}}));
    let d = diff(&old, &new);
    assert_eq!(d.resources[0].impact, Impact::Replace);
    assert_eq!(d.resources[0].changes[0].path, "Type");
}

#[test]
fn dynamodb_key_schema_change_replaces_though_the_schema_does_not_say_so() {
    let table = |key: &str| {
        template(
            json!({"Links": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}]}}}),
        )
    };
    assert_eq!(
        impacts(&diff(&table("id"), &table("key")))["Links"],
        Impact::Replace
    );
}

// ---- replacement spread --------------------------------------------------------------

#[test]
fn replacement_spreads_through_forcing_references_to_a_fixed_point() {
    let make = |cidr: &str| {
        template(json!({
            "Vpc": vpc(cidr),
            "Subnet": subnet(),
            "Assoc": {"Type": "AWS::EC2::SubnetRouteTableAssociation", "Properties": {
                "SubnetId": {"Ref": "Subnet"}, "RouteTableId": "rtb-1"}},
            "Asg": {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {
                "MinSize": 1, "MaxSize": 1, "VPCZoneIdentifier": [{"Ref": "Subnet"}]}},
            "Other": {"Type": "AWS::SNS::Topic"},
        }))
    };
    let d = diff(&make("10.0.0.0/16"), &make("10.1.0.0/16"));
    let got = impacts(&d);
    assert_eq!(got["Vpc"], Impact::Replace);
    assert_eq!(got["Subnet"], Impact::Replace);
    assert_eq!(got["Assoc"], Impact::Replace, "two hops away");
    assert_eq!(
        got["Asg"],
        Impact::Update,
        "non-forcing reference: updated with the new id"
    );
    assert!(!got.contains_key("Other"));
    let subnet = d
        .resources
        .iter()
        .find(|r| r.logical_id == "Subnet")
        .unwrap();
    assert!(subnet.changes.is_empty());
    assert_eq!(subnet.causes, ["VpcId refers to Vpc, which is replaced"]);
}

#[test]
fn a_possible_replacement_spreads_as_a_possible_replacement() {
    let make = |tenancy: &str| {
        template(json!({
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16", "InstanceTenancy": tenancy}},
            "Subnet": subnet(),
        }))
    };
    let got = impacts(&diff(&make("default"), &make("dedicated")));
    assert_eq!(got["Vpc"], Impact::MayReplace);
    assert_eq!(got["Subnet"], Impact::MayReplace);
}

// ---- data at risk ----------------------------------------------------------------------

#[test]
fn stateful_replacement_and_removal_are_listed_with_their_data_outcome() {
    let bucket = |name: &str| {
        json!({"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
               "Properties": {"BucketName": name}})
    };
    let old = template(json!({
        "Builds": bucket("ce-builds"),
        "Links": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": "links"}},
        "Efs": {"Type": "AWS::EFS::FileSystem", "DeletionPolicy": "Retain"},
        "Topic": {"Type": "AWS::SNS::Topic"},
    }));
    let new = template(json!({"Builds": bucket("ce-builds-2")}));
    let d = diff(&old, &new);
    let lines: Vec<(&str, Impact, DataOutcome)> = d
        .data_loss
        .iter()
        .map(|l| (l.logical_id.as_str(), l.impact, l.outcome))
        .collect();
    assert_eq!(
        lines,
        [
            ("Builds", Impact::Replace, DataOutcome::Retained),
            ("Efs", Impact::Orphan, DataOutcome::Retained),
            ("Links", Impact::Destroy, DataOutcome::Deleted),
        ]
    );
    assert_eq!(d.class(), DiffClass::NeedsApproval);
    assert_eq!(d.class().exit_code(), 3);
}

#[test]
fn retained_stateful_replacement_still_needs_approval() {
    let bucket = |name: &str| {
        template(
            json!({"B": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain", "Properties": {"BucketName": name}}}),
        )
    };
    let d = diff(&bucket("a"), &bucket("b"));
    assert_eq!(d.data_loss[0].outcome, DataOutcome::Retained);
    assert_eq!(d.class(), DiffClass::NeedsApproval);
}

#[test]
fn updating_a_stateful_resource_in_place_is_not_at_risk() {
    let table = |mode: &str| {
        template(
            json!({"T": {"Type": "AWS::DynamoDB::Table", "Properties": {"BillingMode": mode}}}),
        )
    };
    let d = diff(&table("PROVISIONED"), &table("PAY_PER_REQUEST"));
    assert!(d.data_loss.is_empty());
    assert_eq!(d.class(), DiffClass::Changes);
    assert_eq!(d.class().exit_code(), 2);
}

// ---- security ----------------------------------------------------------------------------

fn sg_with(rules: Value) -> Value {
    template(
        json!({"Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
        "GroupDescription": "web", "SecurityGroupIngress": rules}}}),
    )
}

#[test]
fn opening_a_port_to_the_world_needs_approval() {
    let https =
        json!({"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "10.0.0.0/8"});
    let ssh = json!({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv6": "::/0"});
    let d = diff(&sg_with(json!([https])), &sg_with(json!([https, ssh])));
    assert!(d.security.broadened);
    assert!(d.security.rules_added[0].open_to_world);
    assert_eq!(d.class(), DiffClass::NeedsApproval);
}

#[test]
fn closing_a_port_is_a_change_but_not_broadening() {
    let https = json!({"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0"});
    let d = diff(&sg_with(json!([https])), &sg_with(json!([])));
    assert!(!d.security.broadened);
    assert_eq!(d.security.rules_removed.len(), 1);
    assert_eq!(d.class(), DiffClass::Changes);
}

#[test]
fn a_new_allow_statement_needs_approval() {
    let role = |actions: Value| {
        template(json!({"Role": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Service": ["ec2.amazonaws.com"]}, "Action": ["sts:AssumeRole"]}]},
            "Policies": [{"PolicyName": "node", "PolicyDocument": {"Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}}]}}}))
    };
    let d = diff(
        &role(json!(["s3:GetObject"])),
        &role(json!(["s3:GetObject", "s3:*"])),
    );
    assert!(d.security.broadened);
    assert!(d.security.statements_added[0].wildcard);
    assert_eq!(d.class(), DiffClass::NeedsApproval);
}

#[test]
fn a_file_system_policy_that_grants_more_needs_approval_and_one_that_grants_less_does_not() {
    let file_system = |statements: Value| {
        template(json!({"FileSystem": {"Type": "AWS::EFS::FileSystem",
            "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain", "Properties": {
            "Encrypted": true,
            "FileSystemPolicy": {"Version": "2012-10-17", "Statement": statements}}}}))
    };
    let mount = json!({"Sid": "Mount", "Effect": "Allow",
        "Principal": {"AWS": ["arn:aws:iam::111111111111:root"]},
        "Action": ["elasticfilesystem:ClientMount"]});
    let write = json!({"Sid": "Write", "Effect": "Allow",
        "Principal": {"AWS": ["arn:aws:iam::111111111111:root"]},
        "Action": ["elasticfilesystem:ClientWrite"]});
    let read_only = file_system(json!([mount.clone()]));
    let writable = file_system(json!([mount, write]));

    let wider = diff(&read_only, &writable);
    assert!(wider.security.broadened, "{:#?}", wider.security);
    assert_eq!(wider.class(), DiffClass::NeedsApproval);
    let mut text = Vec::new();
    format::write_stack_text(&mut text, &wider, false).expect("text");
    let text = String::from_utf8(text).expect("utf-8");
    assert!(
        text.contains("  Security: permissions broadened\n"),
        "{text}"
    );
    assert!(
        text.lines().any(
            |l| l.starts_with("    + IAM Allow") && l.contains("elasticfilesystem:ClientWrite")
        ),
        "{text}"
    );

    let narrower = diff(&writable, &read_only);
    assert!(!narrower.security.broadened, "{:#?}", narrower.security);
    assert_eq!(narrower.security.statements_removed.len(), 1);
    assert_eq!(narrower.class(), DiffClass::Changes);
}

// ---- parameters, outputs, exports ----------------------------------------------------

fn with_outputs(outputs: Value, cidr: &str) -> Value {
    json!({"Resources": {"Vpc": vpc(cidr)}, "Outputs": outputs})
}

fn vpc_export(name: &str) -> Value {
    json!({"VpcId": {"Value": {"Ref": "Vpc"}, "Export": {"Name": name}}})
}

#[test]
fn removing_an_imported_export_blocks_the_deploy() {
    let old = with_outputs(vpc_export("ce-test-network-VpcId"), "10.0.0.0/16");
    let new = with_outputs(json!({}), "10.0.0.0/16");
    let d = diff_with(&old, &new, &["ce-test-network-VpcId"]);
    assert_eq!(d.exports[0].change, ExportChange::Removed);
    assert!(d.exports[0].blocker);
    assert_eq!(d.class(), DiffClass::NeedsApproval);
    let free = diff_with(&old, &new, &[]);
    assert!(!free.exports[0].blocker);
    assert_eq!(free.class(), DiffClass::Changes);
}

#[test]
fn an_export_whose_resource_is_replaced_changes_value() {
    let name = "${AWS::StackName}-VpcId";
    let old = with_outputs(
        json!({"VpcId": {"Value": {"Ref": "Vpc"}, "Export": {"Name": {"Fn::Sub": name}}}}),
        "10.0.0.0/16",
    );
    let new = with_outputs(
        json!({"VpcId": {"Value": {"Ref": "Vpc"}, "Export": {"Name": {"Fn::Sub": name}}}}),
        "10.1.0.0/16",
    );
    let d = diff_with(&old, &new, &["ce-test-network-VpcId"]);
    assert_eq!(d.exports.len(), 1);
    assert_eq!(d.exports[0].name, "ce-test-network-VpcId");
    assert_eq!(d.exports[0].change, ExportChange::ValueChanged);
    assert!(d.exports[0].blocker);
    assert_eq!(
        d.outputs[0].causes,
        ["the value refers to Vpc, which is replaced"]
    );
}

#[test]
fn renaming_an_export_removes_the_old_name_and_adds_the_new() {
    let old = with_outputs(vpc_export("a"), "10.0.0.0/16");
    let new = with_outputs(vpc_export("b"), "10.0.0.0/16");
    let d = diff(&old, &new);
    let got: Vec<(&str, ExportChange)> = d
        .exports
        .iter()
        .map(|e| (e.name.as_str(), e.change))
        .collect();
    assert_eq!(
        got,
        [("a", ExportChange::Removed), ("b", ExportChange::Added)]
    );
    assert_eq!(d.outputs[0].changes[0].path, "Export.Name");
}

#[test]
fn parameter_changes_are_listed_and_no_echo_defaults_never_shown() {
    let old = json!({"Parameters": {"Ami": {"Type": "String", "Default": "ami-1"},
        "Token": {"Type": "String", "NoEcho": true, "Default": "secret-1"}}, "Resources": {}});
    let new = json!({"Parameters": {"Ami": {"Type": "String", "Default": "ami-2"},
        "Token": {"Type": "String", "NoEcho": "true", "Default": "secret-2"}}, "Resources": {}});
    let d = diff(&old, &new);
    assert_eq!(
        d.parameters.len(),
        1,
        "a changed secret default is invisible"
    );
    assert_eq!(d.parameters[0].name, "Ami");
    let mut json = Vec::new();
    format::write_json(
        &mut json,
        &EnvDiff {
            env: "t".into(),
            stacks: vec![d],
        },
    )
    .unwrap();
    assert!(!String::from_utf8(json).unwrap().contains("secret"));
}

// ---- new stacks, env, errors ---------------------------------------------------------

#[test]
fn a_stack_that_does_not_exist_is_all_creations() {
    let new = template(json!({"Vpc": vpc("10.0.0.0/16"), "Subnet": subnet()}));
    let none = BTreeSet::new();
    let d = diff_stack(&StackInput::new(STACK, None, &new, &none)).unwrap();
    assert!(!d.exists);
    assert!(
        d.resources
            .iter()
            .all(|r| r.action == Action::Add && r.impact == Impact::Create)
    );
    assert_eq!(d.summary().add, 2);
    assert!(d.template.is_empty(), "no section noise for a new stack");
    assert_eq!(d.class(), DiffClass::Changes);
}

#[test]
fn env_class_is_the_worst_of_its_stacks() {
    let t = template(json!({"Vpc": vpc("10.0.0.0/16")}));
    let gone = template(json!({}));
    let dangerous = template(json!({"B": {"Type": "AWS::S3::Bucket"}}));
    let none = BTreeSet::new();
    let inputs = [
        StackInput::new("a", Some(&t), &t, &none),
        StackInput::new("b", Some(&dangerous), &gone, &none),
    ];
    let env = diff_env("test", &inputs).unwrap();
    assert_eq!(env.class(), DiffClass::NeedsApproval);
    assert_eq!(env.approval_reasons(), ["b: destroy B (data DELETED)"]);
}

#[test]
fn a_malformed_template_is_an_error_not_a_panic() {
    let none = BTreeSet::new();
    let bad = json!({"Resources": []});
    let err = diff_stack(&StackInput::new(
        STACK,
        Some(&bad),
        &template(json!({})),
        &none,
    ))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the Resources section of the deployed template is not an object"
    );
}

// ---- change-set evidence ---------------------------------------------------------------

#[test]
fn a_change_set_that_denies_replacement_stops_the_spread() {
    let old = template(json!({"Vpc": vpc("10.0.0.0/16"), "Subnet": subnet()}));
    let new = template(json!({"Vpc": vpc("10.1.0.0/16"), "Subnet": subnet()}));
    let evidence = ChangeSetEvidence {
        resources: [(
            "Vpc".to_owned(),
            ResourceEvidence {
                action: ChangeAction::Modify,
                resource_type: "AWS::EC2::VPC".into(),
                replacement: Some(Replacement::False),
                details: Vec::new(),
            },
        )]
        .into(),
    };
    let none = BTreeSet::new();
    let input = StackInput::new(STACK, Some(&old), &new, &none).with_change_set(&evidence);
    let d = diff_stack(&input).unwrap();
    let vpc = &d.resources[0];
    assert_eq!(
        (vpc.impact, vpc.basis),
        (Impact::Update, Basis::ConfirmedByChangeSet)
    );
    assert_eq!(vpc.predicted_impact, Some(Impact::Replace));
    assert_eq!(
        d.resources.len(),
        1,
        "the subnet no longer follows a replacement"
    );
    let mut out = Vec::new();
    let env = EnvDiff {
        env: "t".into(),
        stacks: vec![d],
    };
    format::write_text(&mut out, &env, false).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("~ Vpc (AWS::EC2::VPC) update [by change set; predicted replace]"),
        "{text}"
    );
}

// ---- snapshots -------------------------------------------------------------------------

fn snapshot_pair() -> (Value, Value) {
    let bucket = |name: &str| {
        json!({"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
               "Properties": {"BucketName": name}})
    };
    let sg = |rules: Value| {
        json!({"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": "web", "VpcId": {"Ref": "Vpc"}, "SecurityGroupIngress": rules}})
    };
    let https = json!({"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0"});
    let ssh = json!({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"});
    let old = json!({
        "Description": "test network",
        "Resources": {
            "Vpc": vpc("10.0.0.0/16"),
            "Subnet": subnet(),
            "WebSg": sg(json!([https])),
            "Builds": bucket("ce-test-builds"),
            "OldTable": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": "old"}},
        },
        "Outputs": {
            "VpcId": {"Value": {"Ref": "Vpc"}, "Export": {"Name": "ce-test-network-VpcId"}},
            "Old": {"Value": "x", "Export": {"Name": "ce-test-network-Old"}},
        },
    });
    let new = json!({
        "Description": "test network v2",
        "Resources": {
            "Vpc": vpc("10.1.0.0/16"),
            "Subnet": subnet(),
            "WebSg": sg(json!([https, ssh])),
            "Builds": bucket("ce-test-builds-2"),
            "Alerts": {"Type": "AWS::SNS::Topic"},
        },
        "Outputs": {
            "VpcId": {"Value": {"Ref": "Vpc"}, "Export": {"Name": "ce-test-network-VpcId"}},
        },
    });
    (old, new)
}

fn snapshot_diff() -> EnvDiff {
    let (old, new) = snapshot_pair();
    EnvDiff {
        env: "test".into(),
        stacks: vec![diff_with(&old, &new, &["ce-test-network-VpcId"])],
    }
}

fn check_snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/diff")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with UPDATE_SNAPSHOTS=1", path.display()));
    assert_eq!(
        actual,
        expected,
        "{} differs; run with UPDATE_SNAPSHOTS=1 and review",
        path.display()
    );
}

#[test]
fn json_output_matches_its_snapshot() {
    let mut out = Vec::new();
    format::write_json(&mut out, &snapshot_diff()).unwrap();
    let text = String::from_utf8(out).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["exit_code"], 3);
    check_snapshot("snapshot.json", &text);
}

#[test]
fn text_output_matches_its_snapshot() {
    let mut out = Vec::new();
    format::write_text(&mut out, &snapshot_diff(), false).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains('\x1b'));
    check_snapshot("snapshot.txt", &text);
}

#[test]
fn text_output_is_coloured_only_when_asked() {
    let mut out = Vec::new();
    format::write_text(&mut out, &snapshot_diff(), true).unwrap();
    let text = String::from_utf8(out).unwrap();
    // Bold red, as anstyle writes it (one escape per effect and colour).
    let alarm = anstyle::AnsiColor::Red.on_default().bold();
    assert!(text.contains(&format!("{alarm}DELETED{alarm:#}")), "{text}");
    assert!(text.contains("\x1b[1m\x1b[31mDELETED\x1b[0m"), "{text}");
}

// ---- the replacement table against the registry schemas ----------------------------

/// The resource types the architecture uses; the table must cover each.
const MODELLED_TYPES: &[&str] = &[
    "AWS::EC2::VPC",
    "AWS::EC2::Subnet",
    "AWS::EC2::InternetGateway",
    "AWS::EC2::VPCGatewayAttachment",
    "AWS::EC2::RouteTable",
    "AWS::EC2::Route",
    "AWS::EC2::SubnetRouteTableAssociation",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::SecurityGroupIngress",
    "AWS::EC2::LaunchTemplate",
    "AWS::AutoScaling::AutoScalingGroup",
    "AWS::AutoScaling::ScalingPolicy",
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::ElasticLoadBalancingV2::TargetGroup",
    "AWS::ElasticLoadBalancingV2::Listener",
    "AWS::ElasticLoadBalancingV2::ListenerRule",
    "AWS::EFS::FileSystem",
    "AWS::EFS::MountTarget",
    "AWS::S3::Bucket",
    "AWS::S3::BucketPolicy",
    "AWS::DynamoDB::Table",
    "AWS::CloudFront::Distribution",
    "AWS::CloudFront::OriginAccessControl",
    "AWS::CloudFront::CachePolicy",
    "AWS::IAM::Role",
    "AWS::IAM::InstanceProfile",
    "AWS::CloudWatch::Alarm",
    "AWS::SNS::Topic",
    "AWS::SNS::Subscription",
    "AWS::SNS::TopicPolicy",
];

/// cfn-lint's registry schema directory, from the pinned venv (installed if missing).
fn cfn_lint_schemas() -> PathBuf {
    let python = common::python_tools_bin().join("python");
    let out = Command::new(&python)
        .args([
            "-c",
            "import cfnlint,os;print(os.path.dirname(cfnlint.__file__))",
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    assert!(
        out.status.success(),
        "cfnlint does not import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("data/schemas")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn replacement_table_covers_every_create_only_property_of_the_registry_schemas() {
    let schemas = cfn_lint_schemas();
    let providers = read_json(&schemas.join("providers/us-east-1.json"));
    let mut missing = Vec::new();
    let mut checked = 0;
    for ty in MODELLED_TYPES {
        let rule = REPLACEMENT_TABLE
            .iter()
            .find(|r| r.resource_type == *ty)
            .unwrap_or_else(|| panic!("{ty} is not in the replacement table"));
        let file = providers[ty]
            .as_str()
            .unwrap_or_else(|| panic!("{ty} is not in cfn-lint's us-east-1 provider map"));
        let file = if file.ends_with(".json") {
            file.to_owned()
        } else {
            format!("{file}.json")
        };
        let schema = read_json(&schemas.join("resources").join(file));
        assert_eq!(schema["typeName"], *ty, "schema file of {ty}");
        for pointer in schema["createOnlyProperties"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let pointer = pointer.as_str().unwrap_or_default();
            let keys: Vec<&str> = pointer
                .trim_start_matches("/properties/")
                .split('/')
                .filter(|k| *k != "*")
                .collect();
            let covered = rule
                .always
                .iter()
                .any(|listed| keys.starts_with(&listed.split('.').collect::<Vec<_>>()));
            checked += 1;
            if !covered {
                missing.push(format!("{ty} {pointer}"));
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} createOnlyProperties found: schema layout changed?"
    );
    assert!(
        missing.is_empty(),
        "createOnlyProperties missing from REPLACEMENT_TABLE:\n{}",
        missing.join("\n")
    );
}

/// A prod template as deployed before origin protection (kept under `tests/fixtures`), and the
/// one rendered now.
fn before_and_now(stack: &str) -> (Value, Value) {
    let read = |path: PathBuf| -> Value {
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    (
        read(root.join(format!(
            "tests/fixtures/diff/before-origin-protection/{stack}.json"
        ))),
        read(root.join(format!("stacks/prod/{stack}.json"))),
    )
}

#[test]
fn admitting_only_cloudfront_to_the_load_balancer_narrows_and_is_not_broadened() {
    let (before, now) = before_and_now("network");
    let d = diff(&before, &now);
    assert!(!d.security.broadened, "{:#?}", d.security);
    let removed: Vec<(&str, &str)> = d
        .security
        .rules_removed
        .iter()
        .map(|r| (r.ports.as_str(), r.peer.as_str()))
        .collect();
    assert!(removed.contains(&("80", "0.0.0.0/0")), "{removed:?}");
    assert!(removed.contains(&("443", "::/0")), "{removed:?}");
    assert_eq!(d.security.rules_added.len(), 1);
    assert_eq!(d.security.rules_added[0].peer, "pl pl-3b927c52");
}

#[test]
fn the_first_origin_lock_and_web_acl_explain_that_direct_access_stops() {
    let (before, now) = before_and_now("compute");
    let compute = diff(&before, &now);
    assert!(
        compute
            .security
            .notes
            .iter()
            .any(|n| n.contains("direct access to its DNS name stops")),
        "{:#?}",
        compute.security.notes
    );
    assert!(
        compute
            .security
            .managed_policies_removed
            .iter()
            .any(|m| m.arn.contains("AmazonSSMManagedInstanceCore"))
    );
    let (before, now) = before_and_now("edge");
    let edge = diff(&before, &now);
    assert!(
        edge.security.notes.iter().any(|n| n.contains("web ACL")),
        "{:#?}",
        edge.security.notes
    );
    // Once deployed, nothing is said again.
    assert!(diff(&now, &now).security.notes.is_empty());
}
