//! What a person watching a deploy sees while CloudFormation works, and how often it is asked.
//!
//! On a terminal a live view redraws one line per stack (status, resources in progress,
//! elapsed time); anywhere else each new stack event becomes one timestamped line, so CI logs
//! read as a record. Events come from DescribeStackEvents, of which only the events not seen
//! before are shown. Polling starts at once (the sandbox finishes instantly), then waits 2 s,
//! growing to 10 s while nothing happens, so a long deploy never hammers the API.
//!
//! The view is drawn here rather than with `indicatif`: it is a handful of rows redrawn once a
//! second, on the printer's stderr stream (which tests capture and a prompt shares), and held
//! still while a prompt waits; `indicatif` draws from its own ticker on its own handle to the
//! terminal, and would bring `console` and `unicode-width` for what is two cursor escapes
//! (up one line, erase it). Event times are seconds of the UTC day, which needs no calendar.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashSet};
use std::convert::Infallible;
use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::api::{StackApi, StackEvent};
use super::timing::Timing;
use crate::aws::AwsError;

/// First delay between polls.
pub const FIRST_DELAY: Duration = Duration::from_secs(2);
/// Longest delay between polls.
pub const MAX_DELAY: Duration = Duration::from_secs(10);
/// Pages of events read per poll at most; more than this many events between two polls are
/// summarised by the status.
const MAX_EVENT_PAGES: usize = 5;

/// Delays between polls: none before the first, then from [`FIRST_DELAY`] growing by half each
/// time up to [`MAX_DELAY`]; [`Backoff::reset`] goes back to the first delay after activity.
#[derive(Clone, Debug)]
pub struct Backoff {
    next: Option<Duration>,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

impl Backoff {
    /// A schedule whose first poll is immediate.
    pub fn new() -> Self {
        Backoff { next: None }
    }

    /// The delay before the next poll.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next.unwrap_or(Duration::ZERO);
        let grown = match self.next {
            None => FIRST_DELAY,
            Some(d) => (d + d / 2).min(MAX_DELAY),
        };
        self.next = Some(grown);
        delay
    }

    /// Something happened: poll again soon, but never sooner than [`FIRST_DELAY`].
    pub fn reset(&mut self) {
        if self.next.is_some() {
            self.next = Some(FIRST_DELAY);
        }
    }
}

/// Remembers which events of a stack were already shown.
#[derive(Clone, Debug, Default)]
pub struct EventTracker {
    seen: HashSet<String>,
}

impl EventTracker {
    /// Marks the stack's current events as seen, so only what happens next is shown.
    pub async fn baseline<A: StackApi>(
        &mut self,
        api: &A,
        timing: &Timing,
        stack: &str,
    ) -> Result<(), AwsError> {
        let page = timing.aws(api.stack_events(stack, None)).await?;
        self.seen.extend(page.events.into_iter().map(|e| e.id));
        Ok(())
    }

    /// The events not seen before, oldest first.
    pub async fn poll<A: StackApi>(
        &mut self,
        api: &A,
        timing: &Timing,
        stack: &str,
    ) -> Result<Vec<StackEvent>, AwsError> {
        let mut fresh = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_EVENT_PAGES {
            let page = timing
                .aws(api.stack_events(stack, token.as_deref()))
                .await?;
            let mut reached_seen = false;
            for event in page.events {
                if self.seen.contains(&event.id) {
                    reached_seen = true;
                    break;
                }
                fresh.push(event);
            }
            match page.next {
                Some(next) if !reached_seen => token = Some(next),
                _ => break,
            }
        }
        self.seen.extend(fresh.iter().map(|e| e.id.clone()));
        fresh.reverse();
        Ok(fresh)
    }
}

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A live view redrawn in place (stderr is a terminal).
    Live,
    /// One timestamped line per event.
    Lines,
}

/// One stack's line in the view.
#[derive(Clone, Debug)]
struct Row {
    phase: String,
    status: String,
    busy: BTreeSet<String>,
    since: Instant,
    ended: Option<Duration>,
    executing: bool,
}

/// The progress view shared by every stack of a deploy; all its output goes to one sink
/// (stderr in the command).
pub struct Progress {
    mode: Mode,
    sink: RefCell<Box<dyn Write>>,
    rows: RefCell<Vec<(String, Row)>>,
    drawn: Cell<usize>,
    held: Cell<bool>,
}

impl Progress {
    /// A view writing to `sink`.
    pub fn new(mode: Mode, sink: Box<dyn Write>) -> Self {
        Progress {
            mode,
            sink: RefCell::new(sink),
            rows: RefCell::new(Vec::new()),
            drawn: Cell::new(0),
            held: Cell::new(false),
        }
    }

