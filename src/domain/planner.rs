//! The planner: from occurrences, their state, the directory, the policy and the current
//! time, the deliveries that should exist. Pure; the caller writes them to the outbox, where
//! a unique idempotency key makes planning the same step twice a no-op.
//!
//! Each occurrence has up to four tracks of steps: reminders to the responsible person
//! (`before-N`, `due`, `overdue-K`), escalation to the unit's manager and to KLK, and — once
//! submitted — requests to the manager to acknowledge. On every pass only the latest step of
//! each track whose time has come is wanted, so after downtime the steps missed meanwhile are
//! not all fired: the latest one is sent, once.

use std::fmt;

use jiff::Timestamp;
use jiff::civil::Date;

use super::business_days::Workdays;
use super::config::{Config, Obligation, Person, Role, Unit};
use super::occurrence::{OccurrenceState, StoredOccurrence};
use super::routing::{Route, Routing};
use super::steps::{Reason, Step, Subject};

/// One message that should exist: a step of an occurrence or a call, for one recipient on one
/// channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub subject: Subject,
    pub step: Step,
    /// A person id, or `#name` for a post in a directory channel.
    pub recipient: String,
    /// The channel it goes out on.
    pub route: Route,
    /// Not to be sent before this instant: the step's time, moved into the send window.
    pub not_before: Timestamp,
    pub reason: Reason,
    /// Stable for (occurrence, step, recipient, channel); unique in the outbox.
    pub idempotency_key: String,
}

/// The outbox's unique key of a delivery: subject, step, recipient and channel.
pub fn idempotency_key(
    subject: Subject,
    step: impl fmt::Display,
    recipient: impl fmt::Display,
    route: impl fmt::Display,
) -> String {
    format!("{subject}/{step}/{recipient}/{route}")
}

