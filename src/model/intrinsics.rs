//! CloudFormation values that may be computed by CloudFormation itself.
//!
//! Every string-typed property in the model is an [`Expr`]: either a literal or one of the
//! intrinsic functions. Building them through this type (rather than hand-made JSON maps) means a
//! misspelt `Fn::` name cannot happen and the diff sees one canonical shape for each function.

use std::collections::BTreeMap;

use serde::ser::{Serialize, Serializer};

use super::LogicalId;

/// A string-valued (or list-valued) CloudFormation expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// A literal string.
    Str(String),
    /// A literal list, for functions that take one (`Fn::Select`).
    List(Vec<Expr>),
    /// `Ref` of a resource, parameter or pseudo parameter.
    Ref(String),
    /// `Fn::GetAtt` of a resource attribute.
    GetAtt(String, String),
    /// `Fn::Sub` with only implicit variables (`${AWS::Region}`, `${LogicalId}`).
    Sub(String),
    /// `Fn::Sub` with an explicit variable map.
    SubWith(String, BTreeMap<String, Expr>),
    /// `Fn::Join`.
    Join(String, Vec<Expr>),
    /// `Fn::ImportValue` of another stack's export.
    ImportValue(Box<Expr>),
    /// `Fn::Select` of one element of a list.
    Select(u32, Box<Expr>),
    /// `Fn::Split`, giving a list.
    Split(String, Box<Expr>),
    /// `Fn::GetAZs` of a region (`""` is the stack's own).
    GetAzs(Box<Expr>),
    /// `Fn::Base64`.
    Base64(Box<Expr>),
    /// `Fn::If` on a named condition.
    If(String, Box<Expr>, Box<Expr>),
}

impl Expr {
    /// `Ref` of a resource or parameter of this template.
    pub fn reference(id: &LogicalId) -> Self {
        Expr::Ref(id.as_str().to_owned())
    }

    /// `Fn::GetAtt` of a resource of this template.
    pub fn get_att(id: &LogicalId, attribute: &str) -> Self {
        Expr::GetAtt(id.as_str().to_owned(), attribute.to_owned())
    }

    /// `Fn::Sub` with implicit variables only.
    pub fn sub(text: impl Into<String>) -> Self {
        Expr::Sub(text.into())
    }

    /// `Fn::Sub` with explicit variables.
    pub fn sub_with<K: Into<String>>(
        text: impl Into<String>,
        vars: impl IntoIterator<Item = (K, Expr)>,
    ) -> Self {
        Expr::SubWith(
            text.into(),
            vars.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        )
    }

    /// `Fn::Join` of the parts with a delimiter.
    pub fn join(delimiter: &str, parts: impl IntoIterator<Item = Expr>) -> Self {
        Expr::Join(delimiter.to_owned(), parts.into_iter().collect())
    }

    /// `Fn::ImportValue` of a literal export name.
    pub fn import(export_name: impl Into<String>) -> Self {
        Expr::ImportValue(Box::new(Expr::Str(export_name.into())))
    }

    /// `Fn::Select` of element `index` of a list expression.
    pub fn select(index: u32, list: Expr) -> Self {
        Expr::Select(index, Box::new(list))
    }

    /// `Fn::Split` of a string expression on a delimiter.
    pub fn split(delimiter: &str, value: Expr) -> Self {
        Expr::Split(delimiter.to_owned(), Box::new(value))
    }

    /// `Fn::GetAZs` of the stack's region.
    pub fn azs() -> Self {
        Expr::GetAzs(Box::new(Expr::Str(String::new())))
    }

    /// `Fn::Base64` of a value.
    pub fn base64(value: Expr) -> Self {
        Expr::Base64(Box::new(value))
    }

    /// `Fn::If` on a condition of this template.
    pub fn if_(condition: &str, then: Expr, otherwise: Expr) -> Self {
        Expr::If(condition.to_owned(), Box::new(then), Box::new(otherwise))
    }

    /// The `AWS::Region` pseudo parameter.
    pub fn region() -> Self {
        Expr::Ref("AWS::Region".into())
    }

    /// The `AWS::AccountId` pseudo parameter.
    pub fn account_id() -> Self {
        Expr::Ref("AWS::AccountId".into())
    }

    /// The `AWS::StackName` pseudo parameter.
    pub fn stack_name() -> Self {
        Expr::Ref("AWS::StackName".into())
    }

