//! What people read: reminders composed from the occurrence, the step and the recipient's
//! language (Swedish by default, English on request), rendered from the templates in
//! `templates/` — one message listing every item of a digest.

use jiff::Timestamp;
use serde::Serialize;

use super::calls::Announcement;
use super::config::{Config, Language, Person, Role};
use super::occurrence::{Action, StoredOccurrence};
use super::steps::{Ask, Reason, Step};

/// One item of a message: an occurrence at one step, with the link that acts on it.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub occurrence: &'a StoredOccurrence,
    /// The EU funding call a per-call occurrence is for, named in place of its period.
    pub call: Option<&'a Announcement>,
    pub step: Step,
    pub reason: Reason,
    /// The signed link for [`action_for`] of the step, if it has one.
    pub action_url: Option<String>,
    /// Where what was submitted can be read, for a manager asked to acknowledge it.
    pub view_url: Option<String>,
    /// The dashboard form the item is filled in on (the yearly follow-up), if it has one.
    pub form_url: Option<String>,
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
        Ask::FollowUp | Ask::Nothing | Ask::Decide | Ask::Interest => None,
    }
}

/// One item of a message, in the recipient's language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub title: String,
    pub unit: String,
    /// What the item concerns: "år 2026", "mandatperioden 2026–2030", a call; none for a
    /// one-off item. For a call: its programme.
    pub period: Option<String>,
    pub due: String,
    pub status: String,
    /// What the recipient is asked to do.
    pub ask: &'static str,
    /// Why the recipient gets it, when they stand in for someone.
    pub note: Option<String>,
    /// The sentence of the guideline the obligation comes from (a call: its description).
    pub basis: String,
    /// The basis as HTML, when it is Markdown (a call's description).
    pub basis_html: Option<String>,
    /// What the recipient can do with one click: mark as submitted, say they are interested.
    pub links: Vec<ItemLink>,
}

/// A labelled link in a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemLink {
    pub label: String,
    pub url: String,
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
    /// The labels of an EU funding call's fields in `language`.
    pub fn for_calls(language: Language) -> Self {
        match language {
            Language::Sv => Self {
                unit: "Berörda enheter",
                period: "Program",
                due: "Sista ansökningsdag",
                status: "Status",
                basis: "Om utlysningen",
            },
            Language::En => Self {
                unit: "Units concerned",
                period: "Programme",
                due: "Call deadline",
                status: "Status",
                basis: "About the call",
            },
        }
    }

    /// The labels in `language`.
    pub fn new(language: Language) -> Self {
        match language {
            Language::Sv => Self {
                unit: "Enhet",
                period: "Avser",
                due: "Sista dag",
                status: "Status",
                basis: "Ur riktlinjerna",
            },
            Language::En => Self {
                unit: "Unit",
                period: "Concerns",
                due: "Due",
                status: "Status",
                basis: "From the guidelines",
            },
        }
    }
}

