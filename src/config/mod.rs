//! Environment files: finding them, parsing them, and checking them.
//!
//! An env is `envs/<name>.toml`. Loading reports every problem at once (unknown keys, wrong
//! types, values that break the tool's rules), each with the file, line and key it comes from.

mod decode;
mod schema;
pub mod settings;
mod source;
pub mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

pub use schema::*;
pub use source::KeyLines;
use validate::Problem;
pub use validate::{MANAGED_RULE_GROUPS, cloudfront_prefix_list};

/// A checked environment name: lowercase letters, digits and hyphens, starting with a letter,
/// short enough for every AWS name built from it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnvName(String);

/// The longest env name: `ce-<env>-monitoring` and target group names must stay within limits.
pub const MAX_ENV_NAME: usize = 20;

impl EnvName {
    /// Checks and wraps a name.
    pub fn parse(name: &str) -> Result<Self, String> {
        Self::check(name)?;
        Ok(EnvName(name.to_owned()))
    }

    /// Whether `name` is a valid env name, without keeping it.
    fn check(name: &str) -> Result<(), String> {
        let ok_chars = name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if name.is_empty()
            || name.len() > MAX_ENV_NAME
            || !ok_chars
            || !name.starts_with(|c: char| c.is_ascii_lowercase())
            || name.ends_with('-')
            || name.contains("--")
        {
            return Err(format!(
                "invalid env name {name:?}: use 1-{MAX_ENV_NAME} lowercase letters, digits and single hyphens, starting with a letter"
            ));
        }
        Ok(())
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EnvName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A loaded and checked environment.
#[derive(Clone, Debug)]
pub struct Env {
    /// The env's name (its file stem).
    pub name: EnvName,
    /// The file it came from.
    pub path: PathBuf,
    /// Its settings.
    pub file: EnvFile,
}

/// Why an env could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No such env file; lists the envs that exist.
    #[error("unknown env {name:?} (no {path}); known envs: {known}")]
    UnknownEnv {
        /// What was asked for.
        name: String,
        /// Where it was looked for.
        path: String,
        /// The envs that exist, comma-separated.
        known: String,
    },
    /// A name no env file can have (`--env a/b`, `--env Prod`): checked before any file is
    /// read, so a path in it never reaches the file system.
    #[error("{message}; known envs: {known}")]
    InvalidName {
        /// What is wrong with the name, the name quoted with control characters escaped.
        message: String,
        /// The envs that exist, comma-separated.
        known: String,
    },
    /// The env directory holds no env files.
    #[error("no env files (*.toml) in {0}")]
    NoEnvs(String),
    /// The env directory does not exist.
    #[error(
        "no env directory {0}; run ce from the repository root or name the directory with \
         --envs-dir (or CE_ENVS_DIR)"
    )]
    NoEnvDir(String),
    /// The file or directory could not be read; the OS error is its cause.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file has problems; all of them are listed.
    #[error("{}", format_problems(.0))]
    Invalid(Vec<Problem>),
}

fn format_problems(problems: &[Problem]) -> String {
    let mut text = format!(
        "{} problem{} in env configuration:",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems {
        text.push_str("\n  ");
        text.push_str(&p.to_string());
    }
    text
}

/// The envs present in a directory, sorted by name.
pub fn list_envs(dir: &Path) -> Result<Vec<EnvName>, ConfigError> {
    scan(dir).map(|(names, _)| names)
}

/// One pass over a directory: the envs in it, sorted by name, and a problem for each `*.toml`
/// file whose name is not an env name (which would otherwise be skipped without a word),
/// sorted by file.
fn scan(dir: &Path) -> Result<(Vec<EnvName>, Vec<Problem>), ConfigError> {
    let entries = std::fs::read_dir(dir).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            // The directory may come from the command line: keep it on one line.
            ConfigError::NoEnvDir(
                crate::printer::escape_control(&dir.display().to_string()).into_owned(),
            )
        } else {
            ConfigError::Read {
                path: crate::printer::escape_control(&dir.display().to_string()).into_owned(),
                source,
            }
        }
    })?;
    let mut names = Vec::new();
    let mut misnamed = Vec::new();
    for path in entries.filter_map(|e| e.ok()).map(|e| e.path()) {
        if path.extension().is_none_or(|ext| ext != "toml") {
            continue;
        }
        let Some(stem) = path.file_stem() else {
            continue;
        };
        // A name that is not UTF-8 is not an env's: its lossy form does not parse.
        match EnvName::parse(&stem.to_string_lossy()) {
            Ok(name) => names.push(name),
            Err(message) => misnamed.push(Problem {
                file: path.display().to_string(),
                line: 1,
                key: String::new(),
                message: format!("not loaded: {message}"),
            }),
        }
    }
    names.sort();
    misnamed.sort_by(|a, b| a.file.cmp(&b.file));
    Ok((names, misnamed))
}

