//! The one place output goes. A [`Printer`] owns stdout and stderr, knows the format, whether
//! each stream gets colour, and how verbose to be, so those are decided once per run instead
//! of in every command (uv's `Printer` is the model).
//!
//! Data goes to stdout as a [`Report`]: a command builds a typed value that derives
//! `Serialize` for `--format json` (the printer adds the `format_version` envelope) and renders
//! itself as text, or markdown where it has a markdown form. Progress and diagnostics go to
//! stderr. Colour follows `anstream`'s rules for each stream: only on a terminal, never with
//! `NO_COLOR`, always with `CLICOLOR_FORCE`. Styles are `anstyle` values, never escapes written
//! by hand. The streams are shared handles, so the deploy's progress view and a prompt can
//! hold the same stderr, and tests can hand in buffers and run commands in-process.

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::sync::{Arc, Mutex, PoisonError};

use anstream::{AutoStream, ColorChoice};
use anstyle::{AnsiColor, Effects, Style};
use serde::Serialize;

use crate::cli::Format;

/// Version of every JSON document `ce` prints (the plan file has its own).
pub const FORMAT_VERSION: u32 = 1;

/// A command's data, printed to stdout in the format asked for.
pub trait Report: Serialize {
    /// Whether the JSON form gets the `{"format_version": 1, ...}` envelope; `false` for a
    /// report that is a versioned document of its own (the plan file).
    const ENVELOPE: bool = true;

    /// The text form.
    fn write_text(&self, out: &mut dyn Write, styles: Styles) -> io::Result<()>;

    /// The markdown form; the text form unless the report has one of its own.
    fn write_markdown(&self, out: &mut dyn Write) -> io::Result<()> {
        self.write_text(out, Styles::plain())
    }

    /// The mermaid flowchart, for a report that draws one (`ce graph`). Commands whose report
    /// draws none refuse `--format mermaid` before doing any work; this is the backstop.
    fn write_mermaid(&self, _out: &mut dyn Write) -> io::Result<()> {
        Err(no_diagram(Format::Mermaid))
    }

    /// The Graphviz DOT digraph, for a report that draws one; as [`Report::write_mermaid`].
    fn write_dot(&self, _out: &mut dyn Write) -> io::Result<()> {
        Err(no_diagram(Format::Dot))
    }
}

fn no_diagram(format: Format) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!(
            "this command draws no diagram; --format {} is for `ce graph`",
            format.as_str()
        ),
    )
}

/// The JSON envelope: the version first, then the report's own fields.
#[derive(Serialize)]
struct Envelope<'a, R> {
    format_version: u32,
    #[serde(flatten)]
    report: &'a R,
}

/// The styles text output uses, each empty when the stream gets no colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Styles {
    colour: bool,
}

impl Styles {
    /// No colour at all.
    pub fn plain() -> Self {
        Styles { colour: false }
    }

    /// Colour when `colour` says so.
    pub fn new(colour: bool) -> Self {
        Styles { colour }
    }

    /// Whether any style is applied.
    pub fn colour(self) -> bool {
        self.colour
    }

    /// `text` in `style`, or as it is without colour.
    pub fn paint(self, style: Style, text: &str) -> String {
        if self.colour {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    }

    /// Additions.
    pub fn green(self, text: &str) -> String {
        self.paint(AnsiColor::Green.on_default(), text)
    }

    /// Removals.
    pub fn red(self, text: &str) -> String {
        self.paint(AnsiColor::Red.on_default(), text)
    }

    /// Modifications.
    pub fn yellow(self, text: &str) -> String {
        self.paint(AnsiColor::Yellow.on_default(), text)
    }

    /// Replacements.
    pub fn magenta(self, text: &str) -> String {
        self.paint(AnsiColor::Magenta.on_default(), text)
    }

    /// What needs a person's attention: bold red.
    pub fn alarm(self, text: &str) -> String {
        self.paint(AnsiColor::Red.on_default().effects(Effects::BOLD), text)
    }

    /// Context that matters less.
    pub fn dim(self, text: &str) -> String {
        self.paint(Style::new().effects(Effects::DIMMED), text)
    }

    /// Headings.
    pub fn bold(self, text: &str) -> String {
        self.paint(Style::new().effects(Effects::BOLD), text)
    }
}

/// One output stream, shared: every clone writes to the same place, a line at a time.
#[derive(Clone)]
pub struct Stream {
    inner: Arc<Mutex<Box<dyn Write + Send>>>,
    colour: bool,
    terminal: bool,
}

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream")
            .field("colour", &self.colour)
            .field("terminal", &self.terminal)
            .finish_non_exhaustive()
    }
}

impl Stream {
    /// The process's stdout; colour follows its terminal and `NO_COLOR` / `CLICOLOR_FORCE`.
    pub fn stdout() -> Self {
        let raw = io::stdout();
        Stream::new(Box::new(io::stdout()), colour(&raw), raw.is_terminal())
    }

