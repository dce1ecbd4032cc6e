//! The local sandbox: moto in server mode on 127.0.0.1, the AWS that `--local` talks to.
//!
//! moto is a Python program, so the first start creates a venv under the state directory and
//! installs the pinned `moto[server]` into it, showing one progress line (pip's own output goes
//! to a log beside the venv, named if the install fails). The server runs detached
//! in its own process group and outlives the command that started it; `sandbox.json` in the
//! state directory records where it is, and every command checks that record against the
//! living process before trusting it. Starting and stopping hold a lock on the state directory,
//! so two `ce` processes never start two servers. What it has to say along the way (starting,
//! waiting for a lock, installing) goes to the caller's [`Printer`]'s stderr, so a run
//! in-process keeps it with the rest of its output.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::printer::Printer;

/// The project's pinned Python requirements; the sandbox installs the moto line of it.
const REQUIREMENTS: &str = include_str!("../../scripts/python-requirements.txt");

/// How long a fresh server may take to answer; moto imports Flask and every backend first.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a stopped server may take to exit before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How many free ports to try when another program takes the chosen one first.
const PORT_ATTEMPTS: usize = 3;

/// The pinned `moto[server]==X` requirement.
pub fn moto_requirement() -> &'static str {
    REQUIREMENTS
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with("moto"))
        // A unit test checks the file has the line; this keeps the tool working if it goes.
        .unwrap_or("moto[server]==5.2.5")
}

/// Why the sandbox could not be started, stopped or inspected.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// Neither `CE_STATE_DIR`, `XDG_STATE_HOME` nor `HOME` is set.
    #[error("no state directory for the sandbox: set CE_STATE_DIR (or HOME)")]
    NoStateDir,
    /// A file operation failed.
    #[error("could not {what}: {source}")]
    Io {
        /// What was being done, e.g. "write /x/sandbox.json".
        what: String,
        /// The cause.
        source: io::Error,
    },
    /// No Python interpreter to build the venv with.
    #[error(
        "{python} not found; the sandbox runs moto in a Python venv: install Python 3.9 or newer \
         with venv (Debian: apt-get install python3 python3-venv), or set PYTHON"
    )]
    NoPython {
        /// The interpreter looked for.
        python: String,
    },
    /// The interpreter is too old or cannot make venvs.
    #[error("{python} cannot create the sandbox's venv: {detail}")]
    UnusablePython {
        /// The interpreter.
        python: String,
        /// What it lacks, with the package to install.
        detail: String,
    },
    /// pip failed.
    #[error(
        "installing {requirement} into {venv} failed: {last_line}; pip's whole output is in \
         {log}. Is PyPI reachable? Delete {venv} to start over"
    )]
    PipFailed {
        /// The requirement.
        requirement: String,
        /// The venv.
        venv: String,
        /// The log holding pip's output.
        log: String,
        /// The last line pip printed (usually its reason).
        last_line: String,
    },
    /// The port asked for is taken.
    #[error("port {0} on 127.0.0.1 is in use; choose another with --port, or omit it")]
    PortInUse(u16),
    /// The server exited while starting.
    #[error("moto_server exited while starting ({status}); its log {log} ends:\n{tail}")]
    ServerExited {
        /// Its exit status.
        status: String,
        /// Its log file.
        log: String,
        /// The last lines of the log.
        tail: String,
    },
    /// The server never answered.
    #[error(
        "moto_server did not answer on {endpoint} within {}s; see {log}",
        READY_TIMEOUT.as_secs()
    )]
    NotAnswering {
        /// Where it was asked.
        endpoint: String,
        /// Its log file.
        log: String,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> SandboxError {
    let what = what.into();
    move |source| SandboxError::Io { what, source }
}

/// Where the sandbox keeps its venv, record, log and lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// The state directory.
    pub state: PathBuf,
    /// The venv holding moto.
    pub venv: PathBuf,
    /// The interpreter that creates the venv.
    pub python: String,
}

impl Paths {
    /// From the environment: `CE_STATE_DIR`, else `$XDG_STATE_HOME/ce-infra`, else
    /// `~/.local/state/ce-infra`; the venv is `<state>/venv` unless `CE_SANDBOX_VENV` names one;
    /// the interpreter is `$PYTHON` or `python3`.
    pub fn from_env() -> Result<Self, SandboxError> {
        Self::from_vars(|key| std::env::var_os(key).filter(|v| !v.is_empty()))
    }

