//! The read side of CloudFormation that the diff needs: what is deployed, per stack, and who
//! imports an export.
//!
//! A diff is only as fast as its slowest stack, so every stack is fetched at once, and each
//! stack's DescribeStacks and GetTemplate run side by side: an unchanged env costs about one
//! round trip. A stack that does not exist is `None`, not an error: that is what a first deploy
//! looks like.

use std::collections::BTreeMap;

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::primitives::{DateTime, DateTimeFormat};
use aws_sdk_cloudformation::types::{Stack, StackStatus, TemplateStage};
use serde::Serialize;
use serde_json::Value;

use super::errors::{self, AwsError};
use super::{Aws, joined};
use crate::drift::StackDriftStatus;

/// A stack as CloudFormation has it now.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeployedStack {
    /// The stack's name.
    pub name: String,
    /// Its ARN.
    pub stack_id: String,
    /// Its status, e.g. `UPDATE_COMPLETE`.
    pub status: String,
    /// Why it has that status, when CloudFormation says.
    pub status_reason: Option<String>,
    /// When it was created (RFC 3339).
    pub created: Option<String>,
    /// When it was last updated (RFC 3339); `None` if never.
    pub last_updated: Option<String>,
    /// Its parameters; NoEcho values are never kept.
    pub parameters: BTreeMap<String, Parameter>,
    /// Its outputs by logical name.
    pub outputs: BTreeMap<String, Output>,
    /// Its stack-level tags.
    pub tags: BTreeMap<String, String>,
    /// Whether termination protection is on.
    pub termination_protection: bool,
    /// The drift its last drift detection found; `None` when never checked.
    pub drift: Option<StackDriftStatus>,
    /// When drift was last detected (RFC 3339).
    pub drift_checked: Option<String>,
    /// The template as it was submitted (`TemplateStage::Original`), parsed.
    pub template: Value,
}

impl DeployedStack {
    /// Whether an operation is running on the stack, so it cannot take another.
    pub fn in_progress(&self) -> bool {
        self.status.ends_with("_IN_PROGRESS")
    }
}

/// A deployed parameter's value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Parameter {
    /// The value as deployed.
    Value(String),
    /// A NoEcho parameter: its value is a secret and is never read back.
    Hidden,
}

/// A deployed stack output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Output {
    /// Its value.
    pub value: String,
    /// The name it is exported under, if exported.
    pub export_name: Option<String>,
    /// Its description.
    pub description: Option<String>,
}

/// One export of the account and region.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExportValue {
    /// The export's name.
    pub name: String,
    /// Its value.
    pub value: String,
    /// The ARN of the stack exporting it.
    pub exporting_stack_id: String,
}

/// Why the deployed state could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The deployed template is not JSON, which every template `ce` deploys is.
    #[error(
        "the deployed template of stack {stack} is not JSON ({source}); it was not deployed \
         by ce, so compare it by hand or delete the stack"
    )]
    NotJson {
        /// The stack.
        stack: String,
        /// The parser's complaint.
        source: serde_json::Error,
    },
}

/// CloudFormation calls, made through one client.
#[derive(Clone, Debug)]
pub struct CloudFormation {
    client: Client,
    local: bool,
}

impl CloudFormation {
    /// A client from the shared configuration.
    pub(super) fn new(aws: &Aws) -> Self {
        CloudFormation {
            client: Client::new(aws.sdk_config()),
            local: aws.is_local(),
        }
    }

    /// The SDK client, for calls this module does not wrap.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Fetches every named stack concurrently; each entry is `None` where the stack does not
    /// exist. The result is in the order of `names`.
    pub async fn fetch_stacks<S: Into<String>>(
        &self,
        names: impl IntoIterator<Item = S>,
    ) -> Result<Vec<Option<DeployedStack>>, FetchError> {
        let tasks: Vec<_> = names
            .into_iter()
            .map(|name| {
                let this = self.clone();
                let name = name.into();
                tokio::spawn(async move { this.fetch_stack(&name).await })
            })
            .collect();
        let mut stacks = Vec::with_capacity(tasks.len());
        for task in tasks {
            stacks.push(joined(task).await?);
        }
        Ok(stacks)
    }

    /// Fetches one stack and its template (both calls at once); `None` if it does not exist.
    pub async fn fetch_stack(&self, name: &str) -> Result<Option<DeployedStack>, FetchError> {
        let template = {
            let client = self.client.clone();
            let name = name.to_owned();
            tokio::spawn(async move { get_template(&client, &name).await })
        };
        let stack = describe(&self.client, name).await;
        let template = joined(template).await;
        let (Some(stack), Some(body)) = (stack?, template?) else {
            return Ok(None);
        };
        let template = serde_json::from_str(&body).map_err(|source| FetchError::NotJson {
            stack: name.to_owned(),
            source,
        })?;
        Ok(Some(deployed(name, stack, template)))
    }

