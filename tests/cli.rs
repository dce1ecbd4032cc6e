//! The command line as a contract: usage errors exit 1 (clap's own 2 would read as "changes"
//! to CI), only `--help` and `--version` exit 0, every error is one `error:` line plus its
//! causes with user input kept on that line, advice never points at a file it would
//! overwrite, and the shell completions and manual page are generated from the same flags.
//! Offline throughout; most runs are in-process, the exit-code ones go through the binary.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{Run, run_ce, run_in_process};

/// The lines of stderr that start with `error:`.
fn error_lines(run: &Run) -> Vec<&str> {
    run.stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect()
}

#[test]
fn a_mistyped_flag_exits_1_not_2_with_one_error_line_and_the_suggestion() {
    let run = run_ce(["diff", "--stak", "compute"]);

    assert_eq!(run.code, Some(1), "{}", run.describe());
    assert_eq!(
        error_lines(&run),
        ["error: unexpected argument '--stak' found"],
        "{}",
        run.describe()
    );
    assert!(run.stderr.contains("'--stack'"), "{}", run.describe());
    assert!(run.stdout.is_empty(), "{}", run.describe());
}

#[test]
fn a_missing_subcommand_an_unknown_command_or_a_bad_value_exits_1() {
    // A missing command is one usage error naming the commands to choose from.
    for (args, expected) in [
        (
            &[][..],
            "error: `ce` needs a command, one of: render, validate, diff, plan, deploy, ",
        ),
        (&["builds"], "error: `ce builds` needs a command, one of: "),
        (
            &["--env", "prod", "builds"],
            "error: `ce builds` needs a command, one of: list, set-current, ",
        ),
        (
            &["blue-green"],
            "error: `ce blue-green` needs a command, one of: status, ",
        ),
        (
            &["sandbox", "-v"],
            "error: `ce sandbox` needs a command, one of: start, ",
        ),
        // A flag's value is not a command, wherever the flag stands.
        (
            &["--env", "builds", "-v"],
            "error: `ce` needs a command, one of: render,",
        ),
        (
            &["--format=json", "blue-green", "--env", "sandbox"],
            "error: `ce blue-green` needs a command, one of: ",
        ),
    ] {
        let run = run_ce(args);
        assert_eq!(run.code, Some(1), "{args:?}: {}", run.describe());
        let lines: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: {}", run.describe());
        assert!(
            lines[0].starts_with(expected),
            "{args:?}: {}",
            run.describe()
        );
        let path = expected.split('`').nth(1).expect("the command named");
        assert!(
            lines[0].ends_with(&format!("; see `{path} --help`")),
            "{args:?}: {}",
            run.describe()
        );
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.describe());
    }
    // Every command `ce builds` lists is one it takes.
    let run = run_ce(["builds"]);
    let listed = run.stderr.split("one of: ").nth(1).expect("a list");
    let listed = listed.split(';').next().expect("the list ends");
    assert!(listed.contains("set-current"), "{}", run.describe());
    assert!(
        !listed.contains("set_current"),
        "no aliases: {}",
        run.describe()
    );
    for command in listed.split(", ") {
        let help = run_in_process(["builds", command, "--help"]);
        assert_eq!(help.code, Some(0), "{command}: {}", help.describe());
    }
    for args in [&["frobnicate"][..], &["--format", "yaml", "render"]] {
        let run = run_ce(args);
        assert_eq!(run.code, Some(1), "{args:?}: {}", run.describe());
        assert_eq!(error_lines(&run).len(), 1, "{args:?}: {}", run.describe());
        assert!(
            run.stderr.starts_with("error:"),
            "{args:?}: {}",
            run.describe()
        );
    }
}

#[test]
fn help_and_version_exit_0_on_stdout() {
    for args in [
        &["--help"][..],
        &["-h"],
        &["diff", "--help"],
        &["--version"],
    ] {
        let run = run_ce(args);
        assert_eq!(run.code, Some(0), "{args:?}: {}", run.describe());
        assert!(!run.stdout.is_empty(), "{args:?}: {}", run.describe());
        assert!(run.stderr.is_empty(), "{args:?}: {}", run.describe());
    }
    let version = run_ce(["--version"]);
    assert_eq!(
        version.stdout,
        format!("ce {}\n", env!("CARGO_PKG_VERSION"))
    );
}

