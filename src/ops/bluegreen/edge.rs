//! The AWS side of blue/green: both colours' groups (through [`AwsFleet`]), group sizes, the
//! live route (the HTTPS listener's default action, or a listener rule when the compute stack
//! routes by rule), the preview rule, the per-colour pointers and the versions log.

use std::collections::BTreeSet;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, HttpHeaderConditionConfig, Rule, RuleCondition,
};

use super::{Claim, LiveChange, Platform, Sizes};
use crate::architecture::{
    Colour, LIVE_ROUTE_OUTPUT, PREVIEW_HEADER, StackId, group_output, stack_name,
    target_group_output,
};
use crate::aws::cloudformation::{CloudFormation, describe};
use crate::aws::{Aws, AwsError};
use crate::ops::bucket::BuildsBucket;
use crate::ops::builds::Build;
use crate::ops::fleet::AwsFleet;
use crate::ops::instances::Group;
use crate::ops::release::{ReleaseError, check_head};
use crate::ops::roll::Fleet;
use crate::ops::statics::{self, Uploaded};
use crate::ops::time::Timestamp;
use crate::ops::versionslog::{Change, ChangeState, VersionsLog};
use crate::ops::{OpsError, Resources};

/// Listener rule priorities a release may take for its preview route: before any rule the
/// template defines, so the preview header wins.
const PREVIEW_PRIORITIES: std::ops::RangeInclusive<i32> = 1..=49;

/// One env's colours on AWS.
pub struct AwsPlatform {
    env: String,
    fleets: [AwsFleet; 2],
    groups: [String; 2],
    target_groups: [String; 2],
    route: String,
    listener: String,
    autoscaling: aws_sdk_autoscaling::Client,
    elb: aws_sdk_elasticloadbalancingv2::Client,
    bucket: BuildsBucket,
    statics: Option<BuildsBucket>,
    log: VersionsLog,
    cloudformation: CloudFormation,
    principal: String,
}

fn index(colour: Colour) -> usize {
    match colour {
        Colour::Blue => 0,
        Colour::Green => 1,
    }
}

impl AwsPlatform {
    /// The env's colours, from its compute stack's outputs; `principal` is recorded in the log.
    pub fn new(aws: &Aws, resources: &Resources, principal: &str) -> Result<Self, OpsError> {
        let output = |name: &str| resources.compute_output(name);
        let groups = [
            output(&group_output(Colour::Blue))?,
            output(&group_output(Colour::Green))?,
        ];
        let target_groups = [
            output(&target_group_output(Colour::Blue))?,
            output(&target_group_output(Colour::Green))?,
        ];
        let config = aws.sdk_config();
        Ok(AwsPlatform {
            env: resources.env.clone(),
            fleets: [
                AwsFleet::new(aws, &groups[0], &target_groups[0]),
                AwsFleet::new(aws, &groups[1], &target_groups[1]),
            ],
            groups,
            target_groups,
            route: output(LIVE_ROUTE_OUTPUT)?,
            listener: output("HttpsListenerArn")?,
            autoscaling: aws_sdk_autoscaling::Client::new(config),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(config),
            bucket: BuildsBucket::new(aws, &resources.builds_bucket),
            statics: resources
                .static_bucket
                .as_deref()
                .map(|b| BuildsBucket::new(aws, b)),
            log: VersionsLog::new(aws, &resources.versions_table, &resources.env),
            cloudformation: aws.cloudformation(),
            principal: principal.to_owned(),
        })
    }

    /// A colour's Auto Scaling group and target group, for restarts and listings.
    pub fn fleet(&self, colour: Colour) -> &AwsFleet {
        &self.fleets[index(colour)]
    }

    /// A colour's group name.
    pub fn group_name(&self, colour: Colour) -> &str {
        &self.groups[index(colour)]
    }

    fn colour_of(&self, target_group: &str) -> Option<Colour> {
        Colour::ALL
            .into_iter()
            .find(|c| self.target_groups[index(*c)] == target_group)
    }

    fn is_rule(&self) -> bool {
        is_rule(&self.route)
    }

    fn change(&self, claim: &Claim) -> Result<Change, OpsError> {
        let (seq, at) = claim
            .token
            .split_once('@')
            .and_then(|(s, a)| Some((s.parse().ok()?, a.parse().ok()?)))
            .ok_or_else(|| OpsError::Refused(format!("malformed claim {}", claim.token)))?;
        Ok(Change {
            seq,
            at: Timestamp(at),
            from: claim.change.from.clone(),
            to: claim.change.to.clone(),
            by: claim.change.by.clone(),
            principal: self.principal.clone(),
            colour: Some(claim.change.colour),
            switch: claim.change.switch,
            scaled_up: claim.scaled_up,
        })
    }
}

