//! Normalising away what is meant to differ between envs: the env's name wherever it stands
//! as a word (stack names, export names, tags, domain prefixes), its bucket names (S3 names
//! are global, so every env has its own), its certificates and its account id. What is left
//! differs because the envs are configured differently.

use serde::Serialize;
use serde_json::Value;

use crate::config::Env;

/// One env-specific literal and the placeholder it becomes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Substitution {
    /// The placeholder, e.g. `<builds-bucket>`.
    pub placeholder: String,
    /// The literal in this env.
    pub literal: String,
}

/// The substitutions of one env, applied longest literal first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Normaliser {
    /// Whole literals (buckets, certificates, account id).
    literals: Vec<Substitution>,
    /// The env name, replaced only where it stands as a word.
    env: String,
}

/// The placeholder of the env's name.
pub const ENV_PLACEHOLDER: &str = "<env>";

impl Normaliser {
    /// The substitutions for `env`.
    pub fn for_env(env: &Env) -> Self {
        let f = &env.file;
        let mut literals = vec![
            sub("<builds-bucket>", &f.storage.buckets.builds),
            sub("<static-bucket>", &f.storage.buckets.static_files),
            sub("<logs-bucket>", &f.storage.buckets.logs),
            sub("<certificate>", &f.domain.certificate_arn),
        ];
        if let Some(arn) = &f.domain.alb_certificate_arn {
            literals.push(sub("<alb-certificate>", arn));
        }
        if let Some(account) = &f.account_id {
            literals.push(sub("<account>", account));
        }
        literals.retain(|s| !s.literal.is_empty());
        literals.sort_by(|a, b| b.literal.len().cmp(&a.literal.len()));
        Normaliser {
            literals,
            env: env.name.to_string(),
        }
    }

    /// Every substitution, for the report.
    pub fn substitutions(&self) -> Vec<Substitution> {
        let mut all = self.literals.clone();
        all.push(sub(ENV_PLACEHOLDER, &self.env));
        all
    }

    /// The value with every env-specific string replaced by its placeholder.
    pub fn apply(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.text(s)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.apply(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.apply(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn text(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for s in &self.literals {
            if text.contains(&s.literal) {
                text = text.replace(&s.literal, &s.placeholder);
            }
        }
        replace_word(&text, &self.env, ENV_PLACEHOLDER)
    }
}

fn sub(placeholder: &str, literal: &str) -> Substitution {
    Substitution {
        placeholder: placeholder.to_owned(),
        literal: literal.to_owned(),
    }
}

/// Replaces `word` where neither neighbour is a letter or digit: `staging` in
/// `ce-staging-network` and `staging.godbolt.org`, but `prod` not in `production`.
fn replace_word(text: &str, word: &str, with: &str) -> String {
    if word.is_empty() || !text.contains(word) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(word) {
        let before = rest[..at].chars().next_back().or(out.chars().next_back());
        let after = rest[at + word.len()..].chars().next();
        let bounded = !before.is_some_and(|c| c.is_ascii_alphanumeric())
            && !after.is_some_and(|c| c.is_ascii_alphanumeric());
        out.push_str(&rest[..at]);
        out.push_str(if bounded { with } else { word });
        rest = &rest[at + word.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_env_name_is_replaced_only_as_a_word() {
        assert_eq!(
            replace_word("ce-prod-network", "prod", "<env>"),
            "ce-<env>-network"
        );
        assert_eq!(
            replace_word("production prod", "prod", "<env>"),
            "production <env>"
        );
        assert_eq!(
            replace_word("prod.x/prod", "prod", "<env>"),
            "<env>.x/<env>"
        );
        assert_eq!(replace_word("reprod", "prod", "<env>"), "reprod");
    }
}