/// Output into a pipe nobody reads any more (`ce render --all | head -1`, after `head` is
/// gone) ends the run quietly with exit 0: SIGPIPE is ignored, so the write fails with
/// EPIPE, which `ce` takes as the end of its output instead of being killed by the signal.
#[test]
fn output_into_a_closed_pipe_ends_quietly_with_exit_0() {
    let out = tempfile::tempdir().expect("temp dir");
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let output = Command::new(env!("CARGO_BIN_EXE_ce"))
        .args(["render", "--all", "--out"])
        .arg(out.path())
        .current_dir(common::crate_root())
        .stdin(Stdio::null())
        .stdout(writer)
        .output()
        .expect("ce runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{:?}: {stderr}",
        output.status
    );
    assert!(stderr.is_empty(), "{stderr}");
    // The work was done: only the report was cut short.
    assert_eq!(
        common::rendered_files(out.path()),
        common::rendered_files(&common::stacks_dir())
    );
}

#[test]
fn in_process_runs_give_the_binarys_exit_codes() {
    assert_eq!(run_in_process(["diff", "--stak", "compute"]).code, Some(1));
    assert_eq!(run_in_process(["--version"]).code, Some(0));
    assert_eq!(run_in_process(["validate", "--all"]).code, Some(0));
}

#[test]
fn a_newline_in_the_env_name_stays_on_the_one_error_line() {
    let run = run_in_process(["--env", "staging\nerror: injected", "render"]);

    assert_eq!(run.code, Some(1), "{}", run.describe());
    let errors = error_lines(&run);
    assert_eq!(errors.len(), 1, "{}", run.describe());
    assert!(
        errors[0].contains(r"staging\nerror: injected"),
        "{}",
        run.describe()
    );
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.describe());
}

#[test]
fn a_newline_in_a_bad_flag_value_stays_on_the_one_error_line() {
    let run = run_in_process(["diff", "--stack", "compute\nerror: injected"]);

    assert_eq!(run.code, Some(1), "{}", run.describe());
    let errors = error_lines(&run);
    assert_eq!(errors.len(), 1, "{}", run.describe());
    assert!(errors[0].contains("unknown stack"), "{}", run.describe());
    assert!(
        errors[0].contains(r"compute\nerror: injected"),
        "{}",
        run.describe()
    );
}

#[test]
fn a_newline_in_a_plan_path_stays_on_the_one_error_line() {
    let run = run_in_process(["plan", "--show", "missing\nerror: injected.json"]);

    assert_eq!(run.code, Some(1), "{}", run.describe());
    assert_eq!(error_lines(&run).len(), 1, "{}", run.describe());
    assert!(
        run.stderr.contains(r"missing\nerror: injected.json"),
        "{}",
        run.describe()
    );
}

#[test]
fn a_committed_template_given_as_a_plan_is_named_and_never_suggested_as_output() {
    let template = "stacks/staging/network.json";
    for args in [
        &["--env", "staging", "deploy", "--yes", "--plan", template][..],
        &["plan", "--show", template],
    ] {
        let run = run_in_process(args);

        assert_eq!(run.code, Some(1), "{args:?}: {}", run.describe());
        let errors = error_lines(&run);
        assert_eq!(errors.len(), 1, "{args:?}: {}", run.describe());
        assert!(
            errors[0].contains("is a CloudFormation template, not a ce plan file"),
            "{}",
            run.describe()
        );
        assert!(
            !run.stderr.contains(&format!("--out {template}")),
            "the advice would overwrite a committed template: {}",
            run.describe()
        );
    }
}

/// The visible subcommands of a built command, without clap's own `help`.
fn subcommand_names(command: &clap::Command) -> Vec<&str> {
    command
        .get_subcommands()
        .filter(|c| c.get_name() != "help" && !c.is_hide_set())
        .map(clap::Command::get_name)
        .collect()
}

