//! User data of the web nodes: `templates/user-data.sh.hbs` (the variables, rendered) followed
//! by `templates/user-data-body.sh` (the boot logic, verbatim).
//!
//! Two layers fill the script in. Handlebars (strict mode: a missing value is an error, not an
//! empty string) writes what the env file knows: the env name and the paths on the node. The
//! template is fixed when `ce` is built, so handlebars compiles it then (`build.rs`) into its
//! text and the names of the values between, which [`header`] fills in; a test holds that to
//! handlebars' own rendering of the template, for every env.
//! CloudFormation's `Fn::Sub` writes what only it knows: the imported file system and bucket,
//! and pseudo parameters. Because `Fn::Sub` claims every `${...}`, the script must hold no
//! `${...}` besides those, so that a shell-style `${VAR}` fails the render or the tests instead
//! of the deploy: the header, which holds the env's values, is checked at every render; the
//! body is fixed when `ce` is built, so a test checks it, with every env's variables.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::Expr;
use crate::model::intrinsics::sub_variables;

use super::{Ctx, Export};

/// The header template as handlebars compiled it when `ce` was built: see `build.rs`.
const HEADER: &[Piece] = include!(concat!(env!("OUT_DIR"), "/user_data_header.rs"));

/// A piece of the compiled header template.
enum Piece {
    /// Text, written as it is.
    Text(&'static str),
    /// A `{{name}}`: the value of that name.
    Value(&'static str),
}

/// The boot logic after the variables: plain shell, appended verbatim.
const BODY: &str = include_str!("../../templates/user-data-body.sh");

/// Where a node mounts the EFS file system.
pub const EFS_MOUNT: &str = "/efs";
/// Options of the compilers' mount: read-only, TLS and IAM. The EFS mount helper adds the NFS
/// options AWS recommends (NFS 4.1, 1 MiB transfers, hard mounts, new port on reconnect).
pub const EFS_OPTIONS: &str = "tls,iam,ro";
/// Where a node mounts the cache access point, read-write.
pub const CACHE_MOUNT: &str = "/efs-cache";
/// Options of the cache mount; the script appends `accesspoint=<id>`.
pub const CACHE_OPTIONS: &str = "tls,iam";
/// The compilers' directory on EFS.
pub const COMPILERS_ON_EFS: &str = "/efs/compiler-explorer";
/// Where the app finds the compilers (a read-only bind of [`COMPILERS_ON_EFS`]).
pub const COMPILER_DIR: &str = "/opt/compiler-explorer";
/// Where the running build is unpacked; `s3_key` in it names the build.
pub const DEPLOY_DIR: &str = "/infra/.deploy";
/// Parent of each env's cached build on EFS (through the cache access point), the fallback
/// when S3 cannot be read.
pub const BUILD_CACHE_DIR: &str = CACHE_MOUNT;
/// The systemd unit of the app.
pub const SERVICE: &str = "compiler-explorer";

/// Pseudo parameters `Fn::Sub` resolves without a variable map.
const PSEUDO_PARAMETERS: [&str; 6] = [
    "AWS::AccountId",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
];

/// The user data template could not be rendered.
#[derive(Debug, thiserror::Error)]
#[error("user data template: {0}")]
pub struct UserDataError(pub String);

/// What handlebars fills in.
#[derive(Serialize)]
struct Values<'a> {
    env: &'a str,
    efs_mount: &'a str,
    efs_options: &'a str,
    cache_mount: &'a str,
    cache_options: &'a str,
    compilers_on_efs: &'a str,
    compiler_dir: &'a str,
    deploy_dir: &'a str,
    cache_dir: String,
    version_key: String,
    service: &'a str,
}

impl<'a> Values<'a> {
    fn for_env(env: &'a str) -> Self {
        Values {
            env,
            efs_mount: EFS_MOUNT,
            efs_options: EFS_OPTIONS,
            cache_mount: CACHE_MOUNT,
            cache_options: CACHE_OPTIONS,
            compilers_on_efs: COMPILERS_ON_EFS,
            compiler_dir: COMPILER_DIR,
            deploy_dir: DEPLOY_DIR,
            cache_dir: format!("{BUILD_CACHE_DIR}/{env}"),
            version_key: version_key(env),
            service: SERVICE,
        }
    }
}

/// The builds bucket key of an env's current-build pointer; its body is the tarball's key.
/// Nodes of a colour no release has pointed yet read it.
pub fn version_key(env: &str) -> String {
    format!("version/{env}")
}

/// The pointer a colour's nodes read at boot: `version/<env>/<colour>`.
pub fn colour_version_key(env: &str, colour: super::Colour) -> String {
    format!("version/{env}/{colour}")
}

/// The launch template's `UserData`: the rendered script in `Fn::Base64` of `Fn::Sub`.
pub(super) fn user_data(ctx: &Ctx<'_>) -> Result<Expr, UserDataError> {
    let mut script = header(&Values::for_env(ctx.env_name()))?;
    let variables = sub_variable_map(ctx);
    // The body is the same for every render and checked by a test; scanning its 7.5 KB for
    // `${` here cost 1.5% of `render --all`.
    check_sub_variables(&script, &variables)?;
    script.push_str(BODY);
    Ok(Expr::base64(Expr::SubWith(script, variables)))
}

/// The values CloudFormation substitutes, by the `${Name}` the script uses.
fn sub_variable_map(ctx: &Ctx<'_>) -> BTreeMap<String, Expr> {
    BTreeMap::from([
        (
            "BuildsBucket".to_owned(),
            ctx.import(Export::BuildsBucketName),
        ),
        ("FileSystemId".to_owned(), ctx.import(Export::FileSystemId)),
        (
            "CacheAccessPointId".to_owned(),
            ctx.import(Export::CacheAccessPointId),
        ),
    ])
}

/// The header: the compiled template's text with `values` filled in, strictly (a name with no
/// value is an error, as in handlebars' strict mode) and without escaping (the output is a
/// shell script). Text values are written as they are, numbers and booleans as JSON writes
/// them, as handlebars does.
fn header<T: Serialize>(values: &T) -> Result<String, UserDataError> {
    let values = serde_json::to_value(values).map_err(|e| UserDataError(e.to_string()))?;
    let mut script = String::with_capacity(1024);
    for piece in HEADER {
        match piece {
            Piece::Text(text) => script.push_str(text),
            Piece::Value(name) => match values.get(name) {
                Some(serde_json::Value::String(text)) => script.push_str(text),
                Some(value @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => {
                    script.push_str(&value.to_string());
                }
                _ => {
                    return Err(UserDataError(format!(
                        "templates/user-data.sh.hbs: no text value for {{{{{name}}}}}"
                    )));
                }
            },
        }
    }
    Ok(script)
}

#[cfg(test)]
const TEMPLATE_NAME: &str = "user-data";

/// A handlebars registry holding one template, in strict mode and without HTML escaping, as
/// the header is rendered.
#[cfg(test)]
fn registry(template: &str) -> Result<handlebars::Handlebars<'static>, UserDataError> {
    let mut registry = handlebars::Handlebars::new();
    registry.set_strict_mode(true);
    registry.register_escape_fn(handlebars::no_escape);
    registry
        .register_template_string(TEMPLATE_NAME, template)
        .map_err(|e| UserDataError(e.to_string()))?;
    Ok(registry)
}

/// Renders a template with handlebars itself, in strict mode.
#[cfg(test)]
fn render_script<T: Serialize>(template: &str, values: &T) -> Result<String, UserDataError> {
    registry(template)?
        .render(TEMPLATE_NAME, values)
        .map_err(|e| UserDataError(e.to_string()))
}

/// Every `${Name}` of the script is a given variable or a pseudo parameter.
fn check_sub_variables(
    script: &str,
    variables: &BTreeMap<String, Expr>,
) -> Result<(), UserDataError> {
    let unknown: Vec<String> = sub_variables(script)
        .filter(|name| !variables.contains_key(name) && !PSEUDO_PARAMETERS.contains(&name.as_str()))
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(UserDataError(format!(
            "Fn::Sub would try to resolve {}; write shell variables as $NAME",
            unknown
                .iter()
                .map(|n| format!("${{{n}}}"))
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};

    use super::*;

    fn rendered(env: &str) -> (String, BTreeMap<String, Expr>) {
        let env = crate::config::load(Path::new("envs"), env).unwrap();
        let ctx = Ctx { env: &env };
        match user_data(&ctx).unwrap() {
            Expr::Base64(inner) => match *inner {
                Expr::SubWith(script, vars) => (script, vars),
                other => panic!("user data is not Fn::Sub with variables: {other:?}"),
            },
            other => panic!("user data is not Fn::Base64: {other:?}"),
        }
    }

    #[test]
    fn body_is_plain_shell_without_template_expressions() {
        assert!(
            !BODY.contains("{{"),
            "handlebars in the verbatim body would never be rendered"
        );
    }

    /// The render checks only the header; this holds the whole script, the body with it, to
    /// the same rule for every env.
    #[test]
    fn every_sub_variable_is_given_or_a_pseudo_parameter() {
        let envs = crate::config::load_all(Path::new("envs")).expect("the envs load");
        assert!(!envs.is_empty());
        for env in envs.iter().map(|e| e.name.as_str()) {
            let (script, vars) = rendered(env);
            assert!(script.ends_with(BODY), "{env}: the body ends the script");
            let names: Vec<String> = sub_variables(&script).collect();
            assert!(names.contains(&"FileSystemId".to_owned()), "{env}");
            assert!(names.contains(&"BuildsBucket".to_owned()), "{env}");
            for name in names {
                assert!(
                    vars.contains_key(&name) || PSEUDO_PARAMETERS.contains(&name.as_str()),
                    "{env}: ${{{name}}} is neither a variable nor a pseudo parameter"
                );
            }
            check_sub_variables(&script, &vars).unwrap_or_else(|e| panic!("{env}: {e}"));
        }
    }

    #[test]
    fn every_given_variable_is_used() {
        let (script, vars) = rendered("staging");
        let used: Vec<String> = sub_variables(&script).collect();
        for name in vars.keys() {
            assert!(used.contains(name), "{name} is given but not used");
        }
    }

    #[test]
    fn variables_come_from_the_storage_stack_exports() {
        let (_, vars) = rendered("prod");
        assert_eq!(
            vars["FileSystemId"],
            Expr::import("ce-prod-storage-FileSystemId")
        );
        assert_eq!(
            vars["BuildsBucket"],
            Expr::import("ce-prod-storage-BuildsBucketName")
        );
        assert_eq!(
            vars["CacheAccessPointId"],
            Expr::import("ce-prod-storage-CacheAccessPointId")
        );
    }

    #[test]
    fn env_values_are_filled_in() {
        let (script, _) = rendered("staging");
        assert!(script.starts_with("#!/bin/bash\n"));
        assert!(script.contains("ENV_NAME='staging'"));
        assert!(script.contains("VERSION_KEY='version/staging'"));
        assert!(script.contains("CACHE_DIR='/efs-cache/staging'"));
        assert!(script.contains("EFS_OPTIONS='tls,iam,ro'"));
        assert!(script.contains("CACHE_OPTIONS=\"tls,iam,accesspoint=$CACHE_ACCESS_POINT\""));
        assert!(script.contains(EFS_OPTIONS));
        assert!(
            !script.contains("{{"),
            "unrendered handlebars left in the script"
        );
    }

    #[test]
    fn script_is_strict_and_falls_back_to_the_efs_cache() {
        let (script, _) = rendered("prod");
        assert!(script.contains("set -euo pipefail"));
        assert!(script.contains("boot_from_cache \"S3 unavailable: cannot read"));
        assert!(script.contains("systemctl start \"$SERVICE\""));
    }

    #[test]
    fn script_fits_the_user_data_limit() {
        let (script, _) = rendered("prod");
        // EC2 takes at most 16 KiB of user data before base64.
        assert!(script.len() < 16 * 1024, "{} bytes", script.len());
    }

    /// The header compiled when `ce` was built renders as handlebars renders the template
    /// itself, for every env.
    #[test]
    fn the_compiled_header_renders_as_handlebars_renders_the_template() {
        let template = include_str!("../../templates/user-data.sh.hbs");
        let envs = crate::config::load_all(Path::new("envs")).unwrap();
        assert!(!envs.is_empty());
        for env in &envs {
            let values = Values::for_env(env.name.as_str());
            assert_eq!(
                header(&values).unwrap(),
                render_script(template, &values).unwrap(),
                "{}",
                env.name
            );
        }
        assert!(HEADER.iter().any(|p| matches!(p, Piece::Value("env"))));
    }

    /// Strict, as handlebars' strict mode: a name with no value fails, as does one whose
    /// value is not text (or a number or boolean); numbers are written as JSON writes them.
    #[test]
    fn a_name_without_a_text_value_is_an_error() {
        let mut values = serde_json::to_value(Values::for_env("beta")).unwrap();
        let mut set = |value: Option<serde_json::Value>| {
            let object = values.as_object_mut().unwrap();
            match value {
                Some(value) => object.insert("deploy_dir".into(), value),
                None => object.remove("deploy_dir"),
            };
            values.clone()
        };
        let err = header(&set(None)).unwrap_err().to_string();
        assert!(err.contains("{{deploy_dir}}"), "{err}");
        let err = header(&set(Some(serde_json::json!(["a"]))))
            .unwrap_err()
            .to_string();
        assert!(err.contains("{{deploy_dir}}"), "{err}");
        let values = set(Some(serde_json::json!(42)));
        assert!(header(&values).unwrap().contains("DEPLOY_DIR='42'"));
        assert_eq!(
            header(&values).unwrap(),
            render_script(include_str!("../../templates/user-data.sh.hbs"), &values).unwrap()
        );
    }

    #[test]
    fn missing_value_is_an_error_in_strict_mode() {
        let err = render_script("x={{nope}}", &Values::for_env("beta")).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn values_are_not_html_escaped() {
        let out = render_script("{{v}}", &serde_json::json!({"v": "a&b<c>'d'"})).unwrap();
        assert_eq!(out, "a&b<c>'d'");
    }

    #[test]
    fn shell_style_braces_are_rejected() {
        let err =
            check_sub_variables("echo ${HOME} ${AWS::Region} ${!x}", &BTreeMap::new()).unwrap_err();
        assert!(err.to_string().contains("${HOME}"), "{err}");
        assert!(!err.to_string().contains("AWS::Region"), "{err}");
    }

    /// What CloudFormation hands the instance: the Sub variables replaced by sample values.
    fn as_deployed(script: &str) -> String {
        script
            .replace("${AWS::Region}", "us-east-1")
            .replace("${AWS::URLSuffix}", "amazonaws.com")
            .replace("${FileSystemId}", "fs-0123456789abcdef0")
            .replace("${BuildsBucket}", "compiler-explorer-prod-builds")
            .replace("${CacheAccessPointId}", "fsap-0123456789abcdef0")
    }

    #[test]
    fn deployed_script_is_valid_bash() {
        let (script, _) = rendered("prod");
        let script = as_deployed(&script);
        assert!(!script.contains("${"));
        require_tools(&["bash"]);
        let mut child = Command::new("bash")
            .arg("-n")
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start bash -n");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "bash -n: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs the deployed script with its paths moved under `root` and `aws`, `mount`,
    /// `mountpoint`, `systemctl`, `logger` and `sleep` replaced by stubs; S3 is the `s3`
    /// directory, and is down while `s3-down` exists. Returns whether the script succeeded.
    fn boot(sandbox: &Path) -> bool {
        let root = sandbox.join("root").display().to_string();
        let (script, _) = rendered("prod");
        let script = as_deployed(&script)
            .replace("'/efs", &format!("'{root}/efs"))
            .replace("'/opt/", &format!("'{root}/opt/"))
            .replace("'/infra", &format!("'{root}/infra"))
            .replace("/etc/fstab", &format!("{root}/fstab"))
            .replace("tee /dev/console", &format!("tee -a {root}/console"));
        std::fs::write(sandbox.join("user-data.sh"), script).unwrap();
        let path = format!(
            "{}:{}",
            sandbox.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Command::new("bash")
            .arg(sandbox.join("user-data.sh"))
            .env("PATH", path)
            .env("SANDBOX", sandbox)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn stub(sandbox: &Path, name: &str, body: &str) {
        use std::os::unix::fs::PermissionsExt;
        let file = sandbox.join("bin").join(name);
        std::fs::write(&file, format!("#!/bin/bash\n{body}\n")).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// Fails the test, naming the install command, when a tool the boot tests run is missing:
    /// a test that skipped itself would pass without checking anything.
    fn require_tools(tools: &[&str]) {
        let missing: Vec<&str> = tools
            .iter()
            .copied()
            .filter(|t| Command::new(t).arg("--version").output().is_err())
            .collect();
        assert!(
            missing.is_empty(),
            "the user-data tests run {}, which {} not installed; install with: \
             apt-get install -y {}",
            missing.join(", "),
            if missing.len() == 1 { "is" } else { "are" },
            missing.join(" ")
        );
    }

    fn sandbox() -> tempfile::TempDir {
        require_tools(&["bash", "tar", "gzip"]);
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for sub in ["bin", "root", "s3/version", "s3/dist/gh/main", "app"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        std::fs::write(d.join("app/app.js"), "build 1\n").unwrap();
        let tarball = d.join("s3/dist/gh/main/1.tar.gz");
        assert!(
            Command::new("tar")
                .args([
                    "-czf",
                    &tarball.display().to_string(),
                    "-C",
                    &d.join("app").display().to_string(),
                    "."
                ])
                .status()
                .unwrap()
                .success()
        );
        std::fs::write(d.join("s3/version/prod"), "dist/gh/main/1.tar.gz\n").unwrap();
        stub(
            d,
            "aws",
            r#"[ -e "$SANDBOX/s3-down" ] && exit 255
src="${@: -2:1}"; key="${src#s3://*/}"
cp "$SANDBOX/s3/$key" "${@: -1}""#,
        );
        stub(
            d,
            "mount",
            r#"mkdir -p "${@: -1}" && touch "${@: -1}/.mounted""#,
        );
        stub(d, "mountpoint", r#"[ -e "${@: -1}/.mounted" ]"#);
        stub(d, "systemctl", r#"echo "$*" >>"$SANDBOX/systemctl""#);
        stub(
            d,
            "logger",
            r#"[ $# -gt 2 ] && echo "$*" >>"$SANDBOX/alarms"; cat >/dev/null"#,
        );
        stub(d, "sleep", "exit 0");
        // Instance metadata: the token, then the Colour tag when `colour` exists.
        stub(
            d,
            "curl",
            r#"case "$*" in *api/token*) echo token ;; *tags/instance/Colour*) cat "$SANDBOX/colour" 2>/dev/null || exit 22 ;; *) exit 22 ;; esac"#,
        );
        stub(d, "mount.efs", "exit 0");
        dir
    }

    fn read(path: PathBuf) -> String {
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn boot_installs_the_current_build_and_caches_it_on_efs() {
        let dir = sandbox();
        let d = dir.path();
        assert!(boot(d));
        let root = d.join("root");
        assert_eq!(
            read(root.join("infra/.deploy/s3_key")),
            "dist/gh/main/1.tar.gz\n"
        );
        assert_eq!(read(root.join("infra/.deploy/source")), "s3\n");
        assert_eq!(read(root.join("infra/.deploy/app.js")), "build 1\n");
        let cache = root.join("efs-cache/prod");
        assert_eq!(read(cache.join("current")), "dist/gh/main/1.tar.gz\n");
        assert!(cache.join("dist_gh_main_1.tar.gz").is_file());
        assert_eq!(read(d.join("systemctl")), "start compiler-explorer\n");
    }

    #[test]
    fn s3_outage_boots_the_cached_build_and_says_so() {
        let dir = sandbox();
        let d = dir.path();
        assert!(boot(d));
        // A fresh node (nothing installed) boots while S3 is down.
        std::fs::remove_dir_all(d.join("root/infra")).unwrap();
        std::fs::write(d.join("s3-down"), "").unwrap();
        assert!(boot(d));
        let deploy = d.join("root/infra/.deploy");
        assert_eq!(read(deploy.join("s3_key")), "dist/gh/main/1.tar.gz\n");
        assert_eq!(read(deploy.join("source")), "efs-cache\n");
        assert_eq!(read(deploy.join("app.js")), "build 1\n");
        assert!(read(d.join("alarms")).contains("S3 unavailable"));
        assert_eq!(read(d.join("systemctl")).lines().count(), 2);
    }

    fn build(d: &Path, n: u32) {
        std::fs::write(d.join("app/app.js"), format!("build {n}\n")).unwrap();
        let tarball = d.join(format!("s3/dist/gh/main/{n}.tar.gz"));
        assert!(
            Command::new("tar")
                .args(["-czf", &tarball.display().to_string(), "-C"])
                .arg(d.join("app"))
                .arg(".")
                .status()
                .unwrap()
                .success()
        );
    }

    #[test]
    fn a_node_boots_its_colours_build_not_the_other_colours() {
        let dir = sandbox();
        let d = dir.path();
        build(d, 2);
        std::fs::create_dir_all(d.join("s3/version/prod")).ok();
        // `version/prod` is a file in the sandbox's S3; the colour pointers sit beside it
        // under another directory name, as S3 keys may.
        std::fs::remove_file(d.join("s3/version/prod")).ok();
        std::fs::create_dir_all(d.join("s3/version/prod")).unwrap();
        std::fs::write(d.join("s3/version/prod/blue"), "dist/gh/main/1.tar.gz\n").unwrap();
        std::fs::write(d.join("s3/version/prod/green"), "dist/gh/main/2.tar.gz\n").unwrap();
        std::fs::write(d.join("colour"), "green").unwrap();
        assert!(boot(d));
        let deploy = d.join("root/infra/.deploy");
        assert_eq!(read(deploy.join("s3_key")), "dist/gh/main/2.tar.gz\n");
        assert_eq!(read(deploy.join("app.js")), "build 2\n");
        let cache = d.join("root/efs-cache/prod/green");
        assert_eq!(read(cache.join("current")), "dist/gh/main/2.tar.gz\n");
    }

    #[test]
    fn a_colour_without_a_pointer_boots_the_envs_build() {
        let dir = sandbox();
        let d = dir.path();
        std::fs::write(d.join("colour"), "blue").unwrap();
        assert!(boot(d));
        let deploy = d.join("root/infra/.deploy");
        assert_eq!(read(deploy.join("s3_key")), "dist/gh/main/1.tar.gz\n");
    }

    #[test]
    fn s3_outage_without_any_cached_build_fails_the_boot() {
        let dir = sandbox();
        let d = dir.path();
        std::fs::write(d.join("s3-down"), "").unwrap();
        assert!(!boot(d));
        assert!(!d.join("systemctl").exists());
        assert!(read(d.join("alarms")).contains("the node cannot serve"));
    }
}
