//! A CloudFormation template: parameters, conditions, resources with their attributes, outputs.
//!
//! Resources are added as typed property structs (see the per-service modules) and stored in
//! their JSON form, keyed by logical id in a `BTreeMap`, so the rendered text is byte-for-byte
//! reproducible and the diff can compare any two templates the same way.

use std::collections::BTreeMap;
use std::fmt;
use std::io;

use serde::{Serialize, Serializer};
use serde_json::ser::Formatter;

use super::intrinsics::{Condition, Expr};

/// The template format version every rendered template declares.
pub const FORMAT_VERSION: &str = "2010-09-09";

/// CloudFormation's limit on a template body passed inline to the API.
pub const INLINE_TEMPLATE_LIMIT: usize = 51_200;

/// The properties of one resource type, serialised in CloudFormation's PascalCase form.
pub trait ResourceProperties: Serialize {
    /// The CloudFormation resource type, e.g. `AWS::EC2::VPC`.
    const TYPE: &'static str;
}

/// The logical id of a resource (or parameter) within a template.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct LogicalId(String);

impl LogicalId {
    /// A logical id; CloudFormation allows ASCII letters and digits only, checked by
    /// `validate` rather than here so that a bad id is reported, not panicked on.
    pub fn new(id: impl Into<String>) -> Self {
        LogicalId(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether CloudFormation accepts this id (alphanumeric, at most 255 characters).
    pub fn is_valid(&self) -> bool {
        !self.0.is_empty()
            && self.0.len() <= 255
            && self.0.chars().all(|c| c.is_ascii_alphanumeric())
    }
}

impl fmt::Display for LogicalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for LogicalId {
    fn from(s: &str) -> Self {
        LogicalId::new(s)
    }
}

impl From<&LogicalId> for LogicalId {
    fn from(id: &LogicalId) -> Self {
        id.clone()
    }
}

/// `DeletionPolicy` / `UpdateReplacePolicy` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum RetentionPolicy {
    /// The resource and its data are removed.
    Delete,
    /// The resource is left in the account when the stack no longer manages it.
    Retain,
    /// A final snapshot is taken before removal.
    Snapshot,
}

/// The `UpdatePolicy` attribute (only the Auto Scaling parts are modelled).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdatePolicy {
    /// How CloudFormation replaces instances when the launch template changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_scaling_rolling_update: Option<AutoScalingRollingUpdate>,
    /// Whether scheduled actions' sizes are kept across updates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_scaling_scheduled_action: Option<AutoScalingScheduledAction>,
}

/// `UpdatePolicy.AutoScalingRollingUpdate`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AutoScalingRollingUpdate {
    /// Instances kept in service during the update.
    pub min_instances_in_service: u32,
    /// Instances replaced at a time.
    pub max_batch_size: u32,
    /// ISO 8601 duration waited after each batch (or for signals).
    pub pause_time: String,
    /// Whether each new instance must send a success signal.
    pub wait_on_resource_signals: bool,
    /// Auto Scaling processes suspended while the update runs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suspend_processes: Vec<String>,
}

/// `UpdatePolicy.AutoScalingScheduledAction`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AutoScalingScheduledAction {
    /// Keep the group's current sizes when scheduled actions exist.
    pub ignore_unmodified_group_size_properties: bool,
}

/// The `CreationPolicy` attribute.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreationPolicy {
    /// Signals required before the resource counts as created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_signal: Option<ResourceSignal>,
    /// Share of instances that must signal for an Auto Scaling group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_scaling_creation_policy: Option<AutoScalingCreationPolicy>,
}

/// `CreationPolicy.ResourceSignal`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceSignal {
    /// Number of success signals needed.
    pub count: u32,
    /// ISO 8601 duration to wait for them.
    pub timeout: String,
}

/// `CreationPolicy.AutoScalingCreationPolicy`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AutoScalingCreationPolicy {
    /// Percentage of instances that must signal success.
    pub min_successful_instances_percent: u32,
}

/// A resource's `Metadata`: only what the tool writes there, the scanner's accepted findings.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Metadata {
    /// Read by checkov: `Metadata.checkov.skip[].{id, comment}`.
    pub checkov: CheckovSkips,
}

/// checkov's skip list.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CheckovSkips {
    /// The accepted checks, sorted by id.
    pub skip: Vec<Waiver>,
}

