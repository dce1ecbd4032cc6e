//! The network stack: one VPC with a public subnet per zone, an internet gateway and no NAT
//! (nodes need public IPs), gateway endpoints so S3 and DynamoDB are reached without the
//! internet (boot reads its build from S3: the 2021 outage), the security groups of the ALB,
//! nodes and EFS, and the generated secret of the origin header (see `origin`).

use crate::config::cloudfront_prefix_list;
use crate::model::ec2::{
    InternetGateway, Route, RouteTable, SecurityGroup, SecurityGroupRule, Subnet,
    SubnetRouteTableAssociation, Vpc, VpcEndpoint, VpcGatewayAttachment,
};
use crate::model::secretsmanager::{GenerateSecretString, Secret};
use crate::model::{Expr, LogicalId, Template};

use super::{Ctx, Export, origin, waivers};

/// NFS port of EFS mount targets.
pub const NFS_PORT: i32 = 2049;
/// Port nginx serves on each node (behind the ALB).
pub const NODE_HTTP_PORT: i32 = 80;

/// `us-east-1a` → `UsEast1a`, for logical ids.
pub fn zone_suffix(zone: &str) -> String {
    zone.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<String>()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

/// Logical id of the public subnet in a zone.
pub fn subnet_id(zone: &str) -> LogicalId {
    LogicalId::new(format!("Subnet{}", zone_suffix(zone)))
}

pub(super) fn build(ctx: &Ctx<'_>) -> Template {
    let net = &ctx.env.file.network;
    let mut t = Template::new(format!(
        "ce {} network: VPC, public subnets, routes and security groups",
        ctx.env_name()
    ));

    let vpc = LogicalId::new("Vpc");
    t.add(
        &vpc,
        Vpc {
            cidr_block: net.vpc_cidr.as_str().into(),
            enable_dns_support: Some(true),
            enable_dns_hostnames: Some(true),
            tags: ctx.tags("vpc"),
        },
    );
    let vpc_ref = Expr::reference(&vpc);

    let igw = LogicalId::new("InternetGateway");
    t.add(
        &igw,
        InternetGateway {
            tags: ctx.tags("igw"),
        },
    );
    let attachment = LogicalId::new("GatewayAttachment");
    t.add(
        &attachment,
        VpcGatewayAttachment {
            vpc_id: vpc_ref.clone(),
            internet_gateway_id: Some(Expr::reference(&igw)),
        },
    );

    let table = LogicalId::new("PublicRouteTable");
    t.add(
        &table,
        RouteTable {
            vpc_id: vpc_ref.clone(),
            tags: ctx.tags("public"),
        },
    );
    // A route to a gateway that is not attached yet fails, and the attachment is not referenced.
    t.add(
        &LogicalId::new("DefaultRoute"),
        Route {
            route_table_id: Expr::reference(&table),
            destination_cidr_block: Some("0.0.0.0/0".into()),
            gateway_id: Some(Expr::reference(&igw)),
            ..Default::default()
        },
    )
    .depends_on(&attachment);

    let mut subnet_refs = Vec::new();
    for zone in &net.zones {
        let subnet = subnet_id(&zone.name);
        t.add(
            &subnet,
            Subnet {
                vpc_id: vpc_ref.clone(),
                cidr_block: zone.cidr.as_str().into(),
                availability_zone: Some(zone.name.as_str().into()),
                map_public_ip_on_launch: Some(true),
                tags: ctx.tags(&format!("public-{}", zone.name)),
            },
        );
        t.add(
            &LogicalId::new(format!("{}RouteTableAssociation", subnet.as_str())),
            SubnetRouteTableAssociation {
                route_table_id: Expr::reference(&table),
                subnet_id: Expr::reference(&subnet),
            },
        );
        subnet_refs.push(Expr::reference(&subnet));
    }

    // Free, and they keep S3 and DynamoDB traffic off the internet gateway.
    for (id, service) in [("S3Endpoint", "s3"), ("DynamoDbEndpoint", "dynamodb")] {
        t.add(
            &LogicalId::new(id),
            VpcEndpoint::gateway(service, vpc_ref.clone(), vec![Expr::reference(&table)]),
        );
    }

    // Only CloudFront reaches the load balancer, over HTTPS: its origin protocol is HTTPS
    // only, so port 80 has no listener and no rule.
    let alb_ingress = cloudfront_prefix_list(&ctx.env.file)
        .map(|pl| {
            vec![SecurityGroupRule::tcp_from_prefix_list(
                443,
                pl,
                "HTTPS from CloudFront origin-facing addresses",
            )]
        })
        .unwrap_or_default();
    let alb_sg = LogicalId::new("AlbSecurityGroup");
    t.add(
        &alb_sg,
        SecurityGroup {
            group_description: format!("ce {} load balancer", ctx.env_name()),
            vpc_id: vpc_ref.clone(),
            security_group_ingress: alb_ingress,
            security_group_egress: vec![SecurityGroupRule::all_egress()],
            tags: ctx.tags("alb"),
            ..Default::default()
        },
    );

    t.add(
        &LogicalId::new("OriginSecret"),
        Secret {
            name: origin::secret_name(ctx),
            description: Some(format!(
                "Value of the {} header ce {}'s distribution sends and its load balancer requires",
                origin::HEADER,
                ctx.env_name()
            )),
            generate_secret_string: GenerateSecretString {
                password_length: origin::SECRET_LENGTH,
                exclude_punctuation: true,
            },
            tags: ctx.tags("origin-verify"),
        },
    )
    .waive(
        waivers::SECRET_CMK,
        "The AWS managed key suffices: only CloudFormation in this account resolves the secret",
    );

    let node_sg = LogicalId::new("NodeSecurityGroup");
    let mut node_ingress = vec![SecurityGroupRule::tcp_from_group(
        NODE_HTTP_PORT,
        Expr::get_att(&alb_sg, "GroupId"),
        "HTTP from the load balancer",
    )];
    node_ingress.extend(
        net.admin_cidrs
            .iter()
            .map(|cidr| SecurityGroupRule::tcp_from_cidr(22, cidr, "SSH from admin range")),
    );
    t.add(
        &node_sg,
        SecurityGroup {
            group_description: format!("ce {} web nodes", ctx.env_name()),
            vpc_id: vpc_ref.clone(),
            security_group_ingress: node_ingress,
            // Nodes fetch builds from S3 and packages from the internet; there is no NAT.
            security_group_egress: vec![SecurityGroupRule::all_egress()],
            tags: ctx.tags("nodes"),
            ..Default::default()
        },
    );

    let efs_sg = LogicalId::new("EfsSecurityGroup");
    t.add(
        &efs_sg,
        SecurityGroup {
            group_description: format!("ce {} EFS mount targets", ctx.env_name()),
            vpc_id: vpc_ref.clone(),
            security_group_ingress: vec![SecurityGroupRule::tcp_from_group(
                NFS_PORT,
                Expr::get_att(&node_sg, "GroupId"),
                "NFS from the web nodes",
            )],
            security_group_egress: vec![SecurityGroupRule::all_egress()],
            tags: ctx.tags("efs"),
            ..Default::default()
        },
    );

    ctx.export(&mut t, Export::VpcId, "VPC id", vpc_ref);
    ctx.export(
        &mut t,
        Export::SubnetIds,
        "Public subnet ids, comma-separated",
        Expr::join(",", subnet_refs),
    );
    ctx.export(
        &mut t,
        Export::AlbSecurityGroupId,
        "Security group of the load balancer",
        Expr::get_att(&alb_sg, "GroupId"),
    );
    ctx.export(
        &mut t,
        Export::NodeSecurityGroupId,
        "Security group of the web nodes",
        Expr::get_att(&node_sg, "GroupId"),
    );
    ctx.export(
        &mut t,
        Export::EfsSecurityGroupId,
        "Security group of the EFS mount targets",
        Expr::get_att(&efs_sg, "GroupId"),
    );
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::path::Path;

    use serde_json::{Value, json};

    fn built(env: &str) -> Value {
        let env = crate::config::load(Path::new("envs"), env).unwrap();
        serde_json::to_value(build(&Ctx { env: &env })).unwrap()
    }

    #[test]
    fn the_load_balancer_admits_cloudfront_over_https_only() {
        let t = built("prod");
        let sg = &t["Resources"]["AlbSecurityGroup"]["Properties"];
        assert_eq!(
            sg["SecurityGroupIngress"],
            json!([{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                "SourcePrefixListId": "pl-3b927c52",
                "Description": "HTTPS from CloudFront origin-facing addresses"}])
        );
    }

    #[test]
    fn s3_and_dynamodb_are_reached_through_gateway_endpoints() {
        let t = built("staging");
        for (id, service) in [("S3Endpoint", "s3"), ("DynamoDbEndpoint", "dynamodb")] {
            let e = &t["Resources"][id];
            assert_eq!(e["Type"], "AWS::EC2::VPCEndpoint");
            assert_eq!(e["Properties"]["VpcEndpointType"], "Gateway");
            assert_eq!(
                e["Properties"]["ServiceName"],
                json!({"Fn::Sub": format!("com.amazonaws.${{AWS::Region}}.{service}")})
            );
            assert_eq!(
                e["Properties"]["RouteTableIds"],
                json!([{"Ref": "PublicRouteTable"}])
            );
        }
    }

    #[test]
    fn the_origin_secret_is_generated_never_written() {
        let t = built("prod");
        let secret = &t["Resources"]["OriginSecret"];
        assert_eq!(secret["Type"], "AWS::SecretsManager::Secret");
        assert_eq!(secret["Properties"]["Name"], "ce-prod/origin-verify");
        assert!(secret["Properties"].get("SecretString").is_none());
        assert_eq!(
            secret["Properties"]["GenerateSecretString"],
            json!({"PasswordLength": 64, "ExcludePunctuation": true})
        );
    }

    #[test]
    fn zone_suffix_is_pascal_alphanumeric() {
        assert_eq!(zone_suffix("us-east-1a"), "UsEast1a");
        assert_eq!(zone_suffix("eu-west-2c"), "EuWest2c");
    }
}
