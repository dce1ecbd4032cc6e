//! Golden tests of `ce render` and `ce validate`, through the real binary run from the crate
//! root: the committed `stacks/` is exactly what the code renders, renders are byte-for-byte
//! reproducible, `--check` names every stale file, and bad input fails with a useful message.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{copy_tree, env_names, envs_dir, rendered_files, run_ce, run_in_process, stacks_dir};
use serde_json::Value;

/// Stacks per env: network, storage, compute, edge, monitoring.
const STACKS_PER_ENV: usize = 5;

/// CloudFormation's limit for a template sent inline (larger ones must go through S3).
const INLINE_LIMIT: u64 = 51_200;

/// Renders every env into `dir` and returns the files written.
fn render_into(dir: &Path) -> BTreeMap<std::path::PathBuf, Vec<u8>> {
    let run = run_ce([
        "render".as_ref(),
        "--all".as_ref(),
        "--out".as_ref(),
        dir.as_os_str(),
    ]);
    assert_eq!(run.code, Some(0), "render failed: {}", run.describe());
    rendered_files(dir)
}

#[test]
fn committed_stacks_are_current() {
    let run = run_in_process(["render", "--all", "--check"]);
    assert_eq!(
        run.code,
        Some(0),
        "stacks/ is stale; run `cargo run -- render --all` and commit: {}",
        run.describe()
    );
}

#[test]
fn fresh_render_matches_committed_stacks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fresh = render_into(dir.path());
    let committed = rendered_files(&stacks_dir());
    let names = |m: &BTreeMap<std::path::PathBuf, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&fresh), names(&committed), "different sets of files");
    for (path, bytes) in &fresh {
        assert!(
            committed.get(path) == Some(bytes),
            "{} differs from a fresh render",
            path.display()
        );
    }
}

#[test]
fn render_all_writes_every_stack_of_every_env() {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = render_into(dir.path());
    assert_eq!(files.len(), env_names().len() * STACKS_PER_ENV);
    for env in env_names() {
        for stack in ["network", "storage", "compute", "edge", "monitoring"] {
            let rel = Path::new(&env).join(format!("{stack}.json"));
            assert!(files.contains_key(&rel), "{} not rendered", rel.display());
        }
    }
}

#[test]
fn rendering_twice_gives_byte_identical_files() {
    let first = tempfile::tempdir().expect("temp dir");
    let second = tempfile::tempdir().expect("temp dir");
    let a = render_into(first.path());
    let b = render_into(second.path());
    assert!(!a.is_empty());
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (path, bytes) in &a {
        assert!(
            b[path] == *bytes,
            "{} differs between two renders",
            path.display()
        );
    }
}

#[test]
fn rerendering_an_up_to_date_tree_writes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    render_into(dir.path());
    let run = run_ce([
        "render".as_ref(),
        "--all".as_ref(),
        "--out".as_ref(),
        dir.path().as_os_str(),
    ]);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert!(
        run.stdout.lines().all(|l| l.starts_with("unchanged")),
        "second render rewrote files: {}",
        run.describe()
    );
}

#[test]
fn rendered_templates_are_valid_json_documents() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, bytes) in render_into(dir.path()) {
        let doc: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        assert_eq!(
            doc["AWSTemplateFormatVersion"],
            "2010-09-09",
            "{}",
            path.display()
        );
        assert!(
            doc["Resources"].is_object(),
            "{} has no Resources",
            path.display()
        );
    }
}