/// One message to `recipient` listing `entries`, in the recipient's language, with HTML in
/// `format`.
pub fn compose(
    config: &Config,
    recipient: &Person,
    entries: &[Entry<'_>],
    format: Format,
    now: Timestamp,
) -> Result<Rendered, minijinja::Error> {
    let language = recipient.language;
    let items: Vec<Item> = entries.iter().map(|entry| item(config, language, entry, now)).collect();
    let subject = match (language, items.as_slice()) {
        (Language::Sv, [one]) => format!("{} – {} ({})", one.title, one.unit, one.status.to_lowercase()),
        (Language::En, [one]) => format!("{} – {} ({})", one.title, one.unit, one.status.to_lowercase()),
        (Language::Sv, many) => format!("Årshjulet: {} uppgifter att hantera", many.len()),
        (Language::En, many) => format!("Governance calendar: {} items to handle", many.len()),
    };
    let steps: Vec<Step> = entries.iter().map(|e| e.step).collect();
    // Nobody is told to ask themselves.
    let contact = strategist(config)
        .filter(|strategist| strategist.id != recipient.id)
        .map(|p| format!("{} <{}>", p.name, p.email));
    let context = minijinja::context! {
        name => first_name(&recipient.name), intro => intro(&steps, language), items => items,
        contact => contact, subject => subject,
    };
    let (text, html) = render(config, "", language, format, &context)?;
    Ok(Rendered {
        subject,
        text,
        html,
        items,
        labels: Labels::new(language),
    })
}

/// Who people ask: KLK's strategist.
fn strategist(config: &Config) -> Option<&Person> {
    let klk = config.directory.strategist_unit()?;
    config.directory.holder(klk, Role::Strategist)
}

/// How a greeting names a person: the first of their names.
pub fn first_name(name: &str) -> &str {
    name.split_whitespace().next().unwrap_or(name)
}

/// The opening sentence of a message about `steps`: what kind of message it is.
fn intro(steps: &[Step], language: Language) -> String {
    let sv = language == Language::Sv;
    match steps {
        [one] => match (one.ask(), sv) {
            (Ask::Acknowledge, true) => "Din enhet har lämnat in en uppgift som väntar på din kvittens.".to_owned(),
            (Ask::Acknowledge, false) => "Your unit has submitted an item that awaits your acknowledgement.".to_owned(),
            (Ask::FollowUp, true) => "En uppgift i din enhet är försenad.".to_owned(),
            (Ask::FollowUp, false) => "An item of your unit is overdue.".to_owned(),
            (Ask::Nothing, true) => "En uppgift du ansvarar för är avslutad.".to_owned(),
            (Ask::Nothing, false) => "An item you are responsible for is closed.".to_owned(),
            (Ask::Decide, true) => "En enhet begär att en uppgift stryks.".to_owned(),
            (Ask::Decide, false) => "A unit asks for an item to be waived.".to_owned(),
            (_, true) => {
                "Det här är en automatisk påminnelse från kommunens årshjul för det internationella arbetet.".to_owned()
            }
            (_, false) => {
                "This is an automatic reminder from the municipality's governance calendar for its international work."
                    .to_owned()
            }
        },
        many if sv => format!(
            "Du har {} uppgifter i kommunens årshjul för det internationella arbetet.",
            many.len()
        ),
        many => format!(
            "You have {} items in the municipality's governance calendar for its international work.",
            many.len()
        ),
    }
}

/// What an occurrence's `period` concerns, in words; none for a one-off item.
pub fn concerns(period: &str, call: Option<&Announcement>, sv: bool) -> Option<String> {
    if let Some(announcement) = call {
        let call = if sv { "utlysningen" } else { "the call" };
        return Some(format!("{call} #{} {}", announcement.id, announcement.call.title));
    }
    let years: Vec<&str> = period.split('-').collect();
    let numeric = years
        .iter()
        .all(|y| y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()));
    Some(match (years.as_slice(), numeric, sv) {
        // One-off and on-demand items concern nothing but themselves.
        _ if period == "once" || period.starts_with("started-") => return None,
        ([year], true, true) => format!("år {year}"),
        ([year], true, false) => format!("the year {year}"),
        ([from, to], true, true) => format!("mandatperioden {from}–{to}"),
        ([from, to], true, false) => format!("the term {from}–{to}"),
        _ => period.to_owned(),
    })
}

/// The plain text and the HTML (in `format`) of the templates named `{kind}{language}.…`.
fn render(
    config: &Config,
    kind: &str,
    language: Language,
    format: Format,
    context: &minijinja::Value,
) -> Result<(String, String), minijinja::Error> {
    let code = match language {
        Language::Sv => "sv",
        Language::En => "en",
    };
    let text = config.templates.render(&format!("{kind}{code}.txt"), context)?;
    let html = match format {
        Format::Email => config.templates.render(&format!("{kind}{code}.html"), context)?,
        Format::Chat => config.templates.render(&format!("{kind}{code}.chat.html"), context)?,
        Format::Plain => String::new(),
    };
    Ok((text, html))
}

/// Renders every message template of `config` with sample items — each kind of reminder
/// alone and all of them as a digest, EU calls announced and cancelled — in both languages and
/// every format. Each template that fails is an error naming its file and line.
pub fn check_templates(config: &Config, now: Timestamp) -> Vec<super::config::ConfigError> {
    let year = config.local_date(now).year();
    let Some(sample) = config
        .occurrences_due_in(year..=year.saturating_add(1))
        .first()
        .map(|o| o.stored_open(1))
    else {
        return Vec::new();
    };
    let Some(reader) = config.directory.people.first() else {
        return Vec::new();
    };
    let url = Some("https://arshjul.example.org/sample".to_owned());
    let steps = [
        Step::Before(30),
        Step::Due,
        Step::Overdue(1),
        Step::EscalateManager,
        Step::Acknowledge(0),
        Step::Closed,
        Step::WaiveRequest,
    ];
    let entries: Vec<Entry<'_>> = steps
        .iter()
        .map(|step| Entry {
            occurrence: &sample,
            call: None,
            step: *step,
            reason: Reason::Holder,
            action_url: url.clone(),
            view_url: url.clone(),
            form_url: url.clone(),
        })
        .collect();
    let announcement = Announcement {
        id: 1,
        call: super::calls::Call {
            call_key: "sample".into(),
            title: "Interreg Öresund-Kattegat-Skagerrak".into(),
            programme: "Interreg".into(),
            link: "https://example.org/call".into(),
            deadline: config.local_date(now),
            description: "**Stöd** till [gröna hamnar](https://example.org).".into(),
            units: Vec::new(),
            tags: vec!["hamn".into()],
        },
        state: super::calls::CallState::Active,
        revision: 0,
        created_by: reader.id.to_string(),
        created_at: now,
    };
    let calls: Vec<CallEntry<'_>> = [Step::Announce, Step::CallCancelled]
        .into_iter()
        .map(|step| CallEntry {
            announcement: &announcement,
            step,
            reason: Reason::Holder,
            links: vec![ItemLink {
                label: "Vi ansöker".into(),
                url: "https://arshjul.example.org/sample".into(),
            }],
            note: None,
        })
        .collect();
    let mut errors: Vec<super::config::ConfigError> = Vec::new();
    for language in [Language::Sv, Language::En] {
        let reader = Person {
            language,
            ..reader.clone()
        };
        for format in [Format::Email, Format::Chat] {
            let singles = entries.iter().map(std::slice::from_ref);
            let rendered = singles
                .chain([entries.as_slice()])
                .map(|entries| compose(config, &reader, entries, format, now).map(drop))
                .chain([&calls[..1], &calls[..]].map(|calls| {
                    compose_calls(config, CallReader::Person(&reader), language, calls, format).map(drop)
                }));
            let sign_in = (format == Format::Email)
                .then(|| sign_in_message(config, &reader, "https://arshjul.example.org/sign-in/sample", 15).map(drop));
            for error in rendered.chain(sign_in).filter_map(Result::err) {
                let origin = config.templates.origin(error.name().unwrap_or_default());
                let error = super::templates::template_error(&origin, &error);
                if !errors.contains(&error) {
                    errors.push(error);
                }
            }
        }
    }
    errors
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

/// The subject of every answer to what a person sent: fixed, so nothing they wrote is echoed
/// from the municipality's address (the answer is threaded under their message instead).
pub fn answer_subject(language: Language) -> &'static str {
    match language {
        Language::Sv => "Svar från arshjul",
        Language::En => "Reply from arshjul",
    }
}

