//! EU funding calls: what the strategist announces, who hears it (the network's channels and
//! every targeted unit's EU contact person), and how units answer — interested, applying or
//! not relevant. A unit that applies gets the calendar's per-call occurrences (see
//! `Config::call_occurrences`). Pure: storage keeps the calls, the inbound service and the
//! HTTP API bring the text.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::config::Transport;
use super::config::{Config, Language, Person, Role, Unit};
use super::planner::{Delivery, idempotency_key, recipient_for_role};
use super::routing::{Route, Routing};
use super::steps::{Ask, Reason, Step, Subject};

/// Where a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    Active,
    /// Withdrawn by the strategist; the network was told.
    Cancelled,
}

impl CallState {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Cancelled => "cancelled",
        }
    }
}

impl FromStr for CallState {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [Self::Active, Self::Cancelled]
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| format!("unknown call state \"{text}\""))
    }
}

/// A call as announced: validated, ready to store and post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Call {
    /// The same call posted twice has the same key: its call id, or else its link normalised.
    pub call_key: String,
    pub title: String,
    /// Interreg, Erasmus+, LIFE, Horizon Europe, …
    pub programme: String,
    pub link: String,
    /// The call's last day (local).
    pub deadline: Date,
    /// Markdown.
    pub description: String,
    /// The targeted unit ids; empty means every unit with an EU contact person.
    pub units: Vec<String>,
    pub tags: Vec<String>,
}

/// A stored announcement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Announcement {
    pub id: i64,
    #[serde(flatten)]
    pub call: Call,
    pub state: CallState,
    /// 0 as announced; raised by every correction and by the cancellation.
    pub revision: u16,
    pub created_by: String,
    pub created_at: Timestamp,
}

/// What the strategist fills in, from the CLI, the API or a chat command; checked by
/// [`Draft::validate`]. Missing fields are empty, so they are reported with the others.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Draft {
    pub title: String,
    pub programme: String,
    pub link: String,
    /// `YYYY-MM-DD`.
    pub deadline: String,
    pub description: String,
    /// Unit ids; empty or `["all"]` for every unit with an EU contact person.
    pub units: Vec<String>,
    pub tags: Vec<String>,
    /// The funder's id of the call (e.g. `ERASMUS-EDU-2027-PI-ALL-INNO`), when it has one.
    pub call_id: Option<String>,
}

/// What is wrong with one field of a draft. `message` is the English text (for the API and
/// the CLI); [`FieldError::text`] says it in the reader's language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
    #[serde(skip)]
    pub problem: Problem,
}

/// What is wrong with a field's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Empty,
    /// Longer than this many characters.
    TooLong(usize),
    /// Not an http(s) address.
    NotWebAddress(String),
    InThePast(Date),
    NotDate(String),
    UnknownUnit(String),
}

impl Problem {
    /// The problem in `language`.
    pub fn text(&self, language: Language) -> String {
        let sv = language == Language::Sv;
        match (self, sv) {
            (Self::Empty, true) => "får inte vara tomt".to_owned(),
            (Self::Empty, false) => "must not be empty".to_owned(),
            (Self::TooLong(max), true) => format!("får vara högst {max} tecken"),
            (Self::TooLong(max), false) => format!("must be at most {max} characters"),
            (Self::NotWebAddress(value), true) => format!("\"{value}\" är inte en webbadress som https://…"),
            (Self::NotWebAddress(value), false) => format!("\"{value}\" is not a web address like https://…"),
            (Self::InThePast(date), true) => format!("{date} har redan varit"),
            (Self::InThePast(date), false) => format!("{date} is in the past"),
            (Self::NotDate(value), true) => format!("\"{value}\" är inte ett datum som 2027-03-15 (ÅÅÅÅ-MM-DD)"),
            (Self::NotDate(value), false) => {
                format!("\"{value}\" is not a date like 2027-03-15 (YYYY-MM-DD)")
            }
            (Self::UnknownUnit(unit), true) => format!("okänd enhet \"{unit}\""),
            (Self::UnknownUnit(unit), false) => format!("unknown unit \"{unit}\""),
        }
    }
}

impl FieldError {
    fn new(field: &'static str, problem: Problem) -> Self {
        Self {
            field,
            message: problem.text(Language::En),
            problem,
        }
    }