#[test]
fn check_names_each_edited_extra_and_missing_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = render_into(dir.path());
    let mut paths = files.keys();
    let edited = dir.path().join(paths.next().expect("a rendered file"));
    let missing = dir
        .path()
        .join(paths.next().expect("a second rendered file"));
    let extra = edited.with_file_name("leftover.json");
    std::fs::write(&edited, b"{}\n").expect("edit");
    std::fs::remove_file(&missing).expect("remove");
    std::fs::write(&extra, b"{}\n").expect("add");

    let run = run_ce([
        "render".as_ref(),
        "--all".as_ref(),
        "--check".as_ref(),
        "--out".as_ref(),
        dir.path().as_os_str(),
    ]);
    assert_eq!(run.code, Some(1), "{}", run.describe());
    for (path, reason) in [
        (&edited, "differs"),
        (&missing, "missing"),
        (&extra, "not produced"),
    ] {
        let line = run
            .stdout
            .lines()
            .find(|l| l.contains(&path.display().to_string()))
            .unwrap_or_else(|| panic!("{} not named: {}", path.display(), run.describe()));
        assert!(line.contains(reason), "{line:?} should say {reason:?}");
    }
    assert_eq!(run.stdout.lines().count(), 3, "{}", run.describe());
    assert!(
        run.stderr.contains("3 rendered files are stale"),
        "{}",
        run.describe()
    );
}

#[test]
fn check_writes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = run_ce([
        "render".as_ref(),
        "--all".as_ref(),
        "--check".as_ref(),
        "--out".as_ref(),
        dir.path().as_os_str(),
    ]);
    assert_eq!(run.code, Some(1), "{}", run.describe());
    assert!(rendered_files(dir.path()).is_empty());
}

#[test]
fn unknown_env_fails_listing_the_known_ones() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = run_in_process([
        "--env".as_ref(),
        "nope".as_ref(),
        "render".as_ref(),
        "--out".as_ref(),
        dir.path().as_os_str(),
    ]);
    assert_eq!(run.code, Some(1), "{}", run.describe());
    assert!(run.stderr.contains("\"nope\""), "{}", run.describe());
    let known = env_names().join(", ");
    assert!(
        run.stderr.contains(&known),
        "expected {known:?}: {}",
        run.describe()
    );
    assert!(run.stdout.is_empty(), "{}", run.describe());
}

#[test]
fn json_output_carries_format_version_and_every_stack() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = run_in_process([
        "--format".as_ref(),
        "json".as_ref(),
        "render".as_ref(),
        "--all".as_ref(),
        "--out".as_ref(),
        dir.path().as_os_str(),
    ]);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let doc: Value = serde_json::from_str(&run.stdout).expect("stdout is one JSON document");
    assert!(doc["format_version"].is_u64(), "{doc}");
    let stacks = doc["stacks"].as_array().expect("a stacks array");
    assert_eq!(stacks.len(), env_names().len() * STACKS_PER_ENV);
    for s in stacks {
        let name = format!(
            "ce-{}-{}",
            s["env"].as_str().unwrap_or("?"),
            s["stack"].as_str().unwrap_or("?")
        );
        assert_eq!(s["stack_name"], name.as_str());
    }
}

#[test]
fn check_json_output_carries_format_version() {
    let run = run_in_process(["--format", "json", "render", "--all", "--check"]);
    let doc: Value = serde_json::from_str(&run.stdout).expect("stdout is one JSON document");
    assert!(doc["format_version"].is_u64(), "{doc}");
    assert!(doc["stale"].is_array(), "{doc}");
}

#[test]
fn every_template_fits_cloudformations_inline_limit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = run_ce([
        "--format".as_ref(),
        "json".as_ref(),
        "render".as_ref(),
        "--all".as_ref(),
        "--out".as_ref(),
        dir.path().as_os_str(),
    ]);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    let doc: Value = serde_json::from_str(&run.stdout).expect("stdout is one JSON document");
    for s in doc["stacks"].as_array().expect("a stacks array") {
        let bytes = s["bytes"].as_u64().expect("a byte count");
        assert!(
            bytes > 0 && bytes <= INLINE_LIMIT,
            "{} is {bytes} bytes",
            s["stack_name"]
        );
    }
    // The compact size the tool reports is the real one.
    for (path, text) in rendered_files(dir.path()) {
        let doc: Value = serde_json::from_slice(&text).expect("JSON");
        let compact = serde_json::to_vec(&doc).expect("serialise").len() as u64;
        assert!(
            compact <= INLINE_LIMIT,
            "{} is {compact} bytes compact",
            path.display()
        );
    }
    assert!(!run.stderr.contains("inline limit"), "{}", run.describe());
}

