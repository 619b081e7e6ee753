//! Swedish working days: public holidays (Lag 1989:253 om allmänna helgdagar), the de facto
//! free eves, a municipality's own extra days off ([`Workdays`]), the eves with shortened
//! hours, and counting business days forwards and backwards.
//!
//! No maintained crate covers Swedish holidays (see DESIGN.md), so the rules live here and are
//! tested against known dates.

use std::collections::BTreeSet;
use std::sync::{Arc, LazyLock};

use jiff::ToSpan;
use jiff::civil::{Date, Weekday};

/// A day on which Swedish public offices are closed although it is not a weekend day by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayOff {
    Nyarsdagen,
    TrettondedagJul,
    Langfredagen,
    Paskdagen,
    AnnandagPask,
    ForstaMaj,
    KristiHimmelsfardsdag,
    Pingstdagen,
    Nationaldagen,
    Midsommarafton,
    Midsommardagen,
    AllaHelgonsDag,
    Julafton,
    Juldagen,
    AnnandagJul,
    Nyarsafton,
}

/// An eve of a holiday that is a working day, often with shortened hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Eve {
    /// 5 January.
    Trettondagsafton,
    /// The Thursday before Easter.
    Skartorsdagen,
    /// 30 April.
    Valborgsmassoafton,
    /// The Friday before All Saints' Day.
    Allhelgonaafton,
}

impl Eve {
    /// All four, in the year's order.
    pub const ALL: [Self; 4] = [
        Self::Trettondagsafton,
        Self::Skartorsdagen,
        Self::Valborgsmassoafton,
        Self::Allhelgonaafton,
    ];

    /// Whether `date` is this eve.
    pub fn is(self, date: Date) -> bool {
        match self {
            Self::Trettondagsafton => (date.month(), date.day()) == (1, 5),
            Self::Skartorsdagen => easter_sunday(date.year()) - 3.days() == date,
            Self::Valborgsmassoafton => (date.month(), date.day()) == (4, 30),
            Self::Allhelgonaafton => date
                .tomorrow()
                .is_ok_and(|next| day_off(next) == Some(DayOff::AllaHelgonsDag)),
        }
    }
}

/// Easter Sunday in the Gregorian calendar (anonymous algorithm, Meeus/Jones/Butcher).
pub fn easter_sunday(year: i16) -> Date {
    let y = i32::from(year);
    let (a, b, c) = (y % 19, y / 100, y % 100);
    let (d, e) = (b / 4, b % 4);
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let (i, k) = (c / 4, c % 4);
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let n = h + l - 7 * m + 114;
    // The values are bounded (month 3 or 4, day 1..=31), so the narrowing casts cannot truncate.
    Date::constant(year, (n / 31) as i8, (n % 31 + 1) as i8)
}

/// The first date on or after `from` that falls on `weekday`.
pub(crate) fn first_on_or_after(from: Date, weekday: Weekday) -> Date {
    let ahead = i32::from(weekday.to_monday_zero_offset()) - i32::from(from.weekday().to_monday_zero_offset());
    from + ahead.rem_euclid(7).days()
}

/// The public holiday or free eve that `date` is, if any. Ordinary Sundays are not listed.
pub fn day_off(date: Date) -> Option<DayOff> {
    let year = date.year();
    match (date.month(), date.day()) {
        (1, 1) => Some(DayOff::Nyarsdagen),
        (1, 6) => Some(DayOff::TrettondedagJul),
        (5, 1) => Some(DayOff::ForstaMaj),
        (6, 6) => Some(DayOff::Nationaldagen),
        (12, 24) => Some(DayOff::Julafton),
        (12, 25) => Some(DayOff::Juldagen),
        (12, 26) => Some(DayOff::AnnandagJul),
        (12, 31) => Some(DayOff::Nyarsafton),
        // Easter falls 22 March – 25 April, so its days lie in March to mid-June.
        (3..=6, _) => {
            let easter = easter_sunday(year);
            let midsommardagen = first_on_or_after(Date::constant(year, 6, 20), Weekday::Saturday);
            [
                (easter - 2.days(), DayOff::Langfredagen),
                (easter, DayOff::Paskdagen),
                (easter + 1.day(), DayOff::AnnandagPask),
                (easter + 39.days(), DayOff::KristiHimmelsfardsdag),
                (easter + 49.days(), DayOff::Pingstdagen),
                (midsommardagen - 1.day(), DayOff::Midsommarafton),
                (midsommardagen, DayOff::Midsommardagen),
            ]
            .into_iter()
            .find(|(day, _)| *day == date)
            .map(|(_, off)| off)
        }
        (10, 31) | (11, 1..=6) => (date.weekday() == Weekday::Saturday).then_some(DayOff::AllaHelgonsDag),
        _ => None,
    }
}

