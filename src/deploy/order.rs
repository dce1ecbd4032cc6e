//! The order stacks deploy in, computed from the dependency table ([`StackId::depends_on`]).
//!
//! A stack starts as soon as every stack it depends on has deployed, so independent stacks
//! deploy at the same time. Today's table is a chain (network → storage → compute → edge,
//! monitoring last), but nothing here assumes that. When only some stacks are deployed, a
//! dependency through a stack left out still orders them. After a failure nothing new starts;
//! what is already running finishes.

use std::collections::{BTreeMap, BTreeSet};
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;

use crate::architecture::StackId;

/// A stack's deploy in flight.
type Running<'a, R> = Pin<Box<dyn Future<Output = R> + 'a>>;

/// The selected stacks and, for each, the selected stacks it waits for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    stacks: Vec<StackId>,
    waits_for: BTreeMap<StackId, BTreeSet<StackId>>,
}

/// Every stack `id` depends on, directly or through others.
fn all_dependencies(
    id: StackId,
    depends_on: &dyn Fn(StackId) -> Vec<StackId>,
) -> BTreeSet<StackId> {
    let mut found = BTreeSet::new();
    let mut todo = depends_on(id);
    while let Some(next) = todo.pop() {
        if found.insert(next) {
            todo.extend(depends_on(next));
        }
    }
    found
}

impl Schedule {
    /// The schedule of `selected` under the tool's dependency table.
    pub fn new(selected: &[StackId]) -> Self {
        Self::with_table(selected, &|id| id.depends_on().to_vec())
    }

    /// The schedule of `selected` under any dependency table (for tests of shapes the real
    /// table does not have).
    pub fn with_table(selected: &[StackId], depends_on: &dyn Fn(StackId) -> Vec<StackId>) -> Self {
        let chosen: BTreeSet<StackId> = selected.iter().copied().collect();
        let waits_for = chosen
            .iter()
            .map(|&id| {
                let deps = all_dependencies(id, depends_on)
                    .intersection(&chosen)
                    .copied()
                    .collect();
                (id, deps)
            })
            .collect();
        Schedule {
            stacks: chosen.into_iter().collect(),
            waits_for,
        }
    }

    /// The selected stacks this one waits for.
    pub fn waits_for(&self, id: StackId) -> &BTreeSet<StackId> {
        static NONE: BTreeSet<StackId> = BTreeSet::new();
        self.waits_for.get(&id).unwrap_or(&NONE)
    }

    /// The stacks in waves: each wave's stacks depend only on earlier waves, so a wave can
    /// deploy at once.
    pub fn waves(&self) -> Vec<Vec<StackId>> {
        let mut placed: BTreeSet<StackId> = BTreeSet::new();
        let mut waves = Vec::new();
        while placed.len() < self.stacks.len() {
            let wave: Vec<StackId> = self
                .stacks
                .iter()
                .copied()
                .filter(|id| !placed.contains(id) && self.waits_for(*id).is_subset(&placed))
                .collect();
            if wave.is_empty() {
                break; // a cycle; the dependency table has none
            }
            placed.extend(&wave);
            waves.push(wave);
        }
        waves
    }

    /// Runs `deploy` for every stack once what it waits for has succeeded (`ok`), several at
    /// once where the table allows. Returns each stack's result in schedule order; `None` for
    /// a stack never started because something failed first.
    pub async fn run<'a, R, F, Fut>(
        &self,
        mut deploy: F,
        ok: impl Fn(&R) -> bool,
    ) -> Vec<(StackId, Option<R>)>
    where
        F: FnMut(StackId) -> Fut,
        Fut: Future<Output = R> + 'a,
    {
        let mut succeeded: BTreeSet<StackId> = BTreeSet::new();
        let mut started: BTreeSet<StackId> = BTreeSet::new();
        let mut results: BTreeMap<StackId, R> = BTreeMap::new();
        let mut running: Vec<(StackId, Running<'a, R>)> = Vec::new();
        let mut failed = false;
        loop {
            if !failed {
                for &id in &self.stacks {
                    if !started.contains(&id) && self.waits_for(id).is_subset(&succeeded) {
                        started.insert(id);
                        running.push((id, Box::pin(deploy(id))));
                    }
                }
            }
            if running.is_empty() {
                break;
            }
            let (id, result) = poll_fn(|cx| {
                for i in 0..running.len() {
                    if let Poll::Ready(result) = running[i].1.as_mut().poll(cx) {
                        let (id, _) = running.swap_remove(i);
                        return Poll::Ready((id, result));
                    }
                }
                Poll::Pending
            })
            .await;
            if ok(&result) {
                succeeded.insert(id);
            } else {
                failed = true;
            }
            results.insert(id, result);
        }
        self.stacks
            .iter()
            .map(|id| (*id, results.remove(id)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use StackId::*;
    use std::cell::RefCell;
    use std::time::Duration;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    #[test]
    fn the_tools_table_deploys_network_storage_compute_edge_then_monitoring() {
        let waves = Schedule::new(&StackId::ALL).waves();
        assert_eq!(
            waves,
            vec![
                vec![Network],
                vec![Storage],
                vec![Compute],
                vec![Edge],
                vec![Monitoring]
            ]
        );
    }

    /// A table where storage and compute both need only network.
    fn forked(id: StackId) -> Vec<StackId> {
        match id {
            Network => vec![],
            Storage | Compute => vec![Network],
            Edge => vec![Storage, Compute],
            Monitoring => vec![Edge],
        }
    }

    #[test]
    fn independent_stacks_share_a_wave() {
        let waves = Schedule::with_table(&StackId::ALL, &forked).waves();
        assert_eq!(
            waves,
            vec![
                vec![Network],
                vec![Storage, Compute],
                vec![Edge],
                vec![Monitoring]
            ]
        );
    }

    #[test]
    fn a_dependency_through_a_stack_left_out_still_orders() {
        let schedule = Schedule::new(&[Monitoring, Network]);
        assert_eq!(schedule.waits_for(Monitoring), &BTreeSet::from([Network]));
        assert_eq!(schedule.waves(), vec![vec![Network], vec![Monitoring]]);
    }

    #[test]
    fn independent_stacks_run_at_the_same_time() {
        let log = RefCell::new(Vec::new());
        let schedule = Schedule::with_table(&StackId::ALL, &forked);
        let results = runtime().block_on(schedule.run(
            |id| {
                let log = &log;
                async move {
                    log.borrow_mut().push(format!("start {id}"));
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    log.borrow_mut().push(format!("end {id}"));
                    true
                }
            },
            |ok| *ok,
        ));
        let log = log.into_inner();
        assert_eq!(&log[..2], ["start network", "end network"]);
        assert_eq!(&log[2..4], ["start storage", "start compute"], "{log:?}");
        assert!(results.iter().all(|(_, r)| *r == Some(true)));
    }

    #[test]
    fn after_a_failure_nothing_new_starts_and_dependents_are_not_run() {
        let schedule = Schedule::new(&StackId::ALL);
        let results = runtime().block_on(schedule.run(|id| async move { id != Storage }, |ok| *ok));
        assert_eq!(
            results,
            vec![
                (Network, Some(true)),
                (Storage, Some(false)),
                (Compute, None),
                (Edge, None),
                (Monitoring, None)
            ]
        );
    }
}
