//! `AWS::EC2::*` resource types: the network (VPC, subnets, gateway, routes, security groups)
//! and the launch template of the web nodes.

use serde::Serialize;

use super::{Expr, ResourceProperties, Tag};

/// `AWS::EC2::VPC`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Vpc {
    /// IPv4 range of the VPC.
    pub cidr_block: Expr,
    /// Public DNS hostnames for instances.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_dns_hostnames: Option<bool>,
    /// Amazon DNS resolution inside the VPC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_dns_support: Option<bool>,
    /// Resource tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
impl ResourceProperties for Vpc {
    const TYPE: &'static str = "AWS::EC2::VPC";
}

/// `AWS::EC2::Subnet`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Subnet {
    /// Availability zone name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<Expr>,
    /// IPv4 range inside the VPC.
    pub cidr_block: Expr,
    /// Give instances a public IPv4 address (a hard dependency with no NAT gateway).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub map_public_ip_on_launch: Option<bool>,
    /// Resource tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// The VPC id.
    pub vpc_id: Expr,
}
impl ResourceProperties for Subnet {
    const TYPE: &'static str = "AWS::EC2::Subnet";
}

/// `AWS::EC2::InternetGateway`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InternetGateway {
    /// Resource tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
impl ResourceProperties for InternetGateway {
    const TYPE: &'static str = "AWS::EC2::InternetGateway";
}

/// `AWS::EC2::VPCGatewayAttachment`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VpcGatewayAttachment {
    /// The internet gateway id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub internet_gateway_id: Option<Expr>,
    /// The VPC id.
    pub vpc_id: Expr,
}
impl ResourceProperties for VpcGatewayAttachment {
    const TYPE: &'static str = "AWS::EC2::VPCGatewayAttachment";
}

/// `AWS::EC2::RouteTable`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RouteTable {
    /// Resource tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// The VPC id.
    pub vpc_id: Expr,
}
impl ResourceProperties for RouteTable {
    const TYPE: &'static str = "AWS::EC2::RouteTable";
}

/// `AWS::EC2::Route`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Route {
    /// IPv4 destination.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_cidr_block: Option<Expr>,
    /// IPv6 destination.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_ipv6_cidr_block: Option<Expr>,
    /// Internet gateway target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway_id: Option<Expr>,
    /// The route table id.
    pub route_table_id: Expr,
}
impl ResourceProperties for Route {
    const TYPE: &'static str = "AWS::EC2::Route";
}

/// `AWS::EC2::SubnetRouteTableAssociation`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubnetRouteTableAssociation {
    /// The route table id.
    pub route_table_id: Expr,
    /// The subnet id.
    pub subnet_id: Expr,
}
impl ResourceProperties for SubnetRouteTableAssociation {
    const TYPE: &'static str = "AWS::EC2::SubnetRouteTableAssociation";
}

/// One ingress or egress rule, inline in a security group or standalone.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecurityGroupRule {
    /// IPv4 peer range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr_ip: Option<Expr>,
    /// IPv6 peer range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr_ipv6: Option<Expr>,
    /// Why the rule exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Peer security group (egress).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_security_group_id: Option<Expr>,
    /// First port of the range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_port: Option<i32>,
    /// `tcp`, `udp`, `icmp` or `-1` for all.
    pub ip_protocol: String,
    /// Peer managed prefix list (ingress), e.g. CloudFront's origin-facing one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_prefix_list_id: Option<Expr>,
    /// Peer security group (ingress).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_security_group_id: Option<Expr>,
    /// Last port of the range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_port: Option<i32>,
}

impl SecurityGroupRule {
    /// A TCP rule for one port from an IPv4 range.
    pub fn tcp_from_cidr(port: i32, cidr: &str, description: &str) -> Self {
        SecurityGroupRule {
            ip_protocol: "tcp".into(),
            from_port: Some(port),
            to_port: Some(port),
            cidr_ip: Some(cidr.into()),
            description: Some(description.into()),
            ..Default::default()
        }
    }

