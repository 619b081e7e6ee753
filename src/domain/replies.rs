//! What people answer — "klar", "ok", ✅, "påminn om 3 dagar", "!arshjul kvittera 42" — read
//! as what they ask arshjul to do, in Swedish or English; and who may do it. Pure: the channel
//! adapters bring the text, the inbound service acts on the result.

use jiff::civil::Date;

use super::access::NotAllowed;
use super::calls::{Draft, Interest};
use super::config::Language;
use super::occurrence::{Action, OccurrenceState};
use super::steps::Ask;

/// What a reply asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// "klar", "ok", ✅: yes to whatever the message asked (submit or acknowledge).
    Done { note: Option<String> },
    /// "inlämnad", "submitted", optionally with a diary number or a document link.
    Submit { note: Option<String> },
    /// "kvitterad", "godkänd", "acknowledged".
    Acknowledge { note: Option<String> },
    /// "klar till 2027-03-01", "will do by 1/3": reminders pause until then.
    WillDoBy { date: Date },
    /// "påminn om 3 dagar", "snooze 3": reminders pause for that many days.
    Snooze { days: u16 },
    /// "ej aktuellt: vi har inga EU-projekt", "not applicable": asks KLK to waive.
    NotApplicable { reason: String },
    /// "stryk", "bevilja", "waive", "grant": KLK grants a request to waive (or a registrar
    /// records a decision).
    Waive { reason: Option<String> },
    /// "avslå", "refuse": KLK refuses a request to waive; reminders go on.
    Refuse { reason: Option<String> },
    /// "status": the sender's open items.
    Status,
    /// Anything else.
    NotUnderstood,
}

/// A reply read: the command, and the occurrence it names (`!arshjul klar 42`), if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub command: Command,
    pub occurrence: Option<i64>,
}

/// How far ahead reminders may be paused, by days or by date.
pub const MAX_PAUSE_DAYS: u16 = 90;

/// Reads a reply: its first line of the sender's own text (quotes, "On … wrote:" blocks and
/// signatures cut away), a `!arshjul` command prefix, and the words or reactions it starts with.
/// `today` anchors dates without a year. Never fails: what it cannot read is `NotUnderstood`.
pub fn interpret(text: &str, today: Date) -> Reply {
    let line = own_text(text).into_iter().next().unwrap_or_default();
    let lowered = line.to_lowercase();
    let trimmed = lowered.trim();
    let (body, command_mode) = match trimmed.strip_prefix("!arshjul") {
        Some(rest) => (rest.trim(), true),
        None => (trimmed, false),
    };
    let mut words: Vec<&str> = body
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| matches!(c, '.' | ',' | '!' | ':' | ';' | '?')))
        .filter(|w| !w.is_empty())
        .collect();
    // A command names its item right after its word or words: "!arshjul klar 42",
    // "!arshjul kvittera #7", "!arshjul ej aktuellt 42: skäl".
    let id_at = match words.get(..2) {
        Some(["ej" | "inte", "aktuellt"] | ["not", "applicable"] | ["gäller", "inte"]) => 2,
        _ => 1,
    };
    let occurrence = if command_mode {
        words
            .get(id_at)
            .and_then(|w| w.trim_start_matches('#').parse::<i64>().ok())
    } else {
        None
    };
    if occurrence.is_some() {
        words.remove(id_at);
    }
    let command = command(&words, body, today);
    Reply { command, occurrence }
}

/// How a quoted message (Outlook's "Från: … Skickat: … Till: … Ämne:" headers included) or a
/// signature begins in Swedish and English mail clients.
const QUOTE_AND_SIGNATURE_STARTS: &[&str] = &[
    "-----original message",
    "-----ursprungligt meddelande",
    "från:",
    "from:",
    "skickat:",
    "sent:",
    "till:",
    "to:",
    "ämne:",
    "subject:",
    "skickat från",
    "sent from",
    "hämta outlook för",
    "get outlook for",
    "med vänlig hälsning",
    "med vänliga hälsningar",
    "vänliga hälsningar",
    "vänlig hälsning",
    "hälsningar",
    "mvh",
    "best regards",
    "kind regards",
    "regards",
    "br,",
];

/// The sender's own lines, before anything quoted or signed.
pub(crate) fn own_text(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        let lowered = trimmed.to_lowercase();
        let quote_starts = trimmed.starts_with('>')
            || trimmed == "--"
            || trimmed.starts_with("___")
            || QUOTE_AND_SIGNATURE_STARTS
                .iter()
                .any(|start| lowered.starts_with(start))
            || (lowered.starts_with("on ") && lowered.ends_with("wrote:"))
            || (lowered.starts_with("den ") && lowered.ends_with("skrev:"))
            || (lowered.starts_with("den ") && lowered.contains(" skrev "));
        if quote_starts {
            break;
        }
        if !trimmed.is_empty() {
            lines.push(trimmed.to_owned());
        }
    }
    lines
}

/// Words that say "ok" or "yes": a yes to what was asked when they are all the line says, but
/// beside thanks ("Ok, tack!") they only acknowledge the reminder.
const OK: &[&str] = &["ok", "okej", "okay", "ja", "japp", "yes", "yep"];
/// Words that say "it is done", also beside thanks ("Klart, tack!").
const DONE: &[&str] = &[
    "klar",
    "klart",
    "klara",
    "färdig",
    "färdigt",
    "fixat",
    "fixad",
    "gjort",
    "done",
    "finished",
    "completed",
];
/// Thanks, which may follow a yes without changing it.
const THANKS: &[&str] = &[
    "tack", "tackar", "thanks", "thank", "you", "så", "mycket", "much", "tusen",
];
/// Words that say it was submitted, whatever else the line says (kept as a note).
const SUBMITTED: &[&str] = &[
    "inlämnad",
    "inlämnat",
    "inlämnade",
    "insänd",
    "insänt",
    "skickad",
    "skickat",
    "skickade",
    "submitted",
    "submit",
    "sent",
];
/// Words that say a submission is acknowledged.
const ACKNOWLEDGED: &[&str] = &[
    "kvitterad",
    "kvitterat",
    "kvittera",
    "kvitterar",
    "godkänd",
    "godkänt",
    "godkänner",
    "acknowledged",
    "acknowledge",
    "approved",
    "ack",
];
/// Words that defer, negate or hedge: a line with one of them never submits or acknowledges.
const HEDGES: &[&str] = &[
    "inte",
    "ej",
    "icke",
    "nej",
    "än",
    "ännu",
    "snart",
    "nästan",
    "strax",
    "återkommer",
    "återkomma",
    "kommer",
    "ska",
    "skall",
    "imorgon",
    "senare",
    "försöker",
    "hoppas",
    "kanske",
    "borde",
    "tror",
    "nästa",
    "efter",
    "innan",
    "före",
    "not",
    "no",
    "yet",
    "soon",
    "almost",
    "later",
    "tomorrow",
    "next",
    "will",
    "shall",
    "going",
    "try",
    "trying",
    "hope",
    "hopefully",
    "maybe",
    "probably",
    "should",
    "think",
    "get",
    "after",
    "before",
    "pending",
    "?",
];
/// What may follow a yes as its note: a diary number, a reference, a link.
const REFERENCES: &[&str] = &[
    "dnr",
    "diarienummer",
    "diarienr",
    "ärende",
    "ärendenummer",
    "ref",
    "reference",
];

