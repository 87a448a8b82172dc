//! Server-wide rate limits. They never key on an IP address or anything else
//! that identifies a client: a flood slows everyone down a little rather than
//! making the server remember who is who.

use std::sync::Mutex;
use std::time::Instant;

/// A token bucket.
pub struct RateLimit {
    per_sec: f64,
    burst: f64,
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

    /// Takes one token if there is one.
    pub fn try_take(&self) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let elapsed = now.duration_since(s.1).as_secs_f64();
        s.0 = (s.0 + elapsed * self.per_sec).min(self.burst);
        s.1 = now;
        if s.0 >= 1.0 {
            s.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The limits of one server.
pub struct RateLimits {
    /// Submissions.
    pub submissions: RateLimit,
    /// Follow-ups.
    pub followups: RateLimit,
    /// Status look-ups.
    pub status: RateLimit,
    /// Proof-of-work challenges.
    pub pow: RateLimit,
}

impl RateLimits {
    /// From the settings.
    pub fn new(l: &crate::config::LimitSettings) -> Self {
        let per_minute = |n: u32| RateLimit::new(f64::from(n) / 60.0, f64::from(n.max(1)));
        let per_second = |n: u32| RateLimit::new(f64::from(n), f64::from(n.max(1)) * 2.0);
        RateLimits {
            submissions: per_minute(l.submissions_per_minute),
            followups: per_minute(l.followups_per_minute),
            status: per_second(l.status_per_second),
            pow: per_second(l.pow_per_second),
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
}