    /// A TCP rule for one port from an IPv6 range.
    pub fn tcp_from_cidr_v6(port: i32, cidr: &str, description: &str) -> Self {
        SecurityGroupRule {
            ip_protocol: "tcp".into(),
            from_port: Some(port),
            to_port: Some(port),
            cidr_ipv6: Some(cidr.into()),
            description: Some(description.into()),
            ..Default::default()
        }
    }

    /// A TCP rule for one port from another security group.
    pub fn tcp_from_group(port: i32, group: Expr, description: &str) -> Self {
        SecurityGroupRule {
            ip_protocol: "tcp".into(),
            from_port: Some(port),
            to_port: Some(port),
            source_security_group_id: Some(group),
            description: Some(description.into()),
            ..Default::default()
        }
    }

    /// A TCP rule for one port from the addresses of a managed prefix list.
    pub fn tcp_from_prefix_list(port: i32, prefix_list: &str, description: &str) -> Self {
        SecurityGroupRule {
            ip_protocol: "tcp".into(),
            from_port: Some(port),
            to_port: Some(port),
            source_prefix_list_id: Some(prefix_list.into()),
            description: Some(description.into()),
            ..Default::default()
        }
    }

    /// All outbound traffic to anywhere.
    pub fn all_egress() -> Self {
        SecurityGroupRule {
            ip_protocol: "-1".into(),
            cidr_ip: Some("0.0.0.0/0".into()),
            description: Some("all outbound traffic".into()),
            ..Default::default()
        }
    }
}

/// `AWS::EC2::SecurityGroup`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecurityGroup {
    /// Required description (changing it replaces the group).
    pub group_description: String,
    /// Group name; left unset so CloudFormation names it and replacement stays possible.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    /// Inline egress rules.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_group_egress: Vec<SecurityGroupRule>,
    /// Inline ingress rules.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_group_ingress: Vec<SecurityGroupRule>,
    /// Resource tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// The VPC id.
    pub vpc_id: Expr,
}
impl ResourceProperties for SecurityGroup {
    const TYPE: &'static str = "AWS::EC2::SecurityGroup";
}

/// `AWS::EC2::SecurityGroupIngress`: a rule added to a group outside its definition, which
/// breaks reference cycles between groups that allow each other.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecurityGroupIngress {
    /// The group the rule is added to.
    pub group_id: Expr,
    /// The rule.
    #[serde(flatten)]
    pub rule: SecurityGroupRule,
}
impl ResourceProperties for SecurityGroupIngress {
    const TYPE: &'static str = "AWS::EC2::SecurityGroupIngress";
}

/// `AWS::EC2::VPCEndpoint` of the gateway kind: S3 or DynamoDB reached through the route
/// tables instead of over the internet.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VpcEndpoint {
    /// Route tables that get a route to the service's prefix list.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub route_table_ids: Vec<Expr>,
    /// `com.amazonaws.<region>.s3` or `com.amazonaws.<region>.dynamodb`.
    pub service_name: Expr,
    /// `Gateway` or `Interface`.
    pub vpc_endpoint_type: String,
    /// The VPC (create-only).
    pub vpc_id: Expr,
}
impl ResourceProperties for VpcEndpoint {
    const TYPE: &'static str = "AWS::EC2::VPCEndpoint";
}

impl VpcEndpoint {
    /// A gateway endpoint for `service` (`s3`, `dynamodb`) in the stack's region.
    pub fn gateway(service: &str, vpc_id: Expr, route_table_ids: Vec<Expr>) -> Self {
        VpcEndpoint {
            service_name: Expr::sub(format!("com.amazonaws.${{AWS::Region}}.{service}")),
            vpc_endpoint_type: "Gateway".into(),
            vpc_id,
            route_table_ids,
        }
    }
}

/// `AWS::EC2::LaunchTemplate`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LaunchTemplate {
    /// What instances launched from it look like.
    pub launch_template_data: LaunchTemplateData,
    /// Name of the launch template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_template_name: Option<Expr>,
    /// Tags on the launch template itself.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_specifications: Vec<LaunchTemplateTagSpecification>,
}
impl ResourceProperties for LaunchTemplate {
    const TYPE: &'static str = "AWS::EC2::LaunchTemplate";
}