fn command(words: &[&str], body: &str, today: Date) -> Command {
    let Some(first) = words.first() else {
        return Command::NotUnderstood;
    };
    // What follows the first word, as the person wrote it: a diary number, a link, a reason.
    let rest = |skip: usize| {
        let rest = words[skip.min(words.len())..].join(" ");
        Some(rest).filter(|r| !r.is_empty() && r.parse::<i64>().is_err())
    };
    let number = |at: usize| words.get(at).and_then(|w| w.parse::<u16>().ok());
    let explicit = match *first {
        "status" => Some(Command::Status),
        "snooze" => Some(number(1).map_or(Command::NotUnderstood, snooze)),
        // "påminn om 3 dagar", "remind me in 3 days"
        "påminn" | "remind" => Some(
            words
                .iter()
                .skip(1)
                .find_map(|w| w.parse::<u16>().ok())
                .map_or(Command::NotUnderstood, snooze),
        ),
        "senast" | "by" => Some(date_at(words, 1, today)),
        "will" if words.get(1) == Some(&"do") && words.get(2) == Some(&"by") => Some(date_at(words, 3, today)),
        w if is_yes(w) && matches!(words.get(1).copied(), Some("till" | "by" | "senast")) => {
            Some(date_at(words, 2, today))
        }
        "ej" | "inte" | "not" | "gäller" | "n/a" => {
            let phrase = words.join(" ");
            ["ej aktuellt", "inte aktuellt", "not applicable", "gäller inte", "n/a"]
                .iter()
                .find_map(|p| phrase.strip_prefix(p))
                .map(|after| {
                    let reason = body.split_once(':').map_or(after, |(_, r)| r);
                    Command::NotApplicable {
                        reason: reason.trim().to_owned(),
                    }
                })
        }
        "stryk" | "waive" | "bevilja" | "beviljad" | "grant" | "granted" => Some(Command::Waive { reason: rest(1) }),
        "avslå" | "avslås" | "avslagen" | "refuse" | "refused" | "deny" => Some(Command::Refuse { reason: rest(1) }),
        _ => None,
    };
    if let Some(command) = explicit {
        return command;
    }
    // "klar på fredag", "inte klart än", "I'll get back to you": never a yes; a day named
    // in it is when to remind again, otherwise the sender is asked what they mean.
    if body.contains('?') || words.iter().any(|w| HEDGES.contains(w) || weekday(w).is_some()) {
        return words
            .iter()
            .find_map(|w| day_named(w, today))
            .map_or(Command::NotUnderstood, |date| Command::WillDoBy { date });
    }
    // "inlämnad dnr 2027/12", "har skickat in den", "submitted https://…"
    let submitted_at = match *first {
        "har" | "have" | "i've" | "we've" | "nu" => 1,
        _ => 0,
    };
    if words
        .get(submitted_at)
        .is_some_and(|w| SUBMITTED.contains(w) || *w == "lämnat")
    {
        return Command::Submit {
            note: rest(submitted_at + 1).filter(|note| !matches!(note.as_str(), "in" | "in den" | "in det")),
        };
    }
    if ACKNOWLEDGED.contains(first) {
        return Command::Acknowledge { note: rest(1) };
    }
    let yes = words.iter().take_while(|w| is_yes(w)).count();
    let firm = words[..yes].iter().any(|w| DONE.contains(w) || is_check_mark(w));
    let after = &words[yes..];
    match after.first() {
        _ if yes == 0 => Command::NotUnderstood,
        None => Command::Done { note: None },
        Some(_) if after.iter().all(|w| THANKS.contains(w)) && firm => Command::Done { note: None },
        Some(w) if REFERENCES.contains(w) || w.starts_with("http") || w.chars().any(|c| c.is_ascii_digit()) => {
            Command::Done { note: rest(yes) }
        }
        Some(_) => Command::NotUnderstood,
    }
}

/// Which items of a digest a reply is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// "alla", "båda", "all", "both".
    All,
    /// The items by their number in the list, from 1.
    Numbers(Vec<usize>),
}

impl Selection {
    /// Whether item `number` (from 1) is picked.
    pub fn picks(&self, number: usize) -> bool {
        match self {
            Self::All => true,
            Self::Numbers(numbers) => numbers.contains(&number),
        }
    }
}

/// Words that pick every item of a digest.
const ALL_ITEMS: &[&str] = &["alla", "allt", "samtliga", "båda", "bägge", "all", "both", "everything"];
/// Words that join picks: "1 och 2", "klart för båda".
const JOINS: &[&str] = &["och", "samt", "för", "and", "for", "&", "+"];

/// The items of a digest that the first own line of a reply picks — "alla klara", "klart för
/// båda", "1 och 3", "2" — and what it says of them ("klara"; empty when it only picks, as an
/// answer to "which one?"). `None` when it picks nothing, or says more than yes and thanks
/// ("påminn om 3 dagar" names no item).
pub fn read_selection(text: &str) -> Option<(Selection, String)> {
    let line = own_text(text).into_iter().next()?.to_lowercase();
    if line.starts_with("!arshjul") {
        return None;
    }
    let (mut all, mut numbers, mut said) = (false, Vec::new(), Vec::new());
    let words = line
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(|w| w.trim_matches(|c: char| matches!(c, '.' | '!' | ':' | ';')))
        .filter(|w| !w.is_empty());
    for word in words {
        if ALL_ITEMS.contains(&word) {
            all = true;
        } else if let Ok(number) = word.trim_start_matches('#').parse::<usize>() {
            if !(1..=99).contains(&number) {
                return None;
            }
            numbers.push(number);
        } else if is_yes(word) || THANKS.contains(&word) {
            said.push(word);
        } else if !JOINS.contains(&word) {
            return None;
        }
    }
    numbers.sort_unstable();
    numbers.dedup();
    let selection = match (all, numbers.is_empty()) {
        (true, _) => Selection::All,
        (false, false) => Selection::Numbers(numbers),
        (false, true) => return None,
    };
    Some((selection, said.join(" ")))
}

/// Whether `word` says yes: done, ok, or a yes reaction.
fn is_yes(word: &str) -> bool {
    DONE.contains(&word) || OK.contains(&word) || is_yes_reaction(word)
}

/// The pause date at `words[at]`, or not understood.
fn date_at(words: &[&str], at: usize, today: Date) -> Command {
    words
        .get(at)
        .and_then(|w| day_named(w, today))
        .map_or(Command::NotUnderstood, |date| Command::WillDoBy { date })
}