    /// As [`Paths::from_env`], with the variables looked up by `var`.
    pub fn from_vars(
        var: impl Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Result<Self, SandboxError> {
        let absolute = |key: &str| var(key).map(PathBuf::from).filter(|p| p.is_absolute());
        let state = if let Some(dir) = var("CE_STATE_DIR") {
            PathBuf::from(dir)
        } else if let Some(dir) = absolute("XDG_STATE_HOME") {
            dir.join("ce-infra")
        } else if let Some(home) = absolute("HOME") {
            home.join(".local/state/ce-infra")
        } else {
            return Err(SandboxError::NoStateDir);
        };
        let venv = var("CE_SANDBOX_VENV").map_or_else(|| state.join("venv"), PathBuf::from);
        let python = var("PYTHON").map_or_else(
            || "python3".to_owned(),
            |p| p.to_string_lossy().into_owned(),
        );
        Ok(Paths {
            state,
            venv,
            python,
        })
    }

    /// The record of the running server.
    pub fn record(&self) -> PathBuf {
        self.state.join("sandbox.json")
    }

    /// The server's log.
    pub fn log(&self) -> PathBuf {
        self.state.join("moto.log")
    }

    fn lock(&self) -> PathBuf {
        self.state.join("sandbox.lock")
    }
}

/// Where a started server is: written to `sandbox.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Its process id (also its process group).
    pub pid: u32,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// When it started, in seconds since the Unix epoch.
    pub started_at: u64,
}

impl Record {
    /// The URL clients use.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The start time as RFC 3339.
    pub fn started_at_rfc3339(&self) -> String {
        use aws_sdk_cloudformation::primitives::{DateTime, DateTimeFormat};
        let secs = i64::try_from(self.started_at).unwrap_or(i64::MAX);
        DateTime::from_secs(secs)
            .fmt(DateTimeFormat::DateTime)
            .unwrap_or_else(|_| self.started_at.to_string())
    }
}

/// What `status` finds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// The recorded server is alive and answering.
    Running(Record),
    /// A record whose server is gone or not answering (a crash, a reboot, a reused pid).
    Stale(Record),
    /// No record.
    Stopped,
}

impl State {
    /// The state's name in output.
    pub fn name(&self) -> &'static str {
        match self {
            State::Running(_) => "running",
            State::Stale(_) => "stale",
            State::Stopped => "stopped",
        }
    }
}

/// Reads the record and checks it against the living process.
pub fn status(paths: &Paths) -> Result<State, SandboxError> {
    let record = match read_record(paths)? {
        Some(r) => r,
        None => return Ok(State::Stopped),
    };
    Ok(if is_our_server(record.pid) && answers(record.port) {
        State::Running(record)
    } else {
        State::Stale(record)
    })
}

/// How `start` went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Started {
    /// A server was already running.
    AlreadyRunning(Record),
    /// A new server was started.
    New(Record),
}

impl Started {
    /// The server's record either way.
    pub fn record(&self) -> &Record {
        match self {
            Started::AlreadyRunning(r) | Started::New(r) => r,
        }
    }
}

