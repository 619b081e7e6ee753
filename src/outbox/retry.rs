//! When a failed delivery is tried again: exponential backoff with jitter, or the time the
//! peer asked for.

use std::time::Duration;

/// The wait before the next attempt after `attempts` failed ones (1 = the first failure).
/// `random` is a number in [0, 1) that spreads retries of many deliveries apart.
pub fn backoff(attempts: u32, base: Duration, max: Duration, random: f64) -> Duration {
    let exponent = attempts.saturating_sub(1).min(20);
    let doubled = base.saturating_mul(1 << exponent).min(max);
    // Jitter between 50 % and 150 %, still never beyond the maximum.
    doubled.mul_f64(0.5 + random.clamp(0.0, 1.0)).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_with_jitter_up_to_the_maximum() {
        let (base, max) = (Duration::from_secs(30), Duration::from_secs(3600));
        assert_eq!(backoff(1, base, max, 0.5), Duration::from_secs(30));
        assert_eq!(backoff(2, base, max, 0.5), Duration::from_secs(60));
        assert_eq!(backoff(4, base, max, 0.5), Duration::from_secs(240));
        assert_eq!(backoff(1, base, max, 0.0), Duration::from_secs(15));
        assert_eq!(backoff(1, base, max, 0.999).as_secs(), 44);
        assert_eq!(backoff(30, base, max, 0.9), max);
    }
}