/// The mail with a link, `url`, that signs `person` in, valid `minutes`.
pub fn sign_in_message(
    config: &Config,
    person: &Person,
    url: &str,
    minutes: i64,
) -> Result<Rendered, minijinja::Error> {
    let subject = match person.language {
        Language::Sv => "Logga in i årshjulet",
        Language::En => "Sign in to the governance calendar",
    };
    let context = minijinja::context! {
        name => first_name(&person.name), url => url, minutes => minutes, subject => subject,
    };
    let (text, html) = render(config, "sign_in.", person.language, Format::Email, &context)?;
    Ok(Rendered {
        subject: subject.to_owned(),
        text,
        html,
        items: Vec::new(),
        labels: Labels::new(person.language),
    })
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
    unit_display_name(config, &occurrence.unit, language)
}

/// The names of the units `ids` in `language`, joined for a sentence.
pub fn unit_names(config: &Config, ids: &[String], language: Language) -> String {
    let names: Vec<String> = ids.iter().map(|id| unit_display_name(config, id, language)).collect();
    names.join(", ")
}

/// The name in `language` of the unit `id`, or the id if it left the configuration.
fn unit_display_name(config: &Config, id: &str, language: Language) -> String {
    config.directory.unit_named(id).map_or_else(
        || id.to_owned(),
        |u| {
            if language == Language::Sv {
                u.name.clone()
            } else {
                u.name_en.clone()
            }
        },
    )
}

