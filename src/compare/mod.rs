//! `ce compare ENV_A ENV_B`: how two envs differ, offline, read from their rendered stacks.
//!
//! Both envs are rendered, env-specific names and ids are [`normalise`]d away, and each stack
//! pair goes through the diff core (env A as the "before", env B as the "after"), so the same
//! normalisation (`"10"` vs `10`, sets without order) applies. Each differing resource is put
//! in a group by what it means — topology, capacity, storage, edge, alarms, then anything else
//! — by its resource type, or by its stack for a type no rule names, so resources added to the
//! templates later are grouped without code here. Settings an env lists in `must_match` are
//! checked on the env files themselves, defaults applied.

pub mod format;
pub mod normalise;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::Status;
use crate::config::Env;
use crate::config::settings::{self, Setting};
use crate::diff::{self, Action, DiffError, StackInput};

pub use normalise::{Normaliser, Substitution};

/// Why two envs cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// The diff core could not read a template.
    #[error("comparing {stack}: {source}")]
    Diff {
        /// Which stack.
        stack: String,
        /// What was wrong.
        source: DiffError,
    },
    /// A `must_match` key names a setting neither env has.
    #[error("{file}: must_match: unknown setting {key:?}")]
    UnknownSetting {
        /// The env file that lists it.
        file: String,
        /// The key.
        key: String,
    },
}

/// What a difference is about, in order of weight: the first groups are the ones whose
/// surprises hurt most.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Zones, subnets, routes, security groups, endpoints, mount targets.
    Topology,
    /// Instance types, group sizes, spot, the load balancer and its health check.
    Capacity,
    /// File system, buckets, tables, backups, retention, billing.
    Storage,
    /// CloudFront, WAF, DNS: aliases, price class, TLS, caching.
    Edge,
    /// Alarms, their thresholds, where they go, dashboards.
    Alarms,
    /// Anything else (IAM, for instance).
    Other,
}

impl Category {
    /// Lowercase name for text output.
    pub fn label(self) -> &'static str {
        match self {
            Category::Topology => "topology",
            Category::Capacity => "capacity",
            Category::Storage => "storage",
            Category::Edge => "edge",
            Category::Alarms => "alarms",
            Category::Other => "other",
        }
    }

    /// The group of a resource: by type where a rule names it, else by its stack.
    pub fn of(resource_type: &str, stack: &str) -> Category {
        const TOPOLOGY: &[&str] = &[
            "AWS::EC2::VPC",
            "AWS::EC2::Subnet",
            "AWS::EC2::RouteTable",
            "AWS::EC2::Route",
            "AWS::EC2::SubnetRouteTableAssociation",
            "AWS::EC2::InternetGateway",
            "AWS::EC2::VPCGatewayAttachment",
            "AWS::EC2::VPCEndpoint",
            "AWS::EC2::NatGateway",
            "AWS::EC2::EIP",
            "AWS::EC2::SecurityGroup",
            "AWS::EC2::SecurityGroupIngress",
            "AWS::EC2::SecurityGroupEgress",
            "AWS::EFS::MountTarget",
        ];
        let service = resource_type.split("::").nth(1).unwrap_or("");
        if TOPOLOGY.contains(&resource_type) {
            return Category::Topology;
        }
        match service {
            "AutoScaling" | "ElasticLoadBalancingV2" => return Category::Capacity,
            "EC2" if resource_type == "AWS::EC2::LaunchTemplate" => return Category::Capacity,
            "EFS" | "S3" | "DynamoDB" | "Backup" | "Logs" => return Category::Storage,
            "CloudFront" | "WAFv2" | "Route53" | "CertificateManager" => return Category::Edge,
            "CloudWatch" | "SNS" => return Category::Alarms,
            "IAM" => return Category::Other,
            _ => {}
        }
        match stack {
            "network" => Category::Topology,
            "compute" => Category::Capacity,
            "storage" => Category::Storage,
            "edge" => Category::Edge,
            "monitoring" => Category::Alarms,
            _ => Category::Other,
        }
    }
}

/// Which envs have a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Only env A.
    OnlyA,
    /// Only env B.
    OnlyB,
    /// Both, with different values.
    Both,
}

/// One value that differs, after normalisation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ValueDifference {
    /// Dotted path below the resource's properties (or an attribute's name).
    pub path: String,
    /// Env A's value; `null` when A does not set it.
    pub a: Option<Value>,
    /// Env B's value; `null` when B does not set it.
    pub b: Option<Value>,
}

/// A resource that differs between the envs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResourceDifference {
    /// The stack's short name.
    pub stack: String,
    /// Logical id.
    pub logical_id: String,
    /// Resource type.
    pub resource_type: String,
    /// In one env or both.
    pub presence: Presence,
    /// What differs (empty when in one env only).
    pub values: Vec<ValueDifference>,
}

