//! A simulated run of the real planner over a stretch of days, with nothing sent: what
//! `arshjul simulate` prints and what tests check a whole year against.

use std::collections::BTreeSet;

use jiff::Timestamp;
use jiff::civil::Date;

use super::config::Config;
use super::occurrence::{OccurrenceState, StoredOccurrence};
use super::planner::{Delivery, plan};
use super::routing::Routing;
use super::schedule::Occurrence;
use super::steps::Subject;

/// How the simulated people behave.
#[derive(Debug, Clone, Copy, Default)]
pub struct Behaviour {
    /// Each occurrence is submitted this many business days after its first reminder, and
    /// acknowledged as many business days after that; `None`: nobody ever acts.
    pub act_after_days: Option<u16>,
}

/// One delivery the planner made during the simulation.
#[derive(Debug, Clone)]
pub struct Simulated {
    pub occurrence: Occurrence,
    pub delivery: Delivery,
}

/// Runs the planner at the opening of every business day's send window from `from` to `to`
/// (inclusive) and returns every delivery it would make, in order. Each delivery appears once,
/// as the outbox's idempotency key would ensure.
pub fn simulate(config: &Config, routing: &Routing, from: Date, to: Date, behaviour: Behaviour) -> Vec<Simulated> {
    let occurrences = config.occurrences_due_in(from.year()..=to.year().saturating_add(1));
    let mut states: Vec<StoredOccurrence> = (1..).zip(&occurrences).map(|(id, o)| o.stored_open(id)).collect();
    let mut first_reminder: Vec<Option<Date>> = vec![None; states.len()];
    let mut planned = BTreeSet::new();
    let mut made = Vec::new();
    let mut day = from;
    while day <= to {
        if let Some(now) = config.window_opens_on(day) {
            if let Some(days) = behaviour.act_after_days {
                act(config, &mut states, &first_reminder, day, now, days);
            }
            for delivery in plan(config, &states, now, routing) {
                if planned.insert(delivery.idempotency_key.clone()) {
                    // Ids are 1-based positions in `occurrences`; the planner plans nothing else.
                    let Subject::Occurrence(id) = delivery.subject else {
                        continue;
                    };
                    let index = usize::try_from(id - 1).unwrap_or_default();
                    first_reminder[index].get_or_insert(day);
                    made.push(Simulated {
                        occurrence: occurrences[index].clone(),
                        delivery,
                    });
                }
            }
        }
        match day.tomorrow() {
            Ok(next) => day = next,
            Err(_) => break,
        }
    }
    made
}