fn item(config: &Config, language: Language, entry: &Entry<'_>, now: Timestamp) -> Item {
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
    let status = match entry.step {
        // How long is left is counted from the moment of sending, not read off the step: a
        // reminder caught up after downtime says what is true when it arrives.
        Step::Before(_) | Step::Due | Step::Overdue(_) | Step::EscalateManager | Step::EscalateKlk => {
            countdown(config, occurrence.due_at, now, sv)
        }
        step => status(step, sv),
    };
    let ask = ask(entry.step, sv);
    // An escalation names who is responsible for the item.
    let responsible = (entry.step.ask() == Ask::FollowUp)
        .then(|| {
            let obligation = obligation?;
            let unit = config.directory.unit_named(&occurrence.unit)?;
            let person = super::planner::responsible_holder(config, unit, obligation.responsible_role)?;
            let role = obligation.responsible_role;
            Some(if sv {
                format!("Ansvarig: {} {}.", capitalised(role_sv(role)), person.name)
            } else {
                format!("Responsible: {} {}.", capitalised(role_en(role)), person.name)
            })
        })
        .flatten();
    let note = [responsible, reason_note(config, &entry.reason, sv)]
        .into_iter()
        .flatten()
        .reduce(|a, b| format!("{a}\n{b}"));
    // Beside the follow-up form, submitting by link is for a follow-up sent in another way:
    // it says so, so that nobody submits an empty form by mistake.
    let beside_form = entry.form_url.is_some();
    let action_label = action_for(entry.step).map(|action| match (action, sv) {
        (Action::Submit, true) if beside_form => "Markera som inlämnad (redan inskickad på annat sätt)",
        (Action::Submit, false) if beside_form => "Mark as submitted (already sent in another way)",
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
        period: concerns(&occurrence.period, entry.call, sv),
        due,
        status,
        ask,
        note,
        basis: obligation.map(|o| o.basis.clone()).unwrap_or_default(),
        basis_html: None,
        links: entry
            .form_url
            .iter()
            .map(|url| {
                (
                    url,
                    if sv {
                        "Fyll i uppföljningen"
                    } else {
                        "Fill in the follow-up"
                    },
                )
            })
            .chain(
                entry
                    .view_url
                    .iter()
                    .map(|url| (url, if sv { "Se inlämningen" } else { "See the submission" })),
            )
            .chain(entry.action_url.iter().zip(action_label))
            .map(|(url, label)| ItemLink {
                label: label.to_owned(),
                url: url.clone(),
            })
            .collect(),
    }
}

/// How many business days are left at `now` until `due_at` — or how late it is — in Swedish
/// (`sv`) or English.
fn countdown(config: &Config, due_at: Timestamp, now: Timestamp, sv: bool) -> String {
    let (today, due) = (config.local_date(now), config.local_date(due_at));
    if now >= due_at {
        return match (config.calendar.workdays.between(due, today), sv) {
            (0, true) => "Försenad sedan i dag".to_owned(),
            (0, false) => "Overdue since today".to_owned(),
            (1, true) => "Försenad sedan 1 arbetsdag".to_owned(),
            (1, false) => "Overdue by 1 business day".to_owned(),
            (days, true) => format!("Försenad sedan {days} arbetsdagar"),
            (days, false) => format!("Overdue by {days} business days"),
        };
    }
    match (config.calendar.workdays.between(today, due), sv) {
        (0, true) => "Sista dag i dag".to_owned(),
        (0, false) => "Due today".to_owned(),
        (1, true) => "1 arbetsdag kvar".to_owned(),
        (1, false) => "1 business day left".to_owned(),
        (days, true) => format!("{days} arbetsdagar kvar"),
        (days, false) => format!("{days} business days left"),
    }
}

/// Where an item stands at `step`, in Swedish (`sv`) or English; for reminders before the
/// deadline see [`countdown`].
fn status(step: Step, sv: bool) -> String {
    match (step, sv) {
        (Step::Before(_) | Step::Due, true) => "Inte inlämnad".to_owned(),
        (Step::Before(_) | Step::Due, false) => "Not submitted".to_owned(),
        (Step::Overdue(_) | Step::EscalateManager | Step::EscalateKlk, true) => "Försenad".to_owned(),
        (Step::Overdue(_) | Step::EscalateManager | Step::EscalateKlk, false) => "Overdue".to_owned(),
        (Step::Acknowledge(_), true) => "Inlämnad – väntar på kvittens".to_owned(),
        (Step::Acknowledge(_), false) => "Submitted – awaiting acknowledgement".to_owned(),
        (Step::Closed, true) => "Kvitterad".to_owned(),
        (Step::Closed, false) => "Acknowledged".to_owned(),
        (Step::WaiveRequest, true) => "Begäran att stryka".to_owned(),
        (Step::WaiveRequest, false) => "Request to waive".to_owned(),
        (Step::Announce, true) => "Ny utlysning".to_owned(),
        (Step::Announce, false) => "New call".to_owned(),
        (Step::CallUpdate(_), true) => "Ändrad".to_owned(),
        (Step::CallUpdate(_), false) => "Changed".to_owned(),
        (Step::CallCancelled, true) => "Inställd".to_owned(),
        (Step::CallCancelled, false) => "Cancelled".to_owned(),
        (Step::CallSummary { week, .. }, true) => format!("Svaren vecka {week}"),
        (Step::CallSummary { week, .. }, false) => format!("Answers, week {week}"),
    }
}

/// What the recipient of `step` is asked to do.
fn ask(step: Step, sv: bool) -> &'static str {
    match (step.ask(), sv) {
        _ if step == Step::CallCancelled => {
            if sv {
                "Utlysningen är inställd och gäller inte längre."
            } else {
                "The call is cancelled and no longer applies."
            }
        }
        _ if matches!(step, Step::CallSummary { .. }) => {
            if sv {
                "Så här har enheterna svarat hittills:"
            } else {
                "This is how the units have answered so far:"
            }
        }
        (Ask::Submit, true) => "Slutför uppgiften och markera den som inlämnad.",
        (Ask::Submit, false) => "Please complete the item and mark it as submitted.",
        (Ask::FollowUp, true) => {
            "Uppgiften är försenad och har inte lämnats in. Som chef ber vi dig se till att den blir gjord."
        }
        (Ask::FollowUp, false) => {
            "The item is overdue and has not been submitted. As its manager, please make sure it gets done."
        }
        (Ask::Acknowledge, true) => "Läs igenom inlämningen och kvittera den.",
        (Ask::Acknowledge, false) => "Please read the submission and acknowledge it.",
        (Ask::Nothing, true) => "Chefen har kvitterat. Uppgiften är avslutad – tack!",
        (Ask::Nothing, false) => "The manager has acknowledged it. The item is closed – thank you!",
        (Ask::Decide, true) => {
            "Enheten anser att uppgiften inte gäller enheten och begär att den stryks. Svara ”bevilja ID” eller ”avslå ID” (ID från ”status”)."
        }
        (Ask::Decide, false) => {
            "The unit says the item does not apply to it and asks for it to be waived. Answer \"grant ID\" or \"refuse ID\" (the ID from \"status\")."
        }
        (Ask::Interest, true) => {
            "Är er enhet intresserad? Använd länkarna nedan, eller svara ”intresserad”, ”ansöker” eller ”inte aktuellt”."
        }
        (Ask::Interest, false) => {
            "Is your unit interested? Use the links below, or answer \"interested\", \"applying\" or \"not relevant\"."
        }
    }
}