/// The differences of one category.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Group {
    /// What they are about.
    pub category: Category,
    /// The resources, stack by stack in deploy order.
    pub resources: Vec<ResourceDifference>,
}

/// A `must_match` setting and whether it does.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MustMatch {
    /// The dotted key.
    pub setting: String,
    /// The envs whose files list it.
    pub listed_by: Vec<String>,
    /// Env A's value (defaults applied; `null` when unset).
    pub a: Value,
    /// Env B's value.
    pub b: Value,
    /// Whether they are equal.
    pub matches: bool,
}

/// The verdict of a comparison, ordered so the worst is a `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Equal after normalisation: exit 0.
    Equal,
    /// Different: exit 2.
    Differ,
    /// A setting that must match does not: exit 3.
    MustMatchDiffers,
}

impl Outcome {
    /// The exit status.
    pub fn status(self) -> Status {
        match self {
            Outcome::Equal => Status::Success,
            Outcome::Differ => Status::Changes,
            Outcome::MustMatchDiffers => Status::NeedsApproval,
        }
    }
}

/// How two envs differ.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    /// The first env.
    pub env_a: String,
    /// The second env.
    pub env_b: String,
    /// What was normalised away in each env.
    pub normalised: BTreeMap<String, Vec<Substitution>>,
    /// Non-empty groups, in order of weight.
    pub groups: Vec<Group>,
    /// The settings either env lists in `must_match`, by key.
    pub must_match: Vec<MustMatch>,
}

impl Comparison {
    /// Equal, different, or different where it must not be.
    pub fn outcome(&self) -> Outcome {
        if self.must_match.iter().any(|m| !m.matches) {
            Outcome::MustMatchDiffers
        } else if self.groups.is_empty() {
            Outcome::Equal
        } else {
            Outcome::Differ
        }
    }

    /// How many resources differ.
    pub fn resource_count(&self) -> usize {
        self.groups.iter().map(|g| g.resources.len()).sum()
    }

    /// What `ce compare` prints: the comparison with its verdict.
    pub fn report(&self) -> format::ComparisonReport<'_> {
        let outcome = self.outcome();
        format::ComparisonReport {
            comparison: self,
            outcome,
            exit_code: outcome.status().code(),
        }
    }
}

/// One env's rendered stacks, by short stack name in deploy order.
pub struct EnvStacks<'a> {
    /// The env.
    pub env: &'a Env,
    /// `(stack, template)` in deploy order.
    pub stacks: Vec<(String, Value)>,
}

/// Compares two envs' rendered stacks.
pub fn compare(a: &EnvStacks<'_>, b: &EnvStacks<'_>) -> Result<Comparison, CompareError> {
    let norm = Normaliser::for_envs(&[a.env, b.env]);
    let mut stacks: Vec<&str> = a.stacks.iter().map(|(s, _)| s.as_str()).collect();
    for (s, _) in &b.stacks {
        if !stacks.contains(&s.as_str()) {
            stacks.push(s);
        }
    }
    let empty = Value::Object(Default::default());
    let no_imports = BTreeSet::new();
    let mut by_category: BTreeMap<Category, Vec<ResourceDifference>> = BTreeMap::new();
    for stack in stacks {
        let find = |side: &EnvStacks<'_>| {
            side.stacks
                .iter()
                .find(|(s, _)| s == stack)
                .map(|(_, t)| t.clone())
        };
        let ta = find(a).map(|t| norm.apply(&t));
        let tb = find(b)
            .map(|t| norm.apply(&t))
            .unwrap_or_else(|| empty.clone());
        let name = format!("ce-{}-{stack}", normalise::ENV_PLACEHOLDER);
        let input = StackInput::new(&name, ta.as_ref(), &tb, &no_imports);
        let stack_diff = diff::diff_stack(&input).map_err(|source| CompareError::Diff {
            stack: stack.to_owned(),
            source,
        })?;
        for r in stack_diff.resources {
            let presence = match r.action {
                Action::Add => Presence::OnlyB,
                Action::Remove => Presence::OnlyA,
                Action::Modify | Action::Replace => Presence::Both,
            };
            let values: Vec<ValueDifference> = r
                .changes
                .into_iter()
                .map(|c| ValueDifference {
                    path: c.path,
                    a: c.old,
                    b: c.new,
                })
                .collect();
            // The diff also lists resources that only read a changed one (a new id would
            // reach them on a deploy); between two envs nothing is deployed, so only values
            // that differ count.
            if presence == Presence::Both && values.is_empty() {
                continue;
            }
            by_category
                .entry(Category::of(&r.resource_type, stack))
                .or_default()
                .push(ResourceDifference {
                    stack: stack.to_owned(),
                    logical_id: r.logical_id,
                    resource_type: r.resource_type,
                    presence,
                    values,
                });
        }
    }
    let groups = by_category
        .into_iter()
        .map(|(category, resources)| Group {
            category,
            resources,
        })
        .collect();
    let mut normalised = BTreeMap::new();
    for env in [a.env, b.env] {
        normalised.insert(env.name.to_string(), Normaliser::substitutions(env));
    }
    Ok(Comparison {
        env_a: a.env.name.to_string(),
        env_b: b.env.name.to_string(),
        normalised,
        groups,
        must_match: must_match(a.env, b.env)?,
    })
}