    /// The field and its problem in `language`.
    pub fn text(&self, language: Language) -> String {
        let field = match (self.field, language) {
            ("title", Language::Sv) => "titel",
            ("link", Language::Sv) => "länk",
            ("deadline", Language::Sv) => "sista ansökningsdag",
            ("description", Language::Sv) => "beskrivning",
            ("units", Language::Sv) => "enheter",
            (field, _) => field,
        };
        format!("{field}: {}", self.problem.text(language))
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Why a person may not do something with a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallRefusal {
    /// Only KLK's strategist (or deputy) announces, corrects and cancels calls.
    NotStrategist {
        name: String,
    },
    NoSuchCall(i64),
    Cancelled(i64),
    /// The person answers for no unit the call is for.
    AnswersForNoUnit {
        name: String,
    },
}

impl CallRefusal {
    /// Why, in `language`.
    pub fn text(&self, language: Language) -> String {
        let sv = language == Language::Sv;
        match (self, sv) {
            (Self::NotStrategist { name }, true) => {
                format!(
                    "bara kommunledningskontorets planeringsstrateg lägger upp EU-utlysningar, och det är inte {name}"
                )
            }
            (Self::NotStrategist { name }, false) => {
                format!("only KLK's strategist announces EU funding calls, and {name} is not")
            }
            (Self::NoSuchCall(id), true) => format!("det finns ingen utlysning {id}"),
            (Self::NoSuchCall(id), false) => format!("there is no call {id}"),
            (Self::Cancelled(id), true) => format!("utlysning {id} är inställd"),
            (Self::Cancelled(id), false) => format!("call {id} is cancelled"),
            (Self::AnswersForNoUnit { name }, true) => {
                format!("{name} är varken EU-kontaktperson eller chef för en enhet som utlysningen gäller")
            }
            (Self::AnswersForNoUnit { name }, false) => {
                format!("{name} is neither EU contact person nor manager of a unit the call is for")
            }
        }
    }
}

impl fmt::Display for CallRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text(Language::En))
    }
}

const MAX_TITLE: usize = 200;
const MAX_DESCRIPTION: usize = 4000;

impl Draft {
    /// The call this draft describes, or every field that is wrong. `today` is the local date:
    /// a deadline before it is refused.
    pub fn validate(&self, config: &Config, today: Date) -> Result<Call, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut wrong = |field, problem| errors.push(FieldError::new(field, problem));
        let title = self.title.trim();
        if title.is_empty() {
            wrong("title", Problem::Empty);
        } else if title.chars().count() > MAX_TITLE {
            wrong("title", Problem::TooLong(MAX_TITLE));
        }
        let link = match url::Url::parse(self.link.trim()) {
            _ if self.link.trim().is_empty() => {
                wrong("link", Problem::Empty);
                None
            }
            Ok(link) if matches!(link.scheme(), "http" | "https") && link.host().is_some() => Some(link),
            _ => {
                wrong("link", Problem::NotWebAddress(self.link.trim().to_owned()));
                None
            }
        };
        let deadline = match self.deadline.trim().parse::<Date>() {
            _ if self.deadline.trim().is_empty() => {
                wrong("deadline", Problem::Empty);
                None
            }
            Ok(date) if date < today => {
                wrong("deadline", Problem::InThePast(date));
                None
            }
            Ok(date) => Some(date),
            Err(_) => {
                wrong("deadline", Problem::NotDate(self.deadline.trim().to_owned()));
                None
            }
        };
        if self.description.chars().count() > MAX_DESCRIPTION {
            wrong("description", Problem::TooLong(MAX_DESCRIPTION));
        }
        let units: Vec<String> = self
            .units
            .iter()
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty() && !u.eq_ignore_ascii_case("all") && !u.eq_ignore_ascii_case("alla"))
            .collect();
        for unit in &units {
            if config.directory.unit_named(unit).is_none() {
                wrong("units", Problem::UnknownUnit(unit.clone()));
            }
        }
        let (Some(link), Some(deadline), true) = (link, deadline, errors.is_empty()) else {
            return Err(errors);
        };
        let call_key = match self.call_id.as_deref().map(str::trim).filter(|id| !id.is_empty()) {
            Some(id) => format!("id:{}", id.to_lowercase()),
            None => {
                let mut normalised = link.clone();
                normalised.set_fragment(None);
                format!("link:{}", normalised.as_str().trim_end_matches('/'))
            }
        };
        Ok(Call {
            call_key,
            title: title.to_owned(),
            programme: self.programme.trim().to_owned(),
            link: link.to_string(),
            deadline,
            description: self.description.trim().to_owned(),
            units,
            tags: self
                .tags
                .iter()
                .map(|t| t.trim().to_lowercase())
                .filter(|t| !t.is_empty())
                .collect(),
        })
    }
}