    fn update(&self, stack: &str, change: impl FnOnce(&mut Row)) {
        {
            let mut rows = self.rows.borrow_mut();
            let index = match rows.iter().position(|(name, _)| name == stack) {
                Some(i) => i,
                None => {
                    let row = Row {
                        phase: String::new(),
                        status: String::new(),
                        busy: BTreeSet::new(),
                        since: Instant::now(),
                        ended: None,
                        executing: false,
                    };
                    rows.push((stack.to_owned(), row));
                    rows.len() - 1
                }
            };
            change(&mut rows[index].1);
        }
        self.redraw();
    }

    /// What the tool is doing for a stack, e.g. "creating change set".
    pub fn phase(&self, stack: &str, phase: &str) {
        if self.mode == Mode::Lines {
            self.line(&format!("{}  {stack}  {phase}", clock(now_ms())));
        }
        self.update(stack, |row| phase.clone_into(&mut row.phase));
    }

    /// CloudFormation is now running an operation on the stack (for the Ctrl-C message).
    pub fn executing(&self, stack: &str, executing: bool) {
        self.update(stack, |row| row.executing = executing);
    }

    /// The stack is done: its last phase, and its elapsed time stops.
    pub fn finish(&self, stack: &str, phase: &str) {
        if self.mode == Mode::Lines {
            self.line(&format!("{}  {stack}  {phase}", clock(now_ms())));
        }
        self.update(stack, |row| {
            phase.clone_into(&mut row.phase);
            row.executing = false;
            row.ended = Some(row.since.elapsed());
        });
    }

    /// The stack's latest status.
    pub fn status(&self, stack: &str, status: &str) {
        self.update(stack, |row| status.clone_into(&mut row.status));
    }

    /// A new stack event: a line of its own, or an update of the live view.
    pub fn event(&self, stack: &str, event: &StackEvent) {
        if self.mode == Mode::Lines {
            self.line(&event_line(stack, event));
        }
        self.update(stack, |row| {
            if event.is_stack_level() {
                event.status.clone_into(&mut row.status);
            } else if event.status.ends_with("_IN_PROGRESS") {
                row.busy.insert(event.logical_id.clone());
            } else {
                row.busy.remove(&event.logical_id);
            }
        });
    }

    /// A message line (a warning, a decision), printed above the live view.
    pub fn note(&self, text: &str) {
        self.line(text);
        self.redraw();
    }

    fn line(&self, text: &str) {
        self.clear();
        let _ = writeln!(self.sink.borrow_mut(), "{text}");
    }

    /// Erases the live view, before anything else writes to the terminal.
    pub fn clear(&self) {
        let drawn = self.drawn.replace(0);
        if drawn > 0 {
            let mut sink = self.sink.borrow_mut();
            // Up one line and erase it, once per drawn line.
            let _ = write!(sink, "{}", "\x1b[1A\x1b[2K".repeat(drawn));
            let _ = sink.flush();
        }
    }

    /// Stops redrawing (while a prompt waits for an answer) or starts again.
    pub fn hold(&self, held: bool) {
        self.held.set(held);
        if held {
            self.clear();
        } else {
            self.redraw();
        }
    }

    /// Draws the live view again (elapsed times move on).
    pub fn redraw(&self) {
        if self.mode != Mode::Live || self.held.get() {
            return;
        }
        self.clear();
        let rows = self.rows.borrow();
        let mut sink = self.sink.borrow_mut();
        let mut drawn = 0;
        for (stack, row) in rows.iter() {
            let _ = writeln!(sink, "{}", live_line(stack, row));
            drawn += 1;
        }
        let _ = sink.flush();
        self.drawn.set(drawn);
    }

    /// Redraws every second, for ever; raced against the deploy itself.
    pub async fn tick(&self) -> Infallible {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            self.redraw();
        }
    }

    /// Stacks on which CloudFormation is running an operation, with their last status.
    pub fn in_flight(&self) -> Vec<(String, String)> {
        self.rows
            .borrow()
            .iter()
            .filter(|(_, row)| row.executing)
            .map(|(stack, row)| (stack.clone(), row.status.clone()))
            .collect()
    }
}