/// One accepted scanner finding.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Waiver {
    /// The check id, e.g. `CKV_AWS_18`.
    pub id: String,
    /// Why the finding is accepted, in one line.
    pub comment: String,
}

/// One resource of a template: its type, properties and attributes.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Resource {
    /// CloudFormation resource type.
    #[serde(rename = "Type")]
    pub kind: &'static str,
    /// Name of a template condition that gates the resource.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// Resources that must exist first (beyond those implied by references).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<LogicalId>,
    /// What happens to the physical resource when removed from the stack.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<RetentionPolicy>,
    /// What happens to the old physical resource when an update replaces it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_replace_policy: Option<RetentionPolicy>,
    /// Update behaviour (Auto Scaling groups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_policy: Option<UpdatePolicy>,
    /// Creation behaviour (signals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_policy: Option<CreationPolicy>,
    /// Scanner findings accepted for this resource, each with its reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// The resource's properties in JSON form.
    #[serde(skip_serializing_if = "is_empty_object")]
    pub properties: serde_json::Value,
}

fn is_empty_object(v: &serde_json::Value) -> bool {
    v.as_object().is_some_and(|m| m.is_empty())
}

impl Resource {
    /// Adds an explicit dependency (kept sorted and unique for stable output).
    pub fn depends_on(&mut self, id: &LogicalId) -> &mut Self {
        if let Err(pos) = self.depends_on.binary_search(id) {
            self.depends_on.insert(pos, id.clone());
        }
        self
    }

    /// Keeps the physical resource and its data when the stack deletes or replaces it.
    pub fn retain(&mut self) -> &mut Self {
        self.deletion_policy = Some(RetentionPolicy::Retain);
        self.update_replace_policy = Some(RetentionPolicy::Retain);
        self
    }

    /// Sets the update policy.
    pub fn update_policy(&mut self, policy: UpdatePolicy) -> &mut Self {
        self.update_policy = Some(policy);
        self
    }

    /// Sets the creation policy.
    pub fn creation_policy(&mut self, policy: CreationPolicy) -> &mut Self {
        self.creation_policy = Some(policy);
        self
    }

    /// Accepts a checkov finding on this resource, with the one-line reason a reviewer reads.
    pub fn waive(&mut self, check: &str, reason: &str) -> &mut Self {
        let skips = &mut self
            .metadata
            .get_or_insert_with(Metadata::default)
            .checkov
            .skip;
        skips.push(Waiver {
            id: check.to_owned(),
            comment: reason.to_owned(),
        });
        skips.sort_by(|a, b| a.id.cmp(&b.id));
        self
    }

    /// Gates the resource on a template condition.
    pub fn condition(&mut self, name: &str) -> &mut Self {
        self.condition = Some(name.to_owned());
        self
    }

    /// Whether both deletion and replacement keep the physical resource.
    pub fn is_retained(&self) -> bool {
        self.deletion_policy == Some(RetentionPolicy::Retain)
            && self.update_replace_policy == Some(RetentionPolicy::Retain)
    }
}

/// Parameter types used by the rendered templates.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Parameter {
    /// CloudFormation parameter type (`String`, `Number`, `AWS::EC2::Image::Id`, …).
    #[serde(rename = "Type")]
    pub kind: String,
    /// Human-readable purpose.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Value used when the deploy does not give one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Values accepted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_values: Vec<String>,
    /// Secret: CloudFormation masks the value, and `ce` never prints it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_echo: bool,
}

/// An output's export.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Export {
    /// Region-unique export name.
    pub name: Expr,
}

/// A template output, optionally exported for other stacks.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    /// What the value is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The value.
    pub value: Expr,
    /// Export, when other stacks import the value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<Export>,
}

/// A whole CloudFormation template.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Template {
    /// Always [`FORMAT_VERSION`].
    #[serde(rename = "AWSTemplateFormatVersion")]
    pub format_version: FormatVersion,
    /// Template description shown in the console.
    pub description: String,
    /// Input parameters.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, Parameter>,
    /// Named conditions.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub conditions: BTreeMap<String, Condition>,
    /// Resources by logical id.
    pub resources: BTreeMap<LogicalId, Resource>,
    /// Outputs by name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, Output>,
}

/// The template format version, which has only one value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FormatVersion;

impl Serialize for FormatVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(FORMAT_VERSION)
    }
}

impl Template {
    /// An empty template with a description.
    pub fn new(description: impl Into<String>) -> Self {
        Template {
            description: description.into(),
            ..Template::default()
        }
    }

