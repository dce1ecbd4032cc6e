//! The web nodes through Auto Scaling, EC2 and the load balancer's target group: one look at
//! the group with every instance's address, type, launch time and target health, and the two
//! changes a rolling restart makes (resize, terminate with decrement).

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ec2::types::Filter;

use super::OpsError;
use super::instances::{Group, Node};
use super::roll::Fleet;
use super::time::Timestamp;
use crate::aws::{Aws, AwsError};

/// The env's Auto Scaling group and its target group.
#[derive(Clone, Debug)]
pub struct AwsFleet {
    autoscaling: aws_sdk_autoscaling::Client,
    ec2: aws_sdk_ec2::Client,
    elb: aws_sdk_elasticloadbalancingv2::Client,
    group: String,
    target_group: String,
}

impl AwsFleet {
    /// Clients for the group `group` behind target group `target_group` (an ARN).
    pub fn new(aws: &Aws, group: &str, target_group: &str) -> Self {
        let config = aws.sdk_config();
        AwsFleet {
            autoscaling: aws_sdk_autoscaling::Client::new(config),
            ec2: aws_sdk_ec2::Client::new(config),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(config),
            group: group.to_owned(),
            target_group: target_group.to_owned(),
        }
    }

    /// Target health by instance id.
    async fn target_health(&self) -> Result<BTreeMap<String, String>, AwsError> {
        let out = self
            .elb
            .describe_target_health()
            .target_group_arn(&self.target_group)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeTargetHealth", None, e))?;
        Ok(out
            .target_health_descriptions
            .unwrap_or_default()
            .into_iter()
            .filter_map(|d| {
                let id = d.target?.id?;
                let state = d.target_health?.state?.as_str().to_owned();
                Some((id, state))
            })
            .collect())
    }

    /// EC2's view of the instances, by id.
    async fn instances(
        &self,
        ids: &[String],
    ) -> Result<BTreeMap<String, aws_sdk_ec2::types::Instance>, AwsError> {
        let mut found = BTreeMap::new();
        if ids.is_empty() {
            return Ok(found);
        }
        // A filter, not InstanceIds: an id that vanished in between is no error.
        let mut pages = self
            .ec2
            .describe_instances()
            .filters(
                Filter::builder()
                    .name("instance-id")
                    .set_values(Some(ids.to_vec()))
                    .build(),
            )
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("DescribeInstances", None, e))?;
            for reservation in page.reservations.unwrap_or_default() {
                for instance in reservation.instances.unwrap_or_default() {
                    if let Some(id) = instance.instance_id.clone() {
                        found.insert(id, instance);
                    }
                }
            }
        }
        Ok(found)
    }
}

impl Fleet for AwsFleet {
    async fn group(&self) -> Result<Group, OpsError> {
        let out = self
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&self.group)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeAutoScalingGroups", None, e))?;
        let group = out
            .auto_scaling_groups
            .unwrap_or_default()
            .into_iter()
            .find(|g| g.auto_scaling_group_name.as_deref() == Some(self.group.as_str()))
            .ok_or_else(|| OpsError::GroupMissing {
                group: self.group.clone(),
            })?;
        let members = group.instances.unwrap_or_default();
        let ids: Vec<String> = members
            .iter()
            .filter_map(|m| m.instance_id.clone())
            .collect();
        let (health, ec2) = tokio::join!(self.target_health(), self.instances(&ids));
        let (health, mut ec2) = (health?, ec2?);
        let mut nodes: Vec<Node> = members
            .into_iter()
            .filter_map(|m| {
                let id = m.instance_id?;
                let instance = ec2.remove(&id);
                let instance = instance.as_ref();
                Some(Node {
                    private_ip: instance.and_then(|i| i.private_ip_address.clone()),
                    public_ip: instance.and_then(|i| i.public_ip_address.clone()),
                    state: instance
                        .and_then(|i| i.state.as_ref()?.name.as_ref())
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_else(|| "unknown".into()),
                    instance_type: instance
                        .and_then(|i| i.instance_type.as_ref())
                        .map(|t| t.as_str().to_owned())
                        .or(m.instance_type)
                        .unwrap_or_default(),
                    lifecycle: m
                        .lifecycle_state
                        .map(|l| l.as_str().to_owned())
                        .unwrap_or_default(),
                    asg_health: m.health_status.unwrap_or_default(),
                    elb: health.get(&id).cloned(),
                    launched: instance
                        .and_then(|i| i.launch_time.as_ref())
                        .and_then(|t| t.to_millis().ok())
                        .map(Timestamp),
                    id,
                })
            })
            .collect();
        nodes.sort_by(|a, b| (a.launched, &a.id).cmp(&(b.launched, &b.id)));
        let size = |v: Option<i32>| u32::try_from(v.unwrap_or(0)).unwrap_or(0);
        Ok(Group {
            name: self.group.clone(),
            min: size(group.min_size),
            max: size(group.max_size),
            desired: size(group.desired_capacity),
            grace: Duration::from_secs(u64::from(size(group.health_check_grace_period))),
            nodes,
        })
    }

    async fn resize(&self, desired: Option<u32>, max: Option<u32>) -> Result<(), OpsError> {
        let count = |v: Option<u32>| v.map(|v| i32::try_from(v).unwrap_or(i32::MAX));
        self.autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(&self.group)
            .set_desired_capacity(count(desired))
            .set_max_size(count(max))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("UpdateAutoScalingGroup", None, e))?;
        Ok(())
    }

    async fn terminate(&self, id: &str) -> Result<(), OpsError> {
        self.autoscaling
            .terminate_instance_in_auto_scaling_group()
            .instance_id(id)
            .should_decrement_desired_capacity(true)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("TerminateInstanceInAutoScalingGroup", None, e))?;
        Ok(())
    }
}