/// The colour a compute stack's listener forwards to, read through its outputs; `None` when
/// the stack predates the two colours (its one group became blue) or forwards to neither.
pub async fn live_colour_of(
    aws: &Aws,
    outputs: &std::collections::BTreeMap<String, crate::aws::Output>,
) -> Result<Option<Colour>, OpsError> {
    let get = |name: &str| outputs.get(name).map(|o| o.value.clone());
    let (Some(route), Some(blue), Some(green)) = (
        get(LIVE_ROUTE_OUTPUT),
        get(&target_group_output(Colour::Blue)),
        get(&target_group_output(Colour::Green)),
    ) else {
        return Ok(None);
    };
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(aws.sdk_config());
    let target = route_target(&elb, &route).await?;
    Ok(target.and_then(|tg| {
        [(Colour::Blue, &blue), (Colour::Green, &green)]
            .into_iter()
            .find(|(_, arn)| **arn == tg)
            .map(|(c, _)| c)
    }))
}

fn is_rule(route: &str) -> bool {
    route.contains(":listener-rule/")
}

async fn describe_rule(
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    route: &str,
) -> Result<Rule, AwsError> {
    let out = elb
        .describe_rules()
        .rule_arns(route)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeRules", None, e))?;
    out.rules
        .unwrap_or_default()
        .into_iter()
        .next()
        .ok_or_else(|| AwsError::Unreachable {
            operation: "DescribeRules".into(),
            detail: format!("the live route {route} does not exist"),
        })
}

/// The target group the live route (a listener's default action or a rule) forwards to.
async fn route_target(
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    route: &str,
) -> Result<Option<String>, OpsError> {
    let actions = if is_rule(route) {
        describe_rule(elb, route).await?.actions.unwrap_or_default()
    } else {
        let out = elb
            .describe_listeners()
            .listener_arns(route)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeListeners", None, e))?;
        out.listeners
            .unwrap_or_default()
            .into_iter()
            .next()
            .and_then(|l| l.default_actions)
            .unwrap_or_default()
    };
    Ok(forward_target(&actions))
}

/// The one target group a forward action sends to.
fn forward_target(actions: &[Action]) -> Option<String> {
    let action = actions
        .iter()
        .find(|a| a.r#type == Some(ActionTypeEnum::Forward))?;
    if let Some(arn) = &action.target_group_arn {
        return Some(arn.clone());
    }
    let groups = action.forward_config.as_ref()?.target_groups.as_ref()?;
    let weighted: Vec<_> = groups
        .iter()
        .filter(|g| g.weight.unwrap_or(1) > 0)
        .collect();
    match weighted.as_slice() {
        [only] => only.target_group_arn.clone(),
        _ => None,
    }
}

fn forward(target_group: &str) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(target_group)
        .build()
}

fn count(v: Option<u32>) -> Option<i32> {
    v.map(|v| i32::try_from(v).unwrap_or(i32::MAX))
}

impl Platform for AwsPlatform {
    async fn group(&self, colour: Colour) -> Result<Group, OpsError> {
        self.fleets[index(colour)].group().await
    }

