//! Rendering: env → stacks → template files under `stacks/<env>/<stack>.json`, and the
//! `--check` comparison that keeps the committed files honest, and [`lint`], the tool's own
//! template rules that `ce validate` applies to what is rendered.

pub mod lint;

use std::io;
use std::path::{Path, PathBuf};

use crate::architecture::{self, StackId, UserDataError};
use crate::config::Env;
use crate::model::template::INLINE_TEMPLATE_LIMIT;

/// One stack's rendered template.
#[derive(Clone, Debug)]
pub struct RenderedStack {
    /// The env it belongs to.
    pub env: String,
    /// Which stack.
    pub id: StackId,
    /// `ce-<env>-<stack>`.
    pub stack_name: String,
    /// Pretty JSON as committed.
    pub text: String,
    /// Size in bytes of the compact JSON sent to CloudFormation.
    pub compact_size: usize,
}

impl RenderedStack {
    /// Path relative to the stacks root: `<env>/<stack>.json`.
    pub fn relative_path(&self) -> PathBuf {
        Path::new(&self.env).join(format!("{}.json", self.id))
    }

    /// Whether the template can be sent inline (else it needs an S3 `TemplateURL`).
    pub fn fits_inline(&self) -> bool {
        self.compact_size <= INLINE_TEMPLATE_LIMIT
    }
}

/// Builds and renders every stack of an env.
pub fn render_env(env: &Env) -> Result<Vec<RenderedStack>, UserDataError> {
    Ok(architecture::build(env)?
        .into_iter()
        .map(|stack| {
            let (text, compact_size) = stack.template.to_json_string_and_compact_len();
            RenderedStack {
                env: env.name.to_string(),
                id: stack.id,
                compact_size,
                text,
                stack_name: stack.name,
            }
        })
        .collect())
}

/// Writes rendered stacks under `root`, each atomically (temp file, then rename) so an
/// interrupted render never leaves a half-written template. Returns the paths changed.
pub fn write(root: &Path, stacks: &[RenderedStack]) -> io::Result<Vec<PathBuf>> {
    let mut changed = Vec::new();
    for stack in stacks {
        let path = root.join(stack.relative_path());
        if std::fs::read_to_string(&path).is_ok_and(|old| old == stack.text) {
            continue;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, &stack.text)?;
        std::fs::rename(&tmp, &path)?;
        changed.push(path);
    }
    Ok(changed)
}

/// Why a committed file does not match a fresh render.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Staleness {
    /// The file is not there.
    Missing,
    /// The file's content differs.
    Differs,
    /// A `.json` file in an env's directory that no stack renders to.
    Extra,
}

/// Compares the files under `root` with fresh renders of the envs in `stacks`.
pub fn check(root: &Path, stacks: &[RenderedStack]) -> io::Result<Vec<(PathBuf, Staleness)>> {
    let mut stale = Vec::new();
    let mut envs: Vec<&str> = Vec::new();
    for stack in stacks {
        if !envs.contains(&stack.env.as_str()) {
            envs.push(&stack.env);
        }
        let path = root.join(stack.relative_path());
        match std::fs::read_to_string(&path) {
            Ok(text) if text == stack.text => {}
            Ok(_) => stale.push((path, Staleness::Differs)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => stale.push((path, Staleness::Missing)),
            Err(e) => return Err(e),
        }
    }
    for env in envs {
        let dir = root.join(env);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry?.path();
            let is_rendered = stacks.iter().any(|s| root.join(s.relative_path()) == path);
            if path.extension().is_some_and(|e| e == "json") && !is_rendered {
                stale.push((path, Staleness::Extra));
            }
        }
    }
    stale.sort();
    Ok(stale)
}

impl Staleness {
    /// How `render --check` describes it.
    pub fn describe(&self) -> &'static str {
        match self {
            Staleness::Missing => "missing",
            Staleness::Differs => "differs from a fresh render",
            Staleness::Extra => "not produced by any stack",
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::architecture;
    use crate::config;

    /// The render writes properties straight from their typed structs; serde's path for the
    /// same template goes through each resource's `Value` (keys sorted). Holding the two to the
    /// same text for every stack of every env keeps every resource type's keys sorted.
    #[test]
    fn every_rendered_template_is_its_value_form() {
        let envs = config::load_all(Path::new("envs")).expect("the envs load");
        assert!(!envs.is_empty());
        for env in &envs {
            for stack in architecture::build(env).expect("the env builds") {
                let t = &stack.template;
                let (text, compact_len) = t.to_json_string_and_compact_len();
                let expected = serde_json::to_string_pretty(t).unwrap() + "\n";
                assert!(
                    text == expected,
                    "{} differs from its Value form",
                    stack.name
                );
                let compact = serde_json::to_string(t).unwrap();
                assert!(t.to_compact_json() == compact, "{} compact", stack.name);
                assert_eq!(compact_len, compact.len(), "{}", stack.name);
            }
        }
    }
}
