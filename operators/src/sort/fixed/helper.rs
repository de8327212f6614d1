//! The helper thread of a [`FixedBuffer`](super::FixedBuffer) read once in
//! memory: while the reading thread reads one chain, the helper sorts the
//! chains after it (Flink's sorters likewise sort on a thread of their own).
//!
//! Jobs go to the helper in reading order, at most [`LOOKAHEAD`] at a time,
//! and come back in that order. Each carries a chain's blocks (lent, see
//! `cache::Lent`) and the vectors of its in-cache sort, so nothing is
//! allocated per chain and the reading thread takes the result by swapping
//! vectors. The helper takes the newest job first, and when the reading
//! thread needs a job the helper has not started, it takes the job back and
//! sorts it itself: the two share the work by themselves (the helper sorted
//! 64% to 88% of the chains in the 10M-record sorts measured), and reading
//! never waits for more than the one chain being sorted.
//!
//! Both threads spin briefly before sleeping: a chain takes tens of
//! microseconds to sort, less than waking a sleeping thread costs on a
//! virtual machine.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::blocks::Chain;
use super::cache::{CacheSort, Lent};

/// Jobs handed to the helper and not taken back, at most.
pub(super) const LOOKAHEAD: usize = 3;
/// Chains left to read for a helper to be worth starting.
pub(super) const MIN_CHAINS: usize = 8;
/// How long a thread spins for the other before it sleeps.
const SPIN: Duration = Duration::from_micros(200);

/// One chain to sort, and the vectors to sort it in.
#[derive(Debug)]
pub(super) struct Job {
    pub(super) chain: Chain,
    /// Key bits the chain's keys share.
    pub(super) bit: u32,
    pub(super) cache: CacheSort,
    pub(super) lent: Lent,
    /// Its place in reading order.
    seq: u64,
}

impl Job {
    pub(super) fn new(cache: CacheSort, lent: Lent) -> Self {
        Self { chain: Chain::EMPTY, bit: 0, cache, lent, seq: 0 }
    }
}

/// What sorts a job.
pub(super) type SortJob = fn(&mut Job);

/// A job taken back by the reading thread.
pub(super) enum Taken {
    /// The helper sorted it.
    Sorted(Job),
    /// The helper had not started it: the reading thread sorts it.
    Unsorted(Job),
}

/// The reading thread's handle on the helper thread; dropping it stops the
/// helper (after the job it is sorting) and waits for it.
#[derive(Debug)]
pub(super) struct Helper {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// The chains of the jobs handed over and not taken back, oldest first.
    handed: VecDeque<Chain>,
    /// Jobs to hand over next (their vectors).
    spare: Vec<Job>,
    /// The place of the next job handed over, and of the next taken back.
    next_seq: u64,
    next_taken: u64,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    /// Wakes a sleeping helper: a job was queued, or stop.
    work: Condvar,
    /// Wakes a sleeping reading thread: a job was sorted.
    done: Condvar,
    /// Jobs queued and jobs sorted so far, for the spinning thread to watch
    /// without taking the lock.
    queued: AtomicUsize,
    sorted: AtomicUsize,
}

#[derive(Debug, Default)]
struct State {
    /// Jobs not started, oldest first.
    queue: VecDeque<Job>,
    /// Jobs sorted, in the order they were.
    sorted: VecDeque<Job>,
    stop: bool,
    helper_asleep: bool,
    reader_asleep: bool,
    /// The helper panicked while sorting: its job is lost.
    panicked: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // No thread panics while holding the lock (sorting runs outside it).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Helper {
    /// Starts the helper thread sorting jobs with `sort`, and keeps `jobs`
    /// to hand over; the jobs back when the system refuses the thread.
    pub(super) fn start(sort: SortJob, jobs: Vec<Job>) -> Result<Self, Vec<Job>> {
        // The queues never hold more than the jobs: sorting allocates nothing.
        let state = State {
            queue: VecDeque::with_capacity(jobs.len()),
            sorted: VecDeque::with_capacity(jobs.len()),
            ..State::default()
        };
        let shared = Arc::new(Shared { state: Mutex::new(state), ..Shared::default() });
        let theirs = Arc::clone(&shared);
        match std::thread::Builder::new().name("segrec-sort".into()).spawn(move || run(&theirs, sort)) {
            Ok(thread) => Ok(Self {
                shared,
                thread: Some(thread),
                handed: VecDeque::with_capacity(jobs.len()),
                spare: jobs,
                next_seq: 0,
                next_taken: 0,
            }),
            Err(_) => Err(jobs),
        }
    }