/// A day as people name it: `2027-03-01`, `1/3`, "imorgon"/"tomorrow", or a weekday (the next
/// one after `today`).
fn day_named(word: &str, today: Date) -> Option<Date> {
    if matches!(word, "imorgon" | "tomorrow") {
        return today.tomorrow().ok();
    }
    if let Some(weekday) = weekday(word) {
        return today.nth_weekday(1, weekday).ok();
    }
    parse_date(word, today)
}

/// The weekday a Swedish or English name (or "fredag"'s definite form) says.
fn weekday(word: &str) -> Option<jiff::civil::Weekday> {
    use jiff::civil::Weekday;
    let word = word.strip_suffix("en").filter(|w| w.ends_with("dag")).unwrap_or(word);
    Some(match word {
        "måndag" | "monday" => Weekday::Monday,
        "tisdag" | "tuesday" => Weekday::Tuesday,
        "onsdag" | "wednesday" => Weekday::Wednesday,
        "torsdag" | "thursday" => Weekday::Thursday,
        "fredag" | "friday" => Weekday::Friday,
        "lördag" | "saturday" => Weekday::Saturday,
        "söndag" | "sunday" => Weekday::Sunday,
        _ => return None,
    })
}

fn snooze(days: u16) -> Command {
    if (1..=MAX_PAUSE_DAYS).contains(&days) {
        Command::Snooze { days }
    } else {
        Command::NotUnderstood
    }
}

/// ✅, ✔️, 👍 (any skin tone), ☑️, 👌: the reactions that mean yes.
pub fn is_yes_reaction(text: &str) -> bool {
    let plain: String = text
        .chars()
        .filter(|c| *c != '\u{FE0F}' && !('\u{1F3FB}'..='\u{1F3FF}').contains(c))
        .collect();
    matches!(plain.as_str(), "✅" | "✔" | "👍" | "☑" | "👌" | "+1" | ":+1:")
}

/// ✅, ✔️, ☑️: the yes reactions that say "done" rather than "ok".
fn is_check_mark(text: &str) -> bool {
    matches!(text.trim_end_matches('\u{FE0F}'), "✅" | "✔" | "☑")
}

/// `2027-03-01`, or `1/3` (day/month), the next such day from `today`.
fn parse_date(word: &str, today: Date) -> Option<Date> {
    if let Ok(date) = word.parse::<Date>() {
        return Some(date);
    }
    let (day, month) = word.split_once('/')?;
    let (day, month) = (day.parse::<i8>().ok()?, month.parse::<i8>().ok()?);
    let this_year = Date::new(today.year(), month, day).ok()?;
    if this_year >= today {
        Some(this_year)
    } else {
        Date::new(today.year().checked_add(1)?, month, day).ok()
    }
}

/// The action a command takes on an occurrence in `state`, given what the message replied to
/// asked (`None` for a command on its own, where a bare yes takes the item's next step).
/// `None` for commands that are not state changes.
pub fn action(command: &Command, asked: Option<Ask>, state: OccurrenceState) -> Option<Action> {
    match (command, asked, state) {
        (Command::Submit { .. }, _, _)
        | (Command::Done { .. }, Some(Ask::Submit), _)
        | (Command::Done { .. }, None, OccurrenceState::Open) => Some(Action::Submit),
        (Command::Acknowledge { .. }, _, _)
        | (Command::Done { .. }, Some(Ask::Acknowledge | Ask::FollowUp), _)
        | (Command::Done { .. }, None, OccurrenceState::Submitted) => Some(Action::Acknowledge),
        (Command::Waive { .. }, _, _) => Some(Action::Waive),
        _ => None,
    }
}

/// What became of a message, for the answer to its sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `action` was recorded on the item named `item` ("Uppföljning – Tekniska förvaltningen").
    Recorded {
        action: Action,
        item: String,
    },
    /// It was so already.
    Already {
        item: String,
    },
    /// The directory in force does not let the sender do this.
    NotAllowed(NotAllowed),
    /// A pause asked for further ahead than reminders may pause.
    PauseTooLong {
        max_days: u16,
    },
    /// An email reply from another address than the reminder went to.
    FromAnotherAddress,
    /// A command about a call that does not exist or is cancelled.
    NoCall,
    /// `status` asked where others read the answer.
    StatusInPrivate,
    /// It does not count, and why.
    Refused {
        reason: String,
    },
    /// Reminders wait until `until` (a long date).
    Paused {
        item: String,
        until: String,
    },
    /// KLK will decide whether the item applies.
    Requested {
        item: String,
    },
    /// KLK refused a request to waive the item.
    RefusedRequest {
        item: String,
    },
    /// An EU funding call (`#id title`) is announced to the network; it reaches the contact
    /// persons at `reaches` (a date and time as people read them).
    Announced {
        call: String,
        reaches: String,
    },
    /// The same call was announced before; it was not sent again.
    AnnouncedBefore {
        call: String,
    },
    /// The call was corrected (or cancelled) and the network told.
    CallChanged {
        call: String,
        cancelled: bool,
    },
    /// The units' interest in the call is recorded; `created` occurrences for those applying.
    Interest {
        interest: Interest,
        call: String,
        units: String,
        created: usize,
    },
    /// The sender's open items, one line each.
    Status {
        lines: Vec<String>,
    },
    NotUnderstood,
    /// A reply to an EU funding call that says none of the answers.
    NotAnAnswerToCall,
    /// The reply names no item: it answers no reminder and gives no id.
    NoItem,
    /// A reply to a digest that does not say which of its items it means; they are listed.
    WhichOne {
        items: Vec<String>,
    },
    /// What became of each item of a digest that a reply answered, by its number in the list.
    Several(Vec<(usize, Answer)>),
    /// The sender is not in the directory.
    UnknownSender,
    /// An email that carries no delivery's signed token and that the municipality's mail
    /// server does not vouch for: `From:` alone proves nothing.
    Unauthenticated,
    /// A command that names an item or a call, in an email the municipality's mail server
    /// does not vouch for: a reply's token answers its own reminder, nothing else.
    NeedsVouching,
}