/// Every delivery wanted at `now` for `occurrences`, one per step, recipient and route.
pub fn plan(config: &Config, occurrences: &[StoredOccurrence], now: Timestamp, routing: &Routing) -> Vec<Delivery> {
    let today = config.local_date(now);
    occurrences
        .iter()
        .filter(|o| o.configured)
        .filter_map(|o| {
            let obligation = config
                .calendar
                .obligations
                .iter()
                .find(|ob| ob.id.as_str() == o.obligation)?;
            let unit = config.directory.unit_named(&o.unit)?;
            Some((o, obligation, unit))
        })
        .flat_map(|(occurrence, obligation, unit)| {
            tracks(config, occurrence, obligation, now)
                .into_iter()
                .filter_map(|(step, at, role)| Some((step, at, recipient(config, unit, role, today)?)))
                .map(|(step, at, (recipient, reason))| {
                    let at = stand_in_time(config, &reason, at, today);
                    (step, at, (recipient, reason))
                })
                .flat_map(|(step, at, (recipient, reason))| {
                    routing
                        .routes(config, recipient, step.ask())
                        .into_iter()
                        .map(move |route| Delivery {
                            subject: Subject::Occurrence(occurrence.id),
                            step,
                            idempotency_key: idempotency_key(
                                Subject::Occurrence(occurrence.id),
                                step,
                                &recipient.id,
                                &route,
                            ),
                            recipient: recipient.id.to_string(),
                            route,
                            not_before: config.next_send_time(at.max(now)),
                            reason: reason.clone(),
                        })
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The next step `occurrence` has planned after `now` — a reminder, an escalation or a request
/// to acknowledge — and when it falls, looking up to a year ahead; `None` when nothing more
/// is planned (settled, paused past the horizon, or no longer configured). What the planner
/// will want then, assuming nobody acts meanwhile.
pub fn next_step(config: &Config, occurrence: &StoredOccurrence, now: Timestamp) -> Option<(Step, Timestamp)> {
    let obligation = config
        .calendar
        .obligations
        .iter()
        .find(|o| o.id.as_str() == occurrence.obligation)
        .filter(|_| occurrence.configured)?;
    let today = config.local_date(now);
    let wanted_now: Vec<Step> = tracks(config, occurrence, obligation, now)
        .into_iter()
        .map(|(step, _, _)| step)
        .collect();
    // The planner looks at every send window's opening; what it wants then and not now is new.
    (0..=366)
        .filter_map(|days| today.checked_add(jiff::Span::new().days(days)).ok())
        .filter_map(|day| config.window_opens_on(day))
        .filter(|at| *at > now)
        .find_map(|at| {
            tracks(config, occurrence, obligation, at)
                .into_iter()
                .map(|(step, _, _)| step)
                .filter(|step| !wanted_now.contains(step))
                .min()
                .map(|step| (step, at))
        })
}

/// A one-off message about `occurrence` at the first send time from `now`: `Closed` tells the
/// responsible person it was acknowledged, `WaiveRequest` asks KLK's strategist to decide on a
/// request to waive. None to the person who caused it (`by`).
pub fn notice(
    config: &Config,
    occurrence: &StoredOccurrence,
    routing: &Routing,
    step: Step,
    by: &str,
    now: Timestamp,
) -> Vec<Delivery> {
    let obligation = config
        .calendar
        .obligations
        .iter()
        .find(|o| o.id.as_str() == occurrence.obligation);
    let (Some(obligation), Some(unit)) = (obligation, config.directory.unit_named(&occurrence.unit)) else {
        return Vec::new();
    };
    let today = config.local_date(now);
    let addressee = match step {
        Step::WaiveRequest => Addressee::Klk,
        _ => Addressee::Role(obligation.responsible_role),
    };
    let Some((person, reason)) = recipient(config, unit, addressee, today) else {
        return Vec::new();
    };
    if person.id.as_str() == by {
        return Vec::new();
    }
    routing
        .routes(config, person, step.ask())
        .into_iter()
        .map(|route| Delivery {
            subject: Subject::Occurrence(occurrence.id),
            step,
            idempotency_key: idempotency_key(Subject::Occurrence(occurrence.id), step, &person.id, &route),
            recipient: person.id.to_string(),
            route,
            not_before: config.next_send_time(now),
            reason: reason.clone(),
        })
        .collect()
}

/// When a step whose time was `at` reaches a recipient there for `reason`. A stand-in gets
/// the steps that come during the absence when they come; of what came before it, only the
/// latest step of each track (what is still outstanding, not the back catalogue), all on the
/// absence's first send day, where the digest makes one message of them.
fn stand_in_time(config: &Config, reason: &Reason, at: Timestamp, today: Date) -> Timestamp {
    let Reason::StandIn { away } = reason else {
        return at;
    };
    let since = config
        .directory
        .person(away)
        .and_then(|holder| holder.away_since(today));
    match since {
        Some(since) if config.local_date(at) < since => config.first_send_time_from(since),
        _ => at,
    }
}

/// Who a track's steps are for.
#[derive(Debug, Clone, Copy)]
enum Addressee {
    /// A role in the occurrence's own unit.
    Role(Role),
    /// The strategist at KLK.
    Klk,
}

/// The latest step of each track whose time has come at `now`, with that time.
fn tracks(
    config: &Config,
    occurrence: &StoredOccurrence,
    obligation: &Obligation,
    now: Timestamp,
) -> Vec<(Step, Timestamp, Addressee)> {
    let due = config.local_date(occurrence.due_at);
    let policy = &obligation.policy;
    let workdays = &config.calendar.workdays;
    // Steps fall at the opening of the send window on their day, or of the first one after a
    // quiet period.
    let on_days = |steps: Vec<(Step, Date)>| {
        steps
            .into_iter()
            .map(|(step, date)| (step, config.first_send_time_from(date)))
            .collect::<Vec<_>>()
    };
    let today = config.local_date(now);
    let mut wanted = Vec::new();
    let paused = occurrence.paused_until.is_some_and(|until| now < until);
    match occurrence.state {
        OccurrenceState::Open => {
            let mut reminders: Vec<(Step, Date)> = policy
                .before
                .iter()
                .map(|days| (Step::Before(*days), policy.before_day(due, *days, workdays)))
                .collect();
            // A deadline kept on a weekend or holiday is reminded on the business day before.
            let due_day = if workdays.is_business_day(due) {
                due
            } else {
                workdays.add(due, -1)
            };
            reminders.push((Step::Due, due_day));
            reminders.extend(
                policy
                    .overdue_days(due, workdays)
                    .map(|(k, date)| (Step::Overdue(k), date))
                    .take_while(|(_, date)| *date <= today),
            );
            let responsible = Addressee::Role(obligation.responsible_role);
            // The unit said when it will be done (or asked for a few days): no reminders until
            // then. Escalations past the due date are never paused.
            if !paused {
                wanted.extend(latest(on_days(reminders), now).map(|(step, at)| (step, at, responsible)));
            }
            let manager = (
                Step::EscalateManager,
                workdays.add(due, i32::from(policy.escalate_manager_after)),
            );
            let klk = (
                Step::EscalateKlk,
                workdays.add(due, i32::from(policy.escalate_klk_after)),
            );
            // The manager is not told twice when they are the responsible person themselves.
            if obligation.responsible_role != Role::Manager {
                wanted.extend(
                    latest(on_days(vec![manager]), now).map(|(step, at)| (step, at, Addressee::Role(Role::Manager))),
                );
            }
            // KLK's strategist is not told about their own items.
            if obligation.responsible_role != Role::Strategist {
                wanted.extend(latest(on_days(vec![klk]), now).map(|(step, at)| (step, at, Addressee::Klk)));
            }
        }
        OccurrenceState::Submitted => {
            if let Some(submitted_at) = occurrence.submitted_at.filter(|at| *at <= now) {
                let submitted = config.local_date(submitted_at);
                let repeat = last_repeat(submitted, today, policy.acknowledge_every, workdays);
                let mut requests = on_days(
                    repeat
                        .map(|(k, date)| (Step::Acknowledge(k), date))
                        .into_iter()
                        .collect(),
                );
                requests.push((Step::Acknowledge(0), submitted_at));
                wanted.extend(latest(requests, now).map(|(step, at)| (step, at, Addressee::Role(Role::Manager))));
            }
        }
        OccurrenceState::Acknowledged | OccurrenceState::Waived => {}
    }
    wanted
}

/// The last of the repeats every `every` business days after `start` that has come by
/// `today`: its number (from 1) and its day.
fn last_repeat(start: Date, today: Date, every: u16, workdays: &Workdays) -> Option<(u16, Date)> {
    let every = i32::from(every.max(1));
    let k = workdays.between(start, today) / every;
    (k > 0).then(|| (u16::try_from(k).unwrap_or(u16::MAX), workdays.add(start, k * every)))
}

/// The step whose time came last, at or before `now`.
fn latest(steps: Vec<(Step, Timestamp)>, now: Timestamp) -> Option<(Step, Timestamp)> {
    steps.into_iter().filter(|(_, at)| *at <= now).max_by_key(|(_, at)| *at)
}

/// Who receives what is for `role` in `unit` on `today` (a deputy or the manager standing in),
/// and why.
pub(crate) fn recipient_for_role<'a>(
    config: &'a Config,
    unit: &'a Unit,
    role: Role,
    today: Date,
) -> Option<(&'a Person, Reason)> {
    recipient(config, unit, Addressee::Role(role), today)
}

/// The person who holds `role` for `unit` (not counting absences): the unit's own holder,
/// or KLK's strategist for the strategist, a central role. For listings.
pub fn responsible_holder<'a>(config: &'a Config, unit: &'a Unit, role: Role) -> Option<&'a Person> {
    let (unit, role) = where_held(config, unit, Addressee::Role(role))?;
    config.directory.holder(unit, role)
}

/// The unit and role whose holder `addressee` in `unit` means.
fn where_held<'a>(config: &'a Config, unit: &'a Unit, addressee: Addressee) -> Option<(&'a Unit, Role)> {
    match addressee {
        Addressee::Role(role) if role != Role::Strategist || unit.roles.contains_key(&role) => Some((unit, role)),
        // The strategist is a central role: held at KLK, whichever unit the item is for.
        Addressee::Role(_) | Addressee::Klk => Some((config.directory.strategist_unit()?, Role::Strategist)),
    }
}

/// Who receives a step for `addressee` in `unit` on `today`, and why.
fn recipient<'a>(
    config: &'a Config,
    unit: &'a Unit,
    addressee: Addressee,
    today: Date,
) -> Option<(&'a Person, Reason)> {
    let directory = &config.directory;
    let (unit, role) = where_held(config, unit, addressee)?;
    let manager = || directory.holder(unit, Role::Manager);
    let Some(assignment) = unit.roles.get(&role) else {
        return manager().map(|m| (m, Reason::VacantRole { role }));
    };
    let holder = directory.person(&assignment.person)?;
    if !holder.is_away(today) {
        return Some((holder, Reason::Holder));
    }
    let deputy = assignment
        .deputy
        .as_ref()
        .and_then(|d| directory.person(d))
        .filter(|d| !d.is_away(today));
    let stand_in = deputy.or_else(|| manager().filter(|m| m.id != holder.id && !m.is_away(today)));
    Some(match stand_in {
        Some(stand_in) => (
            stand_in,
            Reason::StandIn {
                away: holder.id.clone(),
            },
        ),
        // Nobody is present to stand in: the holder still gets it, to read on return.
        None => (holder, Reason::Holder),
    })
}

impl Config {
    /// Whether messages may go out on `date`: a business day outside every quiet period.
    fn is_send_day(&self, date: Date) -> bool {
        self.calendar.workdays.is_business_day(date) && !self.calendar.is_quiet(date)
    }

    /// When the send window opens on `date`, if messages may go out that day.
    pub fn window_opens_on(&self, date: Date) -> Option<Timestamp> {
        let window = self.calendar.send_window;
        self.is_send_day(date).then(|| {
            self.calendar
                .time_zone
                .to_timestamp(date.to_datetime(window.opens))
                .ok()
        })?
    }

    /// The opening of the first send window on or after `date`.
    pub fn first_send_time_from(&self, date: Date) -> Timestamp {
        let mut day = date;
        // A year of quiet periods would be refused by the calendar; this stops regardless.
        for _ in 0..400 {
            if let Some(opens) = self.window_opens_on(day) {
                return opens;
            }
            day = self.calendar.workdays.add(day, 1);
        }
        self.calendar
            .time_zone
            .to_timestamp(date.to_datetime(self.calendar.send_window.opens))
            .unwrap_or(Timestamp::MAX)
    }

    /// The first instant at or after `at` inside a send window.
    pub fn next_send_time(&self, at: Timestamp) -> Timestamp {
        let local = self.calendar.time_zone.to_datetime(at);
        let window = self.calendar.send_window;
        let date = local.date();
        if self.is_send_day(date) && local.time() >= window.opens && local.time() < window.closes {
            return at;
        }
        let first = if self.is_send_day(date) && local.time() < window.opens {
            date
        } else {
            self.calendar.workdays.add(date, 1)
        };
        self.first_send_time_from(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::config::PersonId;
    use crate::domain::config::fixtures::{SHIPPED_CALENDAR, SHIPPED_DIRECTORY, follow_up, parsed, shipped_with};

    fn at(local: &str) -> Timestamp {
        jiff::tz::TimeZone::get("Europe/Stockholm")
            .unwrap()
            .to_timestamp(local.parse().unwrap())
            .unwrap()
    }

    fn steps(config: &Config, occurrence: &StoredOccurrence, now: &str) -> Vec<(String, String)> {
        plan(config, std::slice::from_ref(occurrence), at(now), &Routing::default())
            .into_iter()
            .map(|d| (d.step.to_string(), d.recipient.to_string()))
            .collect()
    }

    fn pair(step: &str, person: &str) -> (String, String) {
        (step.to_owned(), person.to_owned())
    }

    #[test]
    fn the_latest_reminder_whose_day_has_come_goes_to_the_responsible_person() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let open = follow_up(OccurrenceState::Open);
        // 10 business days before 15 Feb 2027 is Monday 1 February; 30 before is Wednesday
        // 30 December 2026 (trettondedag jul, nyårsafton and nyårsdagen do not count).
        // That day lies in the Christmas quiet period: it goes out on Monday 4 January.
        assert_eq!(steps(&config, &open, "2026-12-30T08:00"), []);
        assert_eq!(steps(&config, &open, "2027-01-04T07:59"), []);
        assert_eq!(
            steps(&config, &open, "2027-01-04T08:00"),
            [pair("before-30", "linnea.dahl")]
        );
        assert_eq!(
            steps(&config, &open, "2027-02-01T07:59"),
            [pair("before-30", "linnea.dahl")]
        );
        assert_eq!(
            steps(&config, &open, "2027-02-01T08:00"),
            [pair("before-10", "linnea.dahl")]
        );
        assert_eq!(steps(&config, &open, "2027-02-15T09:00"), [pair("due", "linnea.dahl")]);
    }

    /// With `move_due = "keep"` a deadline may stay on a Saturday; its due-day reminder goes
    /// out on the Friday before instead of being lost.
    #[test]
    fn a_deadline_kept_on_a_weekend_is_reminded_on_the_business_day_before() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let saturday = StoredOccurrence {
            due_at: at("2027-02-13T16:00"),
            ..follow_up(OccurrenceState::Open)
        };
        assert_eq!(
            steps(&config, &saturday, "2027-02-12T08:00"),
            [pair("due", "linnea.dahl")]
        );
    }

    #[test]
    fn the_next_step_is_the_first_that_falls_after_now() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let open = follow_up(OccurrenceState::Open);
        assert_eq!(
            next_step(&config, &open, at("2027-01-20T10:00")),
            Some((Step::Before(10), at("2027-02-01T08:00")))
        );
        assert_eq!(
            next_step(&config, &open, at("2027-02-01T08:00")),
            Some((Step::Before(2), at("2027-02-11T08:00")))
        );
        let paused = StoredOccurrence {
            paused_until: Some(at("2027-02-10T08:00")),
            ..open.clone()
        };
        assert_eq!(
            next_step(&config, &paused, at("2027-02-01T09:00")),
            Some((Step::Before(10), at("2027-02-10T08:00"))),
            "nothing while paused; then the latest missed reminder"
        );
        assert_eq!(
            next_step(
                &config,
                &follow_up(OccurrenceState::Acknowledged),
                at("2027-01-20T10:00")
            ),
            None
        );
    }

    #[test]
    fn a_pause_holds_the_reminders_but_never_the_escalations_past_the_due_date() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let paused = StoredOccurrence {
            paused_until: Some(at("2027-05-01T08:00")),
            ..follow_up(OccurrenceState::Open)
        };
        let steps = |now: &str| -> Vec<Step> {
            plan(&config, std::slice::from_ref(&paused), at(now), &Routing::default())
                .into_iter()
                .map(|d| d.step)
                .collect()
        };
        assert_eq!(
            steps("2027-02-15T10:00"),
            [],
            "no reminder on the due date while paused"
        );
        let later = steps("2027-03-10T10:00");
        assert!(later.contains(&Step::EscalateManager), "{later:?}");
        assert!(later.contains(&Step::EscalateKlk), "{later:?}");
        assert!(
            !later
                .iter()
                .any(|s| matches!(s, Step::Before(_) | Step::Due | Step::Overdue(_))),
            "{later:?}"
        );
    }

    #[test]
    fn after_downtime_only_the_latest_step_of_each_track_is_wanted() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let open = follow_up(OccurrenceState::Open);
        // 1 March 2027 is 10 business days after the due date: overdue-3 (the second weekly one,
        // after one three business days in), the manager escalation (after 5) and the KLK
        // escalation (after 10) have all come.
        assert_eq!(
            steps(&config, &open, "2027-03-01T10:00"),
            [
                pair("overdue-3", "linnea.dahl"),
                pair("escalate-manager", "magnus.berg"),
                pair("escalate-klk", "johan.lindqvist")
            ]
        );
    }

    #[test]
    fn every_reminder_lies_on_a_business_day_inside_the_send_window() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let open = follow_up(OccurrenceState::Open);
        let mut now = at("2027-01-01T00:00");
        while now < at("2027-04-01T00:00") {
            for delivery in plan(&config, std::slice::from_ref(&open), now, &Routing::default()) {
                let local = config.calendar.time_zone.to_datetime(delivery.not_before);
                assert!(config.calendar.workdays.is_business_day(local.date()), "{delivery:?}");
                assert!(local.time() >= jiff::civil::time(8, 0, 0, 0) && local.time() < jiff::civil::time(17, 0, 0, 0));
                assert!(delivery.not_before >= now);
            }
            now = now.checked_add(jiff::SignedDuration::from_hours(5)).unwrap();
        }
    }

    #[test]
    fn something_planned_outside_the_window_waits_for_the_next_one() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let open = follow_up(OccurrenceState::Open);
        // Saturday 30 January: the latest step is before-14, and it waits for Monday 08:00.
        let wanted = plan(
            &config,
            std::slice::from_ref(&open),
            at("2027-01-30T12:00"),
            &Routing::default(),
        );
        assert_eq!(wanted[0].not_before, at("2027-02-01T08:00"));
        let evening = plan(
            &config,
            std::slice::from_ref(&open),
            at("2027-01-27T17:30"),
            &Routing::default(),
        );
        assert_eq!(evening[0].not_before, at("2027-01-28T08:00"));
    }

    #[test]
    fn a_submission_stops_the_reminders_and_asks_the_manager_to_acknowledge() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let mut submitted = follow_up(OccurrenceState::Submitted);
        submitted.submitted_at = Some(at("2027-02-10T10:15"));
        assert_eq!(
            steps(&config, &submitted, "2027-02-10T10:16"),
            [pair("acknowledge", "magnus.berg")]
        );
        assert_eq!(
            steps(&config, &submitted, "2027-02-15T08:00"),
            [pair("acknowledge-1", "magnus.berg")]
        );
        let acknowledged = follow_up(OccurrenceState::Acknowledged);
        assert_eq!(steps(&config, &acknowledged, "2027-03-01T10:00"), []);
        assert_eq!(
            steps(&config, &follow_up(OccurrenceState::Waived), "2027-03-01T10:00"),
            []
        );
        let mut gone = follow_up(OccurrenceState::Open);
        gone.configured = false;
        assert_eq!(
            steps(&config, &gone, "2027-03-01T10:00"),
            [],
            "unconfigured occurrences are not chased"
        );
    }

    fn with_directory(directory: &str) -> Config {
        parsed(directory, SHIPPED_CALENDAR)
    }

    #[test]
    fn an_absent_person_is_stood_in_for_by_their_deputy_or_else_the_manager() {
        let away = "id = \"linnea.dahl\"\nname = \"Linnea Dahl\"\nemail = \"linnea.dahl@example.org\"\nmatrix_id = \"@linnea.dahl:example.org\"\nabsences = [{ from = \"2027-01-25\", to = \"2027-02-05\" }]";
        let directory = SHIPPED_DIRECTORY.replace(
            "id = \"linnea.dahl\"\nname = \"Linnea Dahl\"\nemail = \"linnea.dahl@example.org\"\nmatrix_id = \"@linnea.dahl:example.org\"",
            away,
        );
        let config = with_directory(&directory);
        let open = follow_up(OccurrenceState::Open);
        // The reminder of 4 January was Linnea's before she left; the stand-in gets the item
        // as outstanding, once, from the first day of the absence.
        let outstanding = plan(
            &config,
            std::slice::from_ref(&open),
            at("2027-01-26T08:00"),
            &Routing::default(),
        );
        let seen: Vec<(String, &str, String)> = outstanding
            .iter()
            .map(|d| (d.step.to_string(), d.recipient.as_str(), d.not_before.to_string()))
            .collect();
        assert_eq!(
            seen,
            [("before-30".to_owned(), "magnus.berg", "2027-01-26T07:00:00Z".to_owned())],
            "the latest step of the track, not every reminder Linnea was sent"
        );
        let wanted = plan(
            &config,
            std::slice::from_ref(&open),
            at("2027-02-01T08:00"),
            &Routing::default(),
        );
        assert_eq!(wanted[0].recipient.as_str(), "magnus.berg");
        assert_eq!(
            wanted[0].reason,
            Reason::StandIn {
                away: PersonId::checked("linnea.dahl")
            }
        );

        let with_deputy = directory.replace(
            "[units.roles.eu_contact]\nperson = \"linnea.dahl\"",
            "[units.roles.eu_contact]\nperson = \"linnea.dahl\"\ndeputy = \"jonas.wikstrom\"",
        );
        let wanted = plan(
            &with_directory(&with_deputy),
            std::slice::from_ref(&open),
            at("2027-02-01T08:00"),
            &Routing::default(),
        );
        assert_eq!(wanted[0].recipient.as_str(), "jonas.wikstrom");
        assert_eq!(
            steps(&config, &open, "2027-02-08T08:00")[0].1,
            "linnea.dahl",
            "back from leave"
        );
    }

    #[test]
    fn a_vacant_role_is_an_item_for_the_units_manager() {
        let directory = SHIPPED_DIRECTORY.replace("[units.roles.eu_contact]\nperson = \"linnea.dahl\"\n", "");
        let config = with_directory(&directory);
        let wanted = plan(
            &config,
            &[follow_up(OccurrenceState::Open)],
            at("2027-01-26T08:00"),
            &Routing::default(),
        );
        assert_eq!(wanted.len(), 1);
        assert_eq!(wanted[0].recipient.as_str(), "magnus.berg");
        assert_eq!(wanted[0].reason, Reason::VacantRole { role: Role::EuContact });
    }

    #[test]
    fn steps_and_reasons_read_back_from_their_names() {
        let config = shipped_with(SHIPPED_CALENDAR);
        for step in [
            Step::Before(14),
            Step::Due,
            Step::Overdue(3),
            Step::EscalateManager,
            Step::EscalateKlk,
            Step::Acknowledge(0),
            Step::Acknowledge(2),
            Step::Closed,
            Step::WaiveRequest,
            Step::Announce,
            Step::CallUpdate(2),
            Step::CallCancelled,
            Step::CallSummary { year: 2027, week: 9 },
        ] {
            assert_eq!(step.to_string().parse::<Step>(), Ok(step));
        }
        assert_eq!(
            Step::CallSummary { year: 2027, week: 9 }.to_string(),
            "summary-2027-w09"
        );
        assert!("before-x".parse::<Step>().is_err());
        assert!("summary-2027".parse::<Step>().is_err());
        for reason in [
            Reason::Holder,
            Reason::StandIn {
                away: PersonId::checked("magnus.berg"),
            },
            Reason::VacantRole { role: Role::EuContact },
        ] {
            assert_eq!(Reason::parse(&reason.to_string(), &config), reason);
        }
    }

    #[test]
    fn idempotency_keys_name_occurrence_step_recipient_and_channel() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let open = follow_up(OccurrenceState::Open);
        let first = plan(
            &config,
            std::slice::from_ref(&open),
            at("2027-02-01T08:00"),
            &Routing::default(),
        );
        let later = plan(
            &config,
            std::slice::from_ref(&open),
            at("2027-02-02T11:00"),
            &Routing::default(),
        );
        assert_eq!(first[0].idempotency_key, "7/before-10/linnea.dahl/email");
        assert_eq!(
            first[0].idempotency_key, later[0].idempotency_key,
            "the same step keeps its key"
        );
    }
}

