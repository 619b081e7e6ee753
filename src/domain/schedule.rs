//! Due dates: which periods an obligation has, when each falls due, and the occurrences
//! (obligation × unit × period) that follow. Pure functions of the configuration and a date.

use std::fmt;

use jiff::Timestamp;
use jiff::civil::Date;

use super::business_days::add_business_days;
use super::config::{Config, DueRule, Obligation, ObligationId, Recurrence, Unit, UnitId};
use super::mandate::MandatePeriod;

/// The stretch of time one occurrence of an obligation covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Period {
    /// A calendar year: the year the work concerns.
    Year(i16),
    /// A mandate period of the council.
    Mandate(MandatePeriod),
    /// The only period of an obligation that occurs once.
    Once,
}

impl Period {
    /// The year a day-of-year due rule counts from.
    fn base_year(self) -> Option<i16> {
        match self {
            Self::Year(year) => Some(year),
            Self::Mandate(mandate) => Some(mandate.election_year()),
            Self::Once => None,
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Year(year) => write!(f, "{year}"),
            Self::Mandate(mandate) => f.write_str(&mandate.label()),
            Self::Once => f.write_str("once"),
        }
    }
}

/// One obligation to be done by one unit for one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub obligation: ObligationId,
    pub unit: UnitId,
    pub period: Period,
    /// The local due date, already moved off non-business days.
    pub due_date: Date,
    /// The instant the occurrence falls due: the due date at the calendar's due time.
    pub due_at: Timestamp,
}

impl Config {
    /// The local date `obligation` falls due in `period`, or `None` if the obligation has no
    /// occurrence in a period of that kind.
    pub fn due_date(&self, obligation: &Obligation, period: Period) -> Option<Date> {
        let unmoved = match &obligation.due {
            DueRule::DayOfYear { month, day, year_offset } => {
                Date::new(period.base_year()?.checked_add(*year_offset)?, *month, *day).ok()?
            }
            DueRule::On(date) => (period == Period::Once).then_some(*date)?,
            DueRule::Relative { obligation: other, business_days } => {
                let other = self.calendar.obligation(other)?;
                add_business_days(self.due_date(other, period)?, *business_days)
            }
        };
        Some(obligation.move_due.apply(unmoved))
    }

    /// The instant a local due date ends, at the calendar's due time in its time zone.
    pub fn due_at(&self, date: Date) -> Option<Timestamp> {
        self.calendar.time_zone.to_timestamp(date.to_datetime(self.calendar.due_time)).ok()
    }

    /// The local date at instant `now` in the calendar's time zone.
    pub fn local_date(&self, now: Timestamp) -> Date {
        self.calendar.time_zone.to_datetime(now).date()
    }

    /// Every occurrence due within the calendar years `years` (inclusive), in due order.
    pub fn occurrences_due_in(&self, years: std::ops::RangeInclusive<i16>) -> Vec<Occurrence> {
        let mut occurrences: Vec<Occurrence> = self
            .calendar
            .obligations
            .iter()
            .flat_map(|obligation| {
                candidate_periods(obligation.recurrence, &years)
                    .into_iter()
                    .filter_map(|period| Some((period, self.due_date(obligation, period)?)))
                    .filter(|(_, due)| years.contains(&due.year()))
                    .flat_map(move |(period, due)| self.units_for(obligation).map(move |unit| (obligation, unit, period, due)))
            })
            .filter_map(|(obligation, unit, period, due_date): (&Obligation, &Unit, Period, Date)| {
                Some(Occurrence {
                    obligation: obligation.id.clone(),
                    unit: unit.id.clone(),
                    period,
                    due_date,
                    due_at: self.due_at(due_date)?,
                })
            })
            .collect();
        occurrences.sort_by(|a, b| (a.due_at, &a.obligation, &a.unit).cmp(&(b.due_at, &b.obligation, &b.unit)));
        occurrences
    }

    /// The occurrences arshjul keeps in its database on `today`: those due in the current or
    /// the next calendar year. Earlier ones were kept when they were in that window.
    pub fn occurrences_to_materialise(&self, today: Date) -> Vec<Occurrence> {
        self.occurrences_due_in(today.year()..=today.year().saturating_add(1))
    }

    /// Whether occurrences of `obligation` for `unit` still follow from the configuration.
    pub fn is_configured(&self, obligation: &str, unit: &str) -> bool {
        let obligation = self.calendar.obligations.iter().find(|o| o.id.as_str() == obligation);
        let unit = self.directory.units.iter().find(|u| u.id.as_str() == unit);
        obligation.zip(unit).is_some_and(|(obligation, unit)| obligation.unit_kinds.contains(&unit.kind))
    }
}

/// Periods whose due date could fall within `years`: due rules reach at most a few years from
/// their base year (see the calendar's limits), so a margin of six years either side is enough.
fn candidate_periods(recurrence: Recurrence, years: &std::ops::RangeInclusive<i16>) -> Vec<Period> {
    const MARGIN: i16 = 6;
    let (first, last) = (years.start().saturating_sub(MARGIN), years.end().saturating_add(MARGIN));
    match recurrence {
        Recurrence::Yearly => (first..=last).map(Period::Year).collect(),
        Recurrence::MandatePeriod => (first..=last).filter_map(MandatePeriod::elected_in).map(Period::Mandate).collect(),
        Recurrence::Once => vec![Period::Once],
    }
}