/// The whole command tree, built: the commands' arguments are deferred until then.
fn built_command_tree() -> clap::Command {
    let mut root = <ce_infra::cli::Cli as clap::CommandFactory>::command();
    root.build();
    root
}

/// Every command that takes a subcommand, given none, says so in one `error:` line naming
/// all of them (a command added without `arg_required_else_help = false` would print its
/// whole help instead).
#[test]
fn every_command_without_its_subcommand_is_one_error_line() {
    fn walk(command: &clap::Command, path: &mut Vec<String>, found: &mut Vec<Vec<String>>) {
        if command.has_subcommands() {
            found.push(path.clone());
        }
        for sub in command.get_subcommands().filter(|c| c.get_name() != "help") {
            path.push(sub.get_name().to_owned());
            walk(sub, path, found);
            path.pop();
        }
    }
    let root = built_command_tree();
    let mut found = Vec::new();
    walk(&root, &mut Vec::new(), &mut found);
    assert!(found.len() >= 5, "{found:?}");
    for path in found {
        let run = run_in_process(path.iter().map(String::as_str));
        let command = path
            .iter()
            .try_fold(&root, |parent, name| parent.find_subcommand(name))
            .expect("the walked path exists");
        let shown = std::iter::once("ce")
            .chain(path.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        let expected = format!(
            "error: `{shown}` needs a command, one of: {}; see `{shown} --help`\n",
            subcommand_names(command).join(", ")
        );
        assert_eq!(run.code, Some(1), "{path:?}: {}", run.describe());
        assert_eq!(run.stderr, expected, "{path:?}: {}", run.describe());
    }
}

/// A command's arguments are built only when it runs (`defer`); what is built then must not
/// replace the description its parent lists (an `Args` struct's or an action enum's doc
/// comment would): every command's about in `ce --help` is the one in its own help.
#[test]
fn every_command_keeps_its_own_description_once_built() {
    /// Each command's path with its about and long about.
    type Described = (String, (String, Option<String>));
    fn abouts(command: &clap::Command, path: &str, found: &mut Vec<Described>) {
        for sub in command.get_subcommands().filter(|c| c.get_name() != "help") {
            let path = format!("{path} {}", sub.get_name());
            let about = sub.get_about().map(ToString::to_string).unwrap_or_default();
            let long = sub.get_long_about().map(ToString::to_string);
            found.push((path.clone(), (about, long)));
            abouts(sub, &path, found);
        }
    }
    let unbuilt = <ce_infra::cli::Cli as clap::CommandFactory>::command();
    let mut listed = Vec::new();
    abouts(&unbuilt, "ce", &mut listed);
    let mut built = Vec::new();
    abouts(&built_command_tree(), "ce", &mut built);
    // The unbuilt tree holds the commands and their actions (the names the parent's help and
    // the missing-command error list) but not the actions' arguments.
    assert!(listed.len() >= 25, "{listed:?}");
    for (path, about) in &listed {
        assert!(!about.0.is_empty(), "{path} has no description");
        let once_built = built.iter().find(|(p, _)| p == path).map(|(_, a)| a);
        assert_eq!(once_built, Some(about), "{path}");
    }
}

#[test]
fn completion_scripts_are_generated_for_bash_zsh_and_fish() {
    for shell in ["bash", "zsh", "fish"] {
        let run = run_in_process(["completions", shell]);
        assert_eq!(run.code, Some(0), "{shell}: {}", run.describe());
        for command in ["render", "deploy", "instances", "completions"] {
            assert!(run.stdout.contains(command), "{shell} lacks {command}");
        }
    }
    let zsh = run_in_process(["completions", "zsh"]);
    assert!(zsh.stdout.starts_with("#compdef ce"), "{}", zsh.stdout);
}

#[test]
fn the_bash_completion_script_parses_in_bash() {
    let run = run_in_process(["completions", "bash"]);
    let mut bash = Command::new("bash")
        .arg("-n")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash runs (apt-get install bash)");
    bash.stdin
        .take()
        .expect("stdin")
        .write_all(run.stdout.as_bytes())
        .expect("script written to bash");
    let checked = bash.wait_with_output().expect("bash finishes");
    assert!(
        checked.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&checked.stderr)
    );
}

