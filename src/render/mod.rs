//! Rendering: env → stacks → template files under `stacks/<env>/<stack>.json`, and the
//! `--check` comparison that keeps the committed files honest, and [`lint`], the tool's own
//! template rules that `ce validate` applies to what is rendered.

pub mod lint;

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::architecture::{self, StackId, UserDataError};
use crate::config::Env;
use crate::model::template::{INLINE_TEMPLATE_LIMIT, TEXT_CAPACITY};

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

/// The buffers a render reuses for every stack it writes or checks: the text rendered and
/// the file read to compare with it. One pair for a whole command, so the memory first
/// touched for one stack serves the next; every new page is a page fault, a large part of
/// what `ce render --all` costs besides the work itself.
pub struct Buffers {
    text: Vec<u8>,
    file: Files,
}

/// What a render knows of the files it writes or checks: the buffer a file is read into, and
/// the directory it made itself, in which no file needs to be read before it is written.
#[derive(Default)]
pub struct Files {
    buf: Vec<u8>,
    made: Option<PathBuf>,
}

impl Default for Buffers {
    /// Room for the largest template from the start, so the text grows at most once.
    fn default() -> Self {
        Buffers {
            text: Vec::with_capacity(TEXT_CAPACITY),
            file: Files::default(),
        }
    }
}

/// One stack's text, rendered into [`Buffers`]: valid until the next stack is rendered.
pub struct StackText<'a> {
    /// Path relative to the stacks root: `<env>/<stack>.json`.
    pub relative_path: PathBuf,
    /// `ce-<env>-<stack>`.
    pub stack_name: &'a str,
    /// Pretty JSON as committed.
    pub text: &'a [u8],
    /// Size in bytes of the compact JSON sent to CloudFormation.
    pub compact_size: usize,
}

impl StackText<'_> {
    /// Whether the template can be sent inline (else it needs an S3 `TemplateURL`).
    pub fn fits_inline(&self) -> bool {
        self.compact_size <= INLINE_TEMPLATE_LIMIT
    }
}

impl Buffers {
    /// Renders `stack` of env `env` into the text buffer; the text lasts until the next call.
    /// Also returns the file buffer, for [`write_stack`] or [`check_stack`].
    pub fn render<'a>(
        &'a mut self,
        env: &str,
        stack: &'a architecture::Stack,
    ) -> (StackText<'a>, &'a mut Files) {
        let compact_size = stack.template.write_pretty_into(&mut self.text);
        let text = StackText {
            relative_path: Path::new(env).join(format!("{}.json", stack.id)),
            stack_name: &stack.name,
            text: &self.text,
            compact_size,
        };
        (text, &mut self.file)
    }
}

