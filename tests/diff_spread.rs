//! How a change reaches resources whose own text does not change: attributes that move on an
//! in-place update (through `Fn::Sub`, `Fn::Join`, `Fn::Select`, `Fn::If` and outputs), update
//! policies, and exports that change value under the stacks importing them. One rule per test,
//! with the exact resources and impacts expected.

use std::collections::{BTreeMap, BTreeSet};

use ce_infra::diff::{
    Action, Consequence, DiffClass, EnvDiff, ExportChange, GroupSize, Impact, ReadChange,
    StackDiff, StackInput, diff_env, diff_stack, format, impacts,
};
use serde_json::{Value, json};

fn template(resources: Value) -> Value {
    json!({"Resources": resources})
}

fn diff(old: &Value, new: &Value) -> StackDiff {
    let none = BTreeSet::new();
    diff_stack(&StackInput::new("ce-t-compute", Some(old), new, &none)).expect("valid")
}

fn expect(d: &StackDiff, expected: &[(&str, Impact)]) {
    let want: BTreeMap<String, Impact> = expected
        .iter()
        .map(|(id, i)| ((*id).to_owned(), *i))
        .collect();
    assert_eq!(impacts(d), want);
}

fn launch_template(instance_type: &str) -> Value {
    json!({"Type": "AWS::EC2::LaunchTemplate", "Properties": {
        "LaunchTemplateData": {"InstanceType": instance_type, "ImageId": "ami-1"}}})
}

fn group(version: Value, policy: Option<Value>, desired: &str) -> Value {
    let mut g = json!({"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {
        "MinSize": "1", "MaxSize": "8", "DesiredCapacity": desired,
        "LaunchTemplate": {"LaunchTemplateId": {"Ref": "Lt"}, "Version": version}}});
    if let Some(p) = policy {
        g["UpdatePolicy"] = p;
    }
    g
}

fn latest() -> Value {
    json!({"Fn::GetAtt": ["Lt", "LatestVersionNumber"]})
}

fn rolling(batch: u32, min: u32) -> Value {
    json!({"AutoScalingRollingUpdate": {"MaxBatchSize": batch, "MinInstancesInService": min,
        "PauseTime": "PT60S"}})
}

fn resource<'a>(d: &'a StackDiff, id: &str) -> &'a ce_infra::diff::ResourceDiff {
    d.resources
        .iter()
        .find(|r| r.logical_id == id)
        .unwrap_or_else(|| panic!("{id} not in the diff"))
}

// ---- attributes that change on an in-place update ------------------------------------------

#[test]
fn a_group_reading_the_latest_launch_template_version_is_updated_with_the_cause() {
    let old =
        template(json!({"Lt": launch_template("m5.large"), "Asg": group(latest(), None, "2")}));
    let new =
        template(json!({"Lt": launch_template("m5.xlarge"), "Asg": group(latest(), None, "2")}));

    let d = diff(&old, &new);

    expect(&d, &[("Asg", Impact::Update), ("Lt", Impact::Update)]);
    let asg = resource(&d, "Asg");
    assert_eq!(asg.action, Action::Modify);
    assert!(asg.changes.is_empty(), "its own text is unchanged");
    assert_eq!(
        asg.causes,
        ["LaunchTemplate.Version reads Lt.LatestVersionNumber, which changes"]
    );
    assert_eq!(asg.reads[0].path, "LaunchTemplate.Version");
    assert_eq!(asg.reads[0].source, "Lt.LatestVersionNumber");
    assert_eq!(asg.reads[0].change, ReadChange::AttributeChanges);
}

#[test]
fn an_id_that_changes_only_on_replacement_does_not_spread_an_update() {
    let sg = |port: u16| {
        json!({"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "d",
            "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
                "CidrIp": "10.0.0.0/8"}]}})
    };
    let reader = json!({"Type": "AWS::EFS::MountTarget", "Properties": {"FileSystemId": "fs-1",
        "SubnetId": "subnet-1", "SecurityGroups": [{"Fn::GetAtt": ["Sg", "GroupId"]}, {"Ref": "Sg"}]}});
    let old = template(json!({"Sg": sg(2049), "Mt": reader.clone()}));
    let new = template(json!({"Sg": sg(2050), "Mt": reader}));

    expect(&diff(&old, &new), &[("Sg", Impact::Update)]);
}

#[test]
fn a_launch_template_change_outside_its_data_moves_no_version() {
    let lt = |tag: &str| {
        json!({"Type": "AWS::EC2::LaunchTemplate", "Properties": {
            "LaunchTemplateData": {"InstanceType": "m5.large"},
            "TagSpecifications": [{"ResourceType": "launch-template", "Tags": [{"Key": "k", "Value": tag}]}]}})
    };
    let old = template(json!({"Lt": lt("a"), "Asg": group(latest(), None, "2")}));
    let new = template(json!({"Lt": lt("b"), "Asg": group(latest(), None, "2")}));

    expect(&diff(&old, &new), &[("Lt", Impact::Update)]);
}

