//! A CloudFormation template: parameters, conditions, resources with their attributes, outputs.
//!
//! Resources are added as typed property structs (see the per-service modules), keyed by logical
//! id in a `BTreeMap`, and their properties are written with sorted keys (as a
//! `serde_json::Value` holds them), so the rendered text is byte-for-byte reproducible and the
//! diff can compare any two templates the same way. The properties stay typed until written:
//! the render writes them straight into the template's text ([`super::json`]), and only the
//! code that reads them as JSON asks for a `Value` ([`Properties::to_value`]).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Serialize, Serializer};
use serde_json::Value;

use super::intrinsics::{Condition, Expr};
use super::json::JsonOut;

/// The template format version every rendered template declares.
pub const FORMAT_VERSION: &str = "2010-09-09";

/// CloudFormation's limit on a template body passed inline to the API.
pub const INLINE_TEMPLATE_LIMIT: usize = 51_200;

/// Room reserved for a template's text: a little over the largest rendered template, so the
/// text grows at most once.
pub(crate) const TEXT_CAPACITY: usize = 64 * 1024;

/// The properties of one resource type, serialised in CloudFormation's PascalCase form.
pub trait ResourceProperties: Serialize + Clone + fmt::Debug + Send + Sync + 'static {
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
    /// The resource's properties, as the typed struct they were added as.
    #[serde(skip_serializing_if = "Properties::is_empty")]
    pub properties: Properties,
}

/// A resource's typed properties, whatever their type.
///
/// Serialising them through serde (`serde_json::to_value` of a template, and so on) goes through
/// their `Value`, keys sorted; the rendered text writes them directly, sorted as they are
/// written ([`Template::to_json_string`]).
pub struct Properties(Box<dyn TypedProperties>);

/// What a template needs of a property struct once its type is erased.
trait TypedProperties: fmt::Debug + Send + Sync {
    fn to_value(&self) -> serde_json::Result<Value>;
    fn write_sorted(&self, out: &JsonOut) -> serde_json::Result<()>;
    fn clone_box(&self) -> Box<dyn TypedProperties>;
}

impl<P: ResourceProperties> TypedProperties for P {
    fn to_value(&self) -> serde_json::Result<Value> {
        serde_json::to_value(self)
    }

    fn write_sorted(&self, out: &JsonOut) -> serde_json::Result<()> {
        out.sorted(self)
    }

    fn clone_box(&self) -> Box<dyn TypedProperties> {
        Box::new(self.clone())
    }
}

impl Properties {
    /// The properties in JSON form, keys sorted.
    ///
    /// # Panics
    /// If they do not serialise, which is a bug in the property struct.
    pub fn to_value(&self) -> Value {
        self.0
            .to_value()
            .unwrap_or_else(|e| panic!("properties do not serialise: {e}"))
    }

    /// Whether the properties are an empty object (and so left out).
    fn is_empty(&self) -> bool {
        self.to_value().as_object().is_some_and(|m| m.is_empty())
    }
}

impl Clone for Properties {
    fn clone(&self) -> Self {
        Properties(self.0.clone_box())
    }
}

impl fmt::Debug for Properties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Properties are equal when their JSON forms are.
impl PartialEq for Properties {
    fn eq(&self, other: &Self) -> bool {
        self.to_value() == other.to_value()
    }
}

