//! Occurrences as stored, their states, and the reconciliation that keeps the stored set in
//! line with the configuration without ever deleting history.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;

use super::config::{Config, Language};
use super::schedule::Occurrence;

/// Where an occurrence stands. Overdue is not a state: it is derived from the due time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OccurrenceState {
    Open,
    Submitted,
    Acknowledged,
    Waived,
}

impl OccurrenceState {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Submitted => "submitted",
            Self::Acknowledged => "acknowledged",
            Self::Waived => "waived",
        }
    }

    /// The state in words, in `language`.
    pub fn label(self, language: Language) -> &'static str {
        match (self, language) {
            (Self::Open, Language::Sv) => "öppet",
            (Self::Open, Language::En) => "open",
            (Self::Submitted, Language::Sv) => "inlämnat",
            (Self::Submitted, Language::En) => "submitted",
            (Self::Acknowledged, Language::Sv) => "kvitterat",
            (Self::Acknowledged, Language::En) => "acknowledged",
            (Self::Waived, Language::Sv) => "struket",
            (Self::Waived, Language::En) => "waived",
        }
    }
}

impl fmt::Display for OccurrenceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OccurrenceState {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [Self::Open, Self::Submitted, Self::Acknowledged, Self::Waived]
            .into_iter()
            .find(|state| state.as_str() == text)
            .ok_or_else(|| format!("unknown occurrence state \"{text}\""))
    }
}

/// An occurrence as the database holds it. Its obligation and unit are plain strings because
/// they may have left the configuration since the row was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOccurrence {
    pub id: i64,
    pub obligation: String,
    pub unit: String,
    pub period: String,
    pub due_at: Timestamp,
    pub state: OccurrenceState,
    /// When it was last submitted; the manager's acknowledgement requests count from here.
    pub submitted_at: Option<Timestamp>,
    /// False once the obligation or unit is no longer in the configuration.
    pub configured: bool,
    /// Reminders and escalations wait until then ("will do by", snooze).
    pub paused_until: Option<Timestamp>,
    /// The EU funding call a per-call occurrence is for.
    pub announcement_id: Option<i64>,
    /// The diarienummer its submission was registered under ("KS 2027/123").
    pub diarienummer: Option<String>,
}

impl Occurrence {
    /// This occurrence as a freshly stored, open row with `id` (simulations and benchmarks).
    pub fn stored_open(&self, id: i64) -> StoredOccurrence {
        StoredOccurrence {
            id,
            obligation: self.obligation.to_string(),
            unit: self.unit.to_string(),
            period: self.period.to_string(),
            due_at: self.due_at,
            state: OccurrenceState::Open,
            submitted_at: None,
            configured: true,
            paused_until: None,
            announcement_id: None,
            diarienummer: None,
        }
    }
}

/// One change that brings the stored occurrences in line with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A new occurrence to insert.
    Create(Occurrence),
    /// An open occurrence whose due time the configuration now puts elsewhere.
    Reschedule { id: i64, from: Timestamp, to: Timestamp },
    /// The obligation or unit left the configuration; the row and its history stay.
    Unconfigure { id: i64 },
    /// The obligation or unit is back in the configuration.
    Reconfigure { id: i64 },
}

/// The changes that make `stored` agree with `config` and the `wanted` occurrences of the
/// materialisation window. Applying them twice is a no-op the second time.
pub fn reconcile(config: &Config, stored: &[StoredOccurrence], wanted: &[Occurrence]) -> Vec<Change> {
    let by_key: BTreeMap<(&str, &str, String), &StoredOccurrence> = stored
        .iter()
        .map(|s| ((s.obligation.as_str(), s.unit.as_str(), s.period.clone()), s))
        .collect();
    let mut changes = Vec::new();
    for occurrence in wanted {
        let key = (
            occurrence.obligation.as_str(),
            occurrence.unit.as_str(),
            occurrence.period.to_string(),
        );
        match by_key.get(&key) {
            None => changes.push(Change::Create(occurrence.clone())),
            Some(existing) if existing.state == OccurrenceState::Open && existing.due_at != occurrence.due_at => {
                changes.push(Change::Reschedule {
                    id: existing.id,
                    from: existing.due_at,
                    to: occurrence.due_at,
                });
            }
            Some(_) => {}
        }
    }
    for existing in stored {
        match (
            existing.configured,
            config.is_configured(&existing.obligation, &existing.unit),
        ) {
            (true, false) => changes.push(Change::Unconfigure { id: existing.id }),
            (false, true) => changes.push(Change::Reconfigure { id: existing.id }),
            _ => {}
        }
    }
    changes
}

/// How many of the `stored` occurrences still open (or submitted) `config` would leave
/// unconfigured, and how many are open: a reload that empties most of them is a mistake more
/// often than a decision.
pub fn unconfigured_share(config: &Config, stored: &[StoredOccurrence]) -> (usize, usize) {
    let open: Vec<&StoredOccurrence> = stored
        .iter()
        .filter(|o| o.configured && matches!(o.state, OccurrenceState::Open | OccurrenceState::Submitted))
        .collect();
    let removed = open
        .iter()
        .filter(|o| !config.is_configured(&o.obligation, &o.unit))
        .count();
    (removed, open.len())
}

/// Who acted, how and through which channel — everything the audit log keeps.
#[derive(Debug, Clone)]
pub struct Actor<'a> {
    /// The person's directory id.
    pub person: &'a str,
    /// `link`, `cli`, later `email`, `matrix`, `teams`.
    pub channel: &'a str,
    /// Where exactly: the delivery a link came from, the command line, …
    pub source: &'a str,
    pub note: Option<&'a str>,
}