impl Call {
    /// This call as a draft, to correct some of its fields and validate again.
    pub fn to_draft(&self) -> Draft {
        Draft {
            title: self.title.clone(),
            programme: self.programme.clone(),
            link: self.link.clone(),
            deadline: self.deadline.to_string(),
            description: self.description.clone(),
            units: self.units.clone(),
            tags: self.tags.clone(),
            call_id: self.call_key.strip_prefix("id:").map(str::to_owned),
        }
    }

    /// The units the call is for, in directory order.
    pub fn targeted<'a>(&self, config: &'a Config) -> Vec<&'a Unit> {
        config
            .directory
            .units
            .iter()
            .filter(|u| {
                if self.units.is_empty() {
                    u.roles.contains_key(&Role::EuContact)
                } else {
                    self.units.iter().any(|id| id == u.id.as_str())
                }
            })
            .collect()
    }

    /// The targeted units `person` answers for: where they are the EU contact person, its
    /// deputy, or the manager.
    pub fn units_answered_by<'a>(&self, config: &'a Config, person: &Person) -> Vec<&'a Unit> {
        self.targeted(config)
            .into_iter()
            .filter(|unit| {
                [Role::EuContact, Role::Manager].iter().any(|role| {
                    unit.roles
                        .get(role)
                        .is_some_and(|a| a.person == person.id || a.deputy.as_ref() == Some(&person.id))
                })
            })
            .collect()
    }
}

/// Whether `person` may announce, correct and cancel calls: KLK's strategist or their deputy.
pub fn may_announce(config: &Config, person: &Person) -> Result<(), CallRefusal> {
    let strategist = config
        .directory
        .strategist_unit()
        .and_then(|klk| klk.roles.get(&Role::Strategist))
        .is_some_and(|a| a.person == person.id || a.deputy.as_ref() == Some(&person.id));
    if strategist {
        Ok(())
    } else {
        Err(CallRefusal::NotStrategist {
            name: person.name.clone(),
        })
    }
}

/// Every delivery that tells the network about `announcement` at `step`: a post in each of the
/// routing's `network` channels (Matrix room, Teams channel) from `now`, and a message to the
/// EU contact person of every targeted unit (their deputy when away, the manager when there is
/// none) at `personal_at`, on their own channels — not again in a network channel they see.
pub fn deliveries(
    config: &Config,
    routing: &Routing,
    announcement: &Announcement,
    step: Step,
    now: Timestamp,
    personal_at: Timestamp,
) -> Vec<Delivery> {
    let network = &routing.network;
    let subject = Subject::Call(announcement.id);
    let delivery = |recipient: String, route: Route, not_before, reason| Delivery {
        subject,
        step,
        idempotency_key: idempotency_key(subject, step, &recipient, &route),
        recipient,
        route,
        not_before,
        reason,
    };
    let mut wanted = Vec::new();
    for name in network {
        for transport in [Transport::Matrix, Transport::Teams] {
            if routing.channel_address(config, name, transport).is_ok() {
                let route = Route {
                    transport,
                    channel: Some(name.clone()),
                };
                wanted.push(delivery(
                    channel_recipient(name),
                    route,
                    config.next_send_time(now),
                    Reason::Holder,
                ));
            }
        }
    }
    let today = config.local_date(now);
    let mut told = BTreeSet::new();
    for unit in announcement.call.targeted(config) {
        let Some((person, reason)) = recipient_for_role(config, unit, Role::EuContact, today) else {
            continue;
        };
        if !told.insert(person.id.clone()) {
            continue;
        }
        // Corrections and cancellations go where the announcement went: the calls' routing.
        let mut routes: Vec<Route> = routing
            .routes(config, person, Ask::Interest)
            .into_iter()
            .filter(|r| r.channel.as_ref().is_none_or(|c| !network.contains(c)))
            .collect();
        if routes.is_empty() {
            routes.push(Route::personal(Transport::Email));
        }
        for route in routes {
            wanted.push(delivery(
                person.id.to_string(),
                route,
                config.next_send_time(personal_at),
                reason.clone(),
            ));
        }
    }
    wanted
}

