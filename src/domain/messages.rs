//! What people read: reminders composed from the occurrence, the step and the recipient's
//! language (Swedish by default, English on request), rendered from the templates in
//! `templates/` — one message listing every item of a digest.

use std::sync::LazyLock;

use jiff::Timestamp;
use minijinja::Environment;
use serde::Serialize;

use super::config::{Config, Language, Person, Role};
use super::occurrence::{Action, StoredOccurrence};
use super::planner::{Ask, Reason, Step};

/// One item of a message: an occurrence at one step, with the link that acts on it.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub occurrence: &'a StoredOccurrence,
    pub step: Step,
    pub reason: Reason,
    /// The signed link for [`action_for`] of the step, if it has one.
    pub action_url: Option<String>,
}

/// A message ready for a channel: subject, plain text, HTML in the channel's flavour, and
/// the items one by one for channels that lay them out themselves (Teams cards).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub items: Vec<Item>,
    pub labels: Labels,
}

/// Which HTML a channel takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A whole HTML document, for email.
    Email,
    /// An HTML fragment in the subset chat clients render (Matrix).
    Chat,
    /// No HTML.
    Plain,
}

/// The action a step's link takes, if any: reminders ask to submit, requests to acknowledge.
pub fn action_for(step: Step) -> Option<Action> {
    match step.ask() {
        Ask::Submit => Some(Action::Submit),
        Ask::Acknowledge => Some(Action::Acknowledge),
        Ask::FollowUp | Ask::Nothing | Ask::Decide => None,
    }
}

/// One item of a message, in the recipient's language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub title: String,
    pub unit: String,
    pub period: String,
    pub due: String,
    pub status: String,
    /// What the recipient is asked to do.
    pub ask: &'static str,
    /// Why the recipient gets it, when they stand in for someone.
    pub note: Option<String>,
    /// The sentence of the guideline the obligation comes from.
    pub basis: String,
    pub action_label: Option<&'static str>,
    pub action_url: Option<String>,
}

/// The names of an item's fields, in the recipient's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Labels {
    pub unit: &'static str,
    pub period: &'static str,
    pub due: &'static str,
    pub status: &'static str,
    pub basis: &'static str,
}

impl Labels {
    /// The labels in `language`.
    pub fn new(language: Language) -> Self {
        match language {
            Language::Sv => Self {
                unit: "Enhet",
                period: "Period",
                due: "Sista dag",
                status: "Läge",
                basis: "Grund i riktlinjerna",
            },
            Language::En => Self {
                unit: "Unit",
                period: "Period",
                due: "Due",
                status: "Status",
                basis: "Basis in the guidelines",
            },
        }
    }
}

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // The templates are part of the binary; a syntax error in them fails the tests at once.
    for (name, source) in [
        ("sv.txt", include_str!("../../templates/email/sv.txt")),
        ("en.txt", include_str!("../../templates/email/en.txt")),
        ("sv.html", include_str!("../../templates/email/sv.html")),
        ("en.html", include_str!("../../templates/email/en.html")),
        ("sv.chat.html", include_str!("../../templates/chat/sv.html")),
        ("en.chat.html", include_str!("../../templates/chat/en.html")),
    ] {
        if let Err(error) = env.add_template(name, source) {
            tracing::error!(%error, template = name, "invalid message template");
        }
    }
    env
});

