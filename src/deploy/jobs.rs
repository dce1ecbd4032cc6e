//! What the engine deploys: one job per stack (template, tags, capabilities, the plan's change
//! set when deploying a plan), and the settings every stack shares.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::api::{Capability, ChangeSetKind, TemplateSource};
use super::approval::Approval;
use super::policy;
use crate::architecture::StackId;
use crate::aws::cloudformation::{DeployedStack, Parameter};
use crate::config::Env;
use crate::diff::DiffClass;

/// One stack to deploy, prepared from its render.
#[derive(Clone, Debug)]
pub struct StackJob {
    /// Which stack.
    pub id: StackId,
    /// `ce-<env>-<stack>`.
    pub name: String,
    /// The template as sent: inline, or by URL once uploaded.
    pub template: TemplateSource,
    /// The compact template body that is (or was uploaded to be) sent.
    pub body: String,
    /// SHA-256 of `body`, hex.
    pub sha256: String,
    /// The rendered template, parsed.
    pub rendered: Value,
    /// Stack tags.
    pub tags: BTreeMap<String, String>,
    /// Capabilities the template needs.
    pub capabilities: Vec<Capability>,
    /// Parameter values (the compute stack's live colour, filled from the listener).
    pub parameters: BTreeMap<String, String>,
    /// This stack's exports that other stacks import.
    pub imported_exports: BTreeSet<String>,
    /// With `--plan`: the planned change set to execute instead of making one.
    pub planned: Option<Planned>,
}

/// Parameters `ce deploy` fills from live state rather than from the env file.
pub const LIVE_STATE_PARAMETERS: [&str; 1] = [crate::architecture::LIVE_COLOUR_PARAMETER];

/// A plan's change set, executed as planned.
#[derive(Clone, Debug)]
pub struct Planned {
    /// The change set's ARN.
    pub change_set_id: String,
    /// Create or update.
    pub kind: ChangeSetKind,
    /// The diff's class when planned.
    pub class: DiffClass,
    /// The diff's JSON form when planned.
    pub diff: Value,
    /// The diff's text when planned.
    pub diff_text: String,
}

/// SHA-256 of a text, lowercase hex.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A job for one rendered stack, sent inline until [`StackJob::template`] is set to a URL.
pub fn job(
    env: &Env,
    id: StackId,
    name: &str,
    rendered: &Value,
    imported_exports: BTreeSet<String>,
) -> StackJob {
    let body = rendered.to_string();
    StackJob {
        id,
        name: name.to_owned(),
        template: TemplateSource::Body(body.clone()),
        sha256: sha256_hex(&body),
        body,
        rendered: rendered.clone(),
        tags: policy::stack_tags(env, id),
        capabilities: policy::capabilities(rendered),
        parameters: BTreeMap::new(),
        imported_exports,
        planned: None,
    }
}

impl StackJob {
    /// Whether the deployed stack differs in anything besides its template that a change set
    /// would change: tags, or parameters (a hidden NoEcho value always counts as different).
    ///
    /// Parameters filled from live state (the live colour) do not count: they follow what the
    /// release commands changed outside CloudFormation, and updating the stack for them alone
    /// would change nothing real. With any other change they go along, so CloudFormation
    /// evaluates the template against the live state, never an old one.
    pub fn differs_outside_template(&self, deployed: &DeployedStack) -> bool {
        let params_differ = self
            .parameters
            .iter()
            .filter(|(k, _)| !LIVE_STATE_PARAMETERS.contains(&k.as_str()))
            .any(|(k, v)| deployed.parameters.get(k) != Some(&Parameter::Value(v.clone())))
            || deployed
                .parameters
                .keys()
                .any(|k| !self.parameters.contains_key(k));
        deployed.tags != self.tags || params_differ
    }
}

/// Everything about a deploy that is the same for every stack.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The env's name.
    pub env: String,
    /// Its region (for the commands in guidance).
    pub region: String,
    /// `protected = true`: stack policy and termination protection after each deploy.
    pub protected: bool,
    /// `--recreate-failed`.
    pub recreate_failed: bool,
    /// Approval rules.
    pub approval: Approval,
    /// The name of the change sets this deploy makes.
    pub change_set_name: String,
    /// Write each stack's diff as text to the output (text format).
    pub show_text: bool,
    /// Colour in that text.
    pub colour: bool,
    /// Against the sandbox, which lacks termination protection.
    pub local: bool,
}
