//! Server-wide limits. They never key on an IP address or anything else
//! that identifies a client: a flood slows everyone down a little rather than
//! making the server remember who is who.
//!
//! What a request is charged to, and when (docs/PROTOCOL.md §6):
//!
//! - Submissions and follow-ups are charged to their per-minute budget only
//!   when a valid, unspent proof of work is redeemed, after `meta` has been
//!   read and checked. A request refused before that (junk bytes, no or a
//!   wrong `meta`, a missing, unsolved, expired or replayed proof of work)
//!   costs no budget, so a flood that does no work cannot keep out a
//!   reporter who does.
//! - Challenges (`GET /api/v1/pow`) are not limited: issuing one is
//!   stateless and costs one AEAD seal, and only redeeming one is charged.
//! - Status look-ups are paced, not refused: each waits its turn in arrival
//!   order ([`RateLimit::pace`]), so wrong look-ups slow a genuine one by
//!   their number in the queue but cannot starve it, and a hit and a miss
//!   are treated alike.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket.
pub struct RateLimit {
    per_sec: f64,
    burst: f64,
    /// Tokens (below zero: the turns already promised to waiting callers of
    /// [`pace`](RateLimit::pace)) and when they were last counted.
    state: Mutex<(f64, Instant)>,
}

impl RateLimit {
    /// `per_sec` tokens per second, holding at most `burst`.
    pub fn new(per_sec: f64, burst: f64) -> Self {
        RateLimit {
            per_sec,
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    fn refilled(&self) -> std::sync::MutexGuard<'_, (f64, Instant)> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let elapsed = now.duration_since(s.1).as_secs_f64();
        s.0 = (s.0 + elapsed * self.per_sec).min(self.burst);
        s.1 = now;
        s
    }

    /// Takes one token if there is one.
    pub fn try_take(&self) -> bool {
        let mut s = self.refilled();
        if s.0 >= 1.0 {
            s.0 -= 1.0;
            true
        } else {
            false
        }
    }

    /// Gives back a token taken by [`try_take`](RateLimit::try_take) for a
    /// request that was then refused, so that a refusal costs nothing.
    pub fn refund(&self) {
        let mut s = self.refilled();
        s.0 = (s.0 + 1.0).min(self.burst);
    }

    /// Books the next turn: how long the caller must wait for it, first
    /// come, first served. `None`, with nothing booked, when that would be
    /// longer than `max_wait`.
    pub fn pace(&self, max_wait: Duration) -> Option<Duration> {
        let mut s = self.refilled();
        let after = s.0 - 1.0;
        let wait = if after >= 0.0 {
            0.0
        } else if self.per_sec > 0.0 {
            -after / self.per_sec
        } else {
            return None;
        };
        if wait > max_wait.as_secs_f64() {
            return None;
        }
        s.0 = after;
        Some(Duration::from_secs_f64(wait))
    }
}

/// The limits of one server.
pub struct RateLimits {
    /// Submissions: charged when a proof of work is redeemed.
    pub submissions: RateLimit,
    /// Follow-ups: charged when a proof of work is redeemed.
    pub followups: RateLimit,
    /// Status look-ups: paced.
    pub status: RateLimit,
}

impl RateLimits {
    /// From the settings. `pow_per_second` is no longer used: see the
    /// module documentation.
    pub fn new(l: &crate::config::LimitSettings) -> Self {
        let per_minute = |n: u32| RateLimit::new(f64::from(n) / 60.0, f64::from(n.max(1)));
        let per_second = |n: u32| RateLimit::new(f64::from(n), f64::from(n.max(1)) * 2.0);
        RateLimits {
            submissions: per_minute(l.submissions_per_minute),
            followups: per_minute(l.followups_per_minute),
            status: per_second(l.status_per_second),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_empties_and_refills() {
        let r = RateLimit::new(1000.0, 3.0);
        assert!(r.try_take());
        assert!(r.try_take());
        assert!(r.try_take());
        assert!(!r.try_take());
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(r.try_take());
    }

    #[test]
    fn a_refund_gives_the_token_back_but_never_beyond_the_burst() {
        let r = RateLimit::new(0.001, 2.0);
        assert!(r.try_take());
        assert!(r.try_take());
        assert!(!r.try_take());
        r.refund();
        assert!(r.try_take());
        assert!(!r.try_take());
        r.refund();
        r.refund();
        r.refund();
        assert!(r.try_take());
        assert!(r.try_take());
        assert!(!r.try_take(), "refunds went over the burst");
    }

    #[test]
    fn pacing_queues_in_order_and_refuses_only_past_the_longest_wait() {
        // 10 per second, a burst of 2: two at once, then one every 100 ms.
        let r = RateLimit::new(10.0, 2.0);
        let max = Duration::from_millis(450);
        assert_eq!(r.pace(max), Some(Duration::ZERO));
        assert_eq!(r.pace(max), Some(Duration::ZERO));
        let waits: Vec<Duration> = (0..4).map(|_| r.pace(max).unwrap()).collect();
        for (i, w) in waits.iter().enumerate() {
            let want = 0.1 * (i + 1) as f64;
            assert!(
                (w.as_secs_f64() - want).abs() < 0.02,
                "turn {i}: {w:?}, wanted about {want} s"
            );
        }
        // The fifth would wait 500 ms: refused, and nothing booked.
        assert_eq!(r.pace(max), None);
        assert_eq!(r.pace(max), None);
        assert!(r.pace(Duration::from_secs(1)).unwrap() > max);
    }
}