/// The weekly summaries for KLK's strategist: from the first send window of each ISO week, one
/// item per call still open (active, deadline not passed) that was announced before the week
/// began. The summaries of a week go out together, as one digest.
pub fn summary_deliveries(
    config: &Config,
    routing: &Routing,
    announcements: &[Announcement],
    now: Timestamp,
) -> Vec<Delivery> {
    let today = config.local_date(now);
    let week = today.iso_week_date();
    let Ok(monday) = week.first_of_week().map(|w| w.date()) else {
        return Vec::new();
    };
    let first_window = (0..7)
        .filter_map(|days| monday.checked_add(jiff::Span::new().days(days)).ok())
        .find_map(|day| config.window_opens_on(day));
    let week_began = config
        .calendar
        .time_zone
        .to_timestamp(monday.to_datetime(jiff::civil::Time::midnight()));
    let (Some(at), Ok(week_began)) = (first_window.filter(|at| *at <= now), week_began) else {
        return Vec::new();
    };
    let strategist = config
        .directory
        .strategist_unit()
        .and_then(|klk| recipient_for_role(config, klk, Role::Strategist, today));
    let Some((person, reason)) = strategist else {
        return Vec::new();
    };
    let step = Step::CallSummary {
        year: week.year(),
        week: week.week(),
    };
    announcements
        .iter()
        .filter(|a| a.state == CallState::Active && a.call.deadline >= today && a.created_at < week_began)
        .flat_map(|a| {
            let subject = Subject::Call(a.id);
            let reason = reason.clone();
            routing
                .routes(config, person, step.ask())
                .into_iter()
                .map(move |route| Delivery {
                    subject,
                    step,
                    idempotency_key: idempotency_key(subject, step, &person.id, &route),
                    recipient: person.id.to_string(),
                    route,
                    not_before: at,
                    reason: reason.clone(),
                })
        })
        .collect()
}

/// How the targeted units have answered `call` so far, in words (`sv`: Swedish), from each
/// unit's latest `answers`.
pub fn answers_so_far(config: &Config, call: &Call, answers: &[(&str, Interest)], sv: bool) -> String {
    let name = |unit: &Unit| if sv { unit.name.clone() } else { unit.name_en.clone() };
    let targeted = call.targeted(config);
    let with = |interest: Interest| {
        let units: Vec<String> = targeted
            .iter()
            .filter(|u| answers.contains(&(u.id.as_str(), interest)))
            .map(|u| name(u))
            .collect();
        let units = if units.is_empty() {
            "–".to_owned()
        } else {
            units.join(", ")
        };
        format!("{}: {units}", capitalised(interest.label(sv)))
    };
    let silent = targeted
        .iter()
        .filter(|u| !answers.iter().any(|(unit, _)| *unit == u.id.as_str()))
        .count();
    let silent = match (sv, silent) {
        (true, 1) => "Inget svar: 1 enhet".to_owned(),
        (true, n) => format!("Inget svar: {n} enheter"),
        (false, 1) => "No answer: 1 unit".to_owned(),
        (false, n) => format!("No answer: {n} units"),
    };
    [
        with(Interest::Applying),
        with(Interest::Interested),
        with(Interest::NotRelevant),
        silent,
    ]
    .join("\n")
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The outbox's recipient of a post in the directory channel `name`.
pub fn channel_recipient(name: &str) -> String {
    format!("#{name}")
}

/// The directory channel an outbox recipient names, if it is a channel post.
pub fn channel_named(recipient: &str) -> Option<&str> {
    recipient.strip_prefix('#')
}

/// A unit's answer to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interest {
    Interested,
    /// The unit will apply: the per-call occurrences are created.
    Applying,
    NotRelevant,
}

impl Interest {
    pub const ALL: [Self; 3] = [Self::Interested, Self::Applying, Self::NotRelevant];

