//! `AWS::SecretsManager::Secret`: a secret whose value Secrets Manager generates, so it never
//! exists in a template, a plan or a log; templates read it through dynamic references.

use serde::Serialize;

use super::{ResourceProperties, Tag};

/// `AWS::SecretsManager::Secret`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Secret {
    /// What it is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How the first value is generated.
    pub generate_secret_string: GenerateSecretString,
    /// Name (create-only); dynamic references name the secret by it.
    pub name: String,
    /// Resource tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
impl ResourceProperties for Secret {
    const TYPE: &'static str = "AWS::SecretsManager::Secret";
}

/// `GenerateSecretString`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateSecretString {
    /// Leave out punctuation (header values and shell quoting stay simple).
    pub exclude_punctuation: bool,
    /// Characters.
    pub password_length: u32,
}
