//! Group commit: one flush makes the commits of many threads durable.
//!
//! Every write of the store commits to sled and then must not return until
//! the commit is on disk (a 201 means the report survives a power cut).
//! Flushing once per commit makes 32 concurrent submissions wait for 32
//! `fsync`s in a row. Here a caller takes a ticket after its commit; the
//! first caller to find no flush running becomes the leader and flushes
//! everything committed so far, and the callers whose tickets that flush
//! covered return with it. While it runs, new commits gather for the next
//! one.
//!
//! A flush that fails ends durability for good: that caller gets the error,
//! and every caller not yet covered by an earlier successful flush, now or
//! later, gets the store's "stopped taking writes" error. This matches what
//! the store does after a failed flush anyway (it refuses writes until it is
//! reopened), and never lets a caller believe a failed flush succeeded.

use std::sync::{Condvar, Mutex, MutexGuard};

#[derive(Default)]
struct State {
    /// Tickets handed out so far; each one's commit finished before it.
    issued: u64,
    /// Every ticket up to this one is durable.
    durable: u64,
    /// A leader is flushing.
    flushing: bool,
    /// After a failed flush: the first ticket that may not be durable.
    failed_from: Option<u64>,
}

/// See the module doc.
#[derive(Default)]
pub(crate) struct GroupSync {
    state: Mutex<State>,
    changed: Condvar,
}

/// Clears `flushing` and marks the failure if the leader's flush panics,
/// so the waiting callers do not wait for ever.
struct LeaderGuard<'a> {
    sync: &'a GroupSync,
    armed: bool,
}

impl Drop for LeaderGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut st = self.sync.lock();
            st.flushing = false;
            let first_unsure = st.durable + 1;
            st.failed_from.get_or_insert(first_unsure);
            self.sync.changed.notify_all();
        }
    }
}

impl GroupSync {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Returns once everything the calling thread committed before this
    /// call is durable: either some other thread's `flush` covered it, or
    /// this thread ran `flush` itself. `failed` makes the error of a caller
    /// whose commit was covered by another thread's failed flush.
    pub(crate) fn sync<E>(
        &self,
        flush: impl FnOnce() -> Result<(), E>,
        failed: impl FnOnce() -> E,
    ) -> Result<(), E> {
        let mut st = self.lock();
        st.issued += 1;
        let ticket = st.issued;
        let mut flush = Some(flush);
        loop {
            if st.failed_from.is_some_and(|first| ticket >= first) {
                return Err(failed());
            }
            if st.durable >= ticket {
                return Ok(());
            }
            if st.flushing {
                st = self.changed.wait(st).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            // Lead: flush everything committed up to now.
            st.flushing = true;
            let target = st.issued;
            drop(st);
            let mut guard = LeaderGuard {
                sync: self,
                armed: true,
            };
            let run = flush.take().expect("a caller leads at most once");
            let result = run();
            guard.armed = false;
            st = self.lock();
            st.flushing = false;
            match result {
                Ok(()) => st.durable = st.durable.max(target),
                Err(e) => {
                    let first_unsure = st.durable + 1;
                    st.failed_from.get_or_insert(first_unsure);
                    self.changed.notify_all();
                    return Err(e);
                }
            }
            self.changed.notify_all();
            // `target >= ticket`: the next round returns Ok.
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn one_caller_flushes_itself() {
        let sync = GroupSync::default();
        let flushes = AtomicUsize::new(0);
        for _ in 0..3 {
            sync.sync(
                || {
                    flushes.fetch_add(1, Ordering::SeqCst);
                    Ok::<(), String>(())
                },
                || "failed".to_string(),
            )
            .unwrap();
        }
        assert_eq!(flushes.load(Ordering::SeqCst), 3);
    }

    /// Each thread "commits" by raising `committed` to its own number, then
    /// syncs; a flush records how far commits had got when it started. On
    /// return, a flush that started after the thread's commit must have
    /// completed: the durable mark is at least the thread's commit.
    #[test]
    fn concurrent_callers_share_flushes_and_each_is_covered() {
        let sync = Arc::new(GroupSync::default());
        let committed = Arc::new(AtomicU64::new(0));
        let durable = Arc::new(AtomicU64::new(0));
        let flushes = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (sync, committed, durable, flushes) = (
                    sync.clone(),
                    committed.clone(),
                    durable.clone(),
                    flushes.clone(),
                );
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        let mine = committed.fetch_add(1, Ordering::SeqCst) + 1;
                        sync.sync(
                            || {
                                let upto = committed.load(Ordering::SeqCst);
                                flushes.fetch_add(1, Ordering::SeqCst);
                                std::thread::sleep(Duration::from_millis(2));
                                durable.fetch_max(upto, Ordering::SeqCst);
                                Ok::<(), String>(())
                            },
                            || "failed".to_string(),
                        )
                        .unwrap();
                        assert!(durable.load(Ordering::SeqCst) >= mine);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let n = flushes.load(Ordering::SeqCst);
        assert!(
            n < 16 * 50,
            "{n} flushes for 800 commits: nothing was shared"
        );
    }

    #[test]
    fn a_failed_flush_fails_its_group_and_everything_after() {
        let sync = GroupSync::default();
        sync.sync(|| Ok::<(), String>(()), || "failed".into())
            .unwrap();
        let err = sync
            .sync(|| Err::<(), String>("disk full".into()), || "failed".into())
            .unwrap_err();
        assert_eq!(err, "disk full");
        let ran = AtomicUsize::new(0);
        let err = sync
            .sync(
                || {
                    ran.fetch_add(1, Ordering::SeqCst);
                    Ok::<(), String>(())
                },
                || "failed".into(),
            )
            .unwrap_err();
        assert_eq!(err, "failed");
        assert_eq!(ran.load(Ordering::SeqCst), 0, "no flush after a failure");
    }

    #[test]
    fn waiters_of_a_failed_flush_get_the_failure() {
        let sync = Arc::new(GroupSync::default());
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let leader = {
            let sync = sync.clone();
            std::thread::spawn(move || {
                sync.sync(
                    || {
                        started_tx.send(()).unwrap();
                        release_rx.recv().unwrap();
                        Err::<(), String>("io error".into())
                    },
                    || "failed".into(),
                )
            })
        };
        started_rx.recv().unwrap();
        // Committed while the leader flushes: covered by the next flush,
        // which never comes.
        let waiter = {
            let sync = sync.clone();
            std::thread::spawn(move || sync.sync(|| Ok::<(), String>(()), || "failed".into()))
        };
        std::thread::sleep(Duration::from_millis(50));
        release_tx.send(()).unwrap();
        assert_eq!(leader.join().unwrap().unwrap_err(), "io error");
        assert_eq!(waiter.join().unwrap().unwrap_err(), "failed");
    }

    #[test]
    fn a_panicking_flush_does_not_leave_the_others_waiting() {
        let sync = Arc::new(GroupSync::default());
        let s = sync.clone();
        let panicked = std::thread::spawn(move || {
            s.sync(
                || -> Result<(), String> { panic!("boom") },
                || "failed".into(),
            )
        })
        .join();
        assert!(panicked.is_err());
        let err = sync
            .sync(|| Ok::<(), String>(()), || "failed".into())
            .unwrap_err();
        assert_eq!(err, "failed");
    }
}