    /// The `AWS::Partition` pseudo parameter.
    pub fn partition() -> Self {
        Expr::Ref("AWS::Partition".into())
    }

    /// The `AWS::NoValue` pseudo parameter: removes the property it is given to.
    pub fn no_value() -> Self {
        Expr::Ref("AWS::NoValue".into())
    }

    /// The literal text when the value is a plain string.
    pub fn as_literal(&self) -> Option<&str> {
        match self {
            Expr::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The JSON form CloudFormation reads (what [`Expr`]'s `Serialize` writes).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("an expression serialises")
    }

    /// Every logical id or parameter this expression refers to (including pseudo parameters
    /// and, for `Fn::Sub`, the `${Name}` variables that are not given explicitly).
    pub fn references(&self, out: &mut Vec<String>) {
        match self {
            Expr::Str(_) => {}
            Expr::List(items) | Expr::Join(_, items) => {
                items.iter().for_each(|e| e.references(out))
            }
            Expr::Ref(id) | Expr::GetAtt(id, _) => out.push(id.clone()),
            Expr::Sub(text) => out.extend(sub_variables(text)),
            Expr::SubWith(text, vars) => {
                out.extend(sub_variables(text).filter(|v| !vars.contains_key(v)));
                vars.values().for_each(|e| e.references(out));
            }
            Expr::ImportValue(e)
            | Expr::Select(_, e)
            | Expr::Split(_, e)
            | Expr::GetAzs(e)
            | Expr::Base64(e) => e.references(out),
            Expr::If(_, a, b) => {
                a.references(out);
                b.references(out);
            }
        }
    }
}

/// The variable names of a `Fn::Sub` string, without attribute suffixes (`${Lb.DNSName}` names
/// `Lb`); `${!Literal}` escapes are skipped.
pub fn sub_variables(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split("${").skip(1).filter_map(|rest| {
        let name = rest.split('}').next()?;
        if name.starts_with('!') || !rest.contains('}') {
            return None;
        }
        Some(name.split('.').next().unwrap_or(name).to_owned())
    })
}

/// Each function's one shape: `{"Fn::Name": arguments}`, written straight to the serializer
/// (no `Value` is built on the way: templates are written this way hundreds of times).
impl Serialize for Expr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Expr::Str(text) => s.serialize_str(text),
            Expr::List(items) => items.serialize(s),
            Expr::Ref(id) => function(s, "Ref", id),
            Expr::GetAtt(id, attr) => function(s, "Fn::GetAtt", &(id, attr)),
            Expr::Sub(text) => function(s, "Fn::Sub", text),
            Expr::SubWith(text, vars) => function(s, "Fn::Sub", &(text, vars)),
            Expr::Join(delimiter, parts) => function(s, "Fn::Join", &(delimiter, parts)),
            Expr::ImportValue(name) => function(s, "Fn::ImportValue", name),
            // CloudFormation documents the index as a string.
            Expr::Select(index, list) => function(s, "Fn::Select", &(Text(index), list)),
            Expr::Split(delimiter, value) => function(s, "Fn::Split", &(delimiter, value)),
            Expr::GetAzs(region) => function(s, "Fn::GetAZs", region),
            Expr::Base64(value) => function(s, "Fn::Base64", value),
            Expr::If(cond, then, otherwise) => function(s, "Fn::If", &(cond, then, otherwise)),
        }
    }
}

/// Writes `{name: args}`, the form of every intrinsic function.
fn function<S: Serializer, T: Serialize + ?Sized>(
    s: S,
    name: &str,
    args: &T,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(1))?;
    map.serialize_entry(name, args)?;
    map.end()
}

/// A value written as its text (a JSON string).
struct Text<'a, T>(&'a T);

impl<T: std::fmt::Display> Serialize for Text<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self.0)
    }
}

/// The empty string; exists so property structs can use struct-update syntax
/// (`..Default::default()`) for their optional fields. Required fields are always set.
impl Default for Expr {
    fn default() -> Self {
        Expr::Str(String::new())
    }
}

impl From<&str> for Expr {
    fn from(s: &str) -> Self {
        Expr::Str(s.to_owned())
    }
}

impl From<String> for Expr {
    fn from(s: String) -> Self {
        Expr::Str(s)
    }
}

impl From<&String> for Expr {
    fn from(s: &String) -> Self {
        Expr::Str(s.clone())
    }
}

