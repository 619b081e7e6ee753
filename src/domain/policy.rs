//! The reminder policy: when before and after a deadline people are reminded, when the
//! manager and KLK are brought in, and the window in which messages go out.

use jiff::civil::{Date, Time, Weekday};
use serde::Deserialize;

use super::business_days::Workdays;

/// How one obligation's reminders are timed. Counts are Swedish business days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Reminders this many business days before the due date, largest first; the due day
    /// itself always has a reminder too.
    pub before: Vec<u16>,
    /// After the due date, a reminder every this many business days…
    pub overdue_every: u16,
    /// …for the first this many business days after it…
    pub overdue_often_for: u16,
    /// …then one a week (on the week's first business day) until this many business days after
    /// the due date, then one a month (on the month's first business day), until submitted.
    pub overdue_weekly_until: u16,
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
            before: vec![30, 10, 2],
            overdue_every: 3,
            overdue_often_for: 5,
            overdue_weekly_until: 20,
            escalate_manager_after: 5,
            escalate_klk_after: 10,
            acknowledge_every: 3,
        }
    }
}

impl Policy {
    /// The day of the reminder `days` business days before `due`. One a week or more ahead
    /// goes out on the first business day of its week, where it meets the person's other
    /// reminders of that week; the last ones before the deadline keep their day.
    pub fn before_day(&self, due: Date, days: u16, workdays: &Workdays) -> Date {
        let day = workdays.add(due, -i32::from(days));
        if days < 5 {
            return day;
        }
        first_business_day_of_week(day, workdays)
    }

    /// The days of the overdue reminders after `due`, in order, numbered from 1: every
    /// `overdue_every` business days while they are `overdue_often_for` or fewer after it, then
    /// the first business day of each week up to `overdue_weekly_until`, then of each month.
    /// Endless; the caller takes what has come.
    pub fn overdue_days<'a>(&'a self, due: Date, workdays: &'a Workdays) -> impl Iterator<Item = (u16, Date)> + 'a {
        let every = i32::from(self.overdue_every.max(1));
        let often = (1..)
            .map(move |k| workdays.add(due, k * every))
            .take_while(move |day| workdays.between(due, *day) <= i32::from(self.overdue_often_for));
        let last_often = workdays.add(due, (i32::from(self.overdue_often_for) / every) * every);
        let later = std::iter::successors(Some(last_often), move |day| {
            let weekly = workdays.between(due, *day) < i32::from(self.overdue_weekly_until);
            Some(if weekly {
                first_business_day_of_next_week(*day, workdays)
            } else {
                first_business_day_of_next_month(*day, workdays)
            })
        })
        .skip(1);
        often.chain(later).zip(1..).map(|(day, k)| (k, day))
    }
}

/// The first business day of the (Monday to Sunday) week a business day `day` is in.
fn first_business_day_of_week(day: Date, workdays: &Workdays) -> Date {
    let sunday_before = day.nth_weekday(-1, Weekday::Sunday).unwrap_or(day);
    workdays.add(sunday_before, 1)
}

/// The first business day of the (Monday to Sunday) week after the one `day` is in.
fn first_business_day_of_next_week(day: Date, workdays: &Workdays) -> Date {
    let sunday = match day.weekday() {
        Weekday::Sunday => day,
        _ => day.nth_weekday(1, Weekday::Sunday).unwrap_or(day),
    };
    workdays.add(sunday, 1)
}

/// The first business day of the month after the one `day` is in.
fn first_business_day_of_next_month(day: Date, workdays: &Workdays) -> Date {
    let last = day.last_of_month();
    workdays.add(last, 1)
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
    overdue_often_for: Option<u16>,
    overdue_weekly_until: Option<u16>,
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
            overdue_often_for: self.overdue_often_for.unwrap_or(base.overdue_often_for),
            overdue_weekly_until: self.overdue_weekly_until.unwrap_or(base.overdue_weekly_until),
            escalate_manager_after: self.escalate_manager_after.unwrap_or(base.escalate_manager_after),
            escalate_klk_after: self.escalate_klk_after.unwrap_or(base.escalate_klk_after),
            acknowledge_every: self.acknowledge_every.unwrap_or(base.acknowledge_every),
        };
        if policy.before.iter().any(|days| *days == 0 || *days > MAX_DAYS) {
            return Err(format!(
                "before: each value must be 1..={MAX_DAYS} business days (the due day is always reminded)"
            ));
        }
        if policy.overdue_weekly_until < policy.overdue_often_for || policy.overdue_often_for > MAX_DAYS {
            return Err(format!(
                "overdue_weekly_until ({}) must be at least overdue_often_for ({}), both at most {MAX_DAYS}",
                policy.overdue_weekly_until, policy.overdue_often_for
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