    async fn set_sizes(&self, colour: Colour, sizes: Sizes) -> Result<(), OpsError> {
        self.autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(&self.groups[index(colour)])
            .set_min_size(count(sizes.min))
            .set_max_size(count(sizes.max))
            .set_desired_capacity(count(sizes.desired))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("UpdateAutoScalingGroup", None, e))?;
        Ok(())
    }

    async fn live(&self) -> Result<Option<Colour>, OpsError> {
        let target = route_target(&self.elb, &self.route).await?;
        Ok(target.and_then(|tg| self.colour_of(&tg)))
    }

    async fn switch(&self, colour: Colour) -> Result<(), OpsError> {
        let action = forward(&self.target_groups[index(colour)]);
        if self.is_rule() {
            self.elb
                .modify_rule()
                .rule_arn(&self.route)
                .actions(action)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ModifyRule", None, e))?;
        } else {
            self.elb
                .modify_listener()
                .listener_arn(&self.route)
                .default_actions(action)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ModifyListener", None, e))?;
        }
        Ok(())
    }

    async fn open_preview(&self, colour: Colour, token: &str) -> Result<String, OpsError> {
        // The preview rule matches what the live route matches (e.g. the origin secret
        // CloudFront adds) plus the preview header, so it opens nothing the live route keeps
        // closed.
        let mut conditions: Vec<RuleCondition> = if self.is_rule() {
            describe_rule(&self.elb, &self.route)
                .await?
                .conditions
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        conditions.push(
            RuleCondition::builder()
                .field("http-header")
                .http_header_config(
                    HttpHeaderConditionConfig::builder()
                        .http_header_name(PREVIEW_HEADER)
                        .values(token)
                        .build(),
                )
                .build(),
        );
        let existing = self
            .elb
            .describe_rules()
            .listener_arn(&self.listener)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeRules", None, e))?;
        let taken: BTreeSet<i32> = existing
            .rules
            .unwrap_or_default()
            .iter()
            .filter_map(|r| r.priority.as_deref()?.parse().ok())
            .collect();
        let priority = PREVIEW_PRIORITIES
            .into_iter()
            .find(|p| !taken.contains(p))
            .ok_or_else(|| {
                OpsError::Refused(format!(
                    "every listener rule priority from {} to {} is taken; remove stale \
                     preview rules (`aws elbv2 describe-rules --listener-arn {}`)",
                    PREVIEW_PRIORITIES.start(),
                    PREVIEW_PRIORITIES.end(),
                    self.listener
                ))
            })?;
        let out = self
            .elb
            .create_rule()
            .listener_arn(&self.listener)
            .priority(priority)
            .set_conditions(Some(conditions))
            .actions(forward(&self.target_groups[index(colour)]))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CreateRule", None, e))?;
        out.rules
            .unwrap_or_default()
            .into_iter()
            .find_map(|r| r.rule_arn)
            .ok_or_else(|| OpsError::Refused("CreateRule returned no rule".into()))
    }

    async fn close_preview(&self, handle: &str) -> Result<(), OpsError> {
        self.elb
            .delete_rule()
            .rule_arn(handle)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DeleteRule", None, e))?;
        Ok(())
    }

    /// What the colour's nodes boot: its pointer, else (no release pointed it yet) the env's.
    async fn pointer(&self, colour: Colour) -> Result<Option<String>, OpsError> {
        match self.bucket.colour_pointer(&self.env, colour).await? {
            Some(key) => Ok(Some(key)),
            None => Ok(self.bucket.pointer(&self.env).await?),
        }
    }

    async fn set_pointer(&self, colour: Colour, key: Option<&str>) -> Result<(), OpsError> {
        Ok(self
            .bucket
            .set_colour_pointer(&self.env, colour, key)
            .await?)
    }

    async fn upload_static(&self, build: &Build) -> Result<Uploaded, OpsError> {
        let (Some(key), Some(statics)) = (&build.static_key, &self.statics) else {
            return Ok(Uploaded::default());
        };
        let xz = self.bucket.get_bytes(key).await?.ok_or_else(|| {
            OpsError::Refused(format!(
                "the static tarball {key} vanished from the builds bucket"
            ))
        })?;
        let files = statics::unpack(key, &xz)?;
        let existing = statics
            .hashes_of(files.iter().map(|f| f.key.clone()).collect())
            .await?;
        let new = statics::to_upload(&files, &existing)?;
        for file in &new {
            statics.put_static(file).await?;
        }
        Ok(Uploaded {
            uploaded: new.len(),
            present: files.len() - new.len(),
        })
    }

    async fn claim(&self, change: &LiveChange) -> Result<Claim, OpsError> {
        let head = self.log.head().await?;
        check_head(
            &self.env,
            head.as_ref(),
            change.from.as_deref(),
            Timestamp::now(),
        )
        .map_err(|e| OpsError::Release(Box::new(e)))?;
        let record = Change {
            seq: head.as_ref().map_or(0, |h| h.seq) + 1,
            at: Timestamp::now(),
            from: change.from.clone(),
            to: change.to.clone(),
            by: change.by.clone(),
            principal: self.principal.clone(),
            colour: Some(change.colour),
            switch: change.switch,
            scaled_up: None,
        };
        self.log
            .claim(head.as_ref(), &record)
            .await
            .map_err(|e| OpsError::Release(Box::new(ReleaseError::Claim(e))))?;
        Ok(Claim {
            change: change.clone(),
            token: format!("{}@{}", record.seq, record.at.0),
            scaled_up: None,
        })
    }

    async fn touch(&self, claim: &Claim) -> Result<(), OpsError> {
        Ok(self.log.touch(&self.change(claim)?).await?)
    }

    async fn finish(&self, claim: &Claim, done: bool) -> Result<(), OpsError> {
        let change = self.change(claim)?;
        if done && !change.to.is_empty() {
            // The env's pointer names the build live: `builds list` marks it, and a colour
            // no release has pointed yet boots it.
            self.bucket.set_pointer(&self.env, &change.to).await?;
        }
        let state = if done {
            ChangeState::Done
        } else {
            ChangeState::Failed
        };
        Ok(self.log.finish(&change, state).await?)
    }

    async fn refuse_during_deploy(&self) -> Result<(), OpsError> {
        let client = self.cloudformation.client();
        let names = StackId::ALL.map(|s| stack_name(&self.env, s));
        let [network, storage, compute, edge, monitoring] = &names;
        let found = tokio::try_join!(
            describe(client, network),
            describe(client, storage),
            describe(client, compute),
            describe(client, edge),
            describe(client, monitoring),
        )?;
        let stacks = <[Option<aws_sdk_cloudformation::types::Stack>; 5]>::from(found);
        let statuses: Vec<Option<&str>> = stacks
            .iter()
            .map(|s| s.as_ref()?.stack_status.as_ref().map(|s| s.as_str()))
            .collect();
        match super::deploy_running(names.iter().map(String::as_str).zip(statuses)) {
            Some((stack, status)) => Err(OpsError::Deploying {
                env: self.env.clone(),
                stack: stack.to_owned(),
                status: status.to_owned(),
            }),
            None => Ok(()),
        }
    }
}