#[test]
fn a_changing_attribute_spreads_through_sub_join_select_and_if() {
    let cases = [
        json!({"Fn::Sub": "v${Lt.LatestVersionNumber}"}),
        json!({"Fn::Join": ["", [{"Fn::GetAtt": ["Lt", "LatestVersionNumber"]}]]}),
        json!({"Fn::Select": [0, [{"Fn::GetAtt": ["Lt", "LatestVersionNumber"]}, "1"]]}),
        json!({"Fn::If": ["Always", {"Fn::GetAtt": ["Lt", "LatestVersionNumber"]}, "1"]}),
    ];
    for version in cases {
        let old =
            template(json!({"Lt": launch_template("a"), "Asg": group(version.clone(), None, "2")}));
        let new =
            template(json!({"Lt": launch_template("b"), "Asg": group(version.clone(), None, "2")}));

        let d = diff(&old, &new);

        expect(&d, &[("Asg", Impact::Update), ("Lt", Impact::Update)]);
        assert_eq!(
            resource(&d, "Asg").causes,
            ["LaunchTemplate.Version reads Lt.LatestVersionNumber, which changes"],
            "{version}"
        );
    }
}

#[test]
fn a_changing_attribute_read_in_a_replacement_position_replaces_the_reader() {
    let table = |view: &str| {
        json!({"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": "t",
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "StreamSpecification": {"StreamViewType": view}}})
    };
    // A subscription's endpoint is create-only; the stream ARN moves with the stream settings.
    let sub = json!({"Type": "AWS::SNS::Subscription", "Properties": {"TopicArn": "arn:t",
        "Protocol": "sqs", "Endpoint": {"Fn::GetAtt": ["Table", "StreamArn"]}}});
    let old = template(json!({"Table": table("KEYS_ONLY"), "Sub": sub.clone()}));
    let new = template(json!({"Table": table("NEW_IMAGE"), "Sub": sub}));

    let d = diff(&old, &new);

    expect(&d, &[("Sub", Impact::Replace), ("Table", Impact::Update)]);
    assert_eq!(resource(&d, "Sub").action, Action::Replace);
    assert_eq!(
        resource(&d, "Sub").causes,
        ["Endpoint reads Table.StreamArn, which changes"]
    );
}

#[test]
fn an_output_reading_a_changing_attribute_changes_and_blocks_when_imported() {
    let outputs = json!({"Version": {"Value": {"Fn::GetAtt": ["Lt", "LatestVersionNumber"]},
        "Export": {"Name": "ce-t-compute-Version"}}});
    let old = json!({"Resources": {"Lt": launch_template("a")}, "Outputs": outputs});
    let new = json!({"Resources": {"Lt": launch_template("b")}, "Outputs": outputs});
    let imported: BTreeSet<String> = ["ce-t-compute-Version".to_owned()].into();

    let d = diff_stack(&StackInput::new(
        "ce-t-compute",
        Some(&old),
        &new,
        &imported,
    ))
    .unwrap();

    assert_eq!(d.outputs.len(), 1);
    assert_eq!(
        d.outputs[0].causes,
        ["the value reads Lt.LatestVersionNumber, which changes"]
    );
    assert_eq!(d.exports[0].change, ExportChange::ValueChanged);
    assert!(d.exports[0].blocker);
    assert_eq!(d.class(), DiffClass::NeedsApproval);
}

// ---- update policies -----------------------------------------------------------------------

#[test]
fn a_rolling_update_policy_replaces_every_node_in_batches() {
    let asg = group(latest(), Some(rolling(2, 1)), "5");
    let old = template(json!({"Lt": launch_template("a"), "Asg": asg.clone()}));
    let new = template(json!({"Lt": launch_template("b"), "Asg": asg}));

    let d = diff(&old, &new);

    expect(&d, &[("Asg", Impact::Update), ("Lt", Impact::Update)]);
    assert_eq!(
        resource(&d, "Asg").consequences,
        [Consequence::RollingReplacement {
            nodes: GroupSize {
                desired: Some(5),
                min: Some(1),
                max: Some(8)
            },
            batch_size: 2,
            batches: Some(3),
            min_in_service: 1,
            pause_time: Some("PT60S".into()),
            suspended_processes: Vec::new(),
        }]
    );
    let mut text = Vec::new();
    format::write_text(&mut text, &env(vec![d.clone()]), false).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("=> rolling replacement of all 5 nodes, 2 at a time (3 batches), at least 1 in service, pausing PT60S after each batch (UpdatePolicy AutoScalingRollingUpdate)"),
        "{text}"
    );
    let mut out = Vec::new();
    format::write_json(&mut out, &env(vec![d])).unwrap();
    let json: Value = serde_json::from_slice(&out).unwrap();
    let consequence = &json["stacks"][0]["resources"][0]["consequences"][0];
    assert_eq!(consequence["kind"], "rolling_replacement");
    assert_eq!(consequence["nodes"]["desired"], 5);
    assert_eq!(consequence["batch_size"], 2);
    assert_eq!(consequence["batches"], 3);
}