    /// Jobs handed over and not taken back.
    pub(super) fn in_flight(&self) -> usize {
        self.handed.len()
    }

    /// The chain of the oldest job handed over and not taken back: the one
    /// read next.
    pub(super) fn next_handed(&self) -> Option<Chain> {
        self.handed.front().copied()
    }

    /// A job to fill and hand over, unless [`LOOKAHEAD`] are out.
    pub(super) fn spare(&mut self) -> Option<Job> {
        self.spare.pop()
    }

    /// Hands a job over to be sorted.
    pub(super) fn submit(&mut self, mut job: Job) {
        self.handed.push_back(job.chain);
        job.seq = self.next_seq;
        self.next_seq += 1;
        let mut state = self.shared.lock();
        state.queue.push_back(job);
        self.shared.queued.fetch_add(1, Ordering::Release);
        if state.helper_asleep {
            self.shared.work.notify_one();
        }
    }

    /// Takes back the oldest job handed over, sorted or not; waits only
    /// while the helper is sorting it.
    ///
    /// # Panics
    ///
    /// When the helper thread panicked (a bug): its job is lost.
    pub(super) fn take(&mut self) -> Taken {
        debug_assert!(!self.handed.is_empty());
        let shared = &*self.shared;
        let mut seen = shared.sorted.load(Ordering::Acquire);
        let mut since: Option<Instant> = None;
        loop {
            let mut state = shared.lock();
            let want = self.next_taken;
            if let Some(i) = state.sorted.iter().position(|j| j.seq == want) {
                let job = state.sorted.swap_remove_back(i).expect("found above");
                self.next_taken += 1;
                self.handed.pop_front();
                return Taken::Sorted(job);
            }
            assert!(!state.panicked, "the sort helper thread panicked");
            if state.queue.front().is_some_and(|j| j.seq == want) {
                // The oldest job is still queued.
                let job = state.queue.pop_front().expect("checked above");
                self.next_taken += 1;
                shared.queued.fetch_sub(1, Ordering::Relaxed);
                self.handed.pop_front();
                return Taken::Unsorted(job);
            }
            let start = *since.get_or_insert_with(Instant::now);
            if start.elapsed() >= SPIN {
                state.reader_asleep = true;
                let mut state = shared.done.wait(state).unwrap_or_else(PoisonError::into_inner);
                state.reader_asleep = false;
                continue;
            }
            drop(state);
            while shared.sorted.load(Ordering::Acquire) == seen && start.elapsed() < SPIN {
                std::hint::spin_loop();
            }
            seen = shared.sorted.load(Ordering::Acquire);
        }
    }

    /// The jobs to hand over, taken out (after `stop`, every job).
    pub(super) fn take_spare(&mut self) -> Vec<Job> {
        core::mem::take(&mut self.spare)
    }

    /// Keeps a job taken back (its vectors) to hand over again.
    pub(super) fn give_back(&mut self, mut job: Job) {
        job.lent.clear();
        self.spare.push(job);
    }

    /// Stops the helper (after the job it is sorting) and waits for it;
    /// the jobs not taken back, in reading order (the others are spare).
    ///
    /// # Panics
    ///
    /// When the helper thread panicked (a bug): its job is lost.
    pub(super) fn stop(&mut self) -> Vec<Job> {
        if !self.end() {
            return Vec::new();
        }
        let mut guard = self.shared.lock();
        let state = &mut *guard;
        let mut jobs: Vec<Job> = state.queue.drain(..).chain(state.sorted.drain(..)).collect();
        assert!(!state.panicked, "the sort helper thread panicked");
        jobs.sort_unstable_by_key(|job| job.seq);
        debug_assert_eq!(jobs.len(), self.handed.len());
        self.handed.clear();
        jobs
    }

    /// Tells the helper to stop and waits for it to end; `false` when it
    /// had already.
    fn end(&mut self) -> bool {
        let Some(thread) = self.thread.take() else { return false };
        {
            let mut state = self.shared.lock();
            state.stop = true;
            self.shared.work.notify_one();
        }
        // A panic is in `panicked` (reported by `take` and `stop`).
        let _ = thread.join();
        true
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        self.end();
    }
}