/// Starts the server unless it runs; installs moto first if needed. The server listens on the
/// `requested` port, or on a free one.
pub fn start(
    paths: &Paths,
    requested: Option<u16>,
    printer: &Printer,
) -> Result<Started, SandboxError> {
    fs::create_dir_all(&paths.state)
        .map_err(io_err(format!("create {}", paths.state.display())))?;
    let _lock = lock(
        &paths.lock(),
        "another ce is starting or stopping the sandbox",
        printer,
    )?;
    match status(paths)? {
        State::Running(record) => return Ok(Started::AlreadyRunning(record)),
        State::Stale(record) => {
            note(
                printer,
                format_args!(
                    "sandbox: replacing a stale record (pid {} is not an answering sandbox)",
                    record.pid
                ),
            );
            // A server that lives but no longer answers would only hold its port.
            if is_our_server(record.pid) {
                terminate(record.pid);
            }
            remove_record(paths)?;
        }
        State::Stopped => {}
    }
    let server = ensure_venv(&paths.venv, &paths.python, printer)?;
    if let Some(port) = requested
        && !port_free(port)
    {
        return Err(SandboxError::PortInUse(port));
    }
    let begun = Instant::now();
    let mut attempts = 0;
    let record = loop {
        attempts += 1;
        let port = match requested {
            Some(p) => p,
            None => free_port().map_err(io_err("find a free port on 127.0.0.1"))?,
        };
        match launch(paths, &server, port) {
            Ok(record) => break record,
            // Another program took the chosen port before moto bound it: choose again.
            Err(SandboxError::ServerExited { tail, .. }) if port_taken_in(&tail) => {
                if requested.is_none() && attempts < PORT_ATTEMPTS {
                    continue;
                }
                return Err(SandboxError::PortInUse(port));
            }
            Err(e) => return Err(e),
        }
    };
    write_record(paths, &record)?;
    note(
        printer,
        format_args!(
            "sandbox: moto listening on {} (started in {:.1}s; log {})",
            record.endpoint(),
            begun.elapsed().as_secs_f64(),
            paths.log().display()
        ),
    );
    Ok(Started::New(record))
}

/// Returns the running server, starting it if needed: what `--local` calls.
pub fn ensure_running(paths: &Paths, printer: &Printer) -> Result<Record, SandboxError> {
    if let State::Running(record) = status(paths)? {
        return Ok(record);
    }
    note(
        printer,
        "sandbox: not running; starting it (stop it with `ce sandbox stop`)",
    );
    start(paths, None, printer).map(|s| s.record().clone())
}

/// How `stop` went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// The server was stopped.
    Stopped(Record),
    /// Only a stale record was removed.
    StaleRemoved(Record),
    /// Nothing was running.
    NotRunning,
}

/// Stops the server (its whole process group) and removes the record.
pub fn stop(paths: &Paths, printer: &Printer) -> Result<Stopped, SandboxError> {
    if !paths.state.exists() {
        return Ok(Stopped::NotRunning);
    }
    let _lock = lock(
        &paths.lock(),
        "another ce is starting or stopping the sandbox",
        printer,
    )?;
    let Some(record) = read_record(paths)? else {
        return Ok(Stopped::NotRunning);
    };
    let outcome = if is_our_server(record.pid) {
        terminate(record.pid);
        Stopped::Stopped(record)
    } else {
        Stopped::StaleRemoved(record)
    };
    remove_record(paths)?;
    Ok(outcome)
}

/// Makes sure `venv` holds the pinned moto; returns its `moto_server`.
pub fn ensure_venv(venv: &Path, python: &str, printer: &Printer) -> Result<PathBuf, SandboxError> {
    let server = venv.join("bin/moto_server");
    let stamp = venv.join(".ce-sandbox-requirement");
    let requirement = moto_requirement();
    let ready = || {
        // A venv whose interpreter was removed has a dangling bin/python.
        fs::metadata(venv.join("bin/python")).is_ok()
            && server.is_file()
            && fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == requirement)
    };
    if ready() {
        return Ok(server);
    }
    if let Some(parent) = venv.parent() {
        fs::create_dir_all(parent).map_err(io_err(format!("create {}", parent.display())))?;
    }
    let _lock = lock(
        &venv_lock(venv),
        "another process is installing into the venv",
        printer,
    )?;
    if ready() {
        return Ok(server);
    }
    check_python(python)?;
    let begun = Instant::now();
    // One line while it works, finished with how it went; pip and venv write to a log that
    // is named if they fail, instead of sixty lines of pip's progress on the terminal.
    let mut stderr = printer.stderr();
    let _ = write!(
        stderr,
        "sandbox: installing {requirement} into {} (from PyPI; about a minute the first \
         time)...",
        venv.display()
    );
    let _ = stderr.flush();
    let log_path = install_log(venv);
    let installed = install(venv, python, requirement, &stamp, &log_path);
    let _ = match &installed {
        Ok(()) => writeln!(stderr, " done in {:.0}s", begun.elapsed().as_secs_f64()),
        Err(_) => writeln!(stderr, " failed"),
    };
    installed.map(|()| server)
}