/// Whether public offices work on `date`: not a Saturday, Sunday, public holiday or free eve.
pub fn is_business_day(date: Date) -> bool {
    !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday) && day_off(date).is_none()
}

/// The business days of one municipality: Sweden's, less the days off it adds (bridge days,
/// "klämdagar"). Counting is a lookup in a table of 1900–2199, since the planner counts
/// thousands of times per pass.
#[derive(Debug, Clone)]
pub struct Workdays {
    extra_days_off: Arc<BTreeSet<Date>>,
    table: Arc<BusinessDayTable>,
}

/// Sweden's business days, built once.
static SWEDEN: LazyLock<Workdays> = LazyLock::new(|| Workdays::build(BTreeSet::new()));

impl Default for Workdays {
    /// Sweden's business days, with no extra days off.
    fn default() -> Self {
        SWEDEN.clone()
    }
}

impl PartialEq for Workdays {
    fn eq(&self, other: &Self) -> bool {
        self.extra_days_off == other.extra_days_off
    }
}

impl Workdays {
    /// Sweden's business days less `extra_days_off`.
    pub fn new(extra_days_off: BTreeSet<Date>) -> Self {
        if extra_days_off.is_empty() {
            Self::default()
        } else {
            Self::build(extra_days_off)
        }
    }

    fn build(extra_days_off: BTreeSet<Date>) -> Self {
        let extra_days_off = Arc::new(extra_days_off);
        let off = Arc::clone(&extra_days_off);
        let table = Arc::new(BusinessDayTable::build(|day| {
            is_business_day(day) && !off.contains(&day)
        }));
        Self { extra_days_off, table }
    }

    /// The municipality's own days off, beyond Sweden's.
    pub fn extra_days_off(&self) -> &BTreeSet<Date> {
        &self.extra_days_off
    }

    /// Whether the municipality's offices work on `date`.
    pub fn is_business_day(&self, date: Date) -> bool {
        is_business_day(date) && !self.extra_days_off.contains(&date)
    }

    /// The business day `count` business days after `date` (before it when `count` is
    /// negative). With `count == 0` the result is `date` itself, whatever kind of day it is.
    pub fn add(&self, date: Date, count: i32) -> Date {
        if count == 0 {
            return date;
        }
        self.table
            .add(date, count)
            .unwrap_or_else(|| self.add_by_walking(date, count))
    }

    /// How many business days lie after `from` up to and including `to` (0 when `to <= from`).
    pub fn between(&self, from: Date, to: Date) -> i32 {
        if to <= from {
            return 0;
        }
        self.table.between(from, to).unwrap_or_else(|| {
            let mut count = 0;
            let mut day = from;
            while day < to {
                let Ok(next) = day.tomorrow() else { break };
                day = next;
                count += i32::from(self.is_business_day(day));
            }
            count
        })
    }

    /// Day-by-day counting, for dates outside the precomputed table.
    fn add_by_walking(&self, date: Date, count: i32) -> Date {
        let mut remaining = count.unsigned_abs();
        let mut day = date;
        while remaining > 0 {
            let next = if count < 0 { day.yesterday() } else { day.tomorrow() };
            // Only the ends of jiff's year range fail; stay there rather than panic.
            let Ok(next) = next else { return day };
            day = next;
            if self.is_business_day(day) {
                remaining -= 1;
            }
        }
        day
    }
}

#[derive(Debug)]
struct BusinessDayTable {
    first: Date,
    /// `cumulative[i]`: business days from `first` up to and including `first + i` days.
    cumulative: Vec<i32>,
}

impl BusinessDayTable {
    fn build(is_business_day: impl Fn(Date) -> bool) -> Self {
        let first = Date::constant(1900, 1, 1);
        let last = Date::constant(2199, 12, 31);
        let mut cumulative = Vec::with_capacity(110_000);
        let (mut day, mut count) = (first, 0);
        while day <= last {
            count += i32::from(is_business_day(day));
            cumulative.push(count);
            let Ok(next) = day.tomorrow() else { break };
            day = next;
        }
        Self { first, cumulative }
    }

    fn index(&self, date: Date) -> Option<usize> {
        let days = date.since(self.first).ok()?.get_days();
        usize::try_from(days).ok().filter(|i| *i < self.cumulative.len())
    }

    fn date(&self, index: usize) -> Option<Date> {
        self.first.checked_add(i64::try_from(index).ok()?.days()).ok()
    }

