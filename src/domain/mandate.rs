//! Mandate periods of the municipal council (mandatperioder).
//!
//! General elections are held on the second Sunday of September every four years (2022, 2026,
//! 2030, …); the council elected then takes office on 15 October of the election year.

use jiff::ToSpan;
use jiff::civil::{Date, Weekday};

use super::business_days::first_on_or_after;

/// The first election year of the regular four-year cycle that arshjul knows.
const CYCLE_ORIGIN: i16 = 2022;

/// One four-year mandate period, named by the year of the election that starts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MandatePeriod {
    election_year: i16,
}

impl MandatePeriod {
    /// The period that starts after the election in `year`; `None` if no election is held then.
    pub fn elected_in(year: i16) -> Option<Self> {
        (i32::from(year) - i32::from(CYCLE_ORIGIN))
            .rem_euclid(4)
            .eq(&0)
            .then_some(Self { election_year: year })
    }

    /// The period in force on `date`.
    pub fn containing(date: Date) -> Self {
        let offset = (i32::from(date.year()) - i32::from(CYCLE_ORIGIN)).rem_euclid(4);
        // `offset` is 0..=3, so the subtraction cannot overflow a civil year.
        let mut election_year = date.year() - offset as i16;
        if offset == 0 && date < Date::constant(date.year(), 10, 15) {
            election_year -= 4;
        }
        Self { election_year }
    }

    /// The year of the general election that starts this period.
    pub fn election_year(self) -> i16 {
        self.election_year
    }

    /// Election day: the second Sunday of September of the election year.
    pub fn election_day(self) -> Date {
        first_on_or_after(Date::constant(self.election_year, 9, 1), Weekday::Sunday) + 1.week()
    }

    /// The day the new council takes office.
    pub fn start(self) -> Date {
        Date::constant(self.election_year, 10, 15)
    }

    /// The period after this one.
    pub fn next(self) -> Self {
        Self {
            election_year: self.election_year + 4,
        }
    }

    /// The label used as an occurrence's period, e.g. `2026-2030`.
    pub fn label(self) -> String {
        format!("{}-{}", self.election_year, self.election_year + 4)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn election_days_are_second_sundays_of_september() {
        let elected = |y| MandatePeriod::elected_in(y).unwrap();
        assert_eq!(elected(2022).election_day(), date(2022, 9, 11));
        assert_eq!(elected(2026).election_day(), date(2026, 9, 13));
        assert_eq!(elected(2030).election_day(), date(2030, 9, 8));
        assert_eq!(elected(2034).election_day(), date(2034, 9, 10));
    }

    #[test]
    fn only_every_fourth_year_is_an_election_year() {
        assert!(MandatePeriod::elected_in(2026).is_some());
        assert!(MandatePeriod::elected_in(2018).is_some());
        assert!(MandatePeriod::elected_in(2027).is_none());
        assert!(MandatePeriod::elected_in(2028).is_none());
    }

    #[test]
    fn a_new_period_starts_on_15_october_of_the_election_year() {
        let containing = |d| MandatePeriod::containing(d).label();
        assert_eq!(containing(date(2026, 10, 14)), "2022-2026");
        assert_eq!(containing(date(2026, 10, 15)), "2026-2030");
        assert_eq!(containing(date(2026, 11, 27)), "2026-2030");
        assert_eq!(containing(date(2029, 12, 31)), "2026-2030");
        assert_eq!(containing(date(2030, 9, 8)), "2026-2030");
        assert_eq!(containing(date(2030, 10, 15)), "2030-2034");
        assert_eq!(containing(date(2023, 1, 1)), "2022-2026");
        assert_eq!(
            MandatePeriod::containing(date(2026, 11, 27)).start(),
            date(2026, 10, 15)
        );
        assert_eq!(
            MandatePeriod::containing(date(2026, 11, 27)).next().label(),
            "2030-2034"
        );
    }
}