#[test]
fn the_manual_page_names_every_command_and_renders_with_groff() {
    let run = run_in_process(["man"]);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert!(run.stdout.contains(".TH ce 1"), "{}", run.stdout);
    for command in [
        "render",
        "validate",
        "diff",
        "plan",
        "deploy",
        "instances",
        "builds",
        "status",
        "destroy",
        "sandbox",
        "completions",
        "man",
    ] {
        assert!(
            run.stdout.contains(&format!("ce\\-{command}"))
                || run.stdout.contains(&format!("{command}(1)")),
            "the manual lacks {command}: {}",
            run.stdout
        );
    }
    groff_renders_cleanly(&run.stdout);
}

#[test]
fn every_command_gets_a_manual_page_of_its_own_with_out() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = run_in_process(["man".as_ref(), "--out".as_ref(), dir.path().as_os_str()]);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    for page in [
        "ce.1",
        "ce-deploy.1",
        "ce-builds-set-current.1",
        "ce-sandbox-start.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page))
            .unwrap_or_else(|e| panic!("{page}: {e}"));
        groff_renders_cleanly(&text);
    }
}

/// groff formats the page without a warning.
fn groff_renders_cleanly(page: &str) {
    let mut groff = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("groff runs (apt-get install groff-base)");
    groff
        .stdin
        .take()
        .expect("stdin")
        .write_all(page.as_bytes())
        .expect("page written to groff");
    let rendered = groff.wait_with_output().expect("groff finishes");
    assert!(rendered.status.success(), "groff failed");
    assert_eq!(
        String::from_utf8_lossy(&rendered.stderr),
        "",
        "groff warned about the page"
    );
}

#[test]
fn a_missing_env_directory_is_named_once_with_where_to_run_or_how_to_name_it() {
    let empty = tempfile::tempdir().expect("tempdir");
    let missing = empty.path().join("no-envs");
    let expected = format!(
        "error: no env directory {}; run ce from the repository root or name the \
         directory with --envs-dir (or CE_ENVS_DIR)",
        missing.display()
    );
    let dir = missing.display().to_string();
    for args in [
        vec!["--envs-dir", &dir, "render", "--all"],
        vec!["--envs-dir", &dir, "--env", "staging", "render"],
        vec!["--envs-dir", &dir, "validate", "--all"],
    ] {
        let run = run_in_process(args.clone());
        assert_eq!(run.code, Some(1), "{args:?}: {}", run.describe());
        assert_eq!(
            run.stderr.trim_end(),
            expected,
            "{args:?}: {}",
            run.describe()
        );
    }
}

#[test]
fn an_unreadable_env_file_says_which_file_once_and_the_os_error_as_its_cause() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A directory named like an env file cannot be read as one, whoever runs the test.
    std::fs::create_dir(dir.path().join("staging.toml")).expect("mkdir");
    let envs = dir.path().display().to_string();
    let run = run_in_process(["--envs-dir", &envs, "--env", "staging", "render"]);

    assert_eq!(run.code, Some(1), "{}", run.describe());
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(format!("error: cannot read {envs}/staging.toml").as_str()),
        "{}",
        run.describe()
    );
    assert_eq!(lines.len(), 2, "{}", run.describe());
    assert!(lines[1].starts_with("  caused by: "), "{}", run.describe());
    assert!(lines[1].contains("directory"), "{}", run.describe());
}