/// How a reader of a call in `format` can answer, asking only for what arshjul will read:
/// reactions in Matrix (the bot sees them), the card's buttons or an @-mention in Teams (a
/// Workflows post shows arshjul neither replies nor reactions), the links or a reply by email.
fn interest_ask(sv: bool, format: Format, has_links: bool) -> &'static str {
    match (format, has_links, sv) {
        (Format::Chat, _, true) => {
            "Är er enhet intresserad? Svara ”intresserad”, ”ansöker” eller ”inte aktuellt” – eller reagera med 👍, ✅ eller 👎."
        }
        (Format::Chat, _, false) => {
            "Is your unit interested? Answer \"interested\", \"applying\" or \"not relevant\" – or react with 👍, ✅ or 👎."
        }
        (Format::Plain, true, true) => "Är er enhet intresserad? Svara med knapparna nedan.",
        (Format::Plain, true, false) => "Is your unit interested? Answer with the buttons below.",
        (Format::Plain, false, true) => {
            "Är er enhet intresserad? Skriv ”@arshjul intresserad”, ”@arshjul ansöker” eller ”@arshjul inte aktuellt” i kanalen."
        }
        (Format::Plain, false, false) => {
            "Is your unit interested? Write \"@arshjul interested\", \"@arshjul applying\" or \"@arshjul not relevant\" in the channel."
        }
        (Format::Email, ..) => ask(Step::Announce, sv),
    }
}

/// Why the recipient gets the item, when it is not simply theirs.
fn reason_note(config: &Config, reason: &Reason, sv: bool) -> Option<String> {
    match reason {
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
            format!(
                "Enheten har ingen {}, därför får du som chef uppgiften.",
                role_sv(*role)
            )
        } else {
            format!(
                "The unit has no {}, so you receive this item as its manager.",
                role_en(*role)
            )
        }),
    }
}

/// One item of a message about an EU funding call: the announcement at one step.
#[derive(Debug, Clone)]
pub struct CallEntry<'a> {
    pub announcement: &'a Announcement,
    pub step: Step,
    pub reason: Reason,
    /// Signed links that answer for the recipient's unit (none in a channel post).
    pub links: Vec<ItemLink>,
    /// More to say about the call, e.g. the answers so far in a weekly summary.
    pub note: Option<String>,
}

