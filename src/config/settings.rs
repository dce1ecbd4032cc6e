//! Settings of an env file by their dotted key (`storage.efs_throughput_mode`), with defaults
//! applied: what `must_match` names and `ce compare` checks across envs.
//!
//! The lookup walks the file's serialised form, so every key the schema has is reachable
//! without a second list of keys to keep in step with it.

use serde_json::Value;

use super::EnvFile;

/// What a dotted key finds in an env file.
#[derive(Clone, Debug, PartialEq)]
pub enum Setting {
    /// The key exists; its value (JSON `null` when unset and without a default).
    Value(Value),
    /// A table on the way is unset (e.g. `compute.spot` in an on-demand env), so the key is
    /// unset too.
    UnderUnset,
    /// No such key in the schema: `known` lists the keys allowed at the point it failed.
    Unknown {
        /// The keys that exist where the walk stopped.
        known: Vec<String>,
    },
}

/// Looks up a dotted key such as `compute.health_check.path`.
pub fn lookup(file: &EnvFile, key: &str) -> Setting {
    lookup_in(&as_value(file), key)
}

/// The env file as the tree [`lookup_in`] walks.
fn as_value(file: &EnvFile) -> Value {
    // Serialising a plain struct of strings, numbers and maps cannot fail.
    serde_json::to_value(file).unwrap_or(Value::Null)
}

/// [`lookup`] in the env file's tree, made once for several keys.
fn lookup_in(whole: &Value, key: &str) -> Setting {
    let mut here = whole;
    for (depth, part) in key.split('.').enumerate() {
        match here {
            Value::Null => return Setting::UnderUnset,
            Value::Object(map) => match map.get(part) {
                Some(next) => here = next,
                // Tags are free-form: an absent tag is an unset setting, not a typo.
                None if depth == 1 && key.starts_with("tags.") => {
                    return Setting::Value(Value::Null);
                }
                None => {
                    return Setting::Unknown {
                        known: map.keys().filter(|k| *k != "must_match").cloned().collect(),
                    };
                }
            },
            _ => return Setting::Unknown { known: Vec::new() },
        }
    }
    Setting::Value(here.clone())
}

/// The problems of a `must_match` list, as `(key, message)`.
pub fn check_must_match(file: &EnvFile) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    if file.must_match.is_empty() {
        return problems;
    }
    let whole = as_value(file);
    for (i, key) in file.must_match.iter().enumerate() {
        let at = format!("must_match[{i}]");
        if key.is_empty() || key == "must_match" || key.starts_with("must_match.") {
            problems.push((at, format!("{key:?} is not a setting that can be compared")));
            continue;
        }
        if file.must_match[..i].contains(key) {
            problems.push((at, format!("{key:?} is listed twice")));
            continue;
        }
        if let Setting::Unknown { known } = lookup_in(&whole, key) {
            let message = if known.is_empty() {
                format!("unknown setting {key:?}: it goes below a value that has no keys")
            } else {
                format!(
                    "unknown setting {key:?}; known keys there: {}",
                    known.join(", ")
                )
            };
            problems.push((at, message));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    fn env(must_match: &str, extra: &str) -> EnvFile {
        let dir = tempfile::tempdir().expect("temp dir");
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("envs/staging.toml"),
        )
        .expect("staging env");
        let text = format!("must_match = {must_match}\n{text}\n{extra}");
        std::fs::write(dir.path().join("staging.toml"), text).expect("write");
        match config::load(dir.path(), "staging") {
            Ok(env) => env.file,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn a_key_finds_its_value_with_defaults_applied() {
        let file = env("[]", "");
        assert_eq!(
            lookup(&file, "storage.efs_throughput_mode"),
            Setting::Value("bursting".into())
        );
        assert_eq!(
            lookup(&file, "compute.health_check.path"),
            Setting::Value("/healthcheck".into())
        );
        assert_eq!(
            lookup(&file, "compute.spot.instance_types"),
            Setting::UnderUnset
        );
        assert_eq!(lookup(&file, "tags.Owner"), Setting::Value(Value::Null));
        assert!(matches!(
            lookup(&file, "compute.helth_check"),
            Setting::Unknown { .. }
        ));
    }

    #[test]
    fn an_unknown_or_repeated_must_match_key_is_a_problem_naming_the_keys_there() {
        let dir = tempfile::tempdir().expect("temp dir");
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("envs/staging.toml"),
        )
        .expect("staging env");
        let text = format!(
            "must_match = [\"storage.efs_backup\", \"compute.helth_check.path\", \"storage.efs_backup\"]\n{text}"
        );
        std::fs::write(dir.path().join("staging.toml"), text).expect("write");
        let err = config::load(dir.path(), "staging")
            .expect_err("invalid")
            .to_string();
        assert!(
            err.contains("staging.toml:1: must_match[1]: unknown setting \"compute.helth_check.path\"; known keys there: ami, cooldown, cpu_target_percent"),
            "{err}"
        );
        assert!(
            err.contains("must_match[2]: \"storage.efs_backup\" is listed twice"),
            "{err}"
        );
    }

    #[test]
    fn a_valid_must_match_list_loads() {
        let file = env("[\"storage.efs_throughput_mode\", \"compute.spot\"]", "");
        assert_eq!(file.must_match.len(), 2);
        assert!(check_must_match(&file).is_empty());
    }
}