fn env(stacks: Vec<StackDiff>) -> EnvDiff {
    EnvDiff {
        env: "t".into(),
        stacks,
    }
}

#[test]
fn a_size_change_outside_the_policy_triggers_replaces_no_node() {
    let old = template(
        json!({"Lt": launch_template("a"), "Asg": group(latest(), Some(rolling(1, 1)), "2")}),
    );
    let new = template(
        json!({"Lt": launch_template("a"), "Asg": group(latest(), Some(rolling(1, 1)), "3")}),
    );

    let d = diff(&old, &new);

    expect(&d, &[("Asg", Impact::Update)]);
    assert!(resource(&d, "Asg").consequences.is_empty());
}

#[test]
fn a_replacing_update_policy_replaces_the_group_and_what_names_it() {
    let policy = json!({"AutoScalingReplacingUpdate": {"WillReplace": true}});
    let scaling = json!({"Type": "AWS::AutoScaling::ScalingPolicy", "Properties": {
        "AutoScalingGroupName": {"Ref": "Asg"}, "PolicyType": "TargetTrackingScaling"}});
    let old = template(
        json!({"Lt": launch_template("a"), "Asg": group(latest(), Some(policy.clone()), "2"), "Scale": scaling.clone()}),
    );
    let new = template(
        json!({"Lt": launch_template("b"), "Asg": group(latest(), Some(policy), "2"), "Scale": scaling}),
    );

    let d = diff(&old, &new);

    expect(
        &d,
        &[
            ("Asg", Impact::Replace),
            ("Lt", Impact::Update),
            ("Scale", Impact::Replace),
        ],
    );
    assert_eq!(
        resource(&d, "Asg").consequences,
        [Consequence::ReplacingUpdate]
    );
}

#[test]
fn without_an_update_policy_running_nodes_keep_the_old_configuration() {
    let old = template(json!({"Lt": launch_template("a"), "Asg": group(latest(), None, "2")}));
    let new = template(json!({"Lt": launch_template("b"), "Asg": group(latest(), None, "2")}));

    let d = diff(&old, &new);

    assert_eq!(
        resource(&d, "Asg").consequences,
        [Consequence::NodesKeepOldConfiguration]
    );
}

#[test]
fn each_group_follows_its_own_update_policy() {
    let old = template(json!({"Lt": launch_template("a"),
        "Blue": group(latest(), Some(rolling(1, 1)), "2"), "Green": group(latest(), None, "0")}));
    let new = template(json!({"Lt": launch_template("b"),
        "Blue": group(latest(), Some(rolling(1, 1)), "2"), "Green": group(latest(), None, "0")}));

    let d = diff(&old, &new);

    expect(
        &d,
        &[
            ("Blue", Impact::Update),
            ("Green", Impact::Update),
            ("Lt", Impact::Update),
        ],
    );
    assert!(matches!(
        resource(&d, "Blue").consequences[..],
        [Consequence::RollingReplacement {
            batches: Some(2),
            ..
        }]
    ));
    assert_eq!(
        resource(&d, "Green").consequences,
        [Consequence::NodesKeepOldConfiguration]
    );
}

#[test]
fn sizes_the_template_leaves_alone_stay_as_scaling_set_them() {
    let policy =
        json!({"AutoScalingScheduledAction": {"IgnoreUnmodifiedGroupSizeProperties": true}});
    let old = template(
        json!({"Lt": launch_template("a"), "Asg": group(latest(), Some(policy.clone()), "2")}),
    );
    let new =
        template(json!({"Lt": launch_template("a"), "Asg": group(latest(), Some(policy), "3")}));

    let d = diff(&old, &new);

    assert_eq!(
        resource(&d, "Asg").consequences,
        [Consequence::ScaledSizeKept {
            properties: vec!["MaxSize".into(), "MinSize".into()]
        }]
    );
}

// ---- across stacks -------------------------------------------------------------------------