impl Serialize for Properties {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0
            .to_value()
            .map_err(serde::ser::Error::custom)?
            .serialize(s)
    }
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
            properties: Properties(Box::new(properties)),
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
    /// counted while the pretty text is written: the two differ only by the layout's newlines
    /// and spaces, which the writer counts as it writes them.
    ///
    /// # Panics
    /// If a part of the template does not serialise, which is a bug in the model.
    pub fn to_json_string_and_compact_len(&self) -> (String, usize) {
        let mut text = Vec::with_capacity(TEXT_CAPACITY);
        let compact = self.write_pretty_into(&mut text);
        // serde_json writes valid UTF-8 (it escapes nothing into invalid sequences).
        let text = String::from_utf8(text).expect("serde_json writes UTF-8");
        (text, compact)
    }

    /// [`Template::to_json_string_and_compact_len`] written into `buf` (emptied first), so
    /// that one buffer serves every template a command writes one after another. Returns the
    /// size of the compact form.
    pub fn write_pretty_into(&self, buf: &mut Vec<u8>) -> usize {
        let (mut text, compact) = self.write_json(JsonOut::into_buffer(true, std::mem::take(buf)));
        text.push(b'\n');
        *buf = text;
        compact
    }

    /// The template in compact form, as sent to CloudFormation (the size limit applies to it).
    pub fn to_compact_json(&self) -> String {
        let (text, _) = self.write_json(JsonOut::new(false, TEXT_CAPACITY));
        String::from_utf8(text).expect("serde_json writes UTF-8")
    }

    /// Writes the template as its derived `Serialize` would, except that each resource's
    /// properties are written from their typed struct with sorted keys rather than through a
    /// `Value` (the tests hold the two to the same text).
    fn write_json(&self, out: JsonOut) -> (Vec<u8>, usize) {
        self.write_sections(&out)
            .unwrap_or_else(|e| panic!("template does not serialise: {e}"));
        out.finish()
    }

    /// The keys, as declared, of each object in the rendered template whose entries had to be
    /// put in key order as it was written.
    #[cfg(test)]
    pub(crate) fn reordered_objects(&self) -> Vec<String> {
        let out = JsonOut::new(true, TEXT_CAPACITY);
        self.write_sections(&out)
            .unwrap_or_else(|e| panic!("template does not serialise: {e}"));
        out.reordered()
    }

    fn write_sections(&self, out: &JsonOut) -> serde_json::Result<()> {
        // Every field named: one added to the struct but not written here does not compile.
        let Template {
            format_version,
            description,
            parameters,
            conditions,
            resources,
            outputs,
        } = self;
        out.begin_object();
        entry(out, true, "AWSTemplateFormatVersion", format_version)?;
        entry(out, false, "Description", description)?;
        if !parameters.is_empty() {
            entry(out, false, "Parameters", parameters)?;
        }
        if !conditions.is_empty() {
            entry(out, false, "Conditions", conditions)?;
        }
        out.key(false, "Resources")?;
        out.begin_object();
        for (n, (id, resource)) in resources.iter().enumerate() {
            out.key(n == 0, id.as_str())?;
            resource
                .write_json(out)
                .map_err(|e| serde::ser::Error::custom(format_args!("resource {id}: {e}")))?;
            out.end_value();
        }
        out.end_object()?;
        out.end_value();
        if !outputs.is_empty() {
            entry(out, false, "Outputs", outputs)?;
        }
        out.end_object()
    }
}

/// Writes one entry of an open object.
fn entry<T: Serialize + ?Sized>(
    out: &JsonOut,
    first: bool,
    key: &str,
    value: &T,
) -> serde_json::Result<()> {
    out.key(first, key)?;
    out.value(value)?;
    out.end_value();
    Ok(())
}

impl Resource {
    /// Writes the resource as its derived `Serialize` would, the properties straight from their
    /// typed struct.
    fn write_json(&self, out: &JsonOut) -> serde_json::Result<()> {
        // Every field named: one added to the struct but not written here does not compile.
        let Resource {
            kind,
            condition,
            depends_on,
            deletion_policy,
            update_replace_policy,
            update_policy,
            creation_policy,
            metadata,
            properties,
        } = self;
        out.begin_object();
        entry(out, true, "Type", kind)?;
        if let Some(condition) = condition {
            entry(out, false, "Condition", condition)?;
        }
        if !depends_on.is_empty() {
            entry(out, false, "DependsOn", depends_on)?;
        }
        if let Some(policy) = deletion_policy {
            entry(out, false, "DeletionPolicy", policy)?;
        }
        if let Some(policy) = update_replace_policy {
            entry(out, false, "UpdateReplacePolicy", policy)?;
        }
        if let Some(policy) = update_policy {
            entry(out, false, "UpdatePolicy", policy)?;
        }
        if let Some(policy) = creation_policy {
            entry(out, false, "CreationPolicy", policy)?;
        }
        if let Some(metadata) = metadata {
            entry(out, false, "Metadata", metadata)?;
        }
        // Properties that come out as an empty object are left out, like `Properties::is_empty`.
        let before = out.mark();
        out.key(false, "Properties")?;
        let value = out.mark();
        properties.0.write_sorted(out)?;
        if out.written_since(value, b"{}") {
            out.rewind(before);
        } else {
            out.end_value();
        }
        out.end_object()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    #[derive(Clone, Debug, Serialize)]
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
        let compact = serde_json::to_string(&t).unwrap();
        assert_eq!(t.to_compact_json(), compact);
        assert_eq!(compact_len, compact.len());
    }