/// `LaunchTemplateData`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LaunchTemplateData {
    /// Root and extra volumes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub block_device_mappings: Vec<BlockDeviceMapping>,
    /// EBS-optimised instances.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ebs_optimized: Option<bool>,
    /// Instance profile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iam_instance_profile: Option<IamInstanceProfileSpecification>,
    /// AMI id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_id: Option<Expr>,
    /// Instance type (overridden by a mixed instances policy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<Expr>,
    /// SSH key pair name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_name: Option<Expr>,
    /// Instance metadata service options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata_options: Option<MetadataOptions>,
    /// Detailed monitoring.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<Monitoring>,
    /// Security group ids.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_group_ids: Vec<Expr>,
    /// Tags applied to instances and volumes at launch.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_specifications: Vec<LaunchTemplateTagSpecification>,
    /// Base64 user data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<Expr>,
}

/// `IamInstanceProfile` of a launch template.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IamInstanceProfileSpecification {
    /// Instance profile ARN.
    pub arn: Expr,
}

/// `MetadataOptions` of a launch template.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetadataOptions {
    /// `enabled`.
    pub http_endpoint: String,
    /// PUT response hop limit (1 keeps tokens away from containers).
    pub http_put_response_hop_limit: u32,
    /// `required` enforces IMDSv2.
    pub http_tokens: String,
    /// `enabled` lets instances read their own tags from IMDS.
    pub instance_metadata_tags: String,
}

impl MetadataOptions {
    /// IMDSv2 only, hop limit 1, instance tags readable.
    pub fn imdsv2_with_tags() -> Self {
        MetadataOptions {
            http_tokens: "required".into(),
            http_put_response_hop_limit: 1,
            http_endpoint: "enabled".into(),
            instance_metadata_tags: "enabled".into(),
        }
    }
}

/// `BlockDeviceMapping` of a launch template.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BlockDeviceMapping {
    /// Device name, e.g. `/dev/sda1`.
    pub device_name: String,
    /// The EBS volume.
    pub ebs: Ebs,
}

/// `Ebs` of a block device mapping.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ebs {
    /// Remove the volume with the instance.
    pub delete_on_termination: bool,
    /// Encrypt at rest.
    pub encrypted: bool,
    /// Size in GiB.
    pub volume_size: u32,
    /// `gp3`, `gp2`, …
    pub volume_type: String,
}

/// `Monitoring` of a launch template.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Monitoring {
    /// One-minute instance metrics.
    pub enabled: bool,
}

/// `TagSpecification` of a launch template.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LaunchTemplateTagSpecification {
    /// `instance`, `volume`, `launch-template`, …
    pub resource_type: String,
    /// The tags.
    pub tags: Vec<Tag>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_options_are_not_rendered() {
        let v = serde_json::to_value(Subnet {
            vpc_id: Expr::Ref("Vpc".into()),
            cidr_block: "10.0.0.0/24".into(),
            map_public_ip_on_launch: Some(true),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.0.0/24", "MapPublicIpOnLaunch": true})
        );
    }

    #[test]
    fn standalone_ingress_flattens_its_rule() {
        let v = serde_json::to_value(SecurityGroupIngress {
            group_id: Expr::Ref("Sg".into()),
            rule: SecurityGroupRule::tcp_from_cidr(443, "0.0.0.0/0", "https"),
        })
        .unwrap();
        assert_eq!(v["GroupId"]["Ref"], "Sg");
        assert_eq!(v["IpProtocol"], "tcp");
        assert_eq!(v["FromPort"], 443);
        assert_eq!(v["CidrIp"], "0.0.0.0/0");
    }

    #[test]
    fn imdsv2_options_require_tokens() {
        let v = serde_json::to_value(MetadataOptions::imdsv2_with_tags()).unwrap();
        assert_eq!(v["HttpTokens"], "required");
        assert_eq!(v["HttpPutResponseHopLimit"], 1);
        assert_eq!(v["InstanceMetadataTags"], "enabled");
    }
}