/// Who reads a message about EU funding calls.
#[derive(Debug, Clone, Copy)]
pub enum CallReader<'a> {
    /// A person, greeted by first name.
    Person(&'a Person),
    /// A directory channel's readers, greeted by what the channel is (its description).
    Channel(&'a str),
}

/// One message about `entries` (EU funding calls) to `reader` in `language`, with HTML in
/// `format`.
pub fn compose_calls(
    config: &Config,
    reader: CallReader<'_>,
    language: Language,
    entries: &[CallEntry<'_>],
    format: Format,
) -> Result<Rendered, minijinja::Error> {
    let sv = language == Language::Sv;
    let items: Vec<Item> = entries
        .iter()
        .map(|entry| call_item(config, language, entry, format))
        .collect();
    let subject = match (sv, items.as_slice()) {
        (true, [one]) => format!("EU-utlysning: {} ({})", one.title, one.status.to_lowercase()),
        (false, [one]) => format!("EU funding call: {} ({})", one.title, one.status.to_lowercase()),
        (true, many) => format!("{} EU-utlysningar", many.len()),
        (false, many) => format!("{} EU funding calls", many.len()),
    };
    let personal = entries.iter().any(|e| !e.links.is_empty());
    let (name, reader_id) = match reader {
        CallReader::Person(person) => (first_name(&person.name), Some(&person.id)),
        CallReader::Channel(description) => (description, None),
    };
    // The strategist's own weekly summary does not tell him to ask himself.
    let contact = strategist(config)
        .filter(|strategist| Some(&strategist.id) != reader_id)
        .map(|p| format!("{} <{}>", p.name, p.email));
    let context = minijinja::context! {
        name => name, items => items, contact => contact, subject => subject, personal,
    };
    let (text, html) = render(config, "calls.", language, format, &context)?;
    Ok(Rendered {
        subject,
        text,
        html,
        items,
        labels: Labels::for_calls(language),
    })
}

fn call_item(config: &Config, language: Language, entry: &CallEntry<'_>, format: Format) -> Item {
    let call = &entry.announcement.call;
    let sv = language == Language::Sv;
    let units = if call.units.is_empty() {
        if sv {
            "Alla förvaltningar och bolag"
        } else {
            "All departments and companies"
        }
        .to_owned()
    } else {
        call.targeted(config)
            .iter()
            .map(|u| if sv { u.name.as_str() } else { u.name_en.as_str() })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let tags = (!call.tags.is_empty()).then(|| call.tags.iter().map(|t| format!("#{t}")).collect::<Vec<_>>().join(" "));
    let read = ItemLink {
        label: if sv { "Läs utlysningen" } else { "Read the call" }.to_owned(),
        url: call.link.clone(),
    };
    Item {
        title: format!("{} (#{})", call.title, entry.announcement.id),
        unit: units,
        period: (!call.programme.is_empty()).then(|| call.programme.clone()),
        due: long_day(call.deadline, language),
        status: status(entry.step, sv),
        ask: match entry.step.ask() {
            Ask::Interest => interest_ask(sv, format, !entry.links.is_empty()),
            _ => ask(entry.step, sv),
        },
        note: [entry.note.clone(), reason_note(config, &entry.reason, sv), tags]
            .into_iter()
            .flatten()
            .reduce(|a, b| format!("{a}\n{b}")),
        basis: call.description.clone(),
        basis_html: (!call.description.is_empty()).then(|| markdown_html(&call.description)),
        links: std::iter::once(read).chain(entry.links.iter().cloned()).collect(),
    }
}

/// Markdown as HTML; HTML written in the Markdown is shown as text, links go only to web and
/// mail addresses, and an image is a link to it (its description the link's text): a remote
/// image in a mail would tell its sender who read it, and when.
fn markdown_html(markdown: &str) -> String {
    use pulldown_cmark::{CowStr, Event, Parser, Tag, TagEnd};
    fn safe(dest_url: CowStr<'_>) -> CowStr<'_> {
        if ["https://", "http://", "mailto:"]
            .iter()
            .any(|s| dest_url.starts_with(s))
        {
            dest_url
        } else {
            CowStr::Borrowed("#")
        }
    }
    let events = Parser::new(markdown).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(
            Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }
            | Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            },
        ) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe(dest_url),
            title,
            id,
        }),
        Event::End(TagEnd::Image) => Event::End(TagEnd::Link),
        other => other,
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

fn role_sv(role: Role) -> &'static str {
    match role {
        Role::Manager => "chef",
        Role::Chair => "ordförande",
        Role::Secretary => "sekreterare",
        Role::EuContact => "EU-kontaktperson",
        Role::Strategist => "planeringsstrateg",
        Role::Presidium => "fullmäktiges presidium",
        Role::Registrar => "registrator",
    }
}

/// The role's name in `language`, as a sentence uses it ("EU-kontaktperson").
pub fn role_name(role: Role, language: Language) -> &'static str {
    match language {
        Language::Sv => role_sv(role),
        Language::En => role_en(role),
    }
}

/// The role's name in English, as a sentence uses it.
fn role_en(role: Role) -> &'static str {
    match role {
        Role::Manager => "manager",
        Role::Chair => "chair",
        Role::Secretary => "secretary",
        Role::EuContact => "EU contact person",
        Role::Strategist => "strategist",
        Role::Presidium => "council presidium",
        Role::Registrar => "registrar",
    }
}

/// `text` with its first letter in upper case.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

/// "måndag 15 februari 2027 kl. 16.00" or "Monday 15 February 2027 at 16:00", local time.
pub fn long_date(config: &Config, at: Timestamp, language: Language) -> String {
    let local = config.calendar.time_zone.to_datetime(at);
    match language {
        Language::Sv => format!("{} kl. {}", long_day(local.date(), language), local.strftime("%H.%M")),
        Language::En => format!("{} at {}", long_day(local.date(), language), local.strftime("%H:%M")),
    }
}