/// A condition expression for the template's `Conditions` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// `Fn::Equals` of two values.
    Equals(Expr, Expr),
    /// `Fn::Not`.
    Not(Box<Condition>),
    /// `Fn::And`.
    And(Vec<Condition>),
    /// `Fn::Or`.
    Or(Vec<Condition>),
}

impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Condition::Equals(a, b) => function(s, "Fn::Equals", &(a, b)),
            Condition::Not(c) => function(s, "Fn::Not", &[c]),
            Condition::And(cs) => function(s, "Fn::And", cs),
            Condition::Or(cs) => function(s, "Fn::Or", cs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(e: &Expr) -> String {
        serde_json::to_string(e).unwrap()
    }

    #[test]
    fn literal_is_a_plain_string() {
        assert_eq!(json(&Expr::from("x")), r#""x""#);
    }

    #[test]
    fn ref_and_get_att_use_short_forms() {
        let id = LogicalId::new("Vpc");
        assert_eq!(json(&Expr::reference(&id)), r#"{"Ref":"Vpc"}"#);
        assert_eq!(
            json(&Expr::get_att(&id, "CidrBlock")),
            r#"{"Fn::GetAtt":["Vpc","CidrBlock"]}"#
        );
    }

    #[test]
    fn sub_with_variables_is_a_pair() {
        let e = Expr::sub_with("${A}-x", [("A", Expr::region())]);
        assert_eq!(
            json(&e),
            r#"{"Fn::Sub":["${A}-x",{"A":{"Ref":"AWS::Region"}}]}"#
        );
    }

    #[test]
    fn select_index_is_a_string_and_nests_split() {
        let e = Expr::select(1, Expr::split("/", Expr::Ref("Lb".into())));
        assert_eq!(
            json(&e),
            r#"{"Fn::Select":["1",{"Fn::Split":["/",{"Ref":"Lb"}]}]}"#
        );
    }

    #[test]
    fn join_import_base64_getazs_if() {
        assert_eq!(
            json(&Expr::join("", [Expr::from("a"), Expr::import("exp")])),
            r#"{"Fn::Join":["",["a",{"Fn::ImportValue":"exp"}]]}"#
        );
        assert_eq!(json(&Expr::base64("x".into())), r#"{"Fn::Base64":"x"}"#);
        assert_eq!(json(&Expr::azs()), r#"{"Fn::GetAZs":""}"#);
        assert_eq!(
            json(&Expr::if_("C", "a".into(), Expr::no_value())),
            r#"{"Fn::If":["C","a",{"Ref":"AWS::NoValue"}]}"#
        );
    }

    #[test]
    fn literal_list_is_an_array() {
        let e = Expr::List(vec!["a".into(), Expr::region()]);
        assert_eq!(json(&e), r#"["a",{"Ref":"AWS::Region"}]"#);
    }

    #[test]
    fn condition_serialises_nested_functions() {
        let c = Condition::Not(Box::new(Condition::Equals(
            Expr::region(),
            "us-east-1".into(),
        )));
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"Fn::Not":[{"Fn::Equals":[{"Ref":"AWS::Region"},"us-east-1"]}]}"#
        );
    }

    #[test]
    fn sub_variables_are_found_in_nested_repeated_escaped_and_unclosed_forms() {
        for (text, expected) in [
            ("", &[][..]),
            ("no variables, $ alone, {braces}", &[]),
            ("${A}${B.Attr} ${!Esc} ${C", &["A", "B"]),
            ("$${X} ${a${b}} ${}", &["X", "b", ""]),
            (
                "${AWS::Region}-${AWS::URLSuffix}",
                &["AWS::Region", "AWS::URLSuffix"],
            ),
            ("${unclosed ${!Esc} ${Shut}", &["Shut"]),
            ("}${A}}", &["A"]),
        ] {
            assert_eq!(
                sub_variables(text).collect::<Vec<_>>(),
                expected,
                "{text:?}"
            );
        }
    }

    #[test]
    fn references_cover_sub_variables_but_not_escapes_or_explicit_vars() {
        let e = Expr::sub_with(
            "${Lb.DNSName} ${!Shell} ${X} ${AWS::Region}",
            [("X", "v".into())],
        );
        let mut refs = Vec::new();
        e.references(&mut refs);
        assert_eq!(refs, vec!["Lb".to_owned(), "AWS::Region".to_owned()]);
    }
}