#[test]
fn validate_all_passes_on_the_committed_envs() {
    let run = run_in_process(["validate", "--all"]);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    for env in env_names() {
        assert!(
            run.stderr.contains(&env),
            "{env} not reported: {}",
            run.describe()
        );
    }
}

#[test]
fn validate_names_file_and_line_of_every_problem() {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_tree(&envs_dir(), dir.path());
    let mut expected = Vec::new();
    for env in env_names().iter().take(2) {
        let path = dir.path().join(format!("{env}.toml"));
        let text = std::fs::read_to_string(&path).expect("env file");
        let line = 1
            + text
                .lines()
                .position(|l| l.trim() == "[compute]")
                .expect("a [compute] table")
            + 1;
        let broken = text.replacen("[compute]\n", "[compute]\nno_such_key = 1\n", 1);
        std::fs::write(&path, broken).expect("write env");
        expected.push(format!("{}:{line}", path.display()));
    }
    let run = run_ce([
        "--envs-dir".as_ref(),
        dir.path().as_os_str(),
        "validate".as_ref(),
        "--all".as_ref(),
    ]);
    assert_eq!(run.code, Some(1), "{}", run.describe());
    for location in &expected {
        let line = run
            .stderr
            .lines()
            .find(|l| l.contains(location.as_str()))
            .unwrap_or_else(|| panic!("{location} not named: {}", run.describe()));
        assert!(line.contains("compute.no_such_key"), "{line:?}");
    }
}

#[test]
fn validate_names_the_line_of_a_value_breaking_a_rule() {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_tree(&envs_dir(), dir.path());
    let env = env_names().into_iter().next().expect("an env");
    let path = dir.path().join(format!("{env}.toml"));
    let text = std::fs::read_to_string(&path).expect("env file");
    let line = 1 + text
        .lines()
        .position(|l| l.trim_start().starts_with("min_size"))
        .expect("a min_size key");
    let broken: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i + 1 == line {
                "min_size = 100000".to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&path, broken).expect("write env");
    let run = run_ce([
        "--envs-dir".as_ref(),
        dir.path().as_os_str(),
        "--env".as_ref(),
        env.as_ref(),
        "validate".as_ref(),
    ]);
    assert_eq!(run.code, Some(1), "{}", run.describe());
    let location = format!("{}:{line}: compute.min_size", path.display());
    assert!(
        run.stderr.contains(&location),
        "expected {location:?}: {}",
        run.describe()
    );
}

/// A render that cannot write an env's files stops there and says which envs are written:
/// those before it are complete and current, it and those after it are untouched.
#[test]
fn a_write_that_fails_names_the_envs_written_before_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let names = env_names();
    assert!(names.len() >= 2, "the test needs two envs: {names:?}");
    let (first, second) = (&names[0], &names[1]);
    // The second env's directory cannot be made: a file holds its name.
    std::fs::write(dir.path().join(second), "not a directory").expect("write blocker");

    let run = run_ce([
        "render".as_ref(),
        "--all".as_ref(),
        "--out".as_ref(),
        dir.path().as_os_str(),
    ]);

    assert_eq!(run.code, Some(1), "{}", run.describe());
    let first_line = run.stderr.lines().next().unwrap_or_default();
    assert_eq!(
        first_line,
        format!(
            "error: writing env {second}'s files under {}; those of {first} were written before it",
            dir.path().display()
        ),
        "{}",
        run.describe()
    );
    let written = rendered_files(dir.path());
    assert_eq!(
        written.len(),
        STACKS_PER_ENV,
        "only {first}'s files: {written:?}"
    );
    assert!(written.keys().all(|p| p.starts_with(first)), "{written:?}");
}