impl Answer {
    /// The inbox outcome this answer records.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Recorded { .. } => "recorded",
            Self::Already { .. } => "already",
            Self::Refused { .. }
            | Self::NotAllowed(_)
            | Self::PauseTooLong { .. }
            | Self::FromAnotherAddress
            | Self::NoCall
            | Self::StatusInPrivate
            | Self::NeedsVouching => "refused",
            Self::Paused { .. } => "paused",
            Self::Requested { .. } => "requested",
            Self::RefusedRequest { .. } => "waive_refused",
            Self::Announced { .. } => "announced",
            Self::AnnouncedBefore { .. } => "already",
            Self::CallChanged { .. } => "call_changed",
            Self::Interest { .. } => "interest",
            Self::Status { .. } => "status",
            Self::NotUnderstood | Self::NotAnAnswerToCall | Self::NoItem => "not_understood",
            Self::WhichOne { .. } => "asked_which",
            Self::Several(answers) => answers
                .iter()
                .map(|(_, answer)| answer.outcome())
                .find(|o| *o == "recorded")
                .or_else(|| answers.first().map(|(_, answer)| answer.outcome()))
                .unwrap_or("not_understood"),
            Self::UnknownSender => "unknown_sender",
            Self::Unauthenticated => "unauthenticated",
        }
    }

    /// The short answer to the sender, in `language`.
    pub fn text(&self, language: Language) -> String {
        let sv = language == Language::Sv;
        let how = if sv {
            "Svara \"klar\" när det är gjort, \"påminn om 3 dagar\", \"klar till 2027-03-01\" eller \"ej aktuellt: skäl\"."
        } else {
            "Reply \"done\" when it is done, \"remind me in 3 days\", \"will do by 2027-03-01\" or \"not applicable: reason\"."
        };
        match (self, sv) {
            (Self::Recorded { action: Action::Submit, item }, true) => {
                format!("Tack! Noterat som inlämnat: {item}. Chefen ombeds kvittera.")
            }
            (Self::Recorded { action: Action::Submit, item }, false) => {
                format!("Thank you! Recorded as submitted: {item}. The manager is asked to acknowledge.")
            }
            (Self::Recorded { action: Action::Acknowledge, item }, true) => format!("Tack! Kvitterat: {item}."),
            (Self::Recorded { action: Action::Acknowledge, item }, false) => format!("Thank you! Acknowledged: {item}."),
            (Self::Recorded { action: Action::Waive, item }, true) => format!("Struket: {item}."),
            (Self::Recorded { action: Action::Waive, item }, false) => format!("Waived: {item}."),
            (Self::Already { item }, true) => format!("Det var redan noterat: {item}."),
            (Self::Already { item }, false) => format!("That was already recorded: {item}."),
            (Self::NotAllowed(why), true) => format!("Svaret kunde inte registreras: {}.", why.text(language)),
            (Self::NotAllowed(why), false) => format!("Your reply was not recorded: {}.", why.text(language)),
            (Self::PauseTooLong { max_days }, true) => {
                format!("Svaret kunde inte registreras: påminnelserna kan pausas högst {max_days} dagar framåt.")
            }
            (Self::PauseTooLong { max_days }, false) => {
                format!("Your reply was not recorded: reminders can be paused at most {max_days} days ahead.")
            }
            (Self::FromAnotherAddress, true) => {
                "Svaret kunde inte registreras: det kom från en annan adress än påminnelsen gick till.".to_owned()
            }
            (Self::FromAnotherAddress, false) => {
                "Your reply was not recorded: it came from another address than the reminder went to.".to_owned()
            }
            (Self::StatusInPrivate, true) => {
                "Dina öppna uppgifter visas bara för dig: skriv \"status\" i ett direktmeddelande till mig eller svara på ett mejl från arshjul.".to_owned()
            }
            (Self::StatusInPrivate, false) => {
                "Your open items are shown to you alone: write \"status\" in a direct message to me or reply to an email from arshjul.".to_owned()
            }
            (Self::NoCall, true) => "Det finns ingen sådan utlysning, eller så är den redan inställd.".to_owned(),
            (Self::NoCall, false) => "There is no such call, or it is cancelled already.".to_owned(),
            (Self::Refused { reason }, true) => format!("Svaret kunde inte registreras: {reason}."),
            (Self::Refused { reason }, false) => format!("Your reply was not recorded: {reason}."),
            (Self::Paused { item, until }, true) => format!("Noterat: inga påminnelser om {item} före {until}."),
            (Self::Paused { item, until }, false) => format!("Noted: no reminders about {item} before {until}."),
            (Self::Requested { item }, true) => format!("Noterat: kommunledningskontoret avgör om {item} gäller er."),
            (Self::Requested { item }, false) => format!("Noted: the Municipal Executive Office will decide whether {item} applies to you."),
            (Self::RefusedRequest { item }, true) => format!("Noterat: begäran att stryka {item} är avslagen."),
            (Self::RefusedRequest { item }, false) => format!("Noted: the request to waive {item} is refused."),
            (Self::Announced { call, reaches }, true) => {
                format!("Tack! Utlysningen {call} är upplagd. Den går ut till EU-kontaktpersonerna {reaches}.")
            }
            (Self::Announced { call, reaches }, false) => {
                format!("Thank you! The call {call} is announced. It reaches the EU contact persons on {reaches}.")
            }
            (Self::AnnouncedBefore { call }, true) => {
                format!("Utlysningen fanns redan: {call}. Den skickades inte ut igen.")
            }
            (Self::AnnouncedBefore { call }, false) => {
                format!("That call was announced before: {call}. It was not sent again.")
            }
            (Self::CallChanged { call, cancelled: true }, true) => format!("Utlysningen {call} är inställd; nätverket har fått veta."),
            (Self::CallChanged { call, cancelled: true }, false) => format!("The call {call} is cancelled; the network is told."),
            (Self::CallChanged { call, cancelled: false }, true) => format!("Rättelsen av {call} går ut till nätverket."),
            (Self::CallChanged { call, cancelled: false }, false) => format!("The correction of {call} goes out to the network."),
            (Self::Interest { interest, call, units, created }, true) => {
                let follow = if *created > 0 {
                    " Påminnelser om utkast till strategen och granskning är inlagda."
                } else {
                    ""
                };
                format!("Tack! Noterat för {units}: {} – {call}.{follow}", interest.label(true))
            }
            (Self::Interest { interest, call, units, created }, false) => {
                let follow = if *created > 0 {
                    " Reminders for the draft to the strategist and the review are set."
                } else {
                    ""
                };
                format!("Thank you! Noted for {units}: {} – {call}.{follow}", interest.label(false))
            }
            (Self::Status { lines }, _) if lines.is_empty() => {
                if sv { "Du har inga öppna uppgifter." } else { "You have no open items." }.to_owned()
            }
            (Self::Status { lines }, true) => format!("Dina öppna uppgifter:\n{}", lines.join("\n")),
            (Self::Status { lines }, false) => format!("Your open items:\n{}", lines.join("\n")),
            (Self::NotUnderstood, true) => format!("Jag förstod inte svaret. {how}"),
            (Self::NotUnderstood, false) => format!("I did not understand the reply. {how}"),
            (Self::NotAnAnswerToCall, true) => "Jag förstod inte svaret. Svara \"intresserad\", \"ansöker\" eller \"inte aktuellt\" – eller reagera med 👍, ✅ eller 👎.".to_owned(),
            (Self::NotAnAnswerToCall, false) => "I did not understand the reply. Answer \"interested\", \"applying\" or \"not relevant\" – or react with 👍, ✅ or 👎.".to_owned(),
            (Self::NoItem, true) => "Svara på en påminnelse, eller skriv \"!arshjul klar ID\" (ID från \"!arshjul status\").".to_owned(),
            (Self::NoItem, false) => "Reply to a reminder, or write \"!arshjul done ID\" (the ID from \"!arshjul status\").".to_owned(),
            (Self::WhichOne { items }, _) => {
                let numbers: Vec<String> = (1..=items.len()).map(|n| n.to_string()).collect();
                let ask = if sv {
                    format!("Vilken gäller det? Svara {} eller alla.", numbers.join(", "))
                } else {
                    format!("Which one is it? Reply {} or all.", numbers.join(", "))
                };
                let list: Vec<String> = items.iter().enumerate().map(|(i, item)| format!("{}. {item}", i + 1)).collect();
                format!("{ask}\n{}", list.join("\n"))
            }
            (Self::Several(answers), _) => answers
                .iter()
                .map(|(number, answer)| format!("{number}. {}", answer.text(language)))
                .collect::<Vec<_>>()
                .join("\n"),
            (Self::Unauthenticated, true) => "Svaret kunde inte registreras: det bär inte en påminnelses signerade svarsadress, och kommunens e-postserver har inte styrkt avsändaren.".to_owned(),
            (Self::Unauthenticated, false) => "Your reply was not recorded: it carries no reminder's signed reply address, and the municipality's mail server did not vouch for the sender.".to_owned(),
            (Self::NeedsVouching, true) => "Kommandot kunde inte registreras: kommandon som nämner en uppgift eller en utlysning gäller bara i e-post som kommunens e-postserver har styrkt. Svara i stället på påminnelsen, eller använd länken i den.".to_owned(),
            (Self::NeedsVouching, false) => "The command was not recorded: commands that name an item or a call count only in mail the municipality's mail server vouches for. Reply to the reminder instead, or use its link.".to_owned(),
            (Self::UnknownSender, _) => "Din adress finns inte i årshjulets förteckning över personer, så svaret kunde inte registreras. / Your address is not in the governance calendar's list of people, so your reply was not recorded.".to_owned(),
        }
    }
}

