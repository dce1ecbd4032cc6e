//! The tool's rules for env files, beyond what the types enforce.
//!
//! Each rule adds `(key path, message)` pairs; the loader turns them into [`Problem`]s with the
//! line of the key, and all of them are reported at once.

use std::fmt;

use super::{EnvFile, EnvName};

/// One problem in an env file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub file: String,
    /// 1-based line of the key (or of its table when the key is missing).
    pub line: usize,
    /// Dotted key path, e.g. `compute.min_size`.
    pub key: String,
    /// What is wrong and, where it helps, what is allowed.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        } else {
            write!(f, "{}:{}: {}: {}", self.file, self.line, self.key, self.message)
        }
    }
}

/// Collects problems as `(key, message)`.
#[derive(Default)]
struct Problems(Vec<(String, String)>);

impl Problems {
    fn add(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push((key.into(), message.into()));
    }
}

/// Every rule, over a parsed env file.
pub fn check(name: &EnvName, file: &EnvFile) -> Vec<(String, String)> {
    let mut p = Problems::default();
    let _ = name;
    check_compute_sizes(file, &mut p);
    p.0
}

fn check_compute_sizes(file: &EnvFile, p: &mut Problems) {
    let c = &file.compute;
    if c.min_size > c.max_size {
        p.add(
            "compute.min_size",
            format!("min_size {} is above max_size {}", c.min_size, c.max_size),
        );
    }
    if let Some(d) = c.desired_capacity {
        if d < c.min_size || d > c.max_size {
            p.add(
                "compute.desired_capacity",
                format!(
                    "desired_capacity {d} is outside min_size..=max_size ({}..={})",
                    c.min_size, c.max_size
                ),
            );
        }
    }
}