/// Where the install writes pip's output: beside the venv, so deleting the venv to start over
/// keeps the log of what went wrong.
fn install_log(venv: &Path) -> PathBuf {
    let mut name = venv.file_name().unwrap_or_default().to_owned();
    name.push(".install.log");
    venv.with_file_name(name)
}

/// Creates the venv if needed and installs `requirement` into it, writing every line the tools
/// print to `log_path`; writes the stamp when done.
fn install(
    venv: &Path,
    python: &str,
    requirement: &str,
    stamp: &Path,
    log_path: &Path,
) -> Result<(), SandboxError> {
    let log = File::create(log_path).map_err(io_err(format!("create {}", log_path.display())))?;
    let output = |log: &File| -> Result<(Stdio, Stdio), SandboxError> {
        let clone = || {
            log.try_clone()
                .map_err(io_err(format!("write {}", log_path.display())))
        };
        Ok((Stdio::from(clone()?), Stdio::from(clone()?)))
    };
    if fs::metadata(venv.join("bin/python")).is_err() {
        let (stdout, stderr) = output(&log)?;
        let status = Command::new(python)
            .args(["-m", "venv", "--clear"])
            .arg(venv)
            .stdout(stdout)
            .stderr(stderr)
            .status()
            .map_err(io_err(format!("run {python} -m venv")))?;
        if !status.success() {
            return Err(SandboxError::UnusablePython {
                python: python.to_owned(),
                detail: format!(
                    "`{python} -m venv {}` failed ({status}; its output is in {}); Debian: \
                     apt-get install python3-venv",
                    venv.display(),
                    log_path.display()
                ),
            });
        }
    }
    let _ = fs::remove_file(stamp);
    let (stdout, stderr) = output(&log)?;
    let status = Command::new(venv.join("bin/python"))
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--progress-bar",
            "off",
        ])
        .arg(requirement)
        .stdout(stdout)
        .stderr(stderr)
        .status()
        .map_err(io_err(format!("run pip in {}", venv.display())))?;
    if !status.success() || !venv.join("bin/moto_server").is_file() {
        return Err(SandboxError::PipFailed {
            requirement: requirement.to_owned(),
            venv: venv.display().to_string(),
            log: log_path.display().to_string(),
            last_line: last_line(log_path),
        });
    }
    fs::write(stamp, format!("{requirement}\n"))
        .map_err(io_err(format!("write {}", stamp.display())))
}

/// The last non-blank line of a log, for an error message (pip ends with its reason).
fn last_line(log: &Path) -> String {
    fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("(pip printed nothing)")
        .chars()
        .filter(|c| !c.is_control())
        .collect()
}

fn check_python(python: &str) -> Result<(), SandboxError> {
    let probe = |code: &str| {
        Command::new(python)
            .args(["-c", code])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
    };
    let unusable = |detail: &str| SandboxError::UnusablePython {
        python: python.to_owned(),
        detail: detail.to_owned(),
    };
    match probe("import sys; sys.exit(sys.version_info < (3, 9))") {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(SandboxError::NoPython {
            python: python.to_owned(),
        }),
        Err(e) => Err(io_err(format!("run {python}"))(e)),
        Ok(s) if !s.success() => Err(unusable("moto needs Python 3.9 or newer")),
        Ok(_) => match probe("import venv, ensurepip") {
            Ok(s) if s.success() => Ok(()),
            _ => Err(unusable(
                "its venv/ensurepip modules are missing (Debian: apt-get install python3-venv)",
            )),
        },
    }
}

