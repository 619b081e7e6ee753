//! Due dates: which periods an obligation has, when each falls due, and the occurrences
//! (obligation × unit × period) that follow. Pure functions of the configuration and a date.

use std::fmt;

use jiff::Timestamp;
use jiff::civil::Date;

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
    /// An EU funding call (by its announcement id) with its deadline.
    Call { id: i64, deadline: Date },
    /// The project a unit was granted in an EU funding call (by its announcement id), with
    /// the day the grant was recorded.
    Project { id: i64, granted: Date },
    /// An on-demand item (a revision), by the day KLK started it.
    Started { on: Date },
}

impl Period {
    /// The year a day-of-year due rule counts from.
    fn base_year(self) -> Option<i16> {
        match self {
            Self::Year(year) => Some(year),
            Self::Mandate(mandate) => Some(mandate.election_year()),
            Self::Once | Self::Call { .. } | Self::Project { .. } | Self::Started { .. } => None,
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Year(year) => write!(f, "{year}"),
            Self::Mandate(mandate) => f.write_str(&mandate.label()),
            Self::Once => f.write_str("once"),
            Self::Call { id, .. } => write!(f, "call-{id}"),
            Self::Project { id, .. } => write!(f, "project-{id}"),
            Self::Started { on } => write!(f, "started-{on}"),
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
            DueRule::DayOfYear {
                month,
                day,
                year_offset,
            } => Date::new(period.base_year()?.checked_add(*year_offset)?, *month, *day).ok()?,
            DueRule::On(date) => (period == Period::Once).then_some(*date)?,
            DueRule::Relative {
                obligation: other,
                business_days,
            } => {
                let other = self.calendar.obligation(other)?;
                self.calendar
                    .workdays
                    .add(self.due_date(other, period)?, *business_days)
            }
            DueRule::BeforeCallDeadline { business_days } => match period {
                Period::Call { deadline, .. } => self.calendar.workdays.add(deadline, -i32::from(*business_days)),
                _ => return None,
            },
            DueRule::MonthsAfterStart { months } => match period {
                Period::Project { granted: start, .. } | Period::Started { on: start } => {
                    start.checked_add(jiff::Span::new().months(*months)).ok()?
                }
                _ => return None,
            },
            DueRule::Meeting {
                body,
                obligation: other,
                after,
                before,
            } => {
                let other = self.due_date(self.calendar.obligation(other)?, period)?;
                let earliest = self.calendar.workdays.add(other, i32::from(*after));
                let deadline = |meeting: Date| self.calendar.workdays.add(meeting, -i32::from(*before));
                let meeting = self
                    .calendar
                    .meetings
                    .get(body)?
                    .iter()
                    .copied()
                    .find(|&meeting| meeting > other && deadline(meeting) >= earliest)?;
                deadline(meeting)
            }
        };
        Some(obligation.move_due.apply(unmoved, &self.calendar.workdays))
    }

    /// The instant a local due date ends, at the calendar's due time (a half day's when it is
    /// one) in its time zone.
    pub fn due_at(&self, date: Date) -> Option<Timestamp> {
        self.calendar
            .time_zone
            .to_timestamp(date.to_datetime(self.calendar.due_time_on(date)))
            .ok()
    }

    /// The local date at instant `now` in the calendar's time zone.
    pub fn local_date(&self, now: Timestamp) -> Date {
        self.calendar.time_zone.to_datetime(now).date()
    }