/// Reads the file at `path` into `buf` (emptied first); `false` when there is no such file.
fn read_into(path: &Path, buf: &mut Vec<u8>) -> io::Result<bool> {
    buf.clear();
    match std::fs::File::open(path) {
        Ok(mut file) => file.read_to_end(buf).map(|_| true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Writes `text` to `path` unless the file holds it already, atomically (temp file, then
/// rename) so an interrupted render never leaves a half-written template. Returns whether the
/// file was written.
pub fn write_stack(path: &Path, text: &[u8], files: &mut Files) -> io::Result<bool> {
    let dir = path.parent();
    // In a directory this render made, nothing is there to compare with. Elsewhere a file
    // that cannot be read (missing, or not a file at all) is written over, as before.
    let fresh = dir.is_some() && files.made.as_deref() == dir;
    if !fresh && read_into(path, &mut files.buf).unwrap_or(false) && files.buf.as_slice() == text {
        return Ok(false);
    }
    let tmp = path.with_extension("json.tmp");
    // The directory is made when the file cannot be created for want of it, not checked
    // before every file.
    let mut temp = match std::fs::File::create(&tmp) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(dir) = dir
                && make_dir(dir)?
            {
                files.made = Some(dir.to_owned());
            }
            std::fs::File::create(&tmp)?
        }
        created => created?,
    };
    temp.write_all(text)?;
    drop(temp);
    std::fs::rename(&tmp, path)?;
    Ok(true)
}

/// Makes `dir` and its missing parents; whether this call made `dir` itself (not when another
/// process made it meanwhile, whose files are then compared as any others).
fn make_dir(dir: &Path) -> io::Result<bool> {
    let made = |result: io::Result<()>| match result {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    };
    match std::fs::create_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = dir.parent() {
                std::fs::create_dir_all(parent)?;
            }
            made(std::fs::create_dir(dir))
        }
        result => made(result),
    }
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

/// Compares the file at `path` with a fresh render's `text`: `None` when it holds exactly
/// that text.
pub fn check_stack(path: &Path, text: &[u8], files: &mut Files) -> io::Result<Option<Staleness>> {
    Ok(if !read_into(path, &mut files.buf)? {
        Some(Staleness::Missing)
    } else if files.buf.as_slice() != text {
        Some(Staleness::Differs)
    } else {
        None
    })
}

/// The `.json` files in `root/<env>` that are none of `rendered` (the paths an env's stacks
/// render to), sorted; none when the directory is missing.
pub fn extra_files(root: &Path, env: &str, rendered: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
    let Ok(entries) = std::fs::read_dir(root.join(env)) else {
        return Ok(Vec::new());
    };
    let mut extra = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") && !rendered.contains(&path) {
            extra.push(path);
        }
    }
    extra.sort();
    Ok(extra)
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

    use super::{Buffers, Files};

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

    /// The property structs declare their fields in the byte order of their keys, so the
    /// writer's sort finds every object of every rendered template already in order and moves
    /// nothing: a struct declared out of order still renders correctly, but costs a reorder
    /// each time it is written. The exceptions are objects made of a struct with another
    /// flattened into it, whose fields interleave: today an alarm (its metric) and a cache
    /// behaviour (its path pattern), each recognised by a key only it has.
    #[test]
    fn every_object_of_every_template_is_written_in_key_order() {
        let flattened = |keys: &String| {
            keys.contains("\"EvaluationPeriods\"") || keys.starts_with("\"PathPattern\"")
        };
        let envs = config::load_all(Path::new("envs")).expect("the envs load");
        let mut reordered = std::collections::BTreeSet::new();
        let mut exceptions = 0;
        for env in &envs {
            for stack in architecture::build(env).expect("the env builds") {
                for keys in stack.template.reordered_objects() {
                    if flattened(&keys) {
                        exceptions += 1;
                    } else {
                        reordered.insert(keys);
                    }
                }
            }
        }
        // The exceptions are found, so the check sees reorders at all.
        assert!(exceptions > 0);
        assert!(
            reordered.is_empty(),
            "objects written out of key order (declare their fields sorted):\n{}",
            reordered.into_iter().collect::<Vec<_>>().join("\n")
        );
    }

    /// One pair of buffers serves every stack of every env in turn, the largest first: each
    /// text is exactly its own template's, with nothing left over from a longer one before it.
    #[test]
    fn reused_buffers_hold_exactly_each_stacks_text() {
        let envs = config::load_all(Path::new("envs")).expect("the envs load");
        let mut stacks: Vec<_> = envs
            .iter()
            .flat_map(|env| {
                architecture::build(env)
                    .expect("the env builds")
                    .into_iter()
                    .map(move |stack| (env.name.to_string(), stack))
            })
            .collect();
        // Longest text first, so every later text is written over a longer one.
        stacks.sort_by_key(|(_, stack)| std::cmp::Reverse(stack.template.to_json_string().len()));
        let mut buffers = Buffers::default();
        for (env, stack) in &stacks {
            let (expected, compact) = stack.template.to_json_string_and_compact_len();
            let (text, _) = buffers.render(env, stack);
            assert!(text.text == expected.as_bytes(), "{} differs", stack.name);
            assert_eq!(text.compact_size, compact, "{}", stack.name);
            assert_eq!(
                text.relative_path,
                Path::new(env).join(format!("{}.json", stack.id))
            );
        }
    }

    /// `--check`'s three verdicts, a file that is not UTF-8 among them (it differs, it is not
    /// an error), and the `.json` files no stack renders to.
    #[test]
    fn check_stack_tells_missing_differing_and_current_files_apart() {
        use super::{Staleness, check_stack, extra_files};
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("env").join("network.json");
        let text = b"{}\n";
        let mut file = Files::default();
        assert_eq!(
            check_stack(&path, text, &mut file).unwrap(),
            Some(Staleness::Missing)
        );
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"{\xff}\n").unwrap();
        assert_eq!(
            check_stack(&path, text, &mut file).unwrap(),
            Some(Staleness::Differs)
        );
        std::fs::write(&path, text).unwrap();
        assert_eq!(check_stack(&path, text, &mut file).unwrap(), None);
        std::fs::write(dir.path().join("env").join("old.json"), text).unwrap();
        std::fs::write(dir.path().join("env").join("notes.txt"), text).unwrap();
        assert_eq!(
            extra_files(dir.path(), "env", std::slice::from_ref(&path)).unwrap(),
            [dir.path().join("env").join("old.json")]
        );
        assert!(extra_files(dir.path(), "absent", &[]).unwrap().is_empty());
    }

    /// The first file written into a missing directory makes it; the others written there
    /// are not compared with anything. A later render finds them unchanged and writes only
    /// what differs.
    #[test]
    fn write_stack_makes_the_directory_and_writes_only_what_changed() {
        use super::write_stack;
        let dir = tempfile::tempdir().expect("temp dir");
        let env = dir.path().join("stacks").join("env");
        let (a, b) = (env.join("a.json"), env.join("b.json"));
        let mut files = Files::default();
        assert!(write_stack(&a, b"{}\n", &mut files).unwrap());
        assert_eq!(files.made.as_deref(), Some(env.as_path()));
        assert!(write_stack(&b, b"[]\n", &mut files).unwrap());
        assert_eq!(std::fs::read(&a).unwrap(), b"{}\n");
        assert_eq!(std::fs::read(&b).unwrap(), b"[]\n");
        assert!(!env.join("a.json.tmp").exists() && !env.join("b.json.tmp").exists());

        let mut files = Files::default();
        assert!(!write_stack(&a, b"{}\n", &mut files).unwrap());
        assert!(write_stack(&b, b"[1]\n", &mut files).unwrap());
        assert_eq!(files.made, None);
        assert_eq!(std::fs::read(&b).unwrap(), b"[1]\n");

        // A directory that exists already was not made by this render, even when it is found
        // only after creating a file failed: its files are still compared.
        assert!(!super::make_dir(&env).unwrap());
        let other = dir.path().join("stacks").join("other");
        assert!(super::make_dir(&other).unwrap());
        assert!(!super::make_dir(&other).unwrap());
    }
}