fn live_line(stack: &str, row: &Row) -> String {
    let elapsed = row.ended.unwrap_or_else(|| row.since.elapsed()).as_secs();
    let mut busy: Vec<&str> = row.busy.iter().map(String::as_str).take(4).collect();
    if row.busy.len() > 4 {
        busy.push("…");
    }
    let busy = if busy.is_empty() {
        String::new()
    } else {
        format!("  {} in progress: {}", row.busy.len(), busy.join(", "))
    };
    let status = if row.status.is_empty() {
        "-"
    } else {
        &row.status
    };
    format!(
        "{stack:<24} {status:<36} {:<22} {:>3}m{:02}s{busy}",
        row.phase,
        elapsed / 60,
        elapsed % 60
    )
}

/// `HH:MM:SS  stack  STATUS  LogicalId (Type)  reason`, in UTC.
pub fn event_line(stack: &str, event: &StackEvent) -> String {
    let what = if event.is_stack_level() {
        String::new()
    } else {
        format!("  {} ({})", event.logical_id, event.resource_type)
    };
    let reason = event
        .reason
        .as_deref()
        .filter(|r| !r.is_empty())
        .map(|r| format!("  {r}"))
        .unwrap_or_default();
    format!(
        "{}  {stack}  {}{what}{reason}",
        clock(event.at_ms),
        event.status
    )
}

/// The time of day in UTC of a Unix time in milliseconds.
pub fn clock(ms: i64) -> String {
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// Now, in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    #[test]
    fn polling_starts_at_once_then_backs_off_from_two_to_ten_seconds() {
        let mut backoff = Backoff::new();
        let delays: Vec<u64> = (0..8)
            .map(|_| backoff.next_delay().as_millis() as u64)
            .collect();
        assert_eq!(delays, [0, 2000, 3000, 4500, 6750, 10000, 10000, 10000]);
        backoff.reset();
        assert_eq!(backoff.next_delay(), FIRST_DELAY);
    }

    fn event(id: &str, status: &str, logical: &str) -> StackEvent {
        StackEvent {
            id: id.into(),
            at_ms: 45_296_000,
            logical_id: logical.into(),
            resource_type: if logical == "ce-beta-compute" {
                "AWS::CloudFormation::Stack".into()
            } else {
                "AWS::AutoScaling::AutoScalingGroup".into()
            },
            status: status.into(),
            reason: Some("Resource creation Initiated".into()),
        }
    }

    #[test]
    fn an_event_line_has_the_utc_time_stack_status_resource_and_reason() {
        assert_eq!(
            event_line("ce-beta-compute", &event("1", "CREATE_IN_PROGRESS", "Asg")),
            "12:34:56  ce-beta-compute  CREATE_IN_PROGRESS  Asg (AWS::AutoScaling::AutoScalingGroup)  \
             Resource creation Initiated"
        );
    }

    /// A sink the test can read after the view wrote to it.
    #[derive(Clone, Default)]
    struct Shared(Rc<RefCell<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn without_a_terminal_each_event_is_one_plain_line() {
        let sink = Shared::default();
        let progress = Progress::new(Mode::Lines, Box::new(sink.clone()));
        progress.event("ce-beta-compute", &event("1", "CREATE_IN_PROGRESS", "Asg"));
        progress.event("ce-beta-compute", &event("2", "CREATE_COMPLETE", "Asg"));
        let text = String::from_utf8(sink.0.borrow().clone()).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(
            !text.contains('\x1b'),
            "no escape codes off a terminal: {text:?}"
        );
    }

    #[test]
    fn the_live_view_lists_resources_in_progress_and_forgets_finished_ones() {
        let sink = Shared::default();
        let progress = Progress::new(Mode::Live, Box::new(sink.clone()));
        progress.event("ce-beta-compute", &event("1", "CREATE_IN_PROGRESS", "Asg"));
        let first = String::from_utf8(sink.0.borrow().clone()).unwrap();
        assert!(first.contains("1 in progress: Asg"), "{first}");
        progress.event("ce-beta-compute", &event("2", "CREATE_COMPLETE", "Asg"));
        let rows = progress.rows.borrow();
        assert!(rows.iter().all(|(_, r)| r.busy.is_empty()));
    }

    #[test]
    fn stacks_being_executed_are_in_flight() {
        let progress = Progress::new(Mode::Lines, Box::new(Shared::default()));
        progress.status("ce-beta-network", "CREATE_COMPLETE");
        progress.executing("ce-beta-compute", true);
        progress.status("ce-beta-compute", "UPDATE_IN_PROGRESS");
        assert_eq!(
            progress.in_flight(),
            vec![(
                "ce-beta-compute".to_owned(),
                "UPDATE_IN_PROGRESS".to_owned()
            )]
        );
    }
}
