//! The reminder policy: when before and after a deadline people are reminded, when the
//! manager and KLK are brought in, and the window in which messages go out.

use jiff::civil::Time;
use serde::Deserialize;

/// How one obligation's reminders are timed. Counts are Swedish business days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Reminders this many business days before the due date, largest first; the due day
    /// itself always has a reminder too.
    pub before: Vec<u16>,
    /// After the due date, a reminder every this many business days until submitted.
    pub overdue_every: u16,
    /// The unit's manager is told this many business days after the due date.
    pub escalate_manager_after: u16,
    /// The strategist at KLK is told this many business days after the due date.
    pub escalate_klk_after: u16,
    /// Once submitted, the manager is asked to acknowledge, again every this many business days.
    pub acknowledge_every: u16,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            before: vec![30, 14, 7, 2],
            overdue_every: 3,
            escalate_manager_after: 5,
            escalate_klk_after: 10,
            acknowledge_every: 3,
        }
    }
}

/// The local hours of business days in which messages may go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendWindow {
    pub opens: Time,
    pub closes: Time,
}

impl Default for SendWindow {
    fn default() -> Self {
        Self {
            opens: Time::constant(8, 0, 0, 0),
            closes: Time::constant(17, 0, 0, 0),
        }
    }
}

/// A policy as written in `calendar.toml`; every key is optional and falls back to the
/// calendar's `[reminders]`, then to the built-in defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPolicy {
    before: Option<Vec<u16>>,
    overdue_every: Option<u16>,
    escalate_manager_after: Option<u16>,
    escalate_klk_after: Option<u16>,
    acknowledge_every: Option<u16>,
}

/// The most business days any reminder may lie from its deadline (about a working year).
const MAX_DAYS: u16 = 250;

impl RawPolicy {
    /// This policy's keys laid over `base`, or what is wrong with them.
    pub(crate) fn over(&self, base: &Policy) -> Result<Policy, String> {
        let mut before = self.before.clone().unwrap_or_else(|| base.before.clone());
        before.sort_unstable_by(|a, b| b.cmp(a));
        before.dedup();
        let policy = Policy {
            before,
            overdue_every: self.overdue_every.unwrap_or(base.overdue_every),
            escalate_manager_after: self.escalate_manager_after.unwrap_or(base.escalate_manager_after),
            escalate_klk_after: self.escalate_klk_after.unwrap_or(base.escalate_klk_after),
            acknowledge_every: self.acknowledge_every.unwrap_or(base.acknowledge_every),
        };
        if policy.before.iter().any(|days| *days == 0 || *days > MAX_DAYS) {
            return Err(format!(
                "before: each value must be 1..={MAX_DAYS} business days (the due day is always reminded)"
            ));
        }
        for (key, value) in [
            ("overdue_every", policy.overdue_every),
            ("escalate_manager_after", policy.escalate_manager_after),
            ("escalate_klk_after", policy.escalate_klk_after),
            ("acknowledge_every", policy.acknowledge_every),
        ] {
            if value == 0 || value > MAX_DAYS {
                return Err(format!("{key}: must be 1..={MAX_DAYS} business days, not {value}"));
            }
        }
        Ok(policy)
    }
}

/// The send window as written in `calendar.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSendWindow {
    opens: String,
    closes: String,
}

impl RawSendWindow {
    pub(crate) fn parse(&self) -> Result<SendWindow, String> {
        let time = |text: &str| {
            text.parse::<Time>()
                .map_err(|_| format!("\"{text}\" is not a time of day like 08:00"))
        };
        let window = SendWindow {
            opens: time(&self.opens)?,
            closes: time(&self.closes)?,
        };
        if window.opens >= window.closes {
            return Err(format!(
                "the window must open before it closes ({} – {})",
                self.opens, self.closes
            ));
        }
        Ok(window)
    }
}