    /// Instant `at` as a local date and time to the minute, `2027-02-01 10:30`.
    pub fn local_minute(&self, at: Timestamp) -> String {
        self.calendar
            .time_zone
            .to_datetime(at)
            .strftime("%Y-%m-%d %H:%M")
            .to_string()
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
                    .flat_map(move |(period, due)| {
                        self.units_for(obligation)
                            .map(move |unit| (obligation, unit, period, due))
                    })
            })
            .filter_map(
                |(obligation, unit, period, due_date): (&Obligation, &Unit, Period, Date)| {
                    self.occurrence(obligation, unit, period, due_date)
                },
            )
            .collect();
        occurrences.sort_by(|a, b| (a.due_at, &a.obligation, &a.unit).cmp(&(b.due_at, &b.obligation, &b.unit)));
        occurrences
    }

    /// What `check-config` warns of in the deadlines of `years`: those inside a quiet period,
    /// and those at a meeting the meeting plan does not list yet.
    pub fn deadline_warnings(&self, years: std::ops::RangeInclusive<i16>) -> Vec<String> {
        let mut warnings = self.quiet_deadline_warnings(years.clone());
        warnings.extend(self.unplanned_meeting_warnings(years));
        warnings
    }

    /// A warning for each deadline in `years` that falls inside a quiet period: nobody is
    /// reminded on the day, and what follows it waits until the period ends.
    fn quiet_deadline_warnings(&self, years: std::ops::RangeInclusive<i16>) -> Vec<String> {
        let mut seen = std::collections::BTreeSet::new();
        self.occurrences_due_in(years)
            .into_iter()
            .filter(|o| self.calendar.is_quiet(o.due_date))
            .filter(|o| seen.insert((o.obligation.clone(), o.due_date)))
            .map(|o| {
                format!(
                    "obligation \"{}\" falls due on {} inside a quiet period: nobody is reminded on the day, \
                     and what follows waits until the period ends",
                    o.obligation, o.due_date
                )
            })
            .collect()
    }

    /// A warning for each obligation due at a meeting whose anchor falls due in `years` but
    /// for which `[meetings]` lists no meeting late enough: it has no deadline that period.
    fn unplanned_meeting_warnings(&self, years: std::ops::RangeInclusive<i16>) -> Vec<String> {
        let years = &years;
        self.calendar
            .obligations
            .iter()
            .filter_map(|obligation| match &obligation.due {
                DueRule::Meeting {
                    body,
                    obligation: anchor,
                    ..
                } => Some((obligation, body, self.calendar.obligation(anchor)?)),
                _ => None,
            })
            .flat_map(|(obligation, body, anchor)| {
                candidate_periods(obligation.recurrence, years)
                    .into_iter()
                    .filter_map(move |period| {
                        let anchor_due = self.due_date(anchor, period).filter(|d| years.contains(&d.year()))?;
                        self.due_date(obligation, period).is_none().then(|| {
                            format!(
                                "obligation \"{}\" has no deadline for {period}: [meetings] lists no meeting of \
                                 \"{body}\" late enough after \"{}\" on {anchor_due}",
                                obligation.id, anchor.id
                            )
                        })
                    })
            })
            .collect()
    }

    /// The occurrences arshjul keeps in its database at `now`: those still to fall due in the
    /// current or the next calendar year. Nothing already past due is created, so a fresh
    /// installation does not start by chasing last spring's deadlines; earlier occurrences
    /// were created while they were in the window, a year ahead.
    pub fn occurrences_to_materialise(&self, now: Timestamp) -> Vec<Occurrence> {
        let year = self.local_date(now).year();
        let mut occurrences = self.occurrences_due_in(year..=year.saturating_add(1));
        occurrences.retain(|o| o.due_at >= now);
        occurrences
    }

    /// The per-call occurrences for `unit` applying to call `id` with `deadline`: drafting the
    /// application for the strategist's review, the review itself, and whatever else the
    /// calendar has per call.
    pub fn call_occurrences(&self, id: i64, deadline: Date, unit: &Unit) -> Vec<Occurrence> {
        let period = Period::Call { id, deadline };
        self.calendar
            .obligations
            .iter()
            .filter(|o| o.recurrence == Recurrence::PerCall && o.unit_kinds.contains(&unit.kind))
            .filter_map(|obligation| self.occurrence(obligation, unit, period, self.due_date(obligation, period)?))
            .collect()
    }

    /// The per-project occurrences for `unit`, granted a project in call `id` on `granted`:
    /// its progress, financial and final reports and whatever else the calendar has per
    /// project, each due on the date `given` for it with the grant or else by the calendar's
    /// rule. A date given for an obligation that is not per project is refused, by its id.
    pub fn project_occurrences(
        &self,
        id: i64,
        granted: Date,
        unit: &Unit,
        given: &std::collections::BTreeMap<String, Date>,
    ) -> Result<Vec<Occurrence>, String> {
        let per_project = |o: &&Obligation| o.recurrence == Recurrence::PerProject && o.unit_kinds.contains(&unit.kind);
        if let Some(unknown) = given.keys().find(|key| {
            !self
                .calendar
                .obligations
                .iter()
                .filter(per_project)
                .any(|o| o.id.as_str() == key.as_str())
        }) {
            return Err(format!("\"{unknown}\" is no per-project obligation of {}", unit.id));
        }
        let period = Period::Project { id, granted };
        Ok(self
            .calendar
            .obligations
            .iter()
            .filter(per_project)
            .filter_map(|obligation| {
                let due = match given.get(obligation.id.as_str()) {
                    Some(date) => obligation.move_due.apply(*date, &self.calendar.workdays),
                    None => self.due_date(obligation, period)?,
                };
                self.occurrence(obligation, unit, period, due)
            })
            .collect())
    }

    /// The occurrences of on-demand obligation `id` that KLK starts on `on`: one for each unit
    /// it applies to, due on `due` or by the calendar's rule. Refused, saying why, for an id
    /// that is not an on-demand obligation or a due date not after the start.
    pub fn started_occurrences(&self, id: &str, on: Date, due: Option<Date>) -> Result<Vec<Occurrence>, String> {
        let obligation = self
            .calendar
            .obligations
            .iter()
            .find(|o| o.id.as_str() == id && o.recurrence == Recurrence::OnDemand)
            .ok_or_else(|| {
                let known: Vec<&str> = self
                    .calendar
                    .obligations
                    .iter()
                    .filter(|o| o.recurrence == Recurrence::OnDemand)
                    .map(|o| o.id.as_str())
                    .collect();
                format!(
                    "\"{id}\" is no obligation started on demand; those are: {}",
                    known.join(", ")
                )
            })?;
        let period = Period::Started { on };
        let due = match due {
            Some(date) if date <= on => return Err(format!("the due date {date} is not after today, {on}")),
            Some(date) => obligation.move_due.apply(date, &self.calendar.workdays),
            None => self
                .due_date(obligation, period)
                .ok_or("no due date follows from the calendar")?,
        };
        Ok(self
            .units_for(obligation)
            .filter_map(|unit| self.occurrence(obligation, unit, period, due))
            .collect())
    }

    /// `obligation` for `unit` in `period`, due on `due_date` at the calendar's due time.
    fn occurrence(&self, obligation: &Obligation, unit: &Unit, period: Period, due_date: Date) -> Option<Occurrence> {
        Some(Occurrence {
            obligation: obligation.id.clone(),
            unit: unit.id.clone(),
            period,
            due_date,
            due_at: self.due_at(due_date)?,
        })
    }

    /// Whether occurrences of `obligation` for `unit` still follow from the configuration.
    pub fn is_configured(&self, obligation: &str, unit: &str) -> bool {
        let obligation = self.calendar.obligations.iter().find(|o| o.id.as_str() == obligation);
        let unit = self.directory.unit_named(unit);
        obligation
            .zip(unit)
            .is_some_and(|(obligation, unit)| obligation.unit_kinds.contains(&unit.kind))
    }
}