    fn add(&self, date: Date, count: i32) -> Option<Date> {
        let i = self.index(date)?;
        // The number of business days strictly before `date` (counting forward) or up to it.
        let works = self.cumulative[i] - i.checked_sub(1).map_or(0, |before| self.cumulative[before]);
        let base = if count > 0 {
            self.cumulative[i]
        } else {
            self.cumulative[i] - works
        };
        let target = if count > 0 { base + count } else { base + count + 1 };
        if target < 1 {
            return None;
        }
        // The first day whose running count reaches `target` is that business day.
        let j = self.cumulative.partition_point(|c| *c < target);
        (j < self.cumulative.len()).then(|| self.date(j))?
    }

    fn between(&self, from: Date, to: Date) -> Option<i32> {
        Some(self.cumulative[self.index(to)?] - self.cumulative[self.index(from)?])
    }
}

/// Where a due date that falls on a non-business day is moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NonBusinessDayRule {
    /// To the last business day before it (the default: a deadline is never later than set).
    Previous,
    /// To the first business day after it.
    Next,
    /// Nowhere: the date stays as written.
    Keep,
}

impl NonBusinessDayRule {
    /// `date`, moved according to this rule if it is not one of `workdays`.
    pub fn apply(self, date: Date, workdays: &Workdays) -> Date {
        if workdays.is_business_day(date) {
            return date;
        }
        match self {
            Self::Previous => workdays.add(date, -1),
            Self::Next => workdays.add(date, 1),
            Self::Keep => date,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn easter_matches_known_dates_2024_to_2030() {
        let known = [
            (2024, date(2024, 3, 31)),
            (2025, date(2025, 4, 20)),
            (2026, date(2026, 4, 5)),
            (2027, date(2027, 3, 28)),
            (2028, date(2028, 4, 16)),
            (2029, date(2029, 4, 1)),
            (2030, date(2030, 4, 21)),
        ];
        for (year, expected) in known {
            assert_eq!(easter_sunday(year), expected, "Easter {year}");
        }
    }

    #[test]
    fn midsommar_and_all_saints_fall_on_their_saturdays() {
        let known = [
            (date(2024, 6, 21), date(2024, 6, 22), date(2024, 11, 2)),
            (date(2025, 6, 20), date(2025, 6, 21), date(2025, 11, 1)),
            (date(2026, 6, 19), date(2026, 6, 20), date(2026, 10, 31)),
            (date(2027, 6, 25), date(2027, 6, 26), date(2027, 11, 6)),
            (date(2028, 6, 23), date(2028, 6, 24), date(2028, 11, 4)),
        ];
        for (eve, day, all_saints) in known {
            assert_eq!(day_off(eve), Some(DayOff::Midsommarafton), "{eve}");
            assert_eq!(day_off(day), Some(DayOff::Midsommardagen), "{day}");
            assert_eq!(day_off(all_saints), Some(DayOff::AllaHelgonsDag), "{all_saints}");
            assert!(!is_business_day(eve));
        }
        assert_eq!(day_off(date(2026, 6, 26)), None, "the Friday a week later works");
    }

    #[test]
    fn easter_based_holidays_2027() {
        assert_eq!(day_off(date(2027, 3, 26)), Some(DayOff::Langfredagen));
        assert_eq!(day_off(date(2027, 3, 29)), Some(DayOff::AnnandagPask));
        assert_eq!(day_off(date(2027, 5, 6)), Some(DayOff::KristiHimmelsfardsdag));
        assert_eq!(day_off(date(2027, 5, 16)), Some(DayOff::Pingstdagen));
        assert!(is_business_day(date(2027, 3, 25)), "skärtorsdagen is a working day");
        assert!(
            is_business_day(date(2027, 5, 17)),
            "annandag pingst is no longer a holiday"
        );
    }

    #[test]
    fn fixed_days_off_and_eves_are_not_business_days() {
        for d in [
            date(2027, 1, 1),
            date(2027, 1, 6),
            date(2027, 5, 1),
            date(2026, 6, 6),
            date(2026, 12, 24),
            date(2026, 12, 25),
            date(2026, 12, 31),
        ] {
            assert!(!is_business_day(d), "{d}");
        }
        assert!(is_business_day(date(2026, 12, 30)));
        assert!(!is_business_day(date(2027, 1, 2)), "a Saturday");
        assert!(!is_business_day(date(2027, 1, 3)), "a Sunday");
    }

    fn add_business_days(day: Date, count: i32) -> Date {
        Workdays::default().add(day, count)
    }

    fn add_by_walking(day: Date, count: i32) -> Date {
        Workdays::default().add_by_walking(day, count)
    }

    #[test]
    fn counting_business_days_skips_weekends_and_holidays() {
        // Wednesday 23 Dec 2026 + 1 business day: 24, 25, 26, 27 off → Monday 28 Dec.
        assert_eq!(add_business_days(date(2026, 12, 23), 1), date(2026, 12, 28));
        // Counting back from Tuesday 6 Apr 2027 crosses Easter: 26 Mar (långfredagen) and
        // 29 Mar (annandag påsk) do not count.
        assert_eq!(add_business_days(date(2027, 4, 6), -1), date(2027, 4, 5));
        assert_eq!(add_business_days(date(2027, 4, 6), -4), date(2027, 3, 31));
        assert_eq!(add_business_days(date(2027, 4, 6), -6), date(2027, 3, 25));
        assert_eq!(add_business_days(date(2027, 3, 1), 10), date(2027, 3, 15));
        assert_eq!(add_business_days(date(2027, 3, 6), 0), date(2027, 3, 6));
        let sweden = Workdays::default();
        assert_eq!(sweden.between(date(2027, 3, 1), date(2027, 3, 15)), 10);
        assert_eq!(sweden.between(date(2027, 3, 15), date(2027, 3, 1)), 0);
    }

    #[test]
    fn a_municipalitys_own_days_off_do_not_count() {
        // Friday 7 May 2027, the bridge day after Kristi himmelsfärd.
        let bridge = date(2027, 5, 7);
        let kristianstad = Workdays::new([bridge].into());
        assert!(!kristianstad.is_business_day(bridge) && Workdays::default().is_business_day(bridge));
        assert_eq!(kristianstad.add(date(2027, 5, 5), 1), date(2027, 5, 10));
        assert_eq!(kristianstad.add(date(2027, 5, 10), -1), date(2027, 5, 5));
        assert_eq!(kristianstad.between(date(2027, 5, 3), date(2027, 5, 10)), 3);
        assert_eq!(
            NonBusinessDayRule::Previous.apply(bridge, &kristianstad),
            date(2027, 5, 5)
        );
        for count in [-30, -2, -1, 1, 2, 30] {
            assert_eq!(
                kristianstad.add(date(2027, 5, 3), count),
                kristianstad.add_by_walking(date(2027, 5, 3), count),
                "{count}"
            );
        }
    }

    #[test]
    fn the_eves_with_shortened_hours_are_found() {
        let eves = |year: i16| -> Vec<Date> {
            let mut day = Date::new(year, 1, 1).unwrap();
            let mut found = Vec::new();
            while day.year() == year {
                if Eve::ALL.iter().any(|eve| eve.is(day)) {
                    found.push(day);
                }
                day = day.tomorrow().unwrap();
            }
            found
        };
        assert_eq!(
            eves(2027),
            [
                date(2027, 1, 5),
                date(2027, 3, 25),
                date(2027, 4, 30),
                date(2027, 11, 5)
            ]
        );
        assert_eq!(eves(2026)[3], date(2026, 10, 30), "the Friday before 31 October");
    }

    #[test]
    fn table_lookups_agree_with_walking_day_by_day() {
        let mut day = date(2025, 12, 1);
        while day < date(2028, 2, 1) {
            for count in [-45, -30, -14, -2, -1, 1, 2, 7, 14, 30, 45] {
                assert_eq!(
                    add_business_days(day, count),
                    add_by_walking(day, count),
                    "{day} {count}"
                );
            }
            day = day.tomorrow().unwrap();
        }
        assert_eq!(
            add_business_days(date(1900, 1, 2), -5),
            add_by_walking(date(1900, 1, 2), -5),
            "before the table"
        );
        assert_eq!(
            add_business_days(date(2199, 12, 30), 5),
            add_by_walking(date(2199, 12, 30), 5),
            "after the table"
        );
    }

    #[test]
    fn non_business_days_move_as_configured() {
        let julafton = date(2026, 12, 24);
        let sweden = Workdays::default();
        assert_eq!(
            NonBusinessDayRule::Previous.apply(julafton, &sweden),
            date(2026, 12, 23)
        );
        assert_eq!(NonBusinessDayRule::Next.apply(julafton, &sweden), date(2026, 12, 28));
        assert_eq!(NonBusinessDayRule::Keep.apply(julafton, &sweden), julafton);
        let tuesday = date(2027, 2, 16);
        assert_eq!(NonBusinessDayRule::Next.apply(tuesday, &sweden), tuesday);
    }
}
