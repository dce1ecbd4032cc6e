//! Change-set evidence: what CloudFormation itself said about each resource, used to confirm
//! or correct the offline prediction.
//!
//! The AWS edge turns a DescribeChangeSet response into [`ChangeSetEvidence`]; the diff then
//! takes the change set's word over the replacement table for every resource it lists with a
//! `Replacement` value, and marks those "confirmed by change set". Resources it lists without
//! one (the local emulator never fills it in) keep their predicted impact.

use std::collections::BTreeMap;

use serde::Serialize;

use super::impact::untouched;
use super::model::{Action, Basis, Impact, ResourceDiff};
use super::normalise::NormTemplate;

/// `ResourceChange.Action`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ChangeAction {
    /// The resource is created.
    Add,
    /// The resource is updated or replaced.
    Modify,
    /// The resource is deleted.
    Remove,
    /// The resource is imported.
    Import,
    /// The change depends on values only known at deploy time.
    Dynamic,
}

impl ChangeAction {
    /// Parses the API's spelling; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "Add" => ChangeAction::Add,
            "Modify" => ChangeAction::Modify,
            "Remove" => ChangeAction::Remove,
            "Import" => ChangeAction::Import,
            "Dynamic" => ChangeAction::Dynamic,
            _ => return None,
        })
    }
}

/// `ResourceChange.Replacement`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Replacement {
    /// The resource is replaced.
    True,
    /// Updated in place.
    False,
    /// Replaced depending on values only known at deploy time.
    Conditional,
}

impl Replacement {
    /// Parses the API's spelling; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "True" => Replacement::True,
            "False" => Replacement::False,
            "Conditional" => Replacement::Conditional,
            _ => return None,
        })
    }

    fn impact(self) -> Impact {
        match self {
            Replacement::True => Impact::Replace,
            Replacement::Conditional => Impact::MayReplace,
            Replacement::False => Impact::Update,
        }
    }
}

/// `ResourceChangeDetail.Target.RequiresRecreation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum RequiresRecreation {
    /// Updated in place.
    Never,
    /// Recreated depending on the new value.
    Conditionally,
    /// Always recreated.
    Always,
}

impl RequiresRecreation {
    /// Parses the API's spelling; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "Never" => RequiresRecreation::Never,
            "Conditionally" => RequiresRecreation::Conditionally,
            "Always" => RequiresRecreation::Always,
            _ => return None,
        })
    }

    fn impact(self) -> Impact {
        match self {
            RequiresRecreation::Always => Impact::Replace,
            RequiresRecreation::Conditionally => Impact::MayReplace,
            RequiresRecreation::Never => Impact::Update,
        }
    }
}

/// One `ResourceChangeDetail`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChangeDetail {
    /// `Target.Attribute`: `Properties`, `Metadata`, `Tags`, ...
    pub attribute: String,
    /// `Target.Name`: the top-level property, for `Properties`.
    pub name: Option<String>,
    /// `Target.RequiresRecreation`.
    pub requires_recreation: Option<RequiresRecreation>,
    /// `CausingEntity`, e.g. `Vpc` or `Lb.DNSName`.
    pub causing_entity: Option<String>,
}

/// What a change set says about one resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResourceEvidence {
    /// `ResourceChange.Action`.
    pub action: ChangeAction,
    /// `ResourceChange.ResourceType`.
    pub resource_type: String,
    /// `ResourceChange.Replacement`, absent when the service left it out.
    pub replacement: Option<Replacement>,
    /// `ResourceChange.Details`.
    pub details: Vec<ChangeDetail>,
}

/// What a change set says about a stack, by logical id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ChangeSetEvidence {
    /// Evidence per logical id.
    pub resources: BTreeMap<String, ResourceEvidence>,
}

/// Applies the evidence to the predicted diffs: a listed `Replacement` sets the impact and
/// confirms it (keeping the overruled prediction, if it differed), `RequiresRecreation` sets the impact of the properties it names, and a
/// modification only the change set saw (a dynamic reference) is added.
pub(crate) fn refine(
    diffs: &mut BTreeMap<String, ResourceDiff>,
    evidence: &ChangeSetEvidence,
    old: &NormTemplate,
    new: &NormTemplate,
) {
    for (id, ev) in &evidence.resources {
        match ev.action {
            ChangeAction::Add | ChangeAction::Remove => {
                let expected = if ev.action == ChangeAction::Add {
                    Action::Add
                } else {
                    Action::Remove
                };
                if let Some(d) = diffs.get_mut(id).filter(|d| d.action == expected) {
                    d.basis = Basis::ConfirmedByChangeSet;
                }
            }
            ChangeAction::Modify => {
                let d = diffs.entry(id.clone()).or_insert_with(|| {
                    let mut d = untouched(id, &ev.resource_type, old, new);
                    d.causes.push("listed as modified by the change set".into());
                    d
                });
                if matches!(d.action, Action::Add | Action::Remove) {
                    continue;
                }
                let predicted = d.impact;
                apply_details(d, &ev.details);
                match ev.replacement {
                    Some(replacement) => {
                        d.impact = replacement.impact();
                        d.basis = Basis::ConfirmedByChangeSet;
                        if d.impact != predicted {
                            d.predicted_impact = Some(predicted);
                        }
                    }
                    None => d.impact = d.impact.max(Impact::Update),
                }
                d.settle_action();
            }
            ChangeAction::Import | ChangeAction::Dynamic => {}
        }
    }
}