    /// Every export in the account and region, across all pages.
    pub async fn list_exports(&self) -> Result<Vec<ExportValue>, AwsError> {
        let mut pages = self.client.list_exports().into_paginator().items().send();
        let mut exports = Vec::new();
        while let Some(export) = pages.next().await {
            let export = export.map_err(|e| AwsError::from_sdk("ListExports", None, e))?;
            exports.push(ExportValue {
                name: export.name.unwrap_or_default(),
                value: export.value.unwrap_or_default(),
                exporting_stack_id: export.exporting_stack_id.unwrap_or_default(),
            });
        }
        Ok(exports)
    }

    /// The names of the stacks importing `export_name`, sorted; empty when none does.
    ///
    /// The sandbox (moto 5.2) has no ListImports, so there the importers are found by reading
    /// every stack's template for an `Fn::ImportValue` of that literal name, which is how every
    /// template `ce` renders imports.
    pub async fn list_imports(&self, export_name: &str) -> Result<Vec<String>, FetchError> {
        if self.local {
            return self.importers_by_template(export_name).await;
        }
        let mut pages = self
            .client
            .list_imports()
            .export_name(export_name)
            .into_paginator()
            .items()
            .send();
        let mut stacks = Vec::new();
        while let Some(stack) = pages.next().await {
            match stack.map_err(|e| AwsError::from_sdk("ListImports", None, e)) {
                Ok(stack) => stacks.push(stack),
                Err(e) if errors::is_not_imported(&e) => return Ok(Vec::new()),
                Err(e) => return Err(e.into()),
            }
        }
        stacks.sort();
        Ok(stacks)
    }

    async fn importers_by_template(&self, export_name: &str) -> Result<Vec<String>, FetchError> {
        let mut pages = self
            .client
            .describe_stacks()
            .into_paginator()
            .items()
            .send();
        let mut names = Vec::new();
        while let Some(stack) = pages.next().await {
            let stack = stack.map_err(|e| AwsError::from_sdk("DescribeStacks", None, e))?;
            if stack.stack_status != Some(StackStatus::DeleteComplete) {
                names.extend(stack.stack_name);
            }
        }
        let stacks = self.fetch_stacks(names).await?;
        let mut importers: Vec<String> = stacks
            .into_iter()
            .flatten()
            .filter(|s| imports(&s.template, export_name))
            .map(|s| s.name)
            .collect();
        importers.sort();
        Ok(importers)
    }
}

/// DescribeStacks of one stack; `None` if it does not exist or is deleted.
pub async fn describe(client: &Client, name: &str) -> Result<Option<Stack>, AwsError> {
    match client.describe_stacks().stack_name(name).send().await {
        Ok(out) => Ok(out
            .stacks
            .unwrap_or_default()
            .into_iter()
            .find(|s| s.stack_status != Some(StackStatus::DeleteComplete))),
        Err(e) => match AwsError::from_sdk("DescribeStacks", Some(name), e) {
            e if e.is_stack_not_found() => Ok(None),
            e => Err(e),
        },
    }
}

/// The stack's template body as submitted; `None` if the stack does not exist.
async fn get_template(client: &Client, name: &str) -> Result<Option<String>, AwsError> {
    let call = client
        .get_template()
        .stack_name(name)
        .template_stage(TemplateStage::Original)
        .send()
        .await;
    match call {
        Ok(out) => Ok(Some(out.template_body.unwrap_or_default())),
        Err(e) => match AwsError::from_sdk("GetTemplate", Some(name), e) {
            e if e.is_stack_not_found() => Ok(None),
            e => Err(e),
        },
    }
}

/// Builds the stack's record from DescribeStacks and its parsed template.
fn deployed(name: &str, stack: Stack, template: Value) -> DeployedStack {
    let no_echo = no_echo_parameters(&template);
    let parameters = stack
        .parameters
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| {
            let key = p.parameter_key?;
            let value = match p.parameter_value {
                // CloudFormation masks NoEcho values as "****"; either way nothing is kept.
                Some(v) if !no_echo.contains(&key) && v != "****" => Parameter::Value(v),
                _ => Parameter::Hidden,
            };
            Some((key, value))
        })
        .collect();
    let outputs = stack
        .outputs
        .unwrap_or_default()
        .into_iter()
        .filter_map(|o| {
            Some((
                o.output_key?,
                Output {
                    value: o.output_value.unwrap_or_default(),
                    export_name: o.export_name,
                    description: o.description,
                },
            ))
        })
        .collect();
    let tags = stack
        .tags
        .unwrap_or_default()
        .into_iter()
        .filter_map(|t| Some((t.key?, t.value.unwrap_or_default())))
        .collect();
    DeployedStack {
        name: stack.stack_name.unwrap_or_else(|| name.to_owned()),
        stack_id: stack.stack_id.unwrap_or_default(),
        status: stack
            .stack_status
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        status_reason: stack.stack_status_reason,
        created: stack.creation_time.as_ref().and_then(rfc3339),
        last_updated: stack.last_updated_time.as_ref().and_then(rfc3339),
        parameters,
        outputs,
        tags,
        termination_protection: stack.enable_termination_protection.unwrap_or(false),
        drift: stack
            .drift_information
            .as_ref()
            .and_then(|d| d.stack_drift_status.as_ref())
            .and_then(|s| StackDriftStatus::parse(s.as_str()))
            .filter(|s| *s != StackDriftStatus::NotChecked),
        drift_checked: stack
            .drift_information
            .as_ref()
            .and_then(|d| d.last_check_timestamp.as_ref())
            .and_then(rfc3339),
        template,
    }
}