/// Periods whose due date could fall within `years`: due rules reach at most a few years from
/// their base year (see the calendar's limits), so a margin of six years either side is enough.
fn candidate_periods(recurrence: Recurrence, years: &std::ops::RangeInclusive<i16>) -> Vec<Period> {
    const MARGIN: i16 = 6;
    let (first, last) = (years.start().saturating_sub(MARGIN), years.end().saturating_add(MARGIN));
    match recurrence {
        Recurrence::Yearly => (first..=last).map(Period::Year).collect(),
        Recurrence::MandatePeriod => (first..=last)
            .filter_map(MandatePeriod::elected_in)
            .map(Period::Mandate)
            .collect(),
        Recurrence::Once => vec![Period::Once],
        // Created when a unit applies to a call, is granted a project or KLK starts one,
        // never by the calendar.
        Recurrence::PerCall | Recurrence::PerProject | Recurrence::OnDemand => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::config::fixtures::{SHIPPED_CALENDAR, shipped_with};
    use jiff::civil::date;

    fn shipped() -> Config {
        shipped_with(SHIPPED_CALENDAR)
    }

    #[test]
    fn a_deadline_inside_a_quiet_period_is_warned_of_once() {
        assert_eq!(shipped().deadline_warnings(2027..=2028), Vec::<String>::new());
        let february = SHIPPED_CALENDAR.replacen("quiet_periods = [", "quiet_periods = [\n    { weeks = [7, 7] },", 1);
        let warnings = shipped_with(&february).quiet_deadline_warnings(2027..=2027);
        assert_eq!(
            warnings,
            [
                "obligation \"uppfoljning\" falls due on 2027-02-15 inside a quiet period: nobody is reminded on \
                 the day, and what follows waits until the period ends",
                "obligation \"vanortsredovisning\" falls due on 2027-02-15 inside a quiet period: nobody is \
                 reminded on the day, and what follows waits until the period ends"
            ],
            "one warning per obligation, not per unit"
        );
    }

    fn due(config: &Config, obligation: &str, period: Period) -> Date {
        let obligation = config
            .calendar
            .obligations
            .iter()
            .find(|o| o.id.as_str() == obligation)
            .unwrap();
        config.due_date(obligation, period).unwrap()
    }

    #[test]
    fn shipped_calendar_due_dates_for_2027() {
        let config = shipped();
        let year = Period::Year;
        assert_eq!(due(&config, "uppfoljning", year(2026)), date(2027, 2, 15));
        assert_eq!(due(&config, "sammanstallning", year(2026)), date(2027, 3, 1));
        // On the agenda of KS's 21 April meeting: fifteen business days before it (påsk does
        // not count), the first that leaves ten after the compilation (24 March's is too soon).
        assert_eq!(due(&config, "verksamhetsberattelse", year(2026)), date(2027, 3, 31));
        assert_eq!(due(&config, "ks-godkannande", year(2026)), date(2027, 4, 21));
        // KF's agenda deadline for its 18 May meeting, ten business days ahead (Kristi
        // himmelsfärd and the bridge day after it do not count).
        assert_eq!(due(&config, "rapport-till-kf", year(2026)), date(2027, 4, 30));
        // 31 January 2027 is a Sunday: the deadline moves to Friday 29 January.
        assert_eq!(due(&config, "handlingsplan", year(2027)), date(2027, 1, 29));
        assert_eq!(due(&config, "verksamhetsplan", year(2028)), date(2027, 11, 30));
        let mandate = Period::Mandate(crate::domain::mandate::MandatePeriod::elected_in(2026).unwrap());
        assert_eq!(due(&config, "strategi-uppdatering", mandate), date(2027, 4, 30));
        // Kristi himmelsfärdsdag (6 May 2027) and the bridge day after it do not count.
        assert_eq!(due(&config, "riktlinjer-uppdatering", mandate), date(2027, 6, 1));
        // KF's first meeting at least twenty business days later: there is none in summer.
        assert_eq!(due(&config, "kf-beslut", mandate), date(2027, 9, 14));
    }

    #[test]
    fn a_deadline_at_a_meeting_follows_the_meeting_plan_and_what_it_waits_for() {
        // The compilation four weeks later misses KS's April agenda: the report goes to May's
        // meeting, and the council hears of it at its first meeting after that.
        let later = SHIPPED_CALENDAR.replace(
            "due = { business_days_after = 10, obligation = \"uppfoljning\" }",
            "due = { business_days_after = 30, obligation = \"uppfoljning\" }",
        );
        let config = shipped_with(&later);
        assert_eq!(due(&config, "ks-godkannande", Period::Year(2026)), date(2027, 5, 19));
        assert_eq!(due(&config, "rapport-till-kf", Period::Year(2026)), date(2027, 6, 1));
        // A meeting moved in the plan moves the deadline with it.
        let moved = SHIPPED_CALENDAR.replace("\"2027-04-21\"", "\"2027-04-28\"");
        assert_eq!(
            due(&shipped_with(&moved), "ks-godkannande", Period::Year(2026)),
            date(2027, 4, 28)
        );
    }

    #[test]
    fn a_deadline_on_a_half_day_ends_early_and_extra_days_off_do_not_count() {
        let config = shipped();
        let mandate = Period::Mandate(crate::domain::mandate::MandatePeriod::elected_in(2026).unwrap());
        // 30 April 2027 is valborgsmässoafton: the deadline ends at noon, not 16:00.
        let strategy = due(&config, "strategi-uppdatering", mandate);
        assert_eq!(strategy, date(2027, 4, 30));
        assert_eq!(config.due_at(strategy).unwrap().to_string(), "2027-04-30T10:00:00Z");
        assert_eq!(
            config.due_at(date(2027, 5, 3)).unwrap().to_string(),
            "2027-05-03T14:00:00Z"
        );
        // Twenty business days after it skip Kristi himmelsfärd and the bridge day after it.
        assert_eq!(due(&config, "riktlinjer-uppdatering", mandate), date(2027, 6, 1));
        let plain = shipped_with(&SHIPPED_CALENDAR.replace("extra_days_off = [\"2027-05-07\", ", "extra_days_off = ["));
        assert_eq!(due(&plain, "riktlinjer-uppdatering", mandate), date(2027, 5, 31));
    }

    #[test]
    fn a_granted_project_gets_its_reports_on_the_dates_given_or_by_default() {
        let config = shipped();
        let tekniska = config.directory.unit_named("tekniska").unwrap();
        let given = [("projekt-slutrapport".to_owned(), date(2029, 3, 31))].into();
        let reports: Vec<(String, String, Date)> = config
            .project_occurrences(12, date(2027, 3, 31), tekniska, &given)
            .unwrap()
            .into_iter()
            .map(|o| (o.obligation.to_string(), o.period.to_string(), o.due_date))
            .collect();
        let report = |id: &str, due| (id.to_owned(), "project-12".to_owned(), due);
        assert_eq!(
            reports,
            [
                report("projekt-lagesrapport", date(2027, 9, 30)),
                report("projekt-ekonomisk-rapport", date(2028, 3, 31)),
                // 31 March 2029 is a Saturday, 30 March långfredagen.
                report("projekt-slutrapport", date(2029, 3, 29)),
            ]
        );
        let wrong = [("uppfoljning".to_owned(), date(2029, 3, 31))].into();
        assert_eq!(
            config
                .project_occurrences(12, date(2027, 3, 31), tekniska, &wrong)
                .unwrap_err(),
            "\"uppfoljning\" is no per-project obligation of tekniska"
        );
    }

    #[test]
    fn a_deadline_the_meeting_plan_does_not_reach_yet_is_warned_of() {
        // The shipped plan lists meetings until 2028: the report of 2030 finds no KS meeting,
        // and what waits for it (KS's approval, the report to KF) has no deadline either.
        let config = shipped();
        assert_eq!(
            config.deadline_warnings(2031..=2031),
            [
                "obligation \"verksamhetsberattelse\" has no deadline for 2030: [meetings] lists no meeting \
              of \"ks\" late enough after \"sammanstallning\" on 2031-02-28",
                "obligation \"kf-beslut\" has no deadline for 2030-2034: [meetings] lists no meeting of \"kf\" \
              late enough after \"riktlinjer-uppdatering\" on 2031-05-30"
            ]
        );
        assert!(
            config
                .occurrences_due_in(2031..=2031)
                .iter()
                .all(|o| o.obligation.as_str() != "ks-godkannande")
        );
    }

    #[test]
    fn every_due_date_falls_on_a_business_day() {
        let config = shipped();
        for occurrence in config.occurrences_due_in(2026..=2032) {
            assert!(
                crate::domain::business_days::is_business_day(occurrence.due_date),
                "{occurrence:?}"
            );
        }
    }

    #[test]
    fn a_year_lists_every_obligation_for_every_responsible_unit_once() {
        let config = shipped();
        let occurrences = config.occurrences_due_in(2027..=2027);
        let per_unit_yearly = |kinds: &[&str]| {
            config
                .directory
                .units
                .iter()
                .filter(|u| kinds.contains(&u.kind.as_str()))
                .count()
        };
        let count = |id: &str| occurrences.iter().filter(|o| o.obligation.as_str() == id).count();
        assert_eq!(count("uppfoljning"), per_unit_yearly(&["forvaltning", "bolag", "klk"]));
        assert_eq!(count("intern-uppfoljning"), per_unit_yearly(&["forvaltning", "bolag"]));
        assert_eq!(
            count("verksamhetsplan"),
            per_unit_yearly(&["forvaltning", "bolag", "klk"])
        );
        assert_eq!(count("vanortsredovisning"), 1, "the council's presidium");
        assert_eq!(count("kf-beslut"), 1, "2027 is the first year of the term 2026–2030");
        assert_eq!(count("eu-kontaktperson"), 15);
        assert_eq!(count("handlingsplan"), 1);
        assert_eq!(
            count("strategi-uppdatering"),
            1,
            "the 2026–2030 update falls due in 2027"
        );
        assert!(occurrences.iter().all(|o| o.due_date.year() == 2027));
        assert!(
            occurrences.windows(2).all(|w| w[0].due_at <= w[1].due_at),
            "sorted by due time"
        );
        assert_eq!(
            config
                .occurrences_due_in(2028..=2028)
                .iter()
                .filter(|o| o.obligation.as_str() == "strategi-uppdatering")
                .count(),
            0
        );
    }

    #[test]
    fn deadlines_end_at_local_due_time_across_daylight_saving_changes() {
        let config = shipped();
        let utc = |d: Date| config.due_at(d).unwrap().to_string();
        // Summer time starts on Sunday 28 March 2027 and ends on Sunday 31 October 2027.
        assert_eq!(utc(date(2027, 3, 27)), "2027-03-27T15:00:00Z");
        assert_eq!(utc(date(2027, 3, 28)), "2027-03-28T14:00:00Z");
        assert_eq!(utc(date(2027, 10, 30)), "2027-10-30T14:00:00Z");
        assert_eq!(utc(date(2027, 10, 31)), "2027-10-31T15:00:00Z");
        let late_evening = "2027-03-28T22:30:00Z".parse().unwrap();
        assert_eq!(
            config.local_date(late_evening),
            date(2027, 3, 29),
            "00:30 local is the next day"
        );
    }

    #[test]
    fn the_materialisation_window_is_from_now_to_the_end_of_next_year() {
        let config = shipped();
        let now: Timestamp = "2026-11-27T08:00:00Z".parse().unwrap();
        let occurrences = config.occurrences_to_materialise(now);
        assert!(occurrences.iter().all(|o| o.due_at >= now), "nothing already past due");
        let years: std::collections::BTreeSet<_> = occurrences.iter().map(|o| o.due_date.year()).collect();
        assert_eq!(years.into_iter().collect::<Vec<_>>(), [2026, 2027]);
        let periods: std::collections::BTreeSet<_> = occurrences.iter().map(|o| o.period.to_string()).collect();
        assert!(periods.contains("2026-2030"), "{periods:?}");
    }
}