/// "måndag 15 mars 2027" or "Monday 15 March 2027".
pub fn long_day(date: jiff::civil::Date, language: Language) -> String {
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
    match language {
        Language::Sv => format!(
            "{} {} {} {}",
            WEEKDAYS_SV[usize::from(date.weekday().to_monday_zero_offset().unsigned_abs())],
            date.day(),
            MONTHS_SV[usize::from(date.month().unsigned_abs()) - 1],
            date.year(),
        ),
        Language::En => date.strftime("%A %-d %B %Y").to_string(),
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

    /// The reminder 14 business days ahead of `occurrence`, with its submit link.
    fn reminder_14_days_ahead(occurrence: &StoredOccurrence) -> Entry<'_> {
        Entry {
            occurrence,
            call: None,
            step: Step::Before(14),
            reason: Reason::Holder,
            action_url: Some("https://arshjul.example.org/ack/v2.abc.def".into()),
            view_url: None,
            form_url: None,
        }
    }

    fn person(config: &Config, id: &str) -> Person {
        config.directory.person(&PersonId::checked(id)).unwrap().clone()
    }

    #[test]
    fn a_calls_description_shows_no_remote_image_and_links_only_to_the_web_and_mail() {
        let html = markdown_html(
            "![pixel](https://tracker.example/p.gif?who=linnea) ![x](javascript:alert(1)) \
             [ansök](https://ec.europa.eu/x) [skript](javascript:alert(1)) <img src=\"https://t.example/q\">",
        );
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains(r#"<a href="https://tracker.example/p.gif?who=linnea">pixel</a>"#),
            "{html}"
        );
        assert!(html.contains(r##"<a href="#">x</a>"##), "{html}");
        assert!(html.contains(r#"<a href="https://ec.europa.eu/x">ansök</a>"#), "{html}");
        assert!(html.contains(r##"<a href="#">skript</a>"##), "{html}");
        assert!(html.contains("&lt;img src="), "raw HTML is text: {html}");
    }

    #[test]
    fn beside_the_follow_up_form_the_submit_link_says_it_is_for_one_sent_another_way() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let occurrence = follow_up();
        let entry = Entry {
            form_url: Some("https://arshjul.example.org/dashboard/occurrences/7/followup".into()),
            ..reminder_14_days_ahead(&occurrence)
        };
        let sent = "2027-01-26T07:00:00Z".parse().unwrap();
        let message = compose(&config, &person(&config, "linnea.dahl"), &[entry], Format::Email, sent).unwrap();
        let labels: Vec<&str> = message.items[0].links.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "Fyll i uppföljningen",
                "Markera som inlämnad (redan inskickad på annat sätt)"
            ]
        );
    }

    #[test]
    fn a_swedish_reminder_names_what_when_why_and_who_to_ask() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let occurrence = follow_up();
        let entry = reminder_14_days_ahead(&occurrence);
        let sent = "2027-01-26T07:00:00Z".parse().unwrap();
        let message = compose(
            &config,
            &person(&config, "linnea.dahl"),
            std::slice::from_ref(&entry),
            Format::Email,
            sent,
        )
        .unwrap();
        assert_eq!(
            message.subject,
            "Komplett uppföljning av det internationella arbetet till kommunledningskontoret – Tekniska förvaltningen (14 arbetsdagar kvar)"
        );
        // The same step caught up on 10 February, three business days before the deadline,
        // says what is true then.
        let late = "2027-02-10T07:00:00Z".parse().unwrap();
        let caught_up = compose(&config, &person(&config, "linnea.dahl"), &[entry], Format::Email, late).unwrap();
        assert!(
            caught_up.subject.ends_with("(3 arbetsdagar kvar)"),
            "{}",
            caught_up.subject
        );
        for expected in [
            "Hej Linnea!",
            "Det här är en automatisk påminnelse från kommunens årshjul för det internationella arbetet.",
            "Avser:      år 2026",
            "Sista dag:  måndag 15 februari 2027 kl. 16.00",
            "Markera som inlämnad: https://arshjul.example.org/ack/v2.abc.def",
            "En komplett uppföljning avseende budget, erhållet bidrag, medfinansiering",
            "Frågor? Kontakta Johan Lindqvist <johan.lindqvist@example.org>.",
        ] {
            assert!(
                message.text.contains(expected),
                "missing {expected:?} in\n{}",
                message.text
            );
        }
        // Links read as links in the HTML too, and what is HTML is still escaped.
        assert!(
            message
                .html
                .contains("<a href=\"https://arshjul.example.org/ack/v2.abc.def\""),
            "{}",
            message.html
        );
        assert!(message.html.contains("lang=\"sv\""));
    }

    /// An escalation says so, names who is responsible and how late it is; a request to
    /// acknowledge links to what was submitted; the strategist is not told to contact himself;
    /// a one-off item has no period line.
    #[test]
    fn each_kind_of_message_says_what_it_is_and_who_is_responsible() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let occurrence = follow_up();
        let entry = |step, view_url: Option<&str>| Entry {
            occurrence: &occurrence,
            call: None,
            step,
            reason: Reason::Holder,
            action_url: None,
            view_url: view_url.map(str::to_owned),
            form_url: None,
        };
        let at = |text: &str| text.parse::<Timestamp>().unwrap();
        let text = |to: &str, entry: Entry<'_>, now| {
            compose(&config, &person(&config, to), &[entry], Format::Email, now)
                .unwrap()
                .text
        };
        // Friday 26 February 2027 is nine business days after the due date.
        let escalation = text(
            "magnus.berg",
            entry(Step::EscalateManager, None),
            at("2027-02-26T07:00:00Z"),
        );
        for expected in [
            "Hej Magnus!",
            "En uppgift i din enhet är försenad.",
            "Status:     Försenad sedan 9 arbetsdagar",
            "Ansvarig: EU-kontaktperson Linnea Dahl.",
        ] {
            assert!(
                escalation.contains(expected),
                "missing {expected:?} in
{escalation}"
            );
        }
        assert!(!escalation.contains("påminnelse"), "{escalation}");
        let submitted = "https://arshjul.example.org/dashboard/occurrences/7/followup";
        let request = text(
            "magnus.berg",
            entry(Step::Acknowledge(0), Some(submitted)),
            at("2027-02-16T07:00:00Z"),
        );
        assert!(
            request.contains("Din enhet har lämnat in en uppgift som väntar på din kvittens."),
            "{request}"
        );
        assert!(request.contains(&format!("Se inlämningen: {submitted}")), "{request}");
        let own = text("johan.lindqvist", entry(Step::Due, None), at("2027-02-15T07:00:00Z"));
        assert!(!own.contains("Kontakta Johan"), "{own}");

        let mut once = follow_up();
        once.period = "once".into();
        let one_off = Entry {
            occurrence: &once,
            ..entry(Step::Due, None)
        };
        let shown = text("linnea.dahl", one_off, at("2027-02-15T07:00:00Z"));
        assert!(!shown.contains("Avser") && !shown.contains("once"), "{shown}");
    }

    /// A call asks only for answers arshjul will read: reactions in Matrix, an @-mention in a
    /// Teams channel (a Workflows post shows arshjul no reactions), the links in a mail.
    #[test]
    fn a_call_asks_for_answers_the_way_its_channel_can_carry_them() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let announcement = Announcement {
            id: 3,
            call: crate::domain::calls::Call {
                call_key: "life".into(),
                title: "LIFE".into(),
                programme: String::new(),
                link: "https://example.org/life".into(),
                deadline: jiff::civil::date(2027, 3, 10),
                description: String::new(),
                units: Vec::new(),
                tags: Vec::new(),
            },
            state: crate::domain::calls::CallState::Active,
            revision: 0,
            created_by: "johan.lindqvist".into(),
            created_at: "2027-01-04T07:00:00Z".parse().unwrap(),
        };
        let entry = |links: Vec<ItemLink>| CallEntry {
            announcement: &announcement,
            step: Step::Announce,
            reason: Reason::Holder,
            links,
            note: None,
        };
        let ask = |reader, entry: CallEntry<'_>, format| {
            compose_calls(&config, reader, Language::Sv, &[entry], format)
                .unwrap()
                .items[0]
                .ask
        };
        let network = CallReader::Channel("EU-nätverket");
        let teams = ask(network, entry(Vec::new()), Format::Plain);
        assert!(
            teams.contains("@arshjul ansöker") && !teams.contains("reagera"),
            "{teams}"
        );
        assert!(ask(network, entry(Vec::new()), Format::Chat).contains("reagera med 👍"));
        let linnea = person(&config, "linnea.dahl");
        let link = ItemLink {
            label: "Vi ansöker".into(),
            url: "https://arshjul.example.org/calls/answer/x".into(),
        };
        let mail = ask(CallReader::Person(&linnea), entry(vec![link]), Format::Email);
        assert!(mail.contains("länkarna") && !mail.contains("reagera"), "{mail}");
    }

    /// The sign-in mail has the layout of the other mails and a button that is a link: the
    /// first one escaped the URL before looking for it, so the link was plain text.
    #[test]
    fn the_sign_in_mail_has_a_button_that_links_to_the_sign_in_link() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let url = "https://arshjul.example.org/sign-in/v2.abc.def";
        let mail = sign_in_message(&config, &person(&config, "linnea.dahl"), url, 15).unwrap();
        assert_eq!(mail.subject, "Logga in i årshjulet");
        assert!(
            mail.text.starts_with("Hej Linnea!") && mail.text.contains(url),
            "{}",
            mail.text
        );
        let href = "href=\"https://arshjul.example.org/sign-in/v2.abc.def\"";
        assert_eq!(
            mail.html.matches(href).count(),
            2,
            "the button and the link: {}",
            mail.html
        );
        assert!(
            mail.html.contains(">Logga in</a>") && mail.html.contains("max-width"),
            "{}",
            mail.html
        );
    }

    #[test]
    fn every_built_in_template_renders_with_sample_items_in_both_languages() {
        let config = shipped_with(SHIPPED_CALENDAR);
        assert_eq!(config.templates.origin("sv.txt"), "templates/email/sv.txt (built in)");
        assert_eq!(check_templates(&config, "2027-01-04T07:00:00Z".parse().unwrap()), []);
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
                call: None,
                step: Step::Due,
                reason: Reason::Holder,
                action_url: None,
                view_url: None,
                form_url: None,
            },
            Entry {
                occurrence: &second,
                call: None,
                step: Step::Overdue(1),
                reason: Reason::StandIn {
                    away: PersonId::checked("magnus.berg"),
                },
                action_url: None,
                view_url: None,
                form_url: None,
            },
        ];
        let mut reader = person(&config, "grace.miller");
        reader.language = Language::En;
        let message = compose(
            &config,
            &reader,
            &entries,
            Format::Email,
            "2027-02-15T07:00:00Z".parse().unwrap(),
        )
        .unwrap();
        assert_eq!(message.subject, "Governance calendar: 2 items to handle");
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
