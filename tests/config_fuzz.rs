//! Property tests of the env file loader: whatever text it is handed, `config::parse` returns
//! an env or a list of problems, never panics, and every problem names the file and a line
//! that exists in it.
//!
//! A bad config is one of the outages this tool exists to prevent, and the loader is the
//! first thing every command runs, so it is fed arbitrary bytes, arbitrary Unicode, TOML-ish
//! noise, and mutations of the real `envs/prod.toml` (lines deleted, duplicated or swapped,
//! values of the wrong type, Unicode inserted, huge numbers, deep nesting, truncation). The
//! runs are seeded, so a failure reproduces; each property prints how many inputs it tried
//! (`cargo test --test config_fuzz -- --nocapture`).

mod common;

use std::path::Path;

use ce_infra::config::{ConfigError, parse};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

/// The label every parse is given, which every problem must repeat.
const FILE: &str = "envs/prod.toml";

fn prod_text() -> String {
    std::fs::read_to_string(common::envs_dir().join("prod.toml")).expect("envs/prod.toml")
}

/// Lines as an editor counts them: a final newline starts one more (empty) line.
fn line_count(text: &str) -> usize {
    text.matches('\n').count() + 1
}

/// The loader's contract for one input.
fn check(name: &str, text: &str) -> Result<(), TestCaseError> {
    match parse(Path::new(FILE), name, text) {
        Ok(env) => {
            prop_assert_eq!(env.name.as_str(), name);
        }
        Err(ConfigError::Invalid(problems)) => {
            prop_assert!(!problems.is_empty(), "an empty problem list");
            let lines = line_count(text);
            for p in &problems {
                prop_assert_eq!(&p.file, FILE);
                prop_assert!(
                    (1..=lines).contains(&p.line),
                    "line {} outside 1..={lines}: {p}",
                    p.line
                );
                prop_assert!(!p.message.trim().is_empty(), "an empty message: {p:?}");
            }
            // The report a user reads is one problem per line.
            let report = ConfigError::Invalid(problems.clone()).to_string();
            prop_assert_eq!(report.lines().count(), problems.len() + 1, "{}", report);
        }
        Err(other) => prop_assert!(false, "not an Invalid error: {other}"),
    }
    Ok(())
}

/// Runs `property` on `cases` inputs from `strategy` with a fixed seed; returns the count.
fn run<S: Strategy>(
    what: &str,
    cases: u32,
    strategy: S,
    property: impl Fn(S::Value) -> Result<(), TestCaseError>,
) -> usize
where
    S::Value: std::fmt::Debug,
{
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let tried = std::cell::Cell::new(0usize);
    let result = runner.run(&strategy, |value| {
        tried.set(tried.get() + 1);
        property(value)
    });
    if let Err(e) = result {
        panic!("{what}: {e}");
    }
    eprintln!("config_fuzz: {what}: {} inputs tried", tried.get());
    tried.get()
}

#[test]
fn the_unmodified_prod_file_loads() {
    let text = prod_text();
    let env = parse(Path::new(FILE), "prod", &text).expect("envs/prod.toml is valid");
    assert_eq!(env.name.as_str(), "prod");
}

#[test]
fn arbitrary_bytes_never_panic_and_every_problem_has_a_real_line() {
    run(
        "arbitrary bytes",
        400,
        proptest::collection::vec(any::<u8>(), 0..2048),
        |bytes| check("prod", &String::from_utf8_lossy(&bytes)),
    );
}

#[test]
fn arbitrary_unicode_never_panics() {
    run("arbitrary unicode", 300, any::<String>(), |text| {
        check("prod", &text)
    });
}

#[test]
fn toml_shaped_noise_never_panics() {
    // Mostly TOML's own punctuation, so the parser gets past its first character.
    let noise = "[\\[\\]{}=\"'.,#\n a-z0-9_+\\-:]{0,400}";
    run("TOML-shaped noise", 300, noise, |text| check("prod", &text));
}

#[test]
fn any_env_name_is_either_accepted_or_reported_on_line_one() {
    let text = prod_text();
    run("arbitrary env names", 100, any::<String>(), |name| {
        check(&name, &text)
    });
}