    /// The name stored in the database and used in links.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Interested => "interested",
            Self::Applying => "applying",
            Self::NotRelevant => "not_relevant",
        }
    }

    /// The words people use, in Swedish or English.
    pub fn label(self, sv: bool) -> &'static str {
        match (self, sv) {
            (Self::Interested, true) => "intresserad",
            (Self::Interested, false) => "interested",
            (Self::Applying, true) => "ansöker",
            (Self::Applying, false) => "applying",
            (Self::NotRelevant, true) => "inte aktuellt",
            (Self::NotRelevant, false) => "not relevant",
        }
    }
}

impl FromStr for Interest {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|i| i.as_str() == text)
            .ok_or_else(|| format!("unknown interest \"{text}\"; use interested, applying or not_relevant"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::config::fixtures::{SHIPPED_CALENDAR, shipped_with};
    use jiff::civil::date;

    fn draft() -> Draft {
        Draft {
            title: "Erasmus+ KA2 Cooperation partnerships".into(),
            programme: "Erasmus+".into(),
            link: "https://erasmus-plus.ec.europa.eu/calls/ka220#apply".into(),
            deadline: "2027-03-15".into(),
            units: vec!["tekniska".into(), "kultur-och-fritid".into()],
            ..Draft::default()
        }
    }

    #[test]
    fn a_valid_draft_is_keyed_by_its_link_without_fragment() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let call = draft().validate(&config, date(2027, 1, 10)).unwrap();
        assert_eq!(call.call_key, "link:https://erasmus-plus.ec.europa.eu/calls/ka220");
        assert_eq!(call.deadline, date(2027, 3, 15));
        let with_id = Draft {
            call_id: Some(" ERASMUS-2027-KA220 ".into()),
            ..draft()
        };
        assert_eq!(
            with_id.validate(&config, date(2027, 1, 10)).unwrap().call_key,
            "id:erasmus-2027-ka220"
        );
    }

    #[test]
    fn every_wrong_field_is_named() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let bad = Draft {
            title: " ".into(),
            link: "ftp://example.org/x".into(),
            deadline: "2027-01-09".into(),
            units: vec!["tekniska".into(), "nowhere".into()],
            ..Draft::default()
        };
        let errors = bad.validate(&config, date(2027, 1, 10)).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["title", "link", "deadline", "units"]);
        assert!(errors[2].message.contains("in the past"), "{errors:?}");
        assert!(errors[3].message.contains("\"nowhere\""), "{errors:?}");
        let unreadable = Draft {
            deadline: "15 mars".into(),
            ..draft()
        };
        assert_eq!(
            unreadable.validate(&config, date(2027, 1, 10)).unwrap_err()[0].message,
            "\"15 mars\" is not a date like 2027-03-15 (YYYY-MM-DD)"
        );
    }

    #[test]
    fn all_targets_every_unit_with_a_contact_person() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let all = Draft {
            units: vec!["all".into()],
            ..draft()
        }
        .validate(&config, date(2027, 1, 10))
        .unwrap();
        let targeted = all.targeted(&config);
        assert!(targeted.len() > 5);
        assert!(targeted.iter().all(|u| u.roles.contains_key(&Role::EuContact)));
    }

    #[test]
    fn the_weekly_summary_covers_calls_announced_before_the_week_from_its_first_window() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let at = |text: &str| text.parse::<Timestamp>().unwrap();
        let announced = |id, created_at| Announcement {
            id,
            call: draft().validate(&config, date(2027, 1, 10)).unwrap(),
            state: CallState::Active,
            revision: 0,
            created_by: "johan.lindqvist".into(),
            created_at: at(created_at),
        };
        // Monday 1 March 2027 (week 9); call 2 came that morning, after the week began.
        let calls = [
            announced(1, "2027-02-24T10:00:00Z"),
            announced(2, "2027-03-01T06:30:00Z"),
        ];
        let routing = Routing::default();
        assert_eq!(
            summary_deliveries(&config, &routing, &calls, at("2027-03-01T06:59:00Z")),
            []
        );
        let wanted = summary_deliveries(&config, &routing, &calls, at("2027-03-03T12:00:00Z"));
        let keys: Vec<&str> = wanted.iter().map(|d| d.idempotency_key.as_str()).collect();
        assert_eq!(keys, ["call-1/summary-2027-w09/johan.lindqvist/email"]);
        assert_eq!(wanted[0].not_before, at("2027-03-01T07:00:00Z"));
        // After the call's deadline (15 March), no more summaries.
        assert_eq!(
            summary_deliveries(&config, &routing, &calls, at("2027-03-22T12:00:00Z")),
            []
        );
    }

    #[test]
    fn corrections_and_cancellations_go_where_the_announcement_went() {
        use crate::domain::routing::{Available, Target};
        let config = shipped_with(SHIPPED_CALENDAR);
        // The contact persons prefer Matrix for reminders; calls are routed by email.
        let routing = Routing {
            announcements: vec![Target::Transport(Transport::Email)],
            available: Available {
                matrix_bot: true,
                ..Available::default()
            },
            ..Routing::default()
        };
        let now: Timestamp = "2027-01-11T08:00:00Z".parse().unwrap();
        let announcement = Announcement {
            id: 4,
            call: draft().validate(&config, date(2027, 1, 10)).unwrap(),
            state: CallState::Active,
            revision: 0,
            created_by: "johan.lindqvist".into(),
            created_at: now,
        };
        for step in [Step::Announce, Step::CallUpdate(1), Step::CallCancelled] {
            let routes: BTreeSet<String> = deliveries(&config, &routing, &announcement, step, now, now)
                .iter()
                .map(|d| d.route.to_string())
                .collect();
            assert_eq!(routes, BTreeSet::from(["email".to_owned()]), "{step}");
        }
    }

    #[test]
    fn answers_so_far_name_the_units_by_answer() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let call = draft().validate(&config, date(2027, 1, 10)).unwrap();
        let answers = [("tekniska", Interest::Applying)];
        assert_eq!(
            answers_so_far(&config, &call, &answers, true),
            "Ansöker: Tekniska förvaltningen\nIntresserad: –\nInte aktuellt: –\nInget svar: 1 enhet"
        );
    }

    #[test]
    fn a_unit_applying_gets_the_draft_and_review_due_in_business_days_before_the_deadline() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let unit = config.directory.unit_named("tekniska").unwrap();
        // Deadline Tuesday 6 April 2027: ten business days back skip Easter (långfredagen
        // 26 March, annandag påsk 29 March) → Friday 19 March; three → Thursday 1 April;
        // fifteen (the manager's endorsement, before the draft) → Friday 12 March.
        let occurrences = config.call_occurrences(12, date(2027, 4, 6), unit);
        let due: Vec<_> = occurrences
            .iter()
            .map(|o| (o.obligation.as_str(), o.period.to_string(), o.due_date))
            .collect();
        assert_eq!(
            due,
            [
                ("ansokan-forankring", "call-12".to_owned(), date(2027, 3, 12)),
                ("ansokan-utkast", "call-12".to_owned(), date(2027, 3, 19)),
                ("ansokan-granskning", "call-12".to_owned(), date(2027, 4, 1)),
            ]
        );
    }

    #[test]
    fn refusals_and_field_problems_are_wholly_in_the_readers_language() {
        let date: Date = "2026-01-01".parse().unwrap();
        let refusals = [
            CallRefusal::NotStrategist {
                name: "Linnea Dahl".into(),
            },
            CallRefusal::NoSuchCall(7),
            CallRefusal::Cancelled(7),
            CallRefusal::AnswersForNoUnit {
                name: "Linnea Dahl".into(),
            },
        ];
        let problems = [
            Problem::Empty,
            Problem::TooLong(200),
            Problem::NotWebAddress("x".into()),
            Problem::InThePast(date),
            Problem::NotDate("x".into()),
            Problem::UnknownUnit("x".into()),
        ];
        let texts = refusals
            .iter()
            .map(|r| (r.text(Language::Sv), r.text(Language::En)))
            .chain(problems.into_iter().map(|p| {
                let error = FieldError::new("deadline", p);
                (error.text(Language::Sv), error.text(Language::En))
            }));
        for (sv, en) in texts {
            for english in [" is ", " not ", " the ", "must", "call", "deadline"] {
                assert!(!sv.contains(english), "{english:?} in {sv}");
            }
            for swedish in [" är ", " inte ", "får", "utlysning", "datum"] {
                assert!(!en.contains(swedish), "{swedish:?} in {en}");
            }
        }
    }
}
