//! The directory (`config/directory.toml`): units, people, who holds which role, and the named
//! channels. Parsed once into typed values; everything else only sees the parsed [`Directory`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::errors::{ConfigError, ConfigErrors, SourceFile};
use super::{check_id, parse_date};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The id as written in the configuration.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// An id that has passed [`check_id`]; only the parsers build ids.
            pub(crate) fn checked(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// The id of a unit, e.g. `tekniska-forvaltningen`.
    UnitId
);
id_type!(
    /// The id of a person, e.g. `anna.lindqvist`.
    PersonId
);

/// What kind of body a unit is; obligations apply to unit kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// Kommunfullmäktige, the council.
    Kf,
    /// Kommunstyrelsen, the executive board.
    Ks,
    /// A nämnd (committee) or a company board.
    Namnd,
    /// A förvaltning (department).
    Forvaltning,
    /// A municipal company.
    Bolag,
    /// Kommunledningskontoret, the central office.
    Klk,
}

impl UnitKind {
    /// The name used in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kf => "kf",
            Self::Ks => "ks",
            Self::Namnd => "namnd",
            Self::Forvaltning => "forvaltning",
            Self::Bolag => "bolag",
            Self::Klk => "klk",
        }
    }

    /// Whether units of this kind govern others (the council, the board, committees).
    fn governs(self) -> bool {
        matches!(self, Self::Kf | Self::Ks | Self::Namnd)
    }
}

/// A responsibility a person holds in a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The official who heads the unit (förvaltningschef, VD, kommundirektör) or, for a
    /// political body, the office that serves it: the escalation target who acknowledges
    /// submissions.
    Manager,
    /// Ordförande of a political body: a politician, who sees the body on the dashboard and
    /// is never reminded (politicians decide at meetings; officials prepare).
    Chair,
    /// Nämndsekreterare or kommunsekreterare: the official who prepares a body's matters for
    /// its meetings, reminded of the body's decisions.
    Secretary,
    /// The unit's EU contact person, member of the EU network.
    EuContact,
    /// Planeringsstrateg för EU & internationella frågor.
    Strategist,
    /// A member of the council's presidium.
    Presidium,
    /// Registrator: keeps the diary and may waive occurrences.
    Registrar,
}

impl Role {
    /// The name used in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manager => "manager",
            Self::Chair => "chair",
            Self::Secretary => "secretary",
            Self::EuContact => "eu_contact",
            Self::Strategist => "strategist",
            Self::Presidium => "presidium",
            Self::Registrar => "registrar",
        }
    }
}

/// The language a person receives messages in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    /// Swedish, the default.
    #[default]
    Sv,
    /// English.
    En,
}

/// A period during which a person is away and their deputy acts, both days included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Absence {
    pub from: Date,
    pub to: Date,
}

/// Someone who receives reminders or acts on them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: PersonId,
    pub name: String,
    pub email: String,
    pub language: Language,
    /// Matrix user id, e.g. `@anna:example.org`.
    pub matrix_id: Option<String>,
    /// The name of a Teams webhook (in the settings) that posts to this person's chat.
    pub teams: Option<String>,
    /// The person's Microsoft Entra (Azure AD) object id, which Teams names senders by.
    pub teams_user_id: Option<String>,
    /// The person's Entra object id, by which a sign-in through the provider finds them when
    /// `sign_in.oidc.claim = "oid"`; when not given, `teams_user_id` (the same id).
    pub entra_oid: Option<String>,
    /// The channels this person wants reminders on, in order; empty means email.
    pub prefers: Vec<Transport>,
    pub absences: Vec<Absence>,
}

impl Person {
    /// The person's Entra object id: `entra_oid`, else `teams_user_id`.
    pub fn entra_object_id(&self) -> Option<&str> {
        self.entra_oid.as_deref().or(self.teams_user_id.as_deref())
    }

    /// Whether an absence period covers `date`.
    pub fn is_away(&self, date: Date) -> bool {
        self.away_since(date).is_some()
    }

    /// The first day of the absence that covers `date`, if one does.
    pub fn away_since(&self, date: Date) -> Option<Date> {
        self.absences
            .iter()
            .find(|a| a.from <= date && date <= a.to)
            .map(|a| a.from)
    }
}

/// Who holds a role in a unit, and who stands in (ersättare) when they are away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub person: PersonId,
    pub deputy: Option<PersonId>,
}

/// A body of the municipality: the council, the board, a committee, a department, a company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub id: UnitId,
    pub kind: UnitKind,
    pub name: String,
    /// The English name; the Swedish name when none is configured.
    pub name_en: String,
    /// The committee or board that governs this unit.
    pub governed_by: Option<UnitId>,
    pub roles: BTreeMap<Role, Assignment>,
}