/// What a unit answers to an announcement, read from the first line of a reply or from a
/// reaction: 👍 or "intresserad" (interested), ✅ or "ansöker" (applying), 👎 or "inte
/// aktuellt" (not relevant). `None` when it says none of these.
pub fn read_interest(text: &str) -> Option<Interest> {
    const NOT_RELEVANT: &[&str] = &[
        "inte aktuellt",
        "ej aktuellt",
        "inte aktuell",
        "ej aktuell",
        "inte intresserade",
        "ej intresserade",
        "inte intresserad",
        "ej intresserad",
        "inte relevant",
        "ej relevant",
        "nej",
        "not relevant",
        "not interested",
        "no",
        "👎",
        "❌",
    ];
    const APPLYING: &[&str] = &[
        "ansöker",
        "vi ansöker",
        "vi kommer att ansöka",
        "söker",
        "vi söker",
        "applying",
        "we are applying",
        "we apply",
        "we will apply",
        "will apply",
        "apply",
        "✅",
        "✔",
    ];
    const INTERESTED: &[&str] = &[
        "intresserad",
        "intresserade",
        "intressant",
        "vi är intresserade",
        "interested",
        "we are interested",
        "👍",
        "❤",
        "+1",
    ];
    let line = own_text(text).into_iter().next()?.to_lowercase();
    let line = line.trim_start_matches("!arshjul").trim();
    // "Ja, vi är intresserade!", "Nej, inte än – vi funderar": the answer is what follows the
    // yes or no, which alone says nothing about the call.
    let line = ["ja,", "nej,", "yes,", "no,"]
        .iter()
        .find_map(|word| line.strip_prefix(word).map(str::trim))
        .filter(|rest| !rest.is_empty())
        .unwrap_or(line);
    let says = |phrase: &&str| {
        line.strip_prefix(*phrase)
            .is_some_and(|rest| !rest.starts_with(char::is_alphanumeric))
    };
    [
        (NOT_RELEVANT, Interest::NotRelevant),
        (APPLYING, Interest::Applying),
        (INTERESTED, Interest::Interested),
    ]
    .into_iter()
    .find(|(phrases, _)| phrases.iter().any(says))
    .map(|(_, interest)| interest)
}

/// A chat command about calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallCommand {
    /// `!arshjul utlysning Titel | https://… | 2027-03-15 [| program] [| enhet, enhet]`
    Announce(Draft),
    /// `!arshjul ställ in 12 [skäl]`, `!arshjul cancel 12 [reason]`
    Cancel { id: i64, reason: Option<String> },
}