    /// Adds a typed resource and returns it for attributes to be set.
    ///
    /// # Panics
    /// If the logical id is already taken: ids come from the architecture code, and two
    /// resources sharing one is a bug there, not a user error.
    pub fn add<P: ResourceProperties>(&mut self, id: &LogicalId, properties: P) -> &mut Resource {
        let properties = serde_json::to_value(&properties)
            .unwrap_or_else(|e| panic!("properties of {id} do not serialise: {e}"));
        assert!(
            !self.resources.contains_key(id),
            "logical id {id} is used twice in one template"
        );
        self.resources.entry(id.clone()).or_insert(Resource {
            kind: P::TYPE,
            condition: None,
            depends_on: Vec::new(),
            deletion_policy: None,
            update_replace_policy: None,
            update_policy: None,
            creation_policy: None,
            metadata: None,
            properties,
        })
    }

    /// Adds an output.
    pub fn output(&mut self, name: &str, description: &str, value: Expr) -> &mut Output {
        self.outputs.entry(name.to_owned()).or_insert(Output {
            description: Some(description.to_owned()),
            value,
            export: None,
        })
    }

    /// Adds an output exported under `export_name`.
    pub fn export(&mut self, name: &str, description: &str, value: Expr, export_name: &str) {
        self.output(name, description, value).export = Some(Export {
            name: Expr::from(export_name),
        });
    }

    /// The template as pretty-printed JSON with a trailing newline, as written to `stacks/`.
    pub fn to_json_string(&self) -> String {
        self.to_json_string_and_compact_len().0
    }

    /// [`Template::to_json_string`] and the size in bytes of [`Template::to_compact_json`],
    /// counted while the pretty text is written rather than by serialising again or scanning
    /// the text: pretty printing differs from compact only by the spaces and newlines its
    /// layout calls write, and those are counted as they are written.
    pub fn to_json_string_and_compact_len(&self) -> (String, usize) {
        let mut layout = 0;
        let formatter = LayoutCounter {
            pretty: serde_json::ser::PrettyFormatter::new(),
            layout: &mut layout,
        };
        let mut text = Vec::new();
        let mut serializer = serde_json::Serializer::with_formatter(&mut text, formatter);
        self.serialize(&mut serializer)
            .unwrap_or_else(|e| panic!("template does not serialise: {e}"));
        let compact = text.len() - layout;
        text.push(b'\n');
        // serde_json writes valid UTF-8 (it escapes nothing into invalid sequences).
        let text = String::from_utf8(text).expect("serde_json writes UTF-8");
        (text, compact)
    }

    /// The template in compact form, as sent to CloudFormation (the size limit applies to it).
    pub fn to_compact_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| panic!("template does not serialise: {e}"))
    }
}

/// serde_json's pretty formatter, counting the spaces and newlines it writes for layout (the
/// only bytes in which pretty JSON differs from compact JSON).
struct LayoutCounter<'a> {
    pretty: serde_json::ser::PrettyFormatter<'static>,
    layout: &'a mut usize,
}

/// A writer that counts the spaces and newlines written through it.
struct Counting<'a, W: ?Sized> {
    inner: &'a mut W,
    layout: &'a mut usize,
}

impl<W: ?Sized + io::Write> io::Write for Counting<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        *self.layout += buf[..n]
            .iter()
            .filter(|b| matches!(b, b' ' | b'\n'))
            .count();
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Delegates one layout call of [`Formatter`] to the pretty formatter through a [`Counting`]
/// writer.
macro_rules! counted {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            fn $name<W: ?Sized + io::Write>(&mut self, writer: &mut W $(, $arg: $ty)*) -> io::Result<()> {
                let mut counting = Counting { inner: writer, layout: &mut *self.layout };
                self.pretty.$name(&mut counting $(, $arg)*)
            }
        )*
    };
}