/// Loads and checks `dir/<name>.toml`.
pub fn load(dir: &Path, name: &str) -> Result<Env, ConfigError> {
    // A name that is not an env name is refused as such: joined to the directory it could
    // name another file (`a/b`, `../x`), or fail with an OS error that says less.
    if let Err(message) = EnvName::check(name) {
        return Err(match known_envs(dir) {
            Ok(known) => ConfigError::InvalidName { message, known },
            Err(missing) => missing,
        });
    }
    let path = dir.join(format!("{name}.toml"));
    // Read without looking first: one system call fewer for every env that loads. Only a file
    // that is not there makes the env unknown; one that cannot be read says why.
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(source) if source.kind() == std::io::ErrorKind::NotFound => {
            return Err(unknown_env(dir, name, &path));
        }
        Err(source) => {
            return Err(ConfigError::Read {
                // The name came from the command line: keep it on one line.
                path: crate::printer::escape_control(&path.display().to_string()).into_owned(),
                source,
            });
        }
    };
    parse(&path, name, &text)
}

/// No env file by that name: the error names the envs there are.
fn unknown_env(dir: &Path, name: &str, path: &Path) -> ConfigError {
    match known_envs(dir) {
        Ok(known) => ConfigError::UnknownEnv {
            name: name.to_owned(),
            // The name came from the command line: a newline in it must not start a new line.
            path: crate::printer::escape_control(&path.display().to_string()).into_owned(),
            known,
        },
        Err(missing) => missing,
    }
}

/// The envs in `dir`, comma-separated ("none" when it holds none or cannot be listed), for an
/// error about a name that is not one of them; a missing directory is that error instead,
/// as it says more than "no such env".
fn known_envs(dir: &Path) -> Result<String, ConfigError> {
    let known = match list_envs(dir) {
        Ok(envs) => envs
            .iter()
            .map(EnvName::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        Err(missing @ ConfigError::NoEnvDir(_)) => return Err(missing),
        Err(_) => String::new(),
    };
    Ok(if known.is_empty() {
        "none".into()
    } else {
        known
    })
}

/// Loads every env in a directory; problems of all files are reported together.
pub fn load_all(dir: &Path) -> Result<Vec<Env>, ConfigError> {
    let (names, mut problems) = scan(dir)?;
    if names.is_empty() {
        return Err(ConfigError::NoEnvs(
            crate::printer::escape_control(&dir.display().to_string()).into_owned(),
        ));
    }
    let mut envs = Vec::new();
    for name in names {
        match load(dir, name.as_str()) {
            Ok(env) => envs.push(env),
            Err(ConfigError::Invalid(p)) => problems.extend(p),
            Err(other) => return Err(other),
        }
    }
    if problems.is_empty() {
        Ok(envs)
    } else {
        Err(ConfigError::Invalid(problems))
    }
}

/// Parses and checks the text of an env file (`path` and `name` are used in messages and as
/// the env's identity).
pub fn parse(path: &Path, name: &str, text: &str) -> Result<Env, ConfigError> {
    let file_label = path.display().to_string();
    let at = |line: usize, key: String, message: String| Problem {
        file: file_label.clone(),
        line,
        key,
        message,
    };
    let mut problems = Vec::new();
    let env_name = match EnvName::parse(name) {
        Ok(n) => Some(n),
        Err(message) => {
            problems.push(at(1, String::new(), message));
            None
        }
    };

    // Where each key is written: only needed to place a problem, so indexed on first use.
    let lines = std::cell::OnceCell::new();
    let lines = || lines.get_or_init(|| KeyLines::index(text));
    let decoded = decode::decode(text, lines);
    problems.extend(
        decoded
            .found
            .into_iter()
            .map(|f| at(f.line, f.key, f.message)),
    );
    if let (Some(file), Some(env_name)) = (&decoded.file, &env_name) {
        let rules = validate::check(env_name, file);
        for (key, message) in rules.into_iter().chain(settings::check_must_match(file)) {
            problems.push(at(lines().line_of(&key), key, message));
        }
    }
    match (decoded.file, env_name) {
        (Some(file), Some(name)) if problems.is_empty() => Ok(Env {
            name,
            path: path.to_owned(),
            file,
        }),
        _ => {
            problems.sort_by_key(|p| p.line);
            Err(ConfigError::Invalid(problems))
        }
    }
}