/// The `must_match` settings of both envs, each compared with defaults applied.
fn must_match(a: &Env, b: &Env) -> Result<Vec<MustMatch>, CompareError> {
    let mut keys: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for env in [a, b] {
        for key in &env.file.must_match {
            let listed = keys.entry(key).or_default();
            if !listed.contains(&env.name.to_string()) {
                listed.push(env.name.to_string());
            }
        }
    }
    let mut out = Vec::new();
    for (key, listed_by) in keys {
        let value = |env: &Env| match settings::lookup(&env.file, key) {
            Setting::Value(v) => Some(v),
            Setting::UnderUnset => Some(Value::Null),
            Setting::Unknown { .. } => None,
        };
        let (va, vb) = match (value(a), value(b)) {
            (Some(va), Some(vb)) => (va, vb),
            (None, None) | (None, Some(_)) | (Some(_), None) => {
                let lister = if a.file.must_match.iter().any(|k| k == key) {
                    a
                } else {
                    b
                };
                return Err(CompareError::UnknownSetting {
                    file: lister.path.display().to_string(),
                    key: key.to_owned(),
                });
            }
        };
        out.push(MustMatch {
            setting: key.to_owned(),
            listed_by,
            matches: va == vb,
            a: va,
            b: vb,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Format;
    use crate::printer::printed;

    #[test]
    fn resources_are_grouped_by_type_then_by_stack() {
        assert_eq!(
            Category::of("AWS::EC2::Subnet", "network"),
            Category::Topology
        );
        assert_eq!(
            Category::of("AWS::EFS::MountTarget", "storage"),
            Category::Topology
        );
        assert_eq!(
            Category::of("AWS::EC2::LaunchTemplate", "compute"),
            Category::Capacity
        );
        assert_eq!(
            Category::of("AWS::WAFv2::WebACL", "monitoring"),
            Category::Edge
        );
        assert_eq!(
            Category::of("AWS::DynamoDB::Table", "storage"),
            Category::Storage
        );
        assert_eq!(
            Category::of("AWS::CloudWatch::Dashboard", "monitoring"),
            Category::Alarms
        );
        assert_eq!(Category::of("AWS::IAM::Role", "compute"), Category::Other);
        assert_eq!(
            Category::of("AWS::SSM::Parameter", "compute"),
            Category::Capacity
        );
        assert_eq!(
            Category::of("AWS::SSM::Parameter", "elsewhere"),
            Category::Other
        );
    }

    #[test]
    fn the_json_form_is_the_comparison_then_its_verdict() {
        let comparison = Comparison {
            env_a: "staging".into(),
            env_b: "prod".into(),
            normalised: BTreeMap::new(),
            groups: vec![Group {
                category: Category::Capacity,
                resources: vec![ResourceDifference {
                    stack: "compute".into(),
                    logical_id: "Group".into(),
                    resource_type: "AWS::AutoScaling::AutoScalingGroup".into(),
                    presence: Presence::Both,
                    values: vec![ValueDifference {
                        path: "MinSize".into(),
                        a: Some(Value::from("1")),
                        b: None,
                    }],
                }],
            }],
            must_match: vec![MustMatch {
                setting: "region".into(),
                listed_by: vec!["prod".into()],
                a: Value::from("us-east-1"),
                b: Value::from("us-east-1"),
                matches: true,
            }],
        };

        let text = printed(&comparison.report(), Format::Json);

        let top_level: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("  \""))
            .filter_map(|l| l.split('"').next())
            .collect();
        assert_eq!(
            top_level,
            [
                "format_version",
                "env_a",
                "env_b",
                "normalised",
                "groups",
                "must_match",
                "outcome",
                "exit_code"
            ]
        );
        let doc: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(doc["format_version"], 1);
        assert_eq!(doc["outcome"], "differ");
        assert_eq!(doc["exit_code"], 2);
        let value = &doc["groups"][0]["resources"][0]["values"][0];
        assert_eq!(value["a"], "1");
        assert_eq!(value["b"], Value::Null);
        assert_eq!(doc["groups"][0]["category"], "capacity");
        assert_eq!(doc["must_match"][0]["matches"], true);
    }

    #[test]
    fn categories_are_ordered_by_weight() {
        let mut all = [
            Category::Other,
            Category::Alarms,
            Category::Edge,
            Category::Storage,
            Category::Capacity,
            Category::Topology,
        ];
        all.sort();
        assert_eq!(
            all.map(Category::label),
            ["topology", "capacity", "storage", "edge", "alarms", "other"]
        );
    }
}