/// One message to `recipient` listing `entries`, in the recipient's language, with HTML in
/// `format`.
pub fn compose(
    config: &Config,
    recipient: &Person,
    entries: &[Entry<'_>],
    format: Format,
) -> Result<Rendered, minijinja::Error> {
    let language = recipient.language;
    let items: Vec<Item> = entries.iter().map(|entry| item(config, language, entry)).collect();
    let subject = match (language, items.as_slice()) {
        (Language::Sv, [one]) => format!("{} – {} ({})", one.title, one.unit, one.status.to_lowercase()),
        (Language::En, [one]) => format!("{} – {} ({})", one.title, one.unit, one.status.to_lowercase()),
        (Language::Sv, many) => format!("arshjul: {} ärenden att hantera", many.len()),
        (Language::En, many) => format!("arshjul: {} items to handle", many.len()),
    };
    let contact = config
        .directory
        .units
        .iter()
        .filter(|u| u.kind == super::config::UnitKind::Klk)
        .find_map(|u| config.directory.holder(u, Role::Strategist))
        .map(|p| format!("{} <{}>", p.name, p.email));
    let context =
        minijinja::context! { name => recipient.name, items => items, contact => contact, subject => subject };
    let code = match language {
        Language::Sv => "sv",
        Language::En => "en",
    };
    let text = TEMPLATES.get_template(&format!("{code}.txt"))?.render(&context)?;
    let html = match format {
        Format::Email => TEMPLATES.get_template(&format!("{code}.html"))?.render(&context)?,
        Format::Chat => TEMPLATES.get_template(&format!("{code}.chat.html"))?.render(&context)?,
        Format::Plain => String::new(),
    };
    Ok(Rendered {
        subject,
        text,
        html,
        items,
        labels: Labels::new(language),
    })
}

/// The message `arshjul channels test` sends, in `language`, naming where it went.
pub fn test_message(language: Language, destination: &str) -> Rendered {
    let (subject, text): (String, String) = match language {
        Language::Sv => (
            "Testmeddelande från arshjul".to_owned(),
            format!(
                "Det här är ett testmeddelande från arshjul till {destination}. Påminnelser kommer att se ut så här."
            ),
        ),
        Language::En => (
            "Test message from arshjul".to_owned(),
            format!("This is a test message from arshjul to {destination}. Reminders will arrive like this."),
        ),
    };
    short_message(language, &subject, &text)
}

/// A message of one paragraph, such as an answer to a reply.
pub fn short_message(language: Language, subject: &str, text: &str) -> Rendered {
    Rendered {
        html: format!("<p>{}</p>", minijinja::HtmlEscape(text)),
        subject: subject.to_owned(),
        text: text.to_owned(),
        items: Vec::new(),
        labels: Labels::new(language),
    }
}

/// The occurrence's obligation title in `language`, or its id if it left the configuration.
pub fn title(config: &Config, occurrence: &StoredOccurrence, language: Language) -> String {
    let obligation = config
        .calendar
        .obligations
        .iter()
        .find(|o| o.id.as_str() == occurrence.obligation);
    obligation.map_or_else(
        || occurrence.obligation.clone(),
        |o| {
            if language == Language::Sv {
                o.title_sv.clone()
            } else {
                o.title_en.clone()
            }
        },
    )
}

/// The occurrence's unit name in `language`, or its id if it left the configuration.
pub fn unit_name(config: &Config, occurrence: &StoredOccurrence, language: Language) -> String {
    config.directory.unit_named(&occurrence.unit).map_or_else(
        || occurrence.unit.clone(),
        |u| {
            if language == Language::Sv {
                u.name.clone()
            } else {
                u.name_en.clone()
            }
        },
    )
}

fn item(config: &Config, language: Language, entry: &Entry<'_>) -> Item {
    let occurrence = entry.occurrence;
    let obligation = config
        .calendar
        .obligations
        .iter()
        .find(|o| o.id.as_str() == occurrence.obligation);
    let sv = language == Language::Sv;
    let title = title(config, occurrence, language);
    let unit_name = unit_name(config, occurrence, language);
    let due = long_date(config, occurrence.due_at, language);
    let status = match (entry.step, sv) {
        (Step::Before(days), true) => format!("Sista dag om {days} arbetsdagar"),
        (Step::Before(days), false) => format!("Due in {days} business days"),
        (Step::Due, true) => "Sista dag i dag".to_owned(),
        (Step::Due, false) => "Due today".to_owned(),
        (Step::Overdue(_) | Step::EscalateManager | Step::EscalateKlk, true) => "Försenad".to_owned(),
        (Step::Overdue(_) | Step::EscalateManager | Step::EscalateKlk, false) => "Overdue".to_owned(),
        (Step::Acknowledge(_), true) => "Inlämnad – väntar på kvittens".to_owned(),
        (Step::Acknowledge(_), false) => "Submitted – awaiting acknowledgement".to_owned(),
        (Step::Closed, true) => "Kvitterad".to_owned(),
        (Step::Closed, false) => "Acknowledged".to_owned(),
        (Step::WaiveRequest, true) => "Begäran att stryka".to_owned(),
        (Step::WaiveRequest, false) => "Request to waive".to_owned(),
    };
    let ask = match (entry.step.ask(), sv) {
        (Ask::Submit, true) => "Gör klart och markera som inlämnad.",
        (Ask::Submit, false) => "Complete it and mark it as submitted.",
        (Ask::FollowUp, true) => "Enheten har inte lämnat in. Följ upp att det blir gjort.",
        (Ask::FollowUp, false) => "The unit has not submitted. Please make sure it gets done.",
        (Ask::Acknowledge, true) => "Granska och kvittera inlämningen.",
        (Ask::Acknowledge, false) => "Please review and acknowledge the submission.",
        (Ask::Nothing, true) => "Chefen har kvitterat inlämningen. Ärendet är klart – tack!",
        (Ask::Nothing, false) => "The manager has acknowledged the submission. The item is closed – thank you!",
        (Ask::Decide, true) => {
            "Enheten anser att detta inte gäller dem. Svara \"bevilja ID\" eller \"avslå ID\" (ID från \"status\")."
        }
        (Ask::Decide, false) => {
            "The unit says this does not apply to them. Answer \"grant ID\" or \"refuse ID\" (the ID from \"status\")."
        }
    };
    let note = match &entry.reason {
        Reason::Holder => None,
        Reason::StandIn { away } => {
            let name = config.directory.person(away).map_or(away.as_str(), |p| &p.name);
            Some(if sv {
                format!("Du får detta som ersättare för {name}, som är frånvarande.")
            } else {
                format!("You receive this as deputy for {name}, who is away.")
            })
        }
        Reason::VacantRole { role } => Some(if sv {
            format!("Enheten saknar {}; som chef får du ärendet.", role_sv(*role))
        } else {
            format!(
                "The unit has no {}; as its manager you receive this item.",
                role.as_str().replace('_', " ")
            )
        }),
    };
    let action_label = action_for(entry.step).map(|action| match (action, sv) {
        (Action::Submit, true) => "Markera som inlämnad",
        (Action::Submit, false) => "Mark as submitted",
        (Action::Acknowledge, true) => "Kvittera",
        (Action::Acknowledge, false) => "Acknowledge",
        (Action::Waive, true) => "Stryk",
        (Action::Waive, false) => "Waive",
    });
    Item {
        title,
        unit: unit_name,
        period: occurrence.period.clone(),
        due,
        status,
        ask,
        note,
        basis: obligation.map(|o| o.basis.clone()).unwrap_or_default(),
        action_label: entry.action_url.as_ref().and(action_label),
        action_url: entry.action_url.clone(),
    }
}

fn role_sv(role: Role) -> &'static str {
    match role {
        Role::Manager => "chef",
        Role::EuContact => "EU-kontaktperson",
        Role::Strategist => "planeringsstrateg",
        Role::Presidium => "presidium",
        Role::Registrar => "registrator",
    }
}