    /// The process's stderr, likewise.
    pub fn stderr() -> Self {
        let raw = io::stderr();
        Stream::new(Box::new(io::stderr()), colour(&raw), raw.is_terminal())
    }

    /// A writer that is not a terminal (a buffer, a file): colour only with `CLICOLOR_FORCE`.
    pub fn buffer(sink: Box<dyn Write + Send>) -> Self {
        Stream::new(sink, colour(&Vec::<u8>::new()), false)
    }

    /// A stream writing to `sink`; `terminal` says whether a person sees it as it is written.
    pub fn new(sink: Box<dyn Write + Send>, colour: bool, terminal: bool) -> Self {
        Stream {
            inner: Arc::new(Mutex::new(sink)),
            colour,
            terminal,
        }
    }

    /// Whether text written here may be coloured.
    pub fn styles(&self) -> Styles {
        Styles::new(self.colour)
    }

    /// Whether the stream is a terminal (a live view may redraw on it).
    pub fn is_terminal(&self) -> bool {
        self.terminal
    }

    fn with<T>(&self, f: impl FnOnce(&mut dyn Write) -> io::Result<T>) -> io::Result<T> {
        // A panic while writing leaves nothing half-done that matters: keep writing.
        let mut sink = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut **sink)
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.with(|sink| sink.write(buf))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.with(|sink| sink.write_all(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.with(|sink| sink.flush())
    }
}

/// Where a run's output goes, and how it looks.
#[derive(Clone, Debug)]
pub struct Printer {
    format: Format,
    verbose: bool,
    stdout: Stream,
    stderr: Stream,
}

impl Printer {
    /// A printer on `stdout` and `stderr`.
    pub fn new(format: Format, verbose: bool, stdout: Stream, stderr: Stream) -> Self {
        Printer {
            format,
            verbose,
            stdout,
            stderr,
        }
    }

    /// Text on the process's own stdout and stderr, for callers of the library outside a
    /// command (a test harness starting the sandbox).
    pub fn standard() -> Self {
        Printer::new(Format::Text, false, Stream::stdout(), Stream::stderr())
    }

    /// Whether `-v` asked for more detail on stderr.
    pub fn verbose(&self) -> bool {
        self.verbose
    }

    /// Whether stdout takes plain text (no `--format`, or `--format text`): what a command
    /// that only writes text (a unified diff) needs.
    pub fn writes_text(&self) -> bool {
        self.format == Format::Text
    }

    /// Whether data shown along the way ([`Printer::interim`]) reaches stdout: in every form
    /// but JSON, which tells the whole run once at the end.
    pub fn shows_interim(&self) -> bool {
        self.format != Format::Json
    }

    /// Whether progress may be drawn as a live view, redrawn in place on stderr: stderr is a
    /// terminal and the run writes text; a run writing JSON or markdown is read by a program
    /// or pasted somewhere, and gets plain progress lines.
    pub fn draws_live_view(&self) -> bool {
        self.stderr.is_terminal() && self.writes_text()
    }

    /// Data.
    pub fn stdout(&self) -> Stream {
        self.stdout.clone()
    }

    /// Progress, diagnostics and prompts.
    pub fn stderr(&self) -> Stream {
        self.stderr.clone()
    }

    /// Writes `report` to stdout in the printer's format.
    pub fn report<R: Report>(&self, report: &R) -> io::Result<()> {
        // Written whole into memory first, then to stdout at once: a line-buffered stdout
        // would otherwise make one write per line.
        let mut out = Vec::new();
        match self.format {
            Format::Json if R::ENVELOPE => write_json(
                &mut out,
                &Envelope {
                    format_version: FORMAT_VERSION,
                    report,
                },
            )?,
            Format::Json => write_json(&mut out, report)?,
            Format::Markdown => report.write_markdown(&mut out)?,
            Format::Text => report.write_text(&mut out, self.stdout.styles())?,
            Format::Mermaid => report.write_mermaid(&mut out)?,
            Format::Dot => report.write_dot(&mut out)?,
        }
        let mut stdout = self.stdout();
        stdout.write_all(&out)?;
        stdout.flush()
    }

    /// Writes `report` to stdout in the text forms only: data shown along the way (what is
    /// about to happen, before a question), which the JSON form tells whole at the end.
    pub fn interim<R: Report>(&self, report: &R) -> io::Result<()> {
        if self.shows_interim() {
            self.report(report)?;
        }
        Ok(())
    }

    /// A line on stderr.
    pub fn note(&self, text: impl fmt::Display) -> io::Result<()> {
        writeln!(self.stderr(), "{text}")
    }