fn rfc3339(time: &DateTime) -> Option<String> {
    time.fmt(DateTimeFormat::DateTime).ok()
}

/// The template's parameters declared `NoEcho`.
fn no_echo_parameters(template: &Value) -> Vec<String> {
    let Some(params) = template.get("Parameters").and_then(Value::as_object) else {
        return Vec::new();
    };
    params
        .iter()
        .filter(|(_, p)| match p.get("NoEcho") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
            _ => false,
        })
        .map(|(k, _)| k.clone())
        .collect()
}

/// Whether the template holds `{"Fn::ImportValue": export_name}` anywhere.
fn imports(template: &Value, export_name: &str) -> bool {
    match template {
        Value::Object(map) => {
            map.get("Fn::ImportValue").and_then(Value::as_str) == Some(export_name)
                || map.values().any(|v| imports(v, export_name))
        }
        Value::Array(items) => items.iter().any(|v| imports(v, export_name)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::types;
    use serde_json::json;

    fn stack_with(params: &[(&str, &str)]) -> Stack {
        let mut stack = Stack::builder()
            .stack_name("ce-beta-network")
            .stack_id("arn:aws:cloudformation:us-east-1:123456789012:stack/ce-beta-network/1")
            .stack_status(StackStatus::UpdateComplete)
            .creation_time(DateTime::from_secs(0))
            .enable_termination_protection(true)
            .tags(types::Tag::builder().key("Site").value("CE").build())
            .outputs(
                types::Output::builder()
                    .output_key("VpcId")
                    .output_value("vpc-1")
                    .export_name("ce-beta-network-VpcId")
                    .build(),
            );
        for (k, v) in params {
            stack = stack.parameters(
                types::Parameter::builder()
                    .parameter_key(*k)
                    .parameter_value(*v)
                    .build(),
            );
        }
        stack.build()
    }

    #[test]
    fn a_no_echo_parameter_value_is_never_kept() {
        let template = json!({"Parameters": {"Secret": {"Type": "String", "NoEcho": true},
                                              "Plain": {"Type": "String"}}});
        let stack = deployed(
            "ce-beta-network",
            stack_with(&[("Secret", "hunter2"), ("Plain", "x")]),
            template,
        );
        assert_eq!(stack.parameters["Secret"], Parameter::Hidden);
        assert_eq!(stack.parameters["Plain"], Parameter::Value("x".into()));
        assert!(!format!("{stack:?}").contains("hunter2"));
    }

    #[test]
    fn a_masked_value_is_hidden_even_without_the_template_saying_no_echo() {
        let stack = deployed("s", stack_with(&[("Secret", "****")]), json!({}));
        assert_eq!(stack.parameters["Secret"], Parameter::Hidden);
    }

    #[test]
    fn a_deployed_stack_keeps_status_outputs_tags_and_protection() {
        let stack = deployed("ce-beta-network", stack_with(&[]), json!({}));
        assert_eq!(stack.status, "UPDATE_COMPLETE");
        assert_eq!(stack.created.as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(stack.last_updated, None);
        assert_eq!(stack.outputs["VpcId"].value, "vpc-1");
        assert_eq!(
            stack.outputs["VpcId"].export_name.as_deref(),
            Some("ce-beta-network-VpcId")
        );
        assert_eq!(stack.tags["Site"], "CE");
        assert!(stack.termination_protection);
        assert!(!stack.in_progress());
    }

    #[test]
    fn an_import_is_found_anywhere_in_a_template() {
        let template = json!({"Resources": {"Sg": {"Properties": {
            "VpcId": {"Fn::ImportValue": "ce-beta-network-VpcId"},
            "Tags": [{"Value": {"Fn::ImportValue": "ce-beta-network-Other"}}]}}}});
        assert!(imports(&template, "ce-beta-network-VpcId"));
        assert!(imports(&template, "ce-beta-network-Other"));
        assert!(!imports(&template, "ce-beta-network-SubnetIds"));
    }
}