fn network(cidr_c: &str) -> Value {
    let subnet = |cidr: &str| json!({"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": "vpc-1", "CidrBlock": cidr}});
    json!({"Resources": {"A": subnet("10.0.0.0/24"), "B": subnet("10.0.1.0/24"), "C": subnet(cidr_c)},
        "Outputs": {"SubnetIds": {
            "Value": {"Fn::Join": [",", [{"Ref": "A"}, {"Ref": "B"}, {"Ref": "C"}]]},
            "Export": {"Name": "ce-t-network-SubnetIds"}}}})
}

fn storage() -> Value {
    let mount = |i: u32| {
        json!({"Type": "AWS::EFS::MountTarget", "Properties": {"FileSystemId": "fs-1",
            "SubnetId": {"Fn::Select": [i.to_string(), {"Fn::Split": [",", {"Fn::ImportValue": "ce-t-network-SubnetIds"}]}]}}})
    };
    let group = json!({"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {
        "MinSize": "1", "MaxSize": "2",
        "VPCZoneIdentifier": {"Fn::Split": [",", {"Fn::ImportValue": "ce-t-network-SubnetIds"}]}}});
    json!({"Resources": {"MtA": mount(0), "MtB": mount(1), "MtC": mount(2), "Asg": group}})
}

fn moved_subnet() -> EnvDiff {
    let (old_net, new_net, store) = (network("10.0.2.0/24"), network("10.0.3.0/24"), storage());
    let imported: BTreeSet<String> = ["ce-t-network-SubnetIds".to_owned()].into();
    diff_env(
        "t",
        &[
            StackInput::new("ce-t-network", Some(&old_net), &new_net, &imported),
            StackInput::new("ce-t-storage", Some(&store), &store, &imported),
        ],
    )
    .expect("valid")
}

#[test]
fn an_imported_export_that_changes_shows_what_the_importing_stack_would_do_marked_blocked() {
    let d = moved_subnet();

    expect(&d.stacks[0], &[("C", Impact::Replace)]);
    assert!(d.stacks[0].exports[0].blocker);
    let storage = &d.stacks[1];
    // Only the mount target in the moved subnet reads an element that changes.
    expect(
        storage,
        &[("Asg", Impact::Update), ("MtC", Impact::Replace)],
    );
    for id in ["Asg", "MtC"] {
        assert_eq!(
            resource(storage, id).blocked_by,
            ["ce-t-network-SubnetIds"],
            "{id}"
        );
    }
    assert_eq!(
        resource(storage, "MtC").causes,
        [
            "SubnetId imports element 2 of ce-t-network-SubnetIds of ce-t-network, which changes (the value refers to C, which is replaced)"
        ]
    );
    assert_eq!(d.class(), DiffClass::NeedsApproval);
}

#[test]
fn a_blocked_export_comes_with_steps_cloudformation_accepts() {
    let d = moved_subnet();

    let ways = d.blocked_exports_ways(&BTreeMap::new());

    assert_eq!(ways.len(), 1);
    let way = &ways[0];
    assert_eq!(way.export, "ce-t-network-SubnetIds");
    assert_eq!(way.exporter, "ce-t-network");
    assert_eq!(way.importers, ["ce-t-storage"]);
    assert_eq!(way.waiting, ["ce-t-storage/Asg", "ce-t-storage/MtC"]);
    assert_eq!(way.steps.len(), 3);
    assert!(way.steps[0].starts_with("Stop importing ce-t-network-SubnetIds in ce-t-storage"));
    assert_eq!(
        way.steps[1],
        "Deploy ce-t-network: ce-t-network-SubnetIds takes its new value."
    );
    assert!(way.steps[2].starts_with("Deploy ce-t-storage as rendered again"));
    let mut text = Vec::new();
    format::write_text(&mut text, &d, false).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("  ± MtC (AWS::EFS::MountTarget) replace BLOCKED [predicted]\n"),
        "{text}"
    );
    assert!(
        text.contains("Blocked: ce-t-network-SubnetIds of ce-t-network (imported by ce-t-storage)\n  1. Stop importing"),
        "{text}"
    );
}

#[test]
fn an_unchanged_export_leaves_importing_stacks_alone() {
    let (net, store) = (network("10.0.2.0/24"), storage());
    let imported: BTreeSet<String> = ["ce-t-network-SubnetIds".to_owned()].into();
    let d = diff_env(
        "t",
        &[
            StackInput::new("ce-t-network", Some(&net), &net, &imported),
            StackInput::new("ce-t-storage", Some(&store), &store, &imported),
        ],
    )
    .unwrap();
    assert_eq!(d.class(), DiffClass::NoChanges);
    assert!(d.blocked_exports_ways(&BTreeMap::new()).is_empty());
}