/// Starts one server on `port` and waits until it answers.
fn launch(paths: &Paths, server: &Path, port: u16) -> Result<Record, SandboxError> {
    let log_path = paths.log();
    let log = File::create(&log_path).map_err(io_err(format!("create {}", log_path.display())))?;
    let log_err = log
        .try_clone()
        .map_err(io_err(format!("open {}", log_path.display())))?;
    let child = Command::new(server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        // Its own group: a Ctrl-C meant for `ce` must not reach it, and stop kills the group.
        .process_group(0)
        .spawn()
        .map_err(io_err(format!("start {}", server.display())))?;
    let pid = child.id();
    let record = Record {
        pid,
        port,
        started_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    wait_ready(child, port, &log_path)?;
    Ok(record)
}

fn wait_ready(mut child: Child, port: u16, log: &Path) -> Result<(), SandboxError> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(SandboxError::ServerExited {
                status: status.to_string(),
                log: log.display().to_string(),
                tail: log_tail(log),
            });
        }
        if answers(port) {
            // Reap it if it ever exits while this process still runs (tests start several).
            std::thread::spawn(move || child.wait());
            return Ok(());
        }
        if Instant::now() > deadline {
            terminate(child.id());
            let _ = child.wait();
            return Err(SandboxError::NotAnswering {
                endpoint: format!("http://127.0.0.1:{port}"),
                log: log.display().to_string(),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn port_taken_in(log_tail: &str) -> bool {
    log_tail.contains("Address already in use") || log_tail.contains("is in use by another program")
}

fn log_tail(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

/// Whether a moto server answers on the port: its config endpoint returns 2xx (201, in fact).
fn answers(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!(
        "GET /moto-api/config HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut status_line = String::new();
    let answered = BufReader::new(&mut stream)
        .read_line(&mut status_line)
        .is_ok();
    answered
        && status_line.starts_with("HTTP/1.")
        && status_line
            .split(' ')
            .nth(1)
            .is_some_and(|code| code.starts_with('2'))
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

fn port_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

fn read_record(paths: &Paths) -> Result<Option<Record>, SandboxError> {
    let path = paths.record();
    let mut text = String::new();
    match File::open(&path) {
        Ok(mut f) => f
            .read_to_string(&mut text)
            .map_err(io_err(format!("read {}", path.display())))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(format!("read {}", path.display()))(e)),
    };
    // A corrupt record describes no server anyone can reach: it reads as stale (pid 0).
    Ok(serde_json::from_str(&text).ok().or(Some(Record {
        pid: 0,
        port: 0,
        started_at: 0,
    })))
}

fn write_record(paths: &Paths, record: &Record) -> Result<(), SandboxError> {
    let path = paths.record();
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(record).unwrap_or_default();
    fs::write(&tmp, text + "\n").map_err(io_err(format!("write {}", tmp.display())))?;
    fs::rename(&tmp, &path).map_err(io_err(format!("write {}", path.display())))
}

fn remove_record(paths: &Paths) -> Result<(), SandboxError> {
    match fs::remove_file(paths.record()) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(io_err(format!("remove {}", paths.record().display()))(e))
        }
        _ => Ok(()),
    }
}

/// Whether `pid` is a live moto server (not a zombie, not a reused pid).
fn is_our_server(pid: u32) -> bool {
    if pid == 0 || !alive(pid) {
        return false;
    }
    match fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => String::from_utf8_lossy(&cmdline).contains("moto_server"),
        // Without /proc, trust a live pid; `answers` still checks it is moto on the port.
        Err(_) => true,
    }
}

fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let exists = unsafe { libc::kill(pid, 0) } == 0
        || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    let zombie = fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit(')')
                .next()
                .map(|rest| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false);
    exists && !zombie
}

/// Sends SIGTERM to the server's process group, then SIGKILL if it has not exited in time.
fn terminate(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: plain syscalls on a pid this module started; a negative pid names its group.
    let signal = |sig| unsafe {
        if libc::getpgid(pid) == pid {
            libc::kill(-pid, sig);
        } else {
            libc::kill(pid, sig);
        }
    };
    signal(libc::SIGTERM);
    let deadline = Instant::now() + STOP_GRACE;
    while alive(pid as u32) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if alive(pid as u32) {
        signal(libc::SIGKILL);
    }
}

/// An exclusive lock on `path`, held until the file is dropped; says so when it must wait.
fn lock(path: &Path, waiting_for: &str, printer: &Printer) -> Result<File, SandboxError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io_err(format!("open {}", path.display())))?;
    let fd = file.as_raw_fd();
    // SAFETY: flock on a descriptor this function owns; released when `file` closes.
    if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        note(printer, format_args!("sandbox: {waiting_for}; waiting"));
        // SAFETY: as above, blocking this time.
        if unsafe { libc::flock(fd, libc::LOCK_EX) } != 0 {
            return Err(io_err(format!("lock {}", path.display()))(
                io::Error::last_os_error(),
            ));
        }
    }
    Ok(file)
}