/// The helper thread: sorts jobs, newest first, until stopped.
fn run(shared: &Shared, sort: SortJob) {
    loop {
        let start = Instant::now();
        while shared.queued.load(Ordering::Acquire) == 0 && start.elapsed() < SPIN {
            std::hint::spin_loop();
        }
        let mut state = shared.lock();
        let mut job = loop {
            if state.stop {
                return;
            }
            // The newest first: the reading thread sorts the oldest itself
            // when it comes to it before the helper does.
            if let Some(job) = state.queue.pop_back() {
                break job;
            }
            state.helper_asleep = true;
            state = shared.work.wait(state).unwrap_or_else(PoisonError::into_inner);
            state.helper_asleep = false;
        };
        shared.queued.fetch_sub(1, Ordering::Relaxed);
        drop(state);
        let sorted = catch_unwind(AssertUnwindSafe(|| sort(&mut job)));
        let mut state = shared.lock();
        match sorted {
            Ok(()) => {
                state.sorted.push_back(job);
                shared.sorted.fetch_add(1, Ordering::Release);
            }
            Err(_) => state.panicked = true,
        }
        if state.reader_asleep {
            shared.done.notify_one();
        }
        if state.panicked {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> Job {
        Job::new(CacheSort::default(), Lent::default())
    }

    /// A stand-in sort: marks the job with a function of its chain, after
    /// some work (so the helper keeps up with taking and giving back).
    fn mark(job: &mut Job) {
        let mut x = job.chain.len;
        for _ in 0..2000 {
            x = std::hint::black_box(x);
        }
        job.cache.count = 2 * x + 1;
    }

    fn jobs(n: usize) -> Vec<Job> {
        (0..n).map(|_| job()).collect()
    }

    #[test]
    fn jobs_come_back_in_order_each_sorted_once_on_one_thread_or_the_other() {
        let mut helper = Helper::start(mark, jobs(LOOKAHEAD)).ok().unwrap();
        let (mut next, mut taken, mut by_helper) = (1, Vec::new(), 0);
        for _ in 0..2000 {
            while let Some(mut job) = helper.spare() {
                job.chain.len = next;
                job.cache.count = 0;
                next += 1;
                helper.submit(job);
            }
            assert_eq!(helper.in_flight(), LOOKAHEAD);
            let job = match helper.take() {
                Taken::Sorted(job) => {
                    by_helper += 1;
                    job
                }
                Taken::Unsorted(mut job) => {
                    assert_eq!(job.cache.count, 0, "handed back half done");
                    mark(&mut job);
                    job
                }
            };
            assert_eq!(job.cache.count, 2 * job.chain.len + 1);
            taken.push(job.chain.len);
            helper.give_back(job);
        }
        assert!(taken.iter().copied().eq(1..=2000), "out of order");
        // Not an assertion on timing: the count only shows both paths ran.
        eprintln!("{by_helper} of 2000 sorted by the helper");
        // The last one taken back was not replaced.
        let rest = helper.stop();
        assert_eq!(
            rest.iter().map(|j| j.chain.len).collect::<Vec<_>>(),
            (2001..2000 + LOOKAHEAD).collect::<Vec<_>>()
        );
        assert_eq!(helper.in_flight(), 0);
    }

    #[test]
    fn stopping_returns_every_job_not_taken_back_in_order_and_ends_the_thread() {
        for n in 0..=LOOKAHEAD {
            let mut helper = Helper::start(mark, jobs(LOOKAHEAD)).ok().unwrap();
            for len in 0..n {
                let mut job = helper.spare().unwrap();
                job.chain.len = len;
                helper.submit(job);
            }
            let rest = helper.stop();
            assert_eq!(rest.iter().map(|j| j.chain.len).collect::<Vec<_>>(), (0..n).collect::<Vec<_>>());
            assert!(helper.thread.is_none());
            // Stopping again (and dropping) finds nothing left to do.
            assert!(helper.stop().is_empty());
        }
    }

    #[test]
    #[should_panic(expected = "the sort helper thread panicked")]
    fn a_panic_on_the_helper_thread_is_reported_not_waited_for() {
        fn boom(_: &mut Job) {
            panic!("a bug in the sort");
        }
        let mut helper = Helper::start(boom, jobs(1)).ok().unwrap();
        let job = helper.spare().unwrap();
        helper.submit(job);
        // Once the helper has the job, taking it back can only wait for it.
        while helper.shared.queued.load(Ordering::Acquire) != 0 {
            std::thread::yield_now();
        }
        let _ = helper.take();
    }
}