    /// Declared out of key order, with a nested struct that is too.
    #[derive(Clone, Debug, Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Unsorted {
        zone: Expr,
        bucket: Nested,
        #[serde(skip_serializing_if = "Option::is_none")]
        absent: Option<u32>,
    }
    impl ResourceProperties for Unsorted {
        const TYPE: &'static str = "AWS::Test::Unsorted";
    }

    #[derive(Clone, Debug, Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Nested {
        versioning: bool,
        acl: Option<String>,
    }

    /// Properties that can come out as an empty object.
    #[derive(Clone, Debug, Serialize)]
    struct Optional {
        #[serde(rename = "Size", skip_serializing_if = "Option::is_none")]
        size: Option<u32>,
    }
    impl ResourceProperties for Optional {
        const TYPE: &'static str = "AWS::Test::Optional";
    }

    /// Every section and attribute a template can hold.
    fn everything() -> Template {
        let mut t = Template::new("every section");
        t.parameters.insert(
            "Ami".into(),
            Parameter {
                kind: "AWS::EC2::Image::Id".into(),
                description: Some("the image".into()),
                default: None,
                allowed_values: vec!["a".into(), "b".into()],
                no_echo: true,
            },
        );
        t.conditions.insert(
            "IsProd".into(),
            Condition::Not(Box::new(Condition::Equals(
                Expr::Ref("Env".into()),
                "prod".into(),
            ))),
        );
        t.add(&LogicalId::new("Empty"), Optional { size: None });
        t.add(&LogicalId::new("Sized"), Optional { size: Some(3) });
        t.add(
            &LogicalId::new("Unsorted"),
            Unsorted {
                zone: Expr::select(0, Expr::azs()),
                bucket: Nested {
                    versioning: true,
                    acl: None,
                },
                absent: None,
            },
        )
        .condition("IsProd")
        .depends_on(&LogicalId::new("Sized"))
        .retain()
        .update_policy(UpdatePolicy {
            auto_scaling_rolling_update: None,
            auto_scaling_scheduled_action: Some(AutoScalingScheduledAction {
                ignore_unmodified_group_size_properties: true,
            }),
        })
        .creation_policy(CreationPolicy {
            resource_signal: None,
            auto_scaling_creation_policy: Some(AutoScalingCreationPolicy {
                min_successful_instances_percent: 100,
            }),
        })
        .waive("CKV_X_2", "b")
        .waive("CKV_X_1", "a");
        t.export(
            "Zone",
            "the zone",
            Expr::get_att(&"Unsorted".into(), "Zone"),
            "x-Zone",
        );
        t
    }

    #[test]
    fn text_is_the_derived_serialisation_with_properties_sorted() {
        let t = everything();
        let (text, compact_len) = t.to_json_string_and_compact_len();
        assert_eq!(text, serde_json::to_string_pretty(&t).unwrap() + "\n");
        let compact = serde_json::to_string(&t).unwrap();
        assert_eq!(t.to_compact_json(), compact);
        assert_eq!(compact_len, compact.len());
        let v = serde_json::to_value(&t).unwrap();
        assert!(v["Resources"]["Empty"].get("Properties").is_none());
        assert_eq!(v["Resources"]["Sized"]["Properties"]["Size"], 3);
        assert!(
            compact.contains(r#""Properties":{"Bucket":{"Acl":null,"Versioning":true},"Zone":"#),
            "{compact}"
        );
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