/// What recording an action did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionOutcome {
    /// The occurrence moved from one state to another.
    Recorded { from: OccurrenceState, to: OccurrenceState },
    /// It was already in the state the action leads to; nothing changed.
    AlreadyRecorded(OccurrenceState),
    /// The action does not apply in the occurrence's state; nothing changed.
    Refused(OccurrenceState),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::config::fixtures::{SHIPPED_CALENDAR, shipped_with as config};

    fn stored(occurrences: &[Occurrence]) -> Vec<StoredOccurrence> {
        (1..).zip(occurrences).map(|(id, o)| o.stored_open(id)).collect()
    }

    fn now() -> Timestamp {
        "2026-11-27T08:00:00Z".parse().unwrap()
    }

    #[test]
    fn reconciling_twice_changes_nothing_the_second_time() {
        let config = config(SHIPPED_CALENDAR);
        let wanted = config.occurrences_to_materialise(now());
        let first = reconcile(&config, &[], &wanted);
        assert_eq!(first.len(), wanted.len());
        assert!(first.iter().all(|c| matches!(c, Change::Create(_))));
        assert_eq!(reconcile(&config, &stored(&wanted), &wanted), []);
    }

    #[test]
    fn moved_due_dates_reschedule_only_open_occurrences() {
        let shipped = SHIPPED_CALENDAR;
        let before = config(shipped);
        let wanted = before.occurrences_to_materialise(now());
        let mut rows = stored(&wanted);
        let after = config(&shipped.replace(
            "due = { date = \"01-31\" }\nbasis = \"\"\"Utifrån",
            "due = { date = \"02-26\" }\nbasis = \"\"\"Utifrån",
        ));
        let moved = after.occurrences_to_materialise(now());
        let changes = reconcile(&after, &rows, &moved);
        assert_eq!(changes.len(), 1, "the 2027 action plan moves: {changes:?}");
        rows.iter_mut().for_each(|r| r.state = OccurrenceState::Acknowledged);
        assert_eq!(
            reconcile(&after, &rows, &moved),
            [],
            "settled history keeps its due dates"
        );
    }

    #[test]
    fn occurrences_of_removed_obligations_are_kept_but_unconfigured() {
        let shipped = SHIPPED_CALENDAR;
        let before = config(shipped);
        let rows = stored(&before.occurrences_to_materialise(now()));
        let reseregler = shipped.find("[[obligations]]\nid = \"reseregler\"").unwrap();
        let after = config(&shipped[..reseregler]);
        let changes = reconcile(&after, &rows, &after.occurrences_to_materialise(now()));
        let unconfigured: Vec<_> = changes
            .iter()
            .map(|c| match c {
                Change::Unconfigure { id } => rows.iter().find(|r| r.id == *id).unwrap().obligation.as_str(),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(unconfigured, ["reseregler"]);
        let mut rows = rows;
        rows.iter_mut()
            .filter(|r| r.obligation == "reseregler")
            .for_each(|r| r.configured = false);
        let back = reconcile(&before, &rows, &before.occurrences_to_materialise(now()));
        assert!(matches!(back[..], [Change::Reconfigure { .. }]), "{back:?}");
    }
}

/// Something a person does to an occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The responsible unit has done the work.
    Submit,
    /// The manager (or KLK) confirms the submission.
    Acknowledge,
    /// The occurrence does not apply; only a registrar may do this.
    Waive,
}

impl Action {
    /// The name used in links, the CLI and the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submit => "submit",
            Self::Acknowledge => "acknowledge",
            Self::Waive => "waive",
        }
    }
}

impl FromStr for Action {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [Self::Submit, Self::Acknowledge, Self::Waive]
            .into_iter()
            .find(|a| a.as_str() == text)
            .ok_or_else(|| format!("unknown action \"{text}\"; use submit, acknowledge or waive"))
    }
}

/// What an action does to an occurrence in a given state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The occurrence moves to this state.
    To(OccurrenceState),
    /// The action was already recorded (a second click, a repeated command).
    AlreadyDone,
    /// The action makes no sense in this state, e.g. acknowledging a waived occurrence.
    Refused,
}

impl Action {
    /// The transition this action makes from `state`.
    pub fn transition(self, state: OccurrenceState) -> Transition {
        use OccurrenceState::{Acknowledged, Open, Submitted, Waived};
        match (self, state) {
            (Self::Submit, Open) => Transition::To(Submitted),
            (Self::Submit, Submitted | Acknowledged) | (Self::Acknowledge, Acknowledged) | (Self::Waive, Waived) => {
                Transition::AlreadyDone
            }
            // A manager may acknowledge work that was handed in without being marked submitted.
            (Self::Acknowledge, Open | Submitted) => Transition::To(Acknowledged),
            (Self::Waive, Open | Submitted) => Transition::To(Waived),
            (Self::Submit | Self::Acknowledge, Waived) | (Self::Waive, Acknowledged) => Transition::Refused,
        }
    }
}

#[cfg(test)]
mod transition_tests {
    use super::*;

    #[test]
    fn actions_move_occurrences_forward_once() {
        use OccurrenceState::*;
        assert_eq!(Action::Submit.transition(Open), Transition::To(Submitted));
        assert_eq!(Action::Submit.transition(Submitted), Transition::AlreadyDone);
        assert_eq!(Action::Acknowledge.transition(Submitted), Transition::To(Acknowledged));
        assert_eq!(Action::Acknowledge.transition(Acknowledged), Transition::AlreadyDone);
        assert_eq!(Action::Waive.transition(Open), Transition::To(Waived));
        assert_eq!(Action::Acknowledge.transition(Waived), Transition::Refused);
        assert_eq!(Action::Waive.transition(Acknowledged), Transition::Refused);
    }
}