#[cfg(test)]
mod window_tests {
    use crate::domain::config::fixtures::{SHIPPED_CALENDAR, shipped_with};
    use jiff::civil::date;

    #[test]
    fn the_send_window_opens_at_local_eight_across_daylight_saving_changes() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let opens = |d| config.window_opens_on(d).map(|t| t.to_string());
        // Summer time starts Sunday 28 March 2027 and ends Sunday 31 October 2027.
        assert_eq!(opens(date(2027, 3, 25)).as_deref(), Some("2027-03-25T07:00:00Z"));
        assert_eq!(opens(date(2027, 3, 30)).as_deref(), Some("2027-03-30T06:00:00Z"));
        assert_eq!(opens(date(2027, 10, 29)).as_deref(), Some("2027-10-29T06:00:00Z"));
        assert_eq!(opens(date(2027, 11, 1)).as_deref(), Some("2027-11-01T07:00:00Z"));
        assert_eq!(opens(date(2027, 3, 28)), None, "the change days are Sundays");
        // Planned late on Friday 29 October (summer time), it waits for Monday 08:00 winter time.
        let friday_evening = "2027-10-29T16:30:00Z".parse().unwrap();
        assert_eq!(
            config.next_send_time(friday_evening).to_string(),
            "2027-11-01T07:00:00Z"
        );
    }
}