#[test]
fn an_env_name_that_no_env_file_can_have_is_refused_before_any_file_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let envs = dir.path().join("envs");
    std::fs::create_dir(&envs).expect("envs");
    std::fs::copy(
        format!("{}/envs/staging.toml", env!("CARGO_MANIFEST_DIR")),
        envs.join("staging.toml"),
    )
    .expect("staging.toml");
    // `envs/a` is a file, so `a/b.toml` would fail with "not a directory"; `../outside` names
    // a file beside the env directory, which must not be loaded as an env; `Staging.toml`
    // exists, but no env can be named so.
    std::fs::write(envs.join("a"), "").expect("file a");
    std::fs::write(dir.path().join("outside.toml"), "region = \"us-east-1\"\n").expect("outside");
    std::fs::write(envs.join("Staging.toml"), "region = \"us-east-1\"\n").expect("Staging");
    let envs = envs.display().to_string();
    let long = "x".repeat(300);
    for name in [
        "a/b",
        "../outside",
        "Staging",
        "a\nerror: injected",
        long.as_str(),
    ] {
        let run = run_in_process(["--envs-dir", &envs, "--env", name, "render"]);

        assert_eq!(run.code, Some(1), "{name:?}: {}", run.describe());
        assert_eq!(
            run.stderr.lines().count(),
            1,
            "{name:?}: {}",
            run.describe()
        );
        assert!(
            run.stderr
                .starts_with(&format!("error: invalid env name {name:?}: use 1-20")),
            "{name:?}: {}",
            run.describe()
        );
        assert!(
            run.stderr.trim_end().ends_with("; known envs: staging"),
            "{name:?}: {}",
            run.describe()
        );
    }
}

/// What a 64-bit little-endian ELF executable asks of the system at start: whether it names a
/// loader (`PT_INTERP`), and how many shared libraries its dynamic section needs (`DT_NEEDED`
/// entries; a static-pie has a dynamic section for its own relocations, and needs none).
fn loader_and_needed(elf: &[u8]) -> (bool, usize) {
    const PT_DYNAMIC: u32 = 2;
    const PT_INTERP: u32 = 3;
    const DT_NEEDED: u64 = 1;
    let bytes = |at: usize, n: usize| elf.get(at..at + n).expect("a truncated ELF file");
    let u16_at = |at| u16::from_le_bytes(bytes(at, 2).try_into().expect("2 bytes"));
    let u32_at = |at| u32::from_le_bytes(bytes(at, 4).try_into().expect("4 bytes"));
    let u64_at = |at| u64::from_le_bytes(bytes(at, 8).try_into().expect("8 bytes"));
    let usize_at = |at| usize::try_from(u64_at(at)).expect("an offset in the file");
    assert_eq!(
        bytes(0, 6),
        b"\x7fELF\x02\x01",
        "a 64-bit little-endian ELF file"
    );
    let (offset, size, count) = (usize_at(0x20), usize::from(u16_at(0x36)), u16_at(0x38));
    let (mut loader, mut needed) = (false, 0);
    for header in (0..usize::from(count)).map(|n| offset + n * size) {
        match u32_at(header) {
            PT_INTERP => loader = true,
            PT_DYNAMIC => {
                // p_offset and p_filesz; each entry is a tag and a value, 8 bytes each.
                let (start, length) = (usize_at(header + 8), usize_at(header + 32));
                needed += (start..start + length)
                    .step_by(16)
                    .map(u64_at)
                    .take_while(|&tag| tag != 0)
                    .filter(|&tag| tag == DT_NEEDED)
                    .count();
            }
            _ => {}
        }
    }
    (loader, needed)
}

/// `build.rs` links `ce` statically when the C compiler has glibc's static archives, by
/// giving the linker scripts in place of the shared libraries the standard library names. A
/// shared library nobody gave a script for (a new dependency's `#[link]`) would be linked
/// into a program without a loader, which crashes at start: such a build fails here.
#[cfg(all(
    target_os = "linux",
    target_pointer_width = "64",
    target_endian = "little"
))]
#[test]
fn the_binary_is_linked_as_the_build_chose_and_starts() {
    let binary = std::fs::read(env!("CARGO_BIN_EXE_ce")).expect("reading the ce binary");
    let (loader, needed) = loader_and_needed(&binary);
    match env!("CE_LINKED") {
        "static" => {
            assert!(!loader, "a static ce asks for a loader");
            assert_eq!(
                needed, 0,
                "a static ce needs shared libraries: the linker found one build.rs gave no \
                 static archive for"
            );
        }
        "dynamic" => {
            assert!(loader, "a dynamic ce without a loader");
            assert!(needed > 0, "a dynamic ce that needs no shared library");
        }
        other => panic!("CE_LINKED={other}, expected static or dynamic"),
    }
    let version = run_ce(["--version"]);
    assert_eq!(version.code, Some(0), "{}", version.describe());
}