#[test]
fn empty_and_blank_files_are_reported_not_loaded() {
    for text in ["", "\n", "   \n\t\n", "# only a comment\n", "\u{feff}"] {
        check("prod", text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert!(
            parse(Path::new(FILE), "prod", text).is_err(),
            "{text:?} loaded"
        );
    }
}

/// One change to the lines of an env file.
#[derive(Clone, Debug)]
enum Mutation {
    /// Remove a line.
    Delete(usize),
    /// Repeat a line right after itself.
    Duplicate(usize),
    /// Exchange two lines.
    Swap(usize, usize),
    /// Give the line's key a value of another type (or add a key with it).
    Retype(usize, String),
    /// Insert text (Unicode, controls) at a character of a line.
    Insert(usize, usize, String),
    /// Cut the file at a character.
    Truncate(usize),
}

/// Values of every TOML type, and then some that are not quite TOML.
fn values() -> impl Strategy<Value = String> {
    let depths = prop_oneof![1usize..120, 120usize..5000];
    let nested = depths.prop_flat_map(|depth| {
        prop_oneof![
            Just(format!("{}1{}", "[".repeat(depth), "]".repeat(depth))),
            Just(format!("{}1{}", "{a=".repeat(depth), "}".repeat(depth))),
        ]
    });
    prop_oneof![
        Just("\"text\"".to_owned()),
        Just("42".to_owned()),
        Just("-7".to_owned()),
        Just("2.5".to_owned()),
        Just("true".to_owned()),
        Just("1979-05-27T07:32:00Z".to_owned()),
        Just("[]".to_owned()),
        Just("[1, \"two\", 3.0]".to_owned()),
        Just("{ a = 1 }".to_owned()),
        Just("99999999999999999999999999999999".to_owned()),
        Just("9223372036854775807".to_owned()),
        Just("-9223372036854775808".to_owned()),
        Just("1e400".to_owned()),
        Just("nan".to_owned()),
        Just("-inf".to_owned()),
        Just("0xFFFFFFFFFFFFFFFF".to_owned()),
        Just("\"\u{202e}\u{0}\u{feff}é😀\"".to_owned()),
        Just(String::new()),
        "\\PC{0,12}",
        nested,
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let line = 0usize..200;
    prop_oneof![
        line.clone().prop_map(Mutation::Delete),
        line.clone().prop_map(Mutation::Duplicate),
        (line.clone(), line.clone()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        (line.clone(), values()).prop_map(|(l, v)| Mutation::Retype(l, v)),
        (
            line,
            0usize..80,
            prop_oneof![
                "\\PC{1,6}",
                Just("\u{0}".to_owned()),
                Just("\r".to_owned()),
                Just("\u{202e}".to_owned()),
                Just("\u{feff}".to_owned()),
                Just("\"".to_owned()),
                Just("\n[".to_owned()),
            ]
        )
            .prop_map(|(l, at, text)| Mutation::Insert(l, at, text)),
        (0usize..6000).prop_map(Mutation::Truncate),
    ]
}

/// Applies `m` to the lines; indices wrap around the current length.
fn apply(lines: &mut Vec<String>, m: &Mutation) {
    if lines.is_empty() {
        return;
    }
    let at = |i: usize| i % lines.len();
    match m {
        Mutation::Delete(i) => {
            lines.remove(at(*i));
        }
        Mutation::Duplicate(i) => {
            let i = at(*i);
            lines.insert(i + 1, lines[i].clone());
        }
        Mutation::Swap(a, b) => {
            let (a, b) = (at(*a), at(*b));
            lines.swap(a, b);
        }
        Mutation::Retype(i, value) => {
            let i = at(*i);
            match lines[i].split_once('=') {
                Some((key, _)) => lines[i] = format!("{key}= {value}"),
                None => lines.insert(i + 1, format!("injected = {value}")),
            }
        }
        Mutation::Insert(i, column, text) => {
            let i = at(*i);
            let line = &mut lines[i];
            let byte = line
                .char_indices()
                .map(|(b, _)| b)
                .nth(*column)
                .unwrap_or(line.len());
            line.insert_str(byte, text);
        }
        Mutation::Truncate(at_char) => {
            let text = lines.join("\n");
            let cut: String = text.chars().take(*at_char).collect();
            *lines = cut.split('\n').map(str::to_owned).collect();
        }
    }
}

#[test]
fn mutations_of_the_prod_file_never_panic_and_name_real_lines() {
    let text = prod_text();
    let original: Vec<String> = text.split('\n').map(str::to_owned).collect();
    run(
        "mutations of envs/prod.toml",
        900,
        proptest::collection::vec(mutation(), 1..5),
        |mutations| {
            let mut lines = original.clone();
            for m in &mutations {
                apply(&mut lines, m);
            }
            check("prod", &lines.join("\n"))
        },
    );
}