/// The call command in `text`, if it is one. Fields keep the case they were written in.
pub fn read_command(text: &str) -> Option<CallCommand> {
    let line = own_text(text).into_iter().next()?;
    let rest = strip_prefix_ignoring_case(line.trim(), "!arshjul")?.trim_start();
    let (word, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    match word.to_lowercase().as_str() {
        "utlysning" | "call" | "announce" => {
            let mut fields = rest.split('|').map(str::trim);
            let mut next = || fields.next().unwrap_or_default().to_owned();
            let (title, link, deadline, programme, units) = (next(), next(), next(), next(), next());
            Some(CallCommand::Announce(Draft {
                title,
                link,
                deadline,
                programme,
                units: units
                    .split([',', ' '])
                    .filter(|u| !u.is_empty())
                    .map(str::to_owned)
                    .collect(),
                ..Draft::default()
            }))
        }
        "ställ" | "inställd" | "cancel" => {
            let rest = match word.to_lowercase().as_str() {
                "ställ" => strip_prefix_ignoring_case(rest.trim_start(), "in")?,
                _ => rest,
            };
            let rest = rest.trim_start().trim_start_matches('#');
            let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            let (id, reason) = rest.split_at(digits);
            let id = id.parse().ok()?;
            let reason = reason.trim().trim_start_matches([':', '-']).trim();
            Some(CallCommand::Cancel {
                id,
                reason: (!reason.is_empty()).then(|| reason.to_owned()),
            })
        }
        _ => None,
    }
}

fn strip_prefix_ignoring_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn read(text: &str) -> Command {
        interpret(text, date(2027, 2, 10)).command
    }

    /// What a command means, in the corpus's words.
    fn means(command: &Command) -> String {
        let noted = |what: &str, note: &Option<String>| match note {
            Some(note) => format!("{what}:{note}"),
            None => what.to_owned(),
        };
        match command {
            Command::Done { note } => noted("done", note),
            Command::Submit { note } => noted("submit", note),
            Command::Acknowledge { note } => noted("ack", note),
            Command::WillDoBy { date } => format!("pause:{date}"),
            Command::Snooze { days } => format!("snooze:{days}"),
            Command::NotApplicable { .. } => "n/a".to_owned(),
            Command::Waive { .. } => "waive".to_owned(),
            Command::Refuse { .. } => "refuse".to_owned(),
            Command::Status => "status".to_owned(),
            Command::NotUnderstood => "ask".to_owned(),
        }
    }

    /// How busy people really answer a reminder (on Wednesday 10 February 2027), and what it
    /// must mean: a yes only when it is all the first line says; anything that defers,
    /// negates or hedges never submits — a day in it pauses, otherwise arshjul asks.
    const CORPUS: &[(&str, &str)] = &[
        ("Klart!", "done"),
        ("klart", "done"),
        ("Klar", "done"),
        ("klar.", "done"),
        ("KLART", "done"),
        ("Klart ✅", "done"),
        ("✅", "done"),
        ("✅ Klart", "done"),
        ("✔️", "done"),
        ("👍", "done"),
        ("👍🏽", "done"),
        ("+1", "done"),
        ("Ok", "done"),
        ("OK!", "done"),
        ("ok.", "done"),
        ("Okej", "done"),
        ("Ja", "done"),
        ("Ja!", "done"),
        ("Yes", "done"),
        ("Done", "done"),
        ("Done!", "done"),
        ("done ✅", "done"),
        ("Färdigt!", "done"),
        ("Fixat!", "done"),
        ("Gjort", "done"),
        ("Finished", "done"),
        ("Completed.", "done"),
        ("Ok, klart!", "done"),
        ("Ja, klart", "done"),
        ("Klart, tack!", "done"),
        ("Klart tack", "done"),
        ("Klart, tack så mycket!", "done"),
        ("Done, thanks!", "done"),
        ("Done, thank you", "done"),
        ("✅ tack!", "done"),
        (
            "Klart\n\nMed vänlig hälsning\nLinnea Dahl\nTekniska förvaltningen",
            "done",
        ),
        ("Klart!\n\nSkickat från min iPhone", "done"),
        ("Klart\n\nHämta Outlook för iOS", "done"),
        ("Done\n\nGet Outlook for Android", "done"),
        (
            "Klar\n\nFrån: arshjul <arshjul@example.org>\nSkickat: den 9 februari 2027 08:00\nTill: Linnea Dahl\nÄmne: Påminnelse: Uppföljning",
            "done",
        ),
        (
            "Done\n\nFrom: arshjul <arshjul@example.org>\nSent: Tuesday, February 9, 2027 8:00 AM\nTo: Magnus Berg\nSubject: Reminder",
            "done",
        ),
        (
            "ok\n\nDen 9 feb. 2027 kl. 08:00 skrev arshjul <arshjul@example.org>:\n> Markera som inlämnad",
            "done",
        ),
        (
            "ok\n\nOn Tue, 9 Feb 2027 at 08:00, arshjul <arshjul@example.org> wrote:\n> Mark as submitted",
            "done",
        ),
        ("Klart\n-- \nMagnus Berg\nFörvaltningschef", "done"),
        ("Klart\n\nMvh Magnus", "done"),
        ("Done\n\nBest regards,\nAnna", "done"),
        ("Done\n\nKind regards\nAnna", "done"),
        ("\n\nKlart\n", "done"),
        ("   klart   ", "done"),
        ("klar, dnr KS 2027/123", "done:dnr ks 2027/123"),
        ("Klart, dnr TN 2027/45", "done:dnr tn 2027/45"),
        (
            "Klart https://docs.example.org/uppfoljning.pdf",
            "done:https://docs.example.org/uppfoljning.pdf",
        ),
        ("Done, ref 2027-0045", "done:ref 2027-0045"),
        ("Ok tack!", "ask"),
        ("Ok, tack!", "ask"),
        ("ok tack", "ask"),
        ("Okej, tack för påminnelsen", "ask"),
        ("Ok, tack för påminnelsen! Jag återkommer nästa vecka.", "ask"),
        ("Tack för påminnelsen!", "ask"),
        ("Tack!", "ask"),
        ("Tack, vi återkommer", "ask"),
        ("Thanks!", "ask"),
        ("Thanks for the reminder", "ask"),
        ("Ok thanks", "ask"),
        ("OK, thank you", "ask"),
        ("Ja tack", "ask"),
        ("👍 tack", "ask"),
        ("Jag återkommer", "ask"),
        ("Vi återkommer om detta", "ask"),
        ("Återkommer nästa vecka", "ask"),
        ("Inte klar", "ask"),
        ("Inte klart än", "ask"),
        ("inte klart ännu", "ask"),
        ("Ej klart än", "ask"),
        ("Ej klar", "ask"),
        ("Nej", "ask"),
        ("Nej, inte än", "ask"),
        ("Snart klar", "ask"),
        ("Nästan klart", "ask"),
        ("Klar snart", "ask"),
        ("Blir klart senare", "ask"),
        ("Kommer att bli klart", "ask"),
        ("Ska fixa det", "ask"),
        ("Jag försöker bli klar", "ask"),
        ("Hoppas bli klar nästa vecka", "ask"),
        ("Kanske klart", "ask"),
        ("Tror det är klart?", "ask"),
        ("Är det klart?", "ask"),
        ("Klart?", "ask"),
        ("Vad menas?", "ask"),
        ("Vem ska göra det här?", "ask"),
        ("Not yet", "ask"),
        ("Not done", "ask"),
        ("Not done yet", "ask"),
        ("No", "ask"),
        ("I'll get back to you", "ask"),
        ("Will get back to you next week", "ask"),
        ("Almost done", "ask"),
        ("Done soon", "ask"),
        ("Done later today", "ask"),
        ("Hopefully done next week", "ask"),
        ("Probably done", "ask"),
        ("Is it done?", "ask"),
        ("I think it is done", "ask"),
        ("Working on it", "ask"),
        ("Jobbar på det", "ask"),
        ("Hej!", "ask"),
        ("Hej, jag är på semester", "ask"),
        ("Jag är föräldraledig", "ask"),
        ("Detta gäller inte mig längre", "ask"),
        ("Fel person", "ask"),
        ("Kontakta Magnus istället", "ask"),
        ("Please contact Anna instead", "ask"),
        ("Mvh Linnea", "ask"),
        ("Skickat från min iPhone", "ask"),
        ("", "ask"),
        ("> klar\n> ok", "ask"),
        ("On Mon, 1 Feb 2027 arshjul wrote:\n> ok", "ask"),
        ("Klar på fredag", "pause:2027-02-12"),
        ("Klart på fredag", "pause:2027-02-12"),
        ("Blir klart på måndag", "pause:2027-02-15"),
        ("Klar imorgon", "pause:2027-02-11"),
        ("Inte klart än, klart 1/3", "pause:2027-03-01"),
        ("Inte klart, blir klart 2027-03-01", "pause:2027-03-01"),
        ("Vi återkommer 15/3", "pause:2027-03-15"),
        ("Done by Friday", "pause:2027-02-12"),
        ("Not yet, will be done on Monday", "pause:2027-02-15"),
        ("Will finish it tomorrow", "pause:2027-02-11"),
        ("I'll get back to you on 3/3", "pause:2027-03-03"),
        ("klar till 2027-03-01", "pause:2027-03-01"),
        ("Klart till 1/3", "pause:2027-03-01"),
        ("ok till 1/3", "pause:2027-03-01"),
        ("senast 5/3", "pause:2027-03-05"),
        ("Senast 2027-03-05", "pause:2027-03-05"),
        ("will do by 1/3", "pause:2027-03-01"),
        ("Will do by 2027-03-10", "pause:2027-03-10"),
        ("by 20/2", "pause:2027-02-20"),
        ("senast 5/1", "pause:2028-01-05"),
        ("påminn om 3 dagar", "snooze:3"),
        ("Påminn mig om 5 dagar", "snooze:5"),
        ("remind me in 3 days", "snooze:3"),
        ("Remind me in 10 days please", "snooze:10"),
        ("snooze 3", "snooze:3"),
        ("snooze 400", "ask"),
        ("påminn om 200 dagar", "ask"),
        ("Inlämnad", "submit"),
        ("inlämnat", "submit"),
        ("Inlämnad dnr KS 2027/12", "submit:dnr ks 2027/12"),
        ("Skickat!", "submit"),
        ("Skickad", "submit"),
        ("Skickat till registrator", "submit:till registrator"),
        ("Har skickat in den", "submit"),
        ("Har lämnat in den", "submit"),
        ("Nu skickat", "submit"),
        ("Submitted", "submit"),
        (
            "Submitted https://docs.example.org/x",
            "submit:https://docs.example.org/x",
        ),
        ("Sent", "submit"),
        ("I've submitted it", "submit:it"),
        ("Have sent it", "submit:it"),
        ("Inte inlämnad", "ask"),
        ("Inte skickat än", "ask"),
        ("Ska skicka in imorgon", "pause:2027-02-11"),
        ("Skickar snart", "ask"),
        ("Not submitted yet", "ask"),
        ("Will submit on Friday", "pause:2027-02-12"),
        ("Kvitterad", "ack"),
        ("kvitterat", "ack"),
        ("Godkänd", "ack"),
        ("Godkänt, bra jobbat", "ack:bra jobbat"),
        ("Acknowledged", "ack"),
        ("Approved", "ack"),
        ("Inte godkänd", "ask"),
        ("Not approved yet", "ask"),
        ("Godkänner inte", "ask"),
        ("Ej aktuellt: vi har inga EU-projekt", "n/a"),
        ("Inte aktuellt för oss", "n/a"),
        ("Gäller inte oss", "n/a"),
        ("not applicable: no EU projects this year", "n/a"),
        ("Not applicable to us", "n/a"),
        ("N/A", "n/a"),
        ("Stryk", "waive"),
        ("Bevilja", "waive"),
        ("Beviljad", "waive"),
        ("Grant", "waive"),
        ("Waive", "waive"),
        ("Avslå", "refuse"),
        ("Avslå: de har EU-projekt", "refuse"),
        ("Refuse", "refuse"),
        ("status", "status"),
        ("Status", "status"),
        ("!arshjul status", "status"),
        ("!arshjul klar 42", "done"),
        ("!arshjul kvittera 42", "ack"),
        ("!arshjul inlämnad 42 dnr KS 2027/1", "submit:dnr ks 2027/1"),
        ("!arshjul påminn om 3 dagar", "snooze:3"),
        ("!arshjul ej aktuellt 42: inga EU-projekt", "n/a"),
    ];

    #[test]
    fn refusals_are_wholly_in_the_readers_language() {
        for answer in [
            Answer::FromAnotherAddress,
            Answer::NoCall,
            Answer::StatusInPrivate,
            Answer::PauseTooLong { max_days: 90 },
            Answer::NotAllowed(NotAllowed::Unknown),
            Answer::NotAllowed(NotAllowed::Waive {
                unit: "Tekniska förvaltningen".into(),
                unit_en: "Technical Services Department".into(),
            }),
        ] {
            let (sv, en) = (answer.text(Language::Sv), answer.text(Language::En));
            for english in [" the ", " not ", " is ", "reply"] {
                assert!(!sv.contains(english), "{english:?} in {sv}");
            }
            for swedish in [" inte ", " är ", " det ", "Svar", "förvaltningen"] {
                assert!(!en.contains(swedish), "{swedish:?} in {en}");
            }
        }
    }

    #[test]
    fn the_reply_corpus_means_what_people_mean() {
        assert!(CORPUS.len() >= 150, "{} replies", CORPUS.len());
        let wrong: Vec<String> = CORPUS
            .iter()
            .filter(|(text, expected)| means(&read(text)) != *expected)
            .map(|(text, expected)| format!("{text:?}: expected {expected}, read {}", means(&read(text))))
            .collect();
        assert!(
            wrong.is_empty(),
            "{} of {} read wrong:\n{}",
            wrong.len(),
            CORPUS.len(),
            wrong.join("\n")
        );
    }

    #[test]
    fn yes_in_swedish_english_and_reactions_means_done() {
        for yes in [
            "klar", "Klar!", "klart", "ok", "OK.", "done", "Ja", "✅", "✔️", "👍", "👍🏽", "+1",
        ] {
            assert_eq!(read(yes), Command::Done { note: None }, "{yes}");
        }
        assert_eq!(
            read("klar, dnr KS 2027/123"),
            Command::Done {
                note: Some("dnr ks 2027/123".into())
            }
        );
    }

    #[test]
    fn specific_words_name_their_action() {
        assert_eq!(read("inlämnad"), Command::Submit { note: None });
        assert_eq!(
            read("Submitted https://docs.example.org/x"),
            Command::Submit {
                note: Some("https://docs.example.org/x".into())
            }
        );
        for ack in ["kvitterad", "Godkänd", "acknowledged", "approved"] {
            assert_eq!(read(ack), Command::Acknowledge { note: None }, "{ack}");
        }
        assert_eq!(read("status"), Command::Status);
        assert_eq!(read("stryk"), Command::Waive { reason: None });
        assert_eq!(read("bevilja"), Command::Waive { reason: None });
        assert_eq!(
            read("avslå: de har EU-projekt"),
            Command::Refuse {
                reason: Some("de har eu-projekt".into())
            }
        );
    }

    #[test]
    fn pauses_and_not_applicable_carry_their_dates_and_reasons() {
        assert_eq!(read("snooze 3"), Command::Snooze { days: 3 });
        assert_eq!(read("Påminn om 3 dagar"), Command::Snooze { days: 3 });
        assert_eq!(read("remind me in 5 days"), Command::Snooze { days: 5 });
        assert_eq!(read("snooze 400"), Command::NotUnderstood, "too long");
        assert_eq!(
            read("klar till 2027-03-01"),
            Command::WillDoBy { date: date(2027, 3, 1) }
        );
        assert_eq!(read("will do by 1/3"), Command::WillDoBy { date: date(2027, 3, 1) });
        assert_eq!(
            read("senast 5/1"),
            Command::WillDoBy { date: date(2028, 1, 5) },
            "the next 5 January"
        );
        assert_eq!(
            read("Ej aktuellt: vi har inga EU-projekt"),
            Command::NotApplicable {
                reason: "vi har inga eu-projekt".into()
            }
        );
        assert_eq!(
            read("not applicable to us"),
            Command::NotApplicable { reason: "to us".into() }
        );
    }

    #[test]
    fn only_the_senders_own_first_line_counts() {
        let reply = "ok\n\nMed vänlig hälsning\nMagnus\n\nDen 1 feb 2027 skrev arshjul:\n> Markera som inlämnad";
        assert_eq!(read(reply), Command::Done { note: None });
        assert_eq!(
            read("\n\n> klar\n> ok"),
            Command::NotUnderstood,
            "quoted text does not count"
        );
        assert_eq!(read("On Mon, 1 Feb 2027 arshjul wrote:\n> ok"), Command::NotUnderstood);
        assert_eq!(read("Tack, vi återkommer"), Command::NotUnderstood);
    }

    #[test]
    fn commands_name_their_occurrence() {
        let reply = interpret("!arshjul kvittera 42", date(2027, 2, 10));
        assert_eq!(reply.command, Command::Acknowledge { note: None });
        assert_eq!(reply.occurrence, Some(42));
        assert_eq!(interpret("!arshjul klar #7", date(2027, 2, 10)).occurrence, Some(7));
        assert_eq!(interpret("!arshjul status", date(2027, 2, 10)).command, Command::Status);
        assert_eq!(
            interpret("klar 42", date(2027, 2, 10)).occurrence,
            None,
            "only commands name ids"
        );
    }

    #[test]
    fn done_means_what_the_message_asked_or_the_items_next_step() {
        use OccurrenceState::{Acknowledged, Open, Submitted};
        let done = Command::Done { note: None };
        assert_eq!(action(&done, Some(Ask::Submit), Open), Some(Action::Submit));
        assert_eq!(
            action(&done, Some(Ask::Acknowledge), Submitted),
            Some(Action::Acknowledge)
        );
        assert_eq!(action(&done, None, Open), Some(Action::Submit));
        assert_eq!(action(&done, None, Submitted), Some(Action::Acknowledge));
        assert_eq!(action(&done, None, Acknowledged), None);
        assert_eq!(
            action(&Command::Acknowledge { note: None }, Some(Ask::Submit), Open),
            Some(Action::Acknowledge)
        );
        assert_eq!(action(&Command::Status, Some(Ask::Submit), Open), None);
    }

    #[test]
    fn arbitrary_input_never_panics() {
        let alphabet: Vec<char> = "klar ok !arshjul 0123456789/-:>\n\t åäö✅👍🏽\u{FE0F}\u{0}\u{202E}ẞ𝔘 påminn om dagar till by snooze ej aktuellt"
            .chars()
            .collect();
        let mut rng = fastrand::Rng::with_seed(6);
        for _ in 0..50_000 {
            let text: String = (0..rng.usize(0..40))
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect();
            let _ = interpret(&text, date(2027, 12, 31));
        }
    }

    #[test]
    fn interest_in_words_and_reactions() {
        for (text, interest) in [
            ("Intresserad!", Some(Interest::Interested)),
            ("👍🏽", Some(Interest::Interested)),
            ("Vi ansöker, skickar utkast i februari", Some(Interest::Applying)),
            ("ansöker", Some(Interest::Applying)),
            ("✅", Some(Interest::Applying)),
            ("✔️", Some(Interest::Applying)),
            ("inte aktuellt för oss", Some(Interest::NotRelevant)),
            ("Inte intresserade", Some(Interest::NotRelevant)),
            ("not interested", Some(Interest::NotRelevant)),
            ("👎", Some(Interest::NotRelevant)),
            ("nejlikor", None),
            ("Ja, vi är intresserade!", Some(Interest::Interested)),
            ("Nej, inte än – vi funderar", None),
            ("Nej", Some(Interest::NotRelevant)),
            ("klar", None),
            ("", None),
        ] {
            assert_eq!(read_interest(text), interest, "{text}");
        }
        assert_eq!(
            read_interest("ansöker\n\nDen 3 feb skrev arshjul:\n> inte aktuellt"),
            Some(Interest::Applying)
        );
    }

    #[test]
    fn announce_and_cancel_commands() {
        let Some(CallCommand::Announce(draft)) = read_command(
            "!arshjul utlysning Interreg Öresund | https://interreg.eu/c/1 | 2027-03-15 | Interreg | tekniska, kultur-och-fritid",
        ) else {
            panic!("not read as an announcement");
        };
        assert_eq!(draft.title, "Interreg Öresund");
        assert_eq!(draft.link, "https://interreg.eu/c/1");
        assert_eq!(draft.deadline, "2027-03-15");
        assert_eq!(draft.programme, "Interreg");
        assert_eq!(draft.units, ["tekniska", "kultur-och-fritid"]);
        assert!(
            matches!(read_command("!ARSHJUL call Only a title"), Some(CallCommand::Announce(d)) if d.link.is_empty())
        );
        assert_eq!(
            read_command("!arshjul ställ in 12: fel utlysning"),
            Some(CallCommand::Cancel {
                id: 12,
                reason: Some("fel utlysning".into())
            })
        );
        assert_eq!(
            read_command("!arshjul cancel #7"),
            Some(CallCommand::Cancel { id: 7, reason: None })
        );
        assert_eq!(read_command("!arshjul klar 12"), None);
        assert_eq!(read_command("utlysning x | y | z"), None);
        assert_eq!(read_command("!arshjul ställ 12"), None);
    }

    #[test]
    fn a_reply_to_a_digest_picks_its_items() {
        let picked = |text: &str| read_selection(text);
        let all = |said: &str| Some((Selection::All, said.to_owned()));
        assert_eq!(picked("Alla klara!"), all("klara"));
        assert_eq!(picked("Klart för båda, tack"), all("klart tack"));
        assert_eq!(picked("both done"), all("done"));
        assert_eq!(picked("alla"), all(""));
        assert_eq!(picked("2"), Some((Selection::Numbers(vec![2]), String::new())));
        assert_eq!(
            picked("1 och 3 klara\n\nMed vänlig hälsning\nLinnea"),
            Some((Selection::Numbers(vec![1, 3]), "klara".into()))
        );
        assert_eq!(picked("1,2"), Some((Selection::Numbers(vec![1, 2]), String::new())));
        for none in [
            "Klart!",
            "ok",
            "påminn om 3 dagar",
            "klar till 2027-03-01",
            "!arshjul klar 2",
            "alla är inte klara",
            "",
            "2027",
        ] {
            assert_eq!(picked(none), None, "{none:?}");
        }
        assert!(Selection::All.picks(7));
        assert!(Selection::Numbers(vec![2]).picks(2) && !Selection::Numbers(vec![2]).picks(1));
    }
}