/// Submits and acknowledges occurrences `days` business days after their first reminder.
fn act(
    config: &Config,
    states: &mut [StoredOccurrence],
    first_reminder: &[Option<Date>],
    today: Date,
    now: Timestamp,
    days: u16,
) {
    let after = |date: Date| config.calendar.workdays.add(date, i32::from(days));
    for (state, first) in states.iter_mut().zip(first_reminder) {
        let Some(first) = first else { continue };
        match state.state {
            OccurrenceState::Open if after(*first) <= today => {
                state.state = OccurrenceState::Submitted;
                state.submitted_at = Some(now);
            }
            OccurrenceState::Submitted if after(after(*first)) <= today => state.state = OccurrenceState::Acknowledged,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::config::fixtures::{SHIPPED_CALENDAR, shipped_with};
    use crate::domain::steps::Step;
    use jiff::civil::date;

    /// The simulated year 2027, everyone acting after `act_after_days` (or never).
    fn year_2027(config: &Config, act_after_days: Option<u16>) -> Vec<Simulated> {
        let behaviour = Behaviour { act_after_days };
        simulate(
            config,
            &Routing::default(),
            date(2027, 1, 1),
            date(2027, 12, 31),
            behaviour,
        )
    }

    #[test]
    fn a_simulated_year_reminds_on_business_days_inside_the_window() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let made = year_2027(&config, None);
        assert!(made.len() > 500, "{}", made.len());
        for simulated in &made {
            let local = config.calendar.time_zone.to_datetime(simulated.delivery.not_before);
            assert!(config.calendar.workdays.is_business_day(local.date()), "{simulated:?}");
            assert_eq!(local.time(), jiff::civil::time(8, 0, 0, 0));
        }
        let keys: BTreeSet<_> = made.iter().map(|s| &s.delivery.idempotency_key).collect();
        assert_eq!(keys.len(), made.len(), "every delivery once");
    }

    /// With nobody acting all year, nobody gets more than 60 messages (what falls due for a
    /// person at one time on one channel travels as one digest), nor more than one a day on a
    /// channel, and nothing goes out in a quiet period: overdue repeats thin out to weekly,
    /// then monthly ones on fixed days, where a person's long-overdue items meet.
    #[test]
    fn a_year_with_nobody_acting_sends_nobody_more_than_sixty_messages() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let made = year_2027(&config, None);
        let messages: BTreeSet<_> = made
            .iter()
            .map(|s| {
                (
                    s.delivery.recipient.clone(),
                    s.delivery.route.to_string(),
                    s.delivery.not_before,
                )
            })
            .collect();
        let mut per_person = std::collections::BTreeMap::<&str, usize>::new();
        let mut per_day = BTreeSet::new();
        for (person, route, at) in &messages {
            *per_person.entry(person).or_default() += 1;
            let day = config.local_date(*at);
            assert!(
                per_day.insert((person, route, day)),
                "two messages to {person} on {route} on {day}"
            );
            assert!(
                !config.calendar.is_quiet(day),
                "{person} is sent something on {day}, in a quiet period"
            );
        }
        let (most, count) = per_person.iter().max_by_key(|(_, n)| **n).unwrap();
        assert!(*count <= 60, "{most} gets {count} messages");

        let tekniska: Vec<_> = made
            .iter()
            .filter(|s| s.occurrence.obligation.as_str() == "uppfoljning" && s.occurrence.unit.as_str() == "tekniska")
            .filter(|s| matches!(s.delivery.step, Step::Overdue(_)))
            .map(|s| config.local_date(s.delivery.not_before))
            .collect();
        // Due Monday 15 February 2027: three business days after it, then each week's first
        // business day for a month, then each month's first business day — 2 August falls in
        // the quiet weeks 28–31 and waits for Monday 9 August.
        assert_eq!(
            tekniska,
            [
                date(2027, 2, 18),
                date(2027, 2, 22),
                date(2027, 3, 1),
                date(2027, 3, 8),
                date(2027, 3, 15),
                date(2027, 4, 1),
                date(2027, 5, 3),
                date(2027, 6, 1),
                date(2027, 7, 1),
                date(2027, 8, 9),
                date(2027, 9, 1),
                date(2027, 10, 1),
                date(2027, 11, 1),
                date(2027, 12, 1)
            ]
        );
    }

    #[test]
    fn nothing_goes_out_after_acknowledgement() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let made = year_2027(&config, Some(2));
        let follow_up: Vec<_> = made
            .iter()
            .filter(|s| s.occurrence.obligation.as_str() == "uppfoljning" && s.occurrence.unit.as_str() == "tekniska")
            .map(|s| (s.delivery.step, s.delivery.recipient.to_string()))
            .collect();
        // before-30 (30 Dec 2026) is caught up at the first window of the simulation, 4 January;
        // the occurrence is submitted two business days later and acknowledged two after that.
        assert_eq!(
            follow_up,
            [
                (Step::Before(30), "linnea.dahl".to_owned()),
                (Step::Acknowledge(0), "magnus.berg".to_owned()),
            ]
        );
        let idle = year_2027(&config, None);
        assert!(
            made.len() * 3 < idle.len(),
            "acting early stops most reminders: {} vs {}",
            made.len(),
            idle.len()
        );
    }
}