impl Unit {
    /// Whether `person` holds `role` here (any role when `None`), as holder or deputy.
    pub fn held_by(&self, person: &str, role: Option<Role>) -> bool {
        self.roles
            .iter()
            .filter(|(r, _)| role.is_none_or(|role| **r == role))
            .any(|(_, a)| a.person.as_str() == person || a.deputy.as_ref().is_some_and(|d| d.as_str() == person))
    }
}

/// A named destination shared by many people, such as the EU network's room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub name: String,
    pub description: String,
    /// Matrix room id or alias the bot posts to.
    pub matrix_room: Option<String>,
    /// Or: the name of a Matrix webhook (matrix-hookshot, in the settings) that posts there.
    pub matrix_webhook: Option<String>,
    /// The name of a Teams webhook (in the settings) that posts to the channel.
    pub teams: Option<String>,
}

/// Everyone and everything arshjul can address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directory {
    pub units: Vec<Unit>,
    pub people: Vec<Person>,
    pub channels: Vec<Channel>,
    /// Positions in `units` and `people` by id: the planner looks up thousands per pass.
    unit_index: HashMap<String, usize>,
    person_index: HashMap<String, usize>,
}

impl Directory {
    /// The unit with this id.
    pub fn unit(&self, id: &UnitId) -> Option<&Unit> {
        self.unit_named(id.as_str())
    }

    /// The person with this id.
    pub fn person(&self, id: &PersonId) -> Option<&Person> {
        self.person_named(id.as_str())
    }

    /// The central office (KLK) where the strategist, a central role, is held for every unit.
    pub fn strategist_unit(&self) -> Option<&Unit> {
        self.units
            .iter()
            .find(|u| u.kind == UnitKind::Klk && u.roles.contains_key(&Role::Strategist))
    }

    /// The unit with this id, as text (e.g. from the database).
    pub fn unit_named(&self, id: &str) -> Option<&Unit> {
        self.unit_index.get(id).map(|i| &self.units[*i])
    }

    /// The person with this id, as text (e.g. from the database or a link).
    pub fn person_named(&self, id: &str) -> Option<&Person> {
        self.person_index.get(id).map(|i| &self.people[*i])
    }

    /// The person who holds `role` in `unit`, if anyone does.
    pub fn holder(&self, unit: &Unit, role: Role) -> Option<&Person> {
        unit.roles.get(&role).and_then(|a| self.person(&a.person))
    }