impl Formatter for LayoutCounter<'_> {
    counted! {
        begin_array();
        end_array();
        begin_array_value(first: bool);
        end_array_value();
        begin_object();
        end_object();
        begin_object_key(first: bool);
        end_object_key();
        begin_object_value();
        end_object_value();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Thing {
        name: Expr,
        #[serde(skip_serializing_if = "Option::is_none")]
        size: Option<u32>,
    }
    impl ResourceProperties for Thing {
        const TYPE: &'static str = "AWS::Test::Thing";
    }

    fn thing() -> Thing {
        Thing {
            name: "n".into(),
            size: None,
        }
    }

    #[test]
    fn attributes_serialise_with_cloudformation_names() {
        let mut t = Template::new("d");
        let a = LogicalId::new("A");
        t.add(&LogicalId::new("B"), thing());
        t.add(&a, thing())
            .retain()
            .depends_on(&LogicalId::new("B"))
            .update_policy(UpdatePolicy {
                auto_scaling_rolling_update: Some(AutoScalingRollingUpdate {
                    min_instances_in_service: 1,
                    max_batch_size: 1,
                    pause_time: "PT5M".into(),
                    wait_on_resource_signals: false,
                    suspend_processes: vec![],
                }),
                auto_scaling_scheduled_action: None,
            })
            .creation_policy(CreationPolicy {
                resource_signal: Some(ResourceSignal {
                    count: 1,
                    timeout: "PT10M".into(),
                }),
                auto_scaling_creation_policy: None,
            });
        let v = serde_json::to_value(&t).unwrap();
        let r = &v["Resources"]["A"];
        assert_eq!(r["Type"], "AWS::Test::Thing");
        assert_eq!(r["DeletionPolicy"], "Retain");
        assert_eq!(r["UpdateReplacePolicy"], "Retain");
        assert_eq!(r["DependsOn"], serde_json::json!(["B"]));
        assert_eq!(
            r["UpdatePolicy"]["AutoScalingRollingUpdate"]["PauseTime"],
            "PT5M"
        );
        assert_eq!(r["CreationPolicy"]["ResourceSignal"]["Count"], 1);
        assert_eq!(r["Properties"], serde_json::json!({"Name": "n"}));
        assert_eq!(v["AWSTemplateFormatVersion"], FORMAT_VERSION);
        assert!(v["Resources"]["B"].get("DeletionPolicy").is_none());
    }

    #[test]
    fn depends_on_is_sorted_and_unique() {
        let mut t = Template::new("d");
        let r = t.add(&LogicalId::new("A"), thing());
        r.depends_on(&"Z".into())
            .depends_on(&"B".into())
            .depends_on(&"Z".into());
        assert_eq!(r.depends_on, vec![LogicalId::new("B"), LogicalId::new("Z")]);
    }

    #[test]
    fn exported_output_carries_its_name() {
        let mut t = Template::new("d");
        t.export(
            "VpcId",
            "the VPC",
            Expr::Ref("Vpc".into()),
            "ce-x-network-VpcId",
        );
        let v = serde_json::to_value(&t).unwrap();
        assert_eq!(
            v["Outputs"]["VpcId"]["Export"]["Name"],
            "ce-x-network-VpcId"
        );
        assert_eq!(v["Outputs"]["VpcId"]["Value"]["Ref"], "Vpc");
    }

    #[test]
    fn empty_sections_are_left_out_and_text_is_stable() {
        let mut t = Template::new("d");
        t.add(&LogicalId::new("A"), thing());
        let text = t.to_json_string();
        assert!(!text.contains("Parameters") && !text.contains("Outputs"));
        assert_eq!(text, t.clone().to_json_string());
        assert!(text.ends_with("}\n"));
    }

    #[test]
    fn compact_len_matches_the_compact_form() {
        let mut t = Template::new("a \"quoted\" description with  spaces\n and \\ escapes");
        t.add(&LogicalId::new("A"), thing());
        t.add(&LogicalId::new("B"), thing())
            .depends_on(&LogicalId::new("A"))
            .waive("CKV_X_1", "a reason: with spaces");
        t.output("O", "x : y", Expr::sub("${A} ${AWS::Region}"));
        let (text, compact_len) = t.to_json_string_and_compact_len();
        assert_eq!(text, t.to_json_string());
        assert_eq!(compact_len, t.to_compact_json().len());
    }

    #[test]
    #[should_panic(expected = "used twice")]
    fn duplicate_logical_id_is_a_bug() {
        let mut t = Template::new("d");
        t.add(&LogicalId::new("A"), thing());
        t.add(&LogicalId::new("A"), thing());
    }

    #[test]
    fn logical_id_rules() {
        assert!(LogicalId::new("SubnetUsEast1a").is_valid());
        assert!(!LogicalId::new("Subnet-1").is_valid());
        assert!(!LogicalId::new("").is_valid());
    }
}
