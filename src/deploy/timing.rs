//! Where a deploy's time goes: in `ce` itself, or waiting on something outside it.
//!
//! The design target is that the tool's own work stays under 10% of a sandbox bootstrap, so the
//! engine measures it instead of guessing. Stacks deploy concurrently, so summing call
//! durations would count overlapping waits twice; instead the clock counts wall time during
//! which at least one AWS call, poll delay or prompt is outstanding. What remains of the total
//! is the tool's own time (rendering, diffing, formatting, the SDK's request signing).

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde::Serialize;

/// The shared clock of one command; clones share it.
#[derive(Clone, Debug)]
pub struct Timing(Rc<Clock>);

#[derive(Debug)]
struct Clock {
    begun: Instant,
    outstanding: Cell<usize>,
    since: Cell<Option<Instant>>,
    waiting: Cell<Duration>,
    prompts: Cell<Duration>,
    calls: Cell<u32>,
}

/// What the clock measured.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct TimingReport {
    /// Wall time since the command started, in milliseconds.
    pub total_ms: u64,
    /// Wall time with an AWS call, a poll delay or a prompt outstanding.
    pub waiting_ms: u64,
    /// Of that, time spent waiting for a person to answer.
    pub prompt_ms: u64,
    /// Everything else: the tool's own work.
    pub tool_ms: u64,
    /// AWS calls made through the clock.
    pub aws_calls: u32,
}

impl TimingReport {
    /// The tool's share of the total, in percent.
    pub fn tool_percent(&self) -> f64 {
        if self.total_ms == 0 {
            0.0
        } else {
            self.tool_ms as f64 * 100.0 / self.total_ms as f64
        }
    }

    /// One line for `-v`.
    pub fn line(&self) -> String {
        format!(
            "time: {:.2} s total, {:.2} s waiting on AWS, {:.2} s on prompts, {:.3} s in ce itself \
             ({:.1}%), {} AWS calls",
            self.total_ms as f64 / 1000.0,
            self.waiting_ms.saturating_sub(self.prompt_ms) as f64 / 1000.0,
            self.prompt_ms as f64 / 1000.0,
            self.tool_ms as f64 / 1000.0,
            self.tool_percent(),
            self.aws_calls
        )
    }
}

/// Marks something outside the tool as outstanding until dropped, so a cancelled wait (Ctrl-C)
/// is still accounted for.
struct Outside(Rc<Clock>);

impl Drop for Outside {
    fn drop(&mut self) {
        let left = self.0.outstanding.get().saturating_sub(1);
        self.0.outstanding.set(left);
        if left == 0
            && let Some(since) = self.0.since.take()
        {
            self.0.waiting.set(self.0.waiting.get() + since.elapsed());
        }
    }
}

impl Timing {
    /// A clock starting now.
    pub fn start() -> Self {
        Self::started_at(Instant::now())
    }

    /// A clock that started at `begun` (the command's start).
    pub fn started_at(begun: Instant) -> Self {
        Timing(Rc::new(Clock {
            begun,
            outstanding: Cell::new(0),
            since: Cell::new(None),
            waiting: Cell::new(Duration::ZERO),
            prompts: Cell::new(Duration::ZERO),
            calls: Cell::new(0),
        }))
    }

    fn outside(&self) -> Outside {
        let count = self.0.outstanding.get();
        if count == 0 {
            self.0.since.set(Some(Instant::now()));
        }
        self.0.outstanding.set(count + 1);
        Outside(self.0.clone())
    }

    /// Awaits an AWS call, counting it as waiting.
    pub async fn aws<F: Future>(&self, call: F) -> F::Output {
        self.0.calls.set(self.0.calls.get() + 1);
        let _outside = self.outside();
        call.await
    }

    /// Sleeps between polls, counting it as waiting.
    pub async fn sleep(&self, delay: Duration) {
        let _outside = self.outside();
        tokio::time::sleep(delay).await;
    }

    /// Awaits a person's answer, counting it as waiting on prompts.
    pub async fn prompt<F: Future>(&self, answer: F) -> F::Output {
        let _outside = self.outside();
        let begun = Instant::now();
        let value = answer.await;
        self.0.prompts.set(self.0.prompts.get() + begun.elapsed());
        value
    }

    /// What was measured so far.
    pub fn report(&self) -> TimingReport {
        let total = self.0.begun.elapsed();
        let mut waiting = self.0.waiting.get();
        if let Some(since) = self.0.since.get() {
            waiting += since.elapsed();
        }
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let (total_ms, waiting_ms) = (ms(total), ms(waiting.min(total)));
        TimingReport {
            total_ms,
            waiting_ms,
            prompt_ms: ms(self.0.prompts.get()),
            // The rest of the whole milliseconds, so the parts always add up to the total
            // (rounding each part down on its own can lose one).
            tool_ms: total_ms - waiting_ms,
            aws_calls: self.0.calls.get(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    #[test]
    fn overlapping_waits_count_once() {
        let timing = Timing::start();
        runtime().block_on(async {
            tokio::join!(
                timing.sleep(Duration::from_millis(60)),
                timing.aws(tokio::time::sleep(Duration::from_millis(60)))
            );
        });
        let report = timing.report();
        assert!(
            (55..=110).contains(&report.waiting_ms),
            "two 60 ms waits side by side are ~60 ms of waiting: {report:?}"
        );
        assert_eq!(report.aws_calls, 1);
        assert_eq!(report.total_ms, report.waiting_ms + report.tool_ms);
    }

    #[test]
    fn work_outside_any_wait_is_tool_time() {
        let timing = Timing::start();
        std::thread::sleep(Duration::from_millis(30));
        let report = timing.report();
        assert!(report.tool_ms >= 30, "{report:?}");
        assert_eq!(report.waiting_ms, 0);
    }

    #[test]
    fn a_dropped_wait_still_counts() {
        let timing = Timing::start();
        runtime().block_on(async {
            let _ = tokio::time::timeout(
                Duration::from_millis(30),
                timing.sleep(Duration::from_secs(5)),
            )
            .await;
        });
        let report = timing.report();
        assert!(report.waiting_ms >= 25, "{report:?}");
        assert!(report.total_ms < 1000, "{report:?}");
    }
}