    /// A line on stderr with `-v` only.
    pub fn detail(&self, text: impl fmt::Display) -> io::Result<()> {
        if self.verbose {
            self.note(text)?;
        }
        Ok(())
    }
}

/// Whether `raw` gets colour: `anstream`'s decision from its terminal, `NO_COLOR`,
/// `CLICOLOR_FORCE` and `TERM`.
fn colour<S: anstream::stream::RawStream>(raw: &S) -> bool {
    AutoStream::choice(raw) != ColorChoice::Never
}

/// `text` with control characters (newlines included) written as escapes, so text that came
/// from a user (an env name, a path) stays on the line it is printed on.
pub fn escape_control(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return text.into();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

/// What `report` prints in `format`, with no colour: for tests of a report's forms.
#[cfg(test)]
pub(crate) fn printed<R: Report>(report: &R, format: Format) -> String {
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let out = Buffer::default();
    let printer = Printer::new(
        format,
        false,
        Stream::new(Box::new(out.clone()), false, false),
        Stream::new(Box::new(io::sink()), false, false),
    );
    printer.report(report).expect("a report prints to a buffer");
    let bytes = out.0.lock().unwrap_or_else(PoisonError::into_inner).clone();
    String::from_utf8(bytes).expect("reports are UTF-8")
}

/// Pretty JSON with a trailing newline, written straight from the value (no intermediate
/// `serde_json::Value`).
fn write_json(out: &mut dyn Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(|e| match e.io_error_kind() {
        // Keep the kind: a closed pipe is not an error worth reporting.
        Some(kind) => io::Error::new(kind, e),
        None => io::Error::other(e),
    })?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Greeting {
        env: &'static str,
        stacks: u32,
    }

    impl Report for Greeting {
        fn write_text(&self, out: &mut dyn Write, styles: Styles) -> io::Result<()> {
            writeln!(out, "{} has {} stacks", styles.bold(self.env), self.stacks)
        }
    }

    /// A buffer a printer can own while the test keeps reading it.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn printer(format: Format, colour: bool) -> (Printer, Shared, Shared) {
        let (out, err) = (Shared::default(), Shared::default());
        let printer = Printer::new(
            format,
            false,
            Stream::new(Box::new(out.clone()), colour, false),
            Stream::new(Box::new(err.clone()), colour, false),
        );
        (printer, out, err)
    }

    #[test]
    fn json_reports_carry_the_format_version_first() {
        let (printer, out, err) = printer(Format::Json, false);

        printer
            .report(&Greeting {
                env: "beta",
                stacks: 5,
            })
            .unwrap();

        assert_eq!(
            out.text(),
            "{\n  \"format_version\": 1,\n  \"env\": \"beta\",\n  \"stacks\": 5\n}\n"
        );
        assert_eq!(err.text(), "");
    }

    #[test]
    fn text_reports_are_coloured_only_when_the_stream_may_be() {
        let (plain, out, _) = printer(Format::Text, false);
        plain
            .report(&Greeting {
                env: "beta",
                stacks: 5,
            })
            .unwrap();
        assert_eq!(out.text(), "beta has 5 stacks\n");

        let (coloured, out, _) = printer(Format::Text, true);
        coloured
            .report(&Greeting {
                env: "beta",
                stacks: 5,
            })
            .unwrap();
        assert_eq!(out.text(), "\u{1b}[1mbeta\u{1b}[0m has 5 stacks\n");
    }

    #[test]
    fn control_characters_in_user_input_are_escaped_onto_one_line() {
        assert_eq!(escape_control("staging"), "staging");
        assert_eq!(
            escape_control("a\nerror: b\t\u{1b}"),
            "a\\nerror: b\\t\\u{1b}"
        );
    }

    #[test]
    fn a_live_view_is_drawn_only_on_a_terminal_in_a_text_run() {
        let on = |format: Format, terminal: bool| {
            let printer = Printer::new(
                format,
                false,
                Stream::new(Box::new(io::sink()), false, false),
                Stream::new(Box::new(io::sink()), false, terminal),
            );
            (
                printer.draws_live_view(),
                printer.writes_text(),
                printer.shows_interim(),
            )
        };
        assert_eq!(on(Format::Text, true), (true, true, true));
        assert_eq!(on(Format::Text, false), (false, true, true));
        assert_eq!(on(Format::Json, true), (false, false, false));
        assert_eq!(on(Format::Markdown, true), (false, false, true));
    }

    #[test]
    fn details_reach_stderr_only_when_verbose() {
        let (quiet, _, err) = printer(Format::Text, false);
        quiet.detail("timing").unwrap();
        quiet.note("note").unwrap();
        assert_eq!(err.text(), "note\n");

        let (out, err) = (Shared::default(), Shared::default());
        let verbose = Printer::new(
            Format::Text,
            true,
            Stream::new(Box::new(out), false, false),
            Stream::new(Box::new(err.clone()), false, false),
        );
        verbose.detail("timing").unwrap();
        assert_eq!(err.text(), "timing\n");
    }
}