/// "måndag 15 februari 2027 kl. 16.00" or "Monday 15 February 2027 at 16:00", local time.
pub fn long_date(config: &Config, at: Timestamp, language: Language) -> String {
    const WEEKDAYS_SV: [&str; 7] = ["måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag"];
    const MONTHS_SV: [&str; 12] = [
        "januari",
        "februari",
        "mars",
        "april",
        "maj",
        "juni",
        "juli",
        "augusti",
        "september",
        "oktober",
        "november",
        "december",
    ];
    let local = config.calendar.time_zone.to_datetime(at);
    match language {
        Language::Sv => format!(
            "{} {} {} {} kl. {}",
            WEEKDAYS_SV[usize::from(local.weekday().to_monday_zero_offset().unsigned_abs())],
            local.day(),
            MONTHS_SV[usize::from(local.month().unsigned_abs()) - 1],
            local.year(),
            local.strftime("%H.%M")
        ),
        Language::En => local.strftime("%A %-d %B %Y at %H:%M").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::config::PersonId;
    use crate::domain::config::fixtures::{SHIPPED_CALENDAR, shipped_with};
    use crate::domain::occurrence::OccurrenceState;

    fn follow_up() -> StoredOccurrence {
        crate::domain::config::fixtures::follow_up(OccurrenceState::Open)
    }

    fn person(config: &Config, id: &str) -> Person {
        config.directory.person(&PersonId::checked(id)).unwrap().clone()
    }

    #[test]
    fn a_swedish_reminder_names_what_when_why_and_who_to_ask() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let occurrence = follow_up();
        let entry = Entry {
            occurrence: &occurrence,
            step: Step::Before(14),
            reason: Reason::Holder,
            action_url: Some("https://arshjul.example.org/ack/v1.abc.def".into()),
        };
        let message = compose(&config, &person(&config, "linnea.dahl"), &[entry], Format::Email).unwrap();
        assert_eq!(
            message.subject,
            "Komplett uppföljning av det internationella arbetet till kommunledningskontoret – Tekniska förvaltningen (sista dag om 14 arbetsdagar)"
        );
        for expected in [
            "Hej Linnea Dahl!",
            "Sista dag:  måndag 15 februari 2027 kl. 16.00",
            "Markera som inlämnad: https://arshjul.example.org/ack/v1.abc.def",
            "En komplett uppföljning avseende budget, erhållet bidrag, medfinansiering",
            "Frågor? Kontakta Johan Lindqvist <johan.lindqvist@example.org>.",
        ] {
            assert!(
                message.text.contains(expected),
                "missing {expected:?} in\n{}",
                message.text
            );
        }
        // minijinja escapes '/' in HTML (OWASP's rule); browsers and mail readers decode it.
        assert!(
            message
                .html
                .contains("<a href=\"https:&#x2f;&#x2f;arshjul.example.org&#x2f;ack&#x2f;v1.abc.def\"")
        );
        assert!(message.html.contains("lang=\"sv\""));
    }

    #[test]
    fn an_english_digest_lists_every_item_and_escapes_html() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let first = follow_up();
        let mut second = follow_up();
        second.obligation = "eu-kontaktperson".into();
        second.period = "2027<script>".into();
        let entries = [
            Entry {
                occurrence: &first,
                step: Step::Due,
                reason: Reason::Holder,
                action_url: None,
            },
            Entry {
                occurrence: &second,
                step: Step::Overdue(1),
                reason: Reason::StandIn {
                    away: PersonId::checked("magnus.berg"),
                },
                action_url: None,
            },
        ];
        let mut reader = person(&config, "grace.miller");
        reader.language = Language::En;
        let message = compose(&config, &reader, &entries, Format::Email).unwrap();
        assert_eq!(message.subject, "arshjul: 2 items to handle");
        assert!(
            message.text.contains("Due:        Monday 15 February 2027 at 16:00"),
            "{}",
            message.text
        );
        assert!(
            message
                .text
                .contains("You receive this as deputy for Magnus Berg, who is away.")
        );
        assert!(message.text.contains("Appointed EU contact person"));
        assert!(message.html.contains("2027&lt;script&gt;") && !message.html.contains("2027<script>"));
    }
}
