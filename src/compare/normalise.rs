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

/// The substitutions of the envs compared, applied longest literal first.
///
/// Both envs' substitutions apply to both templates: a word such as `staging` can stand in a
/// template for something other than the env (a shell variable in the user data), and only
/// replacing it on both sides keeps that from reading as a difference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Normaliser {
    /// Whole literals (buckets, certificates, account ids).
    literals: Vec<Substitution>,
    /// The env names, replaced only where they stand as words.
    envs: Vec<String>,
}

/// The placeholder of the env's name.
pub const ENV_PLACEHOLDER: &str = "<env>";

impl Normaliser {
    /// The substitutions for comparing `envs`.
    pub fn for_envs(envs: &[&Env]) -> Self {
        let mut literals: Vec<Substitution> = envs.iter().flat_map(|e| literals_of(e)).collect();
        literals.retain(|s| !s.literal.is_empty());
        literals.sort_by(|a, b| {
            b.literal
                .len()
                .cmp(&a.literal.len())
                .then_with(|| a.literal.cmp(&b.literal))
        });
        literals.dedup_by(|a, b| a.literal == b.literal);
        Normaliser {
            literals,
            envs: envs.iter().map(|e| e.name.to_string()).collect(),
        }
    }

    /// What is normalised away in `env`, for the report.
    pub fn substitutions(env: &Env) -> Vec<Substitution> {
        let mut all = literals_of(env);
        all.push(sub(ENV_PLACEHOLDER, env.name.as_str()));
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
        for env in &self.envs {
            text = replace_word(&text, env, ENV_PLACEHOLDER);
        }
        text
    }
}

/// An env's own literals: its bucket names, certificates and account id.
fn literals_of(env: &Env) -> Vec<Substitution> {
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
    literals
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
