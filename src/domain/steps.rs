//! The pipeline's vocabulary: the steps of an occurrence's or a call's messages, what each
//! asks of its recipient, why a delivery goes to whom, what it is about, and where it stands
//! in the outbox. The planner, routing, messages, storage and the dispatcher all speak it.

use std::fmt;

use super::config::{Config, PersonId, Role};

/// One point in an occurrence's reminder sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// This many business days before the due date.
    Before(u16),
    /// On the due date.
    Due,
    /// The K-th reminder after the due date.
    Overdue(u16),
    /// The unit's manager is told the occurrence is overdue.
    EscalateManager,
    /// KLK's strategist is told the occurrence is overdue.
    EscalateKlk,
    /// The manager is asked to acknowledge a submission (0 = the first request).
    Acknowledge(u16),
    /// The responsible person is told that the manager acknowledged: the item is closed.
    Closed,
    /// KLK's strategist is asked to grant or refuse a unit's request to waive.
    WaiveRequest,
    /// An EU funding call is announced to the network.
    Announce,
    /// A correction of an announced call (its revision).
    CallUpdate(u16),
    /// An announced call is withdrawn.
    CallCancelled,
    /// KLK's strategist gets the week's summary of the answers to a call (ISO year and week).
    CallSummary { year: i16, week: i8 },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Before(days) => write!(f, "before-{days}"),
            Self::Due => f.write_str("due"),
            Self::Overdue(k) => write!(f, "overdue-{k}"),
            Self::EscalateManager => f.write_str("escalate-manager"),
            Self::EscalateKlk => f.write_str("escalate-klk"),
            Self::Acknowledge(0) => f.write_str("acknowledge"),
            Self::Acknowledge(k) => write!(f, "acknowledge-{k}"),
            Self::Closed => f.write_str("closed"),
            Self::WaiveRequest => f.write_str("waive-request"),
            Self::Announce => f.write_str("announce"),
            Self::CallUpdate(revision) => write!(f, "update-{revision}"),
            Self::CallCancelled => f.write_str("cancelled"),
            Self::CallSummary { year, week } => write!(f, "summary-{year}-w{week:02}"),
        }
    }
}

impl std::str::FromStr for Step {
    type Err = String;

    /// Reads a step back from its name in the outbox.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let number = |n: &str| n.parse::<u16>().map_err(|_| format!("unknown step \"{text}\""));
        match text {
            "due" => Ok(Self::Due),
            "escalate-manager" => Ok(Self::EscalateManager),
            "escalate-klk" => Ok(Self::EscalateKlk),
            "acknowledge" => Ok(Self::Acknowledge(0)),
            "closed" => Ok(Self::Closed),
            "waive-request" => Ok(Self::WaiveRequest),
            "announce" => Ok(Self::Announce),
            "cancelled" => Ok(Self::CallCancelled),
            _ if text.starts_with("summary-") => text
                .strip_prefix("summary-")
                .and_then(|rest| rest.split_once("-w"))
                .and_then(|(year, week)| {
                    Some(Self::CallSummary {
                        year: year.parse().ok()?,
                        week: week.parse().ok()?,
                    })
                })
                .ok_or_else(|| format!("unknown step \"{text}\"")),
            _ => match text.split_once('-') {
                Some(("before", n)) => number(n).map(Self::Before),
                Some(("overdue", n)) => number(n).map(Self::Overdue),
                Some(("acknowledge", n)) => number(n).map(Self::Acknowledge),
                Some(("update", n)) => number(n).map(Self::CallUpdate),
                _ => Err(format!("unknown step \"{text}\"")),
            },
        }
    }
}

impl Step {
    /// What the recipient is asked to do.
    pub fn ask(self) -> Ask {
        match self {
            Self::Before(_) | Self::Due | Self::Overdue(_) => Ask::Submit,
            Self::EscalateManager | Self::EscalateKlk => Ask::FollowUp,
            Self::Acknowledge(_) => Ask::Acknowledge,
            Self::Closed | Self::CallCancelled | Self::CallSummary { .. } => Ask::Nothing,
            Self::WaiveRequest => Ask::Decide,
            Self::Announce | Self::CallUpdate(_) => Ask::Interest,
        }
    }
}

/// What a delivery asks of its recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ask {
    /// Do the work and mark it submitted.
    Submit,
    /// See that an overdue occurrence gets done.
    FollowUp,
    /// Confirm a submission.
    Acknowledge,
    /// Nothing: the message only tells.
    Nothing,
    /// Grant or refuse a request to waive.
    Decide,
    /// Say whether the unit is interested in an EU funding call.
    Interest,
}

/// Why a delivery goes to its recipient and not to someone else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The recipient holds the role the step is for.
    Holder,
    /// The holder is away; the recipient is their deputy (or, lacking one, the manager).
    StandIn { away: PersonId },
    /// Nobody holds the role in the unit, so its manager is asked instead.
    VacantRole { role: Role },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Holder => f.write_str("holder"),
            Self::StandIn { away } => write!(f, "stand-in:{away}"),
            Self::VacantRole { role } => write!(f, "vacant:{}", role.as_str()),
        }
    }
}

impl Reason {
    /// Reads a reason back from its text in the outbox; unknown text reads as `Holder`.
    pub fn parse(text: &str, config: &Config) -> Self {
        match text.split_once(':') {
            Some(("stand-in", away)) => config
                .directory
                .person_named(away)
                .map_or(Self::Holder, |p| Self::StandIn { away: p.id.clone() }),
            Some(("vacant", role)) => serde_json::from_value(serde_json::Value::String(role.to_owned()))
                .map_or(Self::Holder, |role| Self::VacantRole { role }),
            _ => Self::Holder,
        }
    }
}

/// What a delivery is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subject {
    /// An occurrence, by id.
    Occurrence(i64),
    /// An EU funding call, by announcement id.
    Call(i64),
}

impl fmt::Display for Subject {
    /// The subject's part of an idempotency key: `7` for occurrence 7 (as before calls
    /// existed), `call-7` for call 7.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Occurrence(id) => write!(f, "{id}"),
            Self::Call(id) => write!(f, "call-{id}"),
        }
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its `not_before` time.
    Pending,
    /// Claimed by a dispatcher until its lease expires.
    Sending,
    Sent,
    /// The last attempt failed; it is retried at `not_before`.
    Failed,
    /// Given up: a permanent error, or too many attempts.
    Dead,
    /// Withdrawn by an operator or because the occurrence no longer needs it.
    Cancelled,
}

impl DeliveryState {
    /// Every state, in pipeline order.
    pub const ALL: [Self; 6] = [
        Self::Pending,
        Self::Sending,
        Self::Sent,
        Self::Failed,
        Self::Dead,
        Self::Cancelled,
    ];

    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Dead => "dead",
            Self::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DeliveryState {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|s| s.as_str() == text).ok_or_else(|| {
            let known: Vec<_> = Self::ALL.iter().map(|s| s.as_str()).collect();
            format!("unknown delivery state \"{text}\"; use one of {}", known.join(", "))
        })
    }
}