fn apply_details(d: &mut ResourceDiff, details: &[ChangeDetail]) {
    for detail in details.iter().filter(|x| x.attribute == "Properties") {
        let (Some(name), Some(requires)) = (&detail.name, detail.requires_recreation) else {
            continue;
        };
        let mut matched = false;
        for change in d.changes.iter_mut().filter(|c| top_key(&c.path) == name) {
            change.impact = requires.impact();
            matched = true;
        }
        if !matched {
            let by = detail
                .causing_entity
                .as_deref()
                .map(|e| format!(" because of {e}"))
                .unwrap_or_default();
            let cause = format!("the change set changes {name}{by} ({requires:?} recreated)");
            if !d.causes.contains(&cause) {
                d.causes.push(cause);
            }
        }
    }
}

fn top_key(path: &str) -> &str {
    path.split(['.', '[']).next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::model::{Change, Location, Policy};

    fn predicted(impact: Impact) -> ResourceDiff {
        ResourceDiff {
            logical_id: "Bucket".into(),
            resource_type: "AWS::S3::Bucket".into(),
            action: Action::Replace,
            impact,
            basis: Basis::Predicted,
            changes: vec![Change {
                path: "BucketName".into(),
                location: Location::Property,
                old: None,
                new: None,
                impact,
            }],
            causes: Vec::new(),
            reads: Vec::new(),
            consequences: Vec::new(),
            blocked_by: Vec::new(),
            deletion_policy: Policy::Delete,
            update_replace_policy: Policy::Delete,
            predicted_impact: None,
        }
    }

    fn evidence(
        replacement: Option<Replacement>,
        requires: Option<RequiresRecreation>,
    ) -> ChangeSetEvidence {
        let ev = ResourceEvidence {
            action: ChangeAction::Modify,
            resource_type: "AWS::S3::Bucket".into(),
            replacement,
            details: vec![ChangeDetail {
                attribute: "Properties".into(),
                name: Some("BucketName".into()),
                requires_recreation: requires,
                causing_entity: None,
            }],
        };
        ChangeSetEvidence {
            resources: [("Bucket".to_owned(), ev)].into(),
        }
    }

    fn refined(start: Impact, ev: &ChangeSetEvidence) -> ResourceDiff {
        let mut diffs: BTreeMap<_, _> = [("Bucket".to_owned(), predicted(start))].into();
        refine(
            &mut diffs,
            ev,
            &NormTemplate::default(),
            &NormTemplate::default(),
        );
        diffs.remove("Bucket").unwrap()
    }

    #[test]
    fn change_set_replacement_confirms_the_prediction() {
        let d = refined(
            Impact::Replace,
            &evidence(Some(Replacement::True), Some(RequiresRecreation::Always)),
        );
        assert_eq!(
            (d.impact, d.basis, d.action),
            (
                Impact::Replace,
                Basis::ConfirmedByChangeSet,
                Action::Replace
            )
        );
    }

    #[test]
    fn change_set_overrules_a_predicted_replacement() {
        let d = refined(
            Impact::Replace,
            &evidence(Some(Replacement::False), Some(RequiresRecreation::Never)),
        );
        assert_eq!(
            (d.impact, d.basis, d.action),
            (Impact::Update, Basis::ConfirmedByChangeSet, Action::Modify)
        );
        assert_eq!(d.changes[0].impact, Impact::Update);
        assert_eq!(
            d.predicted_impact,
            Some(Impact::Replace),
            "the overruled prediction is kept"
        );
    }

    #[test]
    fn conditional_replacement_is_may_replace() {
        let d = refined(
            Impact::Update,
            &evidence(Some(Replacement::Conditional), None),
        );
        assert_eq!(d.impact, Impact::MayReplace);
    }

    #[test]
    fn missing_replacement_keeps_the_prediction() {
        let d = refined(Impact::Replace, &evidence(None, None));
        assert_eq!((d.impact, d.basis), (Impact::Replace, Basis::Predicted));
    }

    #[test]
    fn modification_only_the_change_set_saw_is_added() {
        let mut diffs = BTreeMap::new();
        refine(
            &mut diffs,
            &evidence(Some(Replacement::False), Some(RequiresRecreation::Never)),
            &NormTemplate::default(),
            &NormTemplate::default(),
        );
        let d = &diffs["Bucket"];
        assert_eq!(
            (d.impact, d.basis),
            (Impact::Update, Basis::ConfirmedByChangeSet)
        );
        assert!(
            d.causes.iter().any(|c| c.contains("BucketName")),
            "{:?}",
            d.causes
        );
    }

    #[test]
    fn api_spellings_parse() {
        assert_eq!(
            Replacement::parse("Conditional"),
            Some(Replacement::Conditional)
        );
        assert_eq!(
            RequiresRecreation::parse("Always"),
            Some(RequiresRecreation::Always)
        );
        assert_eq!(ChangeAction::parse("Dynamic"), Some(ChangeAction::Dynamic));
        assert_eq!(Replacement::parse("maybe"), None);
    }
}
