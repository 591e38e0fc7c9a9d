//! The threads that hash passwords.
//!
//! Argon2 is tens of milliseconds of pure CPU per call. Run on the async
//! executor it would stall every other request; run on tokio's blocking
//! pool at normal priority it still competes with the executor's threads
//! for the cores, and a burst of logins then delays every other route by a
//! scheduler time slice. So hashes run on threads of their own, spawned on
//! first use, one per permit of the hasher, and on Linux each lowers its
//! own scheduling priority to nice [`HASH_THREAD_NICE`]: a request thread
//! that wakes up preempts a hash at once, while hashes still get the cores
//! whenever requests leave them idle. The threads end when the last clone
//! of their hasher is dropped.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use crate::error::PasswordError;

/// The nice value of the hashing threads (Linux only; 0 is the default
/// priority, 19 the lowest). At 10 a hash gets about a tenth of a core that
/// a normal-priority thread also wants, and all of an idle one.
pub const HASH_THREAD_NICE: i32 = 10;

/// One unit of work: a hash or a verification, which sends its own result.
pub(super) type Job = Box<dyn FnOnce() + Send + 'static>;

/// A fixed set of hashing threads fed by one queue.
#[derive(Debug)]
pub(super) struct HashPool {
    threads: usize,
    /// `None` once spawning failed: no thread could be started.
    sender: OnceLock<Option<Mutex<Sender<Job>>>>,
}

impl HashPool {
    /// A pool of `threads` threads, started on the first [`submit`](Self::submit).
    pub(super) fn new(threads: usize) -> Self {
        Self {
            threads: threads.max(1),
            sender: OnceLock::new(),
        }
    }

    /// Queues `job` for the next free thread.
    pub(super) fn submit(&self, job: Job) -> Result<(), PasswordError> {
        let sender = self
            .sender
            .get_or_init(|| spawn(self.threads))
            .as_ref()
            .ok_or(PasswordError::WorkerUnavailable)?;
        sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(job)
            .map_err(|_| PasswordError::WorkerUnavailable)
    }
}

fn spawn(threads: usize) -> Option<Mutex<Sender<Job>>> {
    let (sender, receiver) = channel::<Job>();
    let receiver = Arc::new(Mutex::new(receiver));
    let mut started = 0;
    for index in 0..threads {
        let receiver = Arc::clone(&receiver);
        let spawned = std::thread::Builder::new()
            .name(format!("lexigram-hash-{index}"))
            .spawn(move || work(&receiver));
        match spawned {
            Ok(_) => started += 1,
            Err(error) => {
                tracing::warn!(%error, "a password hashing thread could not be started");
            }
        }
    }
    (started > 0).then(|| Mutex::new(sender))
}

fn work(receiver: &Mutex<Receiver<Job>>) {
    lower_priority();
    loop {
        let job = {
            let queue = receiver.lock().unwrap_or_else(PoisonError::into_inner);
            match queue.recv() {
                Ok(job) => job,
                // The hasher is gone.
                Err(_) => return,
            }
        };
        // A job that panics drops its result sender (its caller gets
        // `WorkerUnavailable`); the thread goes on serving the queue.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn lower_priority() {
    let tid = rustix::thread::gettid();
    if let Err(error) = rustix::process::setpriority_process(Some(tid), HASH_THREAD_NICE) {
        tracing::debug!(%error, "the hashing thread keeps its priority");
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_and_a_panicking_job_does_not_stop_the_pool() {
        let pool = HashPool::new(1);
        let (tx, rx) = channel();
        pool.submit(Box::new(|| panic!("boom"))).unwrap();
        pool.submit(Box::new(move || tx.send(7).unwrap())).unwrap();
        assert_eq!(rx.recv().unwrap(), 7);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn hashing_threads_run_below_normal_priority() {
        let pool = HashPool::new(1);
        let (tx, rx) = channel();
        pool.submit(Box::new(move || {
            let tid = rustix::thread::gettid();
            tx.send(rustix::process::getpriority_process(Some(tid)).unwrap())
                .unwrap();
        }))
        .unwrap();
        let nice = rx.recv().unwrap();
        // Starting from the test thread's own nice value (0 unless the
        // whole test run was niced), never above the lowest priority.
        assert!(nice >= HASH_THREAD_NICE.min(19), "nice {nice}");
    }
}