    /// Parses and validates `config/directory.toml`, reporting every error found.
    pub fn parse(source: SourceFile<'_>) -> Result<Self, ConfigErrors> {
        let raw: RawDirectory = toml::from_str(source.text).map_err(|e| ConfigErrors(vec![source.toml_error(&e)]))?;
        let mut errors = Vec::new();
        let people = parse_people(source, &raw.people, &mut errors);
        let person_ids: BTreeSet<&str> = raw.people.iter().map(|p| p.id.get_ref().as_str()).collect();
        let units = parse_units(source, &raw.units, &person_ids, &mut errors);
        let channels = raw
            .channels
            .iter()
            .filter_map(|(name, channel)| {
                let key = format!("channels.{name}");
                let checked = check_id(name).map_err(|reason| source.error_at(channel.span(), &key, reason));
                let room = channel
                    .get_ref()
                    .matrix_room
                    .as_ref()
                    .filter(|room| !is_matrix_room(room.get_ref()));
                let room_error = room.map(|room| {
                    source.error_at(
                        room.span(),
                        format!("{key}.matrix_room"),
                        format!(
                            "\"{}\" is not a Matrix room id (!…) or alias (#…:server)",
                            room.get_ref()
                        ),
                    )
                });
                let raw = channel.get_ref();
                let both = (raw.matrix_room.is_some() && raw.matrix_webhook.is_some()).then(|| {
                    source.error_at(
                        channel.span(),
                        format!("{key}.matrix_webhook"),
                        "give matrix_room (posted by the bot) or matrix_webhook, not both",
                    )
                });
                errors.extend(
                    checked
                        .as_ref()
                        .err()
                        .cloned()
                        .into_iter()
                        .chain(room_error)
                        .chain(both),
                );
                checked.ok().map(|()| Channel {
                    name: name.clone(),
                    description: raw.description.clone(),
                    matrix_room: raw.matrix_room.as_ref().map(|r| r.get_ref().clone()),
                    matrix_webhook: raw.matrix_webhook.clone(),
                    teams: raw.teams.clone(),
                })
            })
            .collect();
        if errors.is_empty() {
            let unit_index = units
                .iter()
                .enumerate()
                .map(|(i, u): (usize, &Unit)| (u.id.to_string(), i))
                .collect();
            let person_index = people
                .iter()
                .enumerate()
                .map(|(i, p): (usize, &Person)| (p.id.to_string(), i))
                .collect();
            Ok(Self {
                units,
                people,
                channels,
                unit_index,
                person_index,
            })
        } else {
            Err(ConfigErrors(errors))
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDirectory {
    #[serde(default)]
    units: Vec<RawUnit>,
    #[serde(default)]
    people: Vec<RawPerson>,
    #[serde(default)]
    channels: BTreeMap<String, Spanned<RawChannel>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUnit {
    id: Spanned<String>,
    kind: UnitKind,
    name: String,
    name_en: Option<String>,
    governed_by: Option<Spanned<String>>,
    #[serde(default)]
    roles: BTreeMap<Role, RawAssignment>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAssignment {
    person: Spanned<String>,
    deputy: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPerson {
    id: Spanned<String>,
    name: String,
    email: Spanned<String>,
    #[serde(default)]
    language: Language,
    matrix_id: Option<Spanned<String>>,
    teams: Option<String>,
    teams_user_id: Option<String>,
    entra_oid: Option<String>,
    prefers: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    absences: Vec<RawAbsence>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAbsence {
    from: Spanned<String>,
    to: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannel {
    #[serde(default)]
    description: String,
    matrix_room: Option<Spanned<String>>,
    matrix_webhook: Option<String>,
    teams: Option<String>,
}

fn parse_people(source: SourceFile<'_>, raw: &[RawPerson], errors: &mut Vec<ConfigError>) -> Vec<Person> {
    let mut seen = BTreeSet::new();
    let mut people = Vec::new();
    for (i, person) in raw.iter().enumerate() {
        let key = format!("people[{i}]");
        let id = person.id.get_ref();
        let mut ok = true;
        let mut fail = |span, field: &str, reason: String| {
            errors.push(source.error_at(span, format!("{key}.{field}"), reason));
            ok = false;
        };
        if let Err(reason) = check_id(id) {
            fail(person.id.span(), "id", reason);
        } else if !seen.insert(id.as_str()) {
            fail(person.id.span(), "id", format!("duplicate person id \"{id}\""));
        }
        if !is_email(person.email.get_ref()) {
            fail(
                person.email.span(),
                "email",
                format!("\"{}\" is not an email address", person.email.get_ref()),
            );
        }
        if let Some(matrix_id) = person.matrix_id.as_ref().filter(|m| !is_matrix_user(m.get_ref())) {
            fail(
                matrix_id.span(),
                "matrix_id",
                format!("\"{}\" is not a Matrix user id like @name:server", matrix_id.get_ref()),
            );
        }
        let mut prefers = Vec::new();
        for (span, name) in person
            .prefers
            .iter()
            .flat_map(|p| p.get_ref().iter().map(|n| (p.span(), n)))
        {
            let problem = match Transport::named(name) {
                Some(Transport::Matrix) if person.matrix_id.is_none() => Some("matrix needs a matrix_id".to_owned()),
                Some(Transport::Teams) if person.teams.is_none() => {
                    Some("teams needs the name of the person's Teams webhook in teams".to_owned())
                }
                Some(transport @ (Transport::Email | Transport::Matrix | Transport::Teams)) => {
                    prefers.push(transport);
                    None
                }
                _ => Some(format!("unknown channel \"{name}\"; use email, matrix or teams")),
            };
            if let Some(reason) = problem {
                fail(span, "prefers", reason);
            }
        }
        let mut absences = Vec::new();
        for (j, absence) in person.absences.iter().enumerate() {
            let from = parse_date(absence.from.get_ref());
            let to = parse_date(absence.to.get_ref());
            match (from, to) {
                (Ok(from), Ok(to)) if from <= to => absences.push(Absence { from, to }),
                (Ok(_), Ok(_)) => fail(
                    absence.to.span(),
                    &format!("absences[{j}].to"),
                    "the absence ends before it starts".into(),
                ),
                (Err(reason), _) => fail(absence.from.span(), &format!("absences[{j}].from"), reason),
                (_, Err(reason)) => fail(absence.to.span(), &format!("absences[{j}].to"), reason),
            }
        }
        if ok {
            people.push(Person {
                id: PersonId::checked(id),
                name: person.name.clone(),
                email: person.email.get_ref().clone(),
                language: person.language,
                matrix_id: person.matrix_id.as_ref().map(|m| m.get_ref().clone()),
                teams: person.teams.clone(),
                teams_user_id: person.teams_user_id.clone(),
                entra_oid: person.entra_oid.clone(),
                prefers,
                absences,
            });
        }
    }
    people
}

fn parse_units(
    source: SourceFile<'_>,
    raw: &[RawUnit],
    person_ids: &BTreeSet<&str>,
    errors: &mut Vec<ConfigError>,
) -> Vec<Unit> {
    let kinds: BTreeMap<&str, UnitKind> = raw.iter().map(|u| (u.id.get_ref().as_str(), u.kind)).collect();
    let mut seen = BTreeSet::new();
    let mut units = Vec::new();
    for (i, unit) in raw.iter().enumerate() {
        let key = format!("units[{i}]");
        let id = unit.id.get_ref();
        let errors_before = errors.len();
        let mut fail =
            |span, field: String, reason: String| errors.push(source.error_at(span, format!("{key}{field}"), reason));
        if let Err(reason) = check_id(id) {
            fail(unit.id.span(), ".id".into(), reason);
        } else if !seen.insert(id.as_str()) {
            fail(unit.id.span(), ".id".into(), format!("duplicate unit id \"{id}\""));
        }
        if let Some(parent) = &unit.governed_by {
            match kinds.get(parent.get_ref().as_str()) {
                None => fail(
                    parent.span(),
                    ".governed_by".into(),
                    format!("unknown unit \"{}\"", parent.get_ref()),
                ),
                Some(_) if parent.get_ref() == id => fail(
                    parent.span(),
                    ".governed_by".into(),
                    "a unit cannot govern itself".into(),
                ),
                Some(kind) if !kind.governs() => fail(
                    parent.span(),
                    ".governed_by".into(),
                    format!(
                        "\"{}\" is a {} unit; only kf, ks and namnd units govern others",
                        parent.get_ref(),
                        kind.as_str()
                    ),
                ),
                Some(_) => {}
            }
        }
        if !unit.roles.contains_key(&Role::Manager) {
            fail(
                unit.id.span(),
                ".roles".into(),
                format!("unit \"{id}\" has no manager; add [units.roles.manager]"),
            );
        }
        for (role, assignment) in &unit.roles {
            let field = format!(".roles.{}", role.as_str());
            for (what, reference) in [
                ("person", Some(&assignment.person)),
                ("deputy", assignment.deputy.as_ref()),
            ] {
                if let Some(reference) = reference.filter(|r| !person_ids.contains(r.get_ref().as_str())) {
                    fail(
                        reference.span(),
                        format!("{field}.{what}"),
                        format!("unknown person \"{}\"", reference.get_ref()),
                    );
                }
            }
            if assignment
                .deputy
                .as_ref()
                .is_some_and(|d| d.get_ref() == assignment.person.get_ref())
            {
                fail(
                    assignment.person.span(),
                    format!("{field}.deputy"),
                    "a person cannot be their own deputy".into(),
                );
            }
        }
        if errors.len() == errors_before {
            units.push(Unit {
                id: UnitId::checked(id),
                kind: unit.kind,
                name: unit.name.clone(),
                name_en: unit.name_en.clone().unwrap_or_else(|| unit.name.clone()),
                governed_by: unit.governed_by.as_ref().map(|g| UnitId::checked(g.get_ref())),
                roles: unit
                    .roles
                    .iter()
                    .map(|(role, a)| {
                        let assignment = Assignment {
                            person: PersonId::checked(a.person.get_ref()),
                            deputy: a.deputy.as_ref().map(|d| PersonId::checked(d.get_ref())),
                        };
                        (*role, assignment)
                    })
                    .collect(),
            });
        }
    }
    units
}

fn is_email(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !text.contains(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    }
}

fn is_matrix_user(text: &str) -> bool {
    text.strip_prefix('@')
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(l, s)| !l.is_empty() && !s.is_empty())
}

fn is_matrix_room(text: &str) -> bool {
    text.starts_with('!') || text.strip_prefix('#').is_some_and(|rest| rest.contains(':'))
}

/// A way of sending messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Transport {
    Email,
    Matrix,
    Teams,
    /// The generic signed webhook.
    Webhook,
}

impl Transport {
    /// Every transport, in the order channels are listed.
    pub const ALL: [Self; 4] = [Self::Email, Self::Matrix, Self::Teams, Self::Webhook];

    /// The name used in configuration and on deliveries.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Matrix => "matrix",
            Self::Teams => "teams",
            Self::Webhook => "webhook",
        }
    }

    /// The transport with this name.
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Whether this is a chat tool, whose failed deliveries may fall back to email.
    pub fn is_chat(self) -> bool {
        matches!(self, Self::Matrix | Self::Teams)
    }
}