/// A progress line on stderr. Failing to write one must not stop the sandbox (a closed stderr
/// still leaves stdout and the exit code), so the error is dropped here.
fn note(printer: &Printer, text: impl std::fmt::Display) {
    let _ = printer.note(text);
}

/// The venv's install lock: the same file scripts/python-tools.sh locks, so the two never
/// install into one venv at once.
fn venv_lock(venv: &Path) -> PathBuf {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(venv.as_os_str().as_encoded_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    std::env::temp_dir().join(format!("ce-infra-venv.{}.lock", &hex[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let pairs: Vec<(String, OsString)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        move |key| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }

    #[test]
    fn the_moto_requirement_is_the_exact_pin_from_the_requirements_file() {
        assert!(REQUIREMENTS.lines().any(|l| l.trim() == moto_requirement()));
        assert_eq!(moto_requirement(), "moto[server]==5.2.5");
    }

    #[test]
    fn ce_state_dir_wins_over_xdg_and_home() {
        let paths = Paths::from_vars(vars(&[
            ("CE_STATE_DIR", "/s"),
            ("XDG_STATE_HOME", "/x"),
            ("HOME", "/h"),
        ]))
        .expect("paths");
        assert_eq!(paths.state, PathBuf::from("/s"));
        assert_eq!(paths.venv, PathBuf::from("/s/venv"));
        assert_eq!(paths.record(), PathBuf::from("/s/sandbox.json"));
        assert_eq!(paths.python, "python3");
    }

    #[test]
    fn xdg_state_home_then_home_locate_the_state_dir() {
        let xdg = Paths::from_vars(vars(&[("XDG_STATE_HOME", "/x"), ("HOME", "/h")])).expect("xdg");
        assert_eq!(xdg.state, PathBuf::from("/x/ce-infra"));
        let home = Paths::from_vars(vars(&[("XDG_STATE_HOME", "relative"), ("HOME", "/h")]))
            .expect("home");
        assert_eq!(home.state, PathBuf::from("/h/.local/state/ce-infra"));
    }

    #[test]
    fn no_state_dir_at_all_says_which_variable_to_set() {
        let err = Paths::from_vars(vars(&[])).expect_err("nothing set");
        assert!(err.to_string().contains("CE_STATE_DIR"));
    }

    #[test]
    fn the_venv_and_interpreter_can_be_chosen() {
        let paths = Paths::from_vars(vars(&[
            ("CE_STATE_DIR", "/s"),
            ("CE_SANDBOX_VENV", "/v"),
            ("PYTHON", "/usr/bin/python3.12"),
        ]))
        .expect("paths");
        assert_eq!(paths.venv, PathBuf::from("/v"));
        assert_eq!(paths.python, "/usr/bin/python3.12");
    }

    #[test]
    fn a_record_names_its_endpoint_and_start_time() {
        let record = Record {
            pid: 7,
            port: 4566,
            started_at: 86_400,
        };
        assert_eq!(record.endpoint(), "http://127.0.0.1:4566");
        assert_eq!(record.started_at_rfc3339(), "1970-01-02T00:00:00Z");
    }

    #[test]
    fn werkzeugs_port_conflict_message_is_recognised() {
        assert!(port_taken_in(
            "Address already in use\nPort 5000 is in use by another program."
        ));
        assert!(!port_taken_in(
            "ModuleNotFoundError: No module named 'flask'"
        ));
    }

    #[test]
    fn a_port_where_nothing_speaks_http_does_not_answer() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let port = listener.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            // Accept and hang up without a word.
            let _ = listener.accept();
        });
        assert!(!answers(port));
    }

    #[test]
    fn the_venv_lock_is_the_one_python_tools_sh_takes() {
        // printf '%s' /repo/.venv | sha256sum | cut -c1-16
        let lock = venv_lock(Path::new("/repo/.venv"));
        let name = lock.file_name().and_then(|n| n.to_str()).expect("name");
        assert_eq!(name, "ce-infra-venv.0159161a3744ae73.lock");
    }
}
