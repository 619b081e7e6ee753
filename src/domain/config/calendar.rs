//! The calendar (`config/calendar.toml`): every obligation the guideline creates, with its
//! recurrence and due rule. Parsed once into typed values.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use serde::Deserialize;
use toml::Spanned;

use super::directory::{Role, UnitKind};
use super::errors::{ConfigError, ConfigErrors, SourceFile};
use super::{check_id, parse_date};
use crate::domain::business_days::{Eve, NonBusinessDayRule, Workdays};
use crate::domain::followup::{Choices, Goal};
use crate::domain::policy::{Policy, RawPolicy, RawSendWindow, SendWindow};

/// The id of an obligation, e.g. `uppfoljning`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct ObligationId(String);

impl ObligationId {
    /// The id as written in the configuration.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ObligationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How often an obligation comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Recurrence {
    /// Once a year; the period is the year the work concerns.
    Yearly,
    /// Once per mandate period of the council.
    MandatePeriod,
    /// A single time.
    Once,
    /// For each EU funding call a unit applies to; created when the unit says it applies.
    PerCall,
    /// For each project granted to a unit; created when the strategist records the grant.
    PerProject,
    /// Whenever KLK starts one ("vid behov"), from the command line or the dashboard.
    OnDemand,
}

impl Recurrence {
    /// The name used in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Yearly => "yearly",
            Self::MandatePeriod => "mandate_period",
            Self::Once => "once",
            Self::PerCall => "per_call",
            Self::PerProject => "per_project",
            Self::OnDemand => "on_demand",
        }
    }
}

/// When an obligation falls due within its period, before moving off non-business days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DueRule {
    /// A day of the year, in the period's year (yearly) or election year (mandate period)
    /// plus `year_offset`.
    DayOfYear { month: i8, day: i8, year_offset: i16 },
    /// A fixed date (for obligations that occur once).
    On(Date),
    /// A number of business days after (positive) or before (negative) another obligation's
    /// due date in the same period.
    Relative {
        obligation: ObligationId,
        business_days: i32,
    },
    /// A number of business days before the deadline of the EU funding call (per-call
    /// obligations only).
    BeforeCallDeadline { business_days: u16 },
    /// A number of months after the grant (per-project obligations) or the start (on-demand
    /// ones), unless the grant or the start gives the date.
    MonthsAfterStart { months: u8 },
    /// At a body's meeting: `before` business days ahead of the first meeting of `body`
    /// (the agenda deadline, or the meeting itself when 0) that comes at least `after`
    /// business days after `obligation`'s due date in the same period.
    Meeting {
        body: String,
        obligation: ObligationId,
        after: u16,
        before: u16,
    },
}

/// Something the guideline requires, of one role in every unit of some kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Obligation {
    pub id: ObligationId,
    pub title_sv: String,
    pub title_en: String,
    pub responsible_role: Role,
    pub unit_kinds: Vec<UnitKind>,
    pub recurrence: Recurrence,
    pub due: DueRule,
    pub move_due: NonBusinessDayRule,
    /// The sentence of the guideline the obligation comes from.
    pub basis: String,
    /// When its reminders go out.
    pub policy: Policy,
}

/// The governance calendar: obligations and the local time rules they are due by.
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    /// IANA name of the time zone, e.g. `Europe/Stockholm`.
    pub time_zone_name: String,
    pub time_zone: TimeZone,
    /// The local time of day at which a due date ends.
    pub due_time: Time,
    /// The earlier time a due date ends on the eves with shortened hours, if set.
    pub half_days: Option<HalfDays>,
    /// The business days: Sweden's, less the municipality's own extra days off.
    pub workdays: Workdays,
    /// When messages may go out.
    pub send_window: SendWindow,
    /// When nothing is sent at all (summer staffing, Christmas).
    pub quiet_periods: Vec<QuietPeriod>,
    /// The bodies' meeting plans (sammanträdesplaner): each body's (unit id's) meeting days,
    /// in order.
    pub meetings: BTreeMap<String, Vec<Date>>,
    /// The goals and priority areas the follow-up form offers.
    pub followup: Choices,
    pub obligations: Vec<Obligation>,
}

/// The eves on which offices close early, and when a deadline on one ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HalfDays {
    pub due_time: Time,
    pub eves: Vec<Eve>,
}

/// A stretch of every year in which nothing is sent; what falls inside waits for the first
/// business day after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuietPeriod {
    /// ISO weeks `first..=last`.
    Weeks { first: i8, last: i8 },
    /// From one day of the year to another, both included; it may run over the new year.
    Days { from: (i8, i8), to: (i8, i8) },
}

impl QuietPeriod {
    /// Whether `date` lies inside.
    pub fn contains(self, date: Date) -> bool {
        match self {
            Self::Weeks { first, last } => (first..=last).contains(&date.iso_week_date().week()),
            Self::Days { from, to } => {
                let day = (date.month(), date.day());
                if from <= to {
                    from <= day && day <= to
                } else {
                    from <= day || day <= to
                }
            }
        }
    }
}

/// The furthest a yearly or mandate-period due date may lie from its base year.
const MAX_YEAR_OFFSET: i16 = 4;
/// The most business days a relative due rule may count (about a working year).
const MAX_BUSINESS_DAYS: u16 = 250;

impl Calendar {
    /// The local time a deadline on `date` ends: earlier on a half day.
    pub fn due_time_on(&self, date: Date) -> Time {
        match &self.half_days {
            Some(half) if half.eves.iter().any(|eve| eve.is(date)) => half.due_time,
            _ => self.due_time,
        }
    }

    /// Whether `date` lies in a quiet period.
    pub fn is_quiet(&self, date: Date) -> bool {
        self.quiet_periods.iter().any(|period| period.contains(date))
    }

    /// The obligation with this id.
    pub fn obligation(&self, id: &ObligationId) -> Option<&Obligation> {
        self.obligations.iter().find(|o| &o.id == id)
    }

    /// Parses and validates `config/calendar.toml`, reporting every error found.
    pub fn parse(source: SourceFile<'_>) -> Result<Self, ConfigErrors> {
        let raw: RawCalendar = toml::from_str(source.text).map_err(|e| ConfigErrors(vec![source.toml_error(&e)]))?;
        let mut errors = Vec::new();
        let time_zone = match &raw.time_zone {
            Some(name) => TimeZone::get(name.get_ref())
                .map_err(|_| {
                    let reason = format!(
                        "unknown time zone \"{}\"; use an IANA name such as Europe/Stockholm",
                        name.get_ref()
                    );
                    errors.push(source.error_at(name.span(), "time_zone", reason));
                })
                .ok(),
            None => TimeZone::get(DEFAULT_TIME_ZONE).ok(),
        };
        let due_time = match &raw.due_time {
            Some(text) => text
                .get_ref()
                .parse::<Time>()
                .map_err(|_| {
                    let reason = format!("\"{}\" is not a time of day like 16:00", text.get_ref());
                    errors.push(source.error_at(text.span(), "due_time", reason));
                })
                .ok(),
            None => Some(Time::constant(16, 0, 0, 0)),
        };
        let move_due = raw.move_due.unwrap_or(NonBusinessDayRule::Previous);
        let default_policy = match &raw.reminders {
            Some(policy) => policy.get_ref().over(&Policy::default()).unwrap_or_else(|reason| {
                errors.push(source.error_at(policy.span(), "reminders", reason));
                Policy::default()
            }),
            None => Policy::default(),
        };
        let send_window = match &raw.send_window {
            Some(window) => window.get_ref().parse().unwrap_or_else(|reason| {
                errors.push(source.error_at(window.span(), "send_window", reason));
                SendWindow::default()
            }),
            None => SendWindow::default(),
        };
        let quiet_periods = raw
            .quiet_periods
            .iter()
            .enumerate()
            .filter_map(|(i, period)| {
                period
                    .get_ref()
                    .parse()
                    .map_err(|reason| {
                        errors.push(source.error_at(period.span(), format!("quiet_periods[{i}]"), reason))
                    })
                    .ok()
            })
            .collect::<Vec<QuietPeriod>>();
        // A year of 2027's shape: if no day of it is outside the periods, nothing is ever sent.
        let year = std::iter::successors(Some(Date::constant(2027, 1, 1)), |d| d.tomorrow().ok())
            .take_while(|d| d.year() == 2027);
        if let Some(first) = raw.quiet_periods.first()
            && year
                .into_iter()
                .all(|day| quiet_periods.iter().any(|p| p.contains(day)))
        {
            errors.push(source.error_at(
                first.span(),
                "quiet_periods",
                "the quiet periods cover the whole year: nothing would ever be sent",
            ));
        }
        let recurrences: BTreeMap<&str, Recurrence> = raw
            .obligations
            .iter()
            .map(|o| (o.id.get_ref().as_str(), o.recurrence))
            .collect();
        let meetings = parse_meetings(source, &raw.meetings, &mut errors);
        let extra_days_off = raw
            .extra_days_off
            .iter()
            .filter_map(|day| {
                parse_date(day.get_ref())
                    .map_err(|reason| errors.push(source.error_at(day.span(), "extra_days_off", reason)))
                    .ok()
            })
            .collect();
        let half_days = raw.half_days.as_ref().and_then(|half| {
            let raw_half = half.get_ref();
            let due_time = raw_half.due_time.parse::<Time>().map_err(|_| {
                let reason = format!("\"{}\" is not a time of day like 12:00", raw_half.due_time);
                errors.push(source.error_at(half.span(), "half_days.due_time", reason));
            });
            Some(HalfDays {
                due_time: due_time.ok()?,
                eves: raw_half.eves.clone().unwrap_or_else(|| Eve::ALL.to_vec()),
            })
        });
        let followup = raw.followup.as_ref().map_or_else(
            || Ok(Choices::default()),
            |choices| {
                choices.get_ref().checked().map_err(|reason| {
                    errors.push(source.error_at(choices.span(), "followup", reason));
                })
            },
        );
        let mut seen = BTreeSet::new();
        let mut obligations = Vec::new();
        for (i, raw) in raw.obligations.iter().enumerate() {
            let key = format!("obligations[{i}]");
            let id = raw.id.get_ref();
            let errors_before = errors.len();
            if let Err(reason) = check_id(id) {
                errors.push(source.error_at(raw.id.span(), format!("{key}.id"), reason));
            } else if !seen.insert(id.as_str()) {
                errors.push(source.error_at(
                    raw.id.span(),
                    format!("{key}.id"),
                    format!("duplicate obligation id \"{id}\""),
                ));
            }
            for (field, text) in [
                ("title_sv", &raw.title_sv),
                ("title_en", &raw.title_en),
                ("basis", &raw.basis),
            ] {
                if text.get_ref().trim().is_empty() {
                    errors.push(source.error_at(text.span(), format!("{key}.{field}"), "must not be empty"));
                }
            }
            if *raw.responsible_role.get_ref() == Role::Chair {
                errors.push(source.error_at(
                    raw.responsible_role.span(),
                    format!("{key}.responsible_role"),
                    "a chair decides at a meeting and is never reminded; give the obligation to the official \
                     who prepares it (secretary or manager)",
                ));
            }
            if raw.unit_kinds.get_ref().is_empty() {
                errors.push(source.error_at(
                    raw.unit_kinds.span(),
                    format!("{key}.unit_kinds"),
                    "name at least one unit kind",
                ));
            }
            let due = parse_due(&raw.due, raw.recurrence, &recurrences, &meetings)
                .map_err(|reason| errors.push(source.error_at(raw.due.span(), format!("{key}.due"), reason)));
            let policy = match &raw.reminders {
                Some(policy) => policy.get_ref().over(&default_policy).map_err(|reason| {
                    errors.push(source.error_at(policy.span(), format!("{key}.reminders"), reason));
                }),
                None => Ok(default_policy.clone()),
            };
            if let (Ok(due), Ok(policy), true) = (due, policy, errors.len() == errors_before) {
                obligations.push(Obligation {
                    id: ObligationId(id.clone()),
                    title_sv: raw.title_sv.get_ref().trim().to_owned(),
                    title_en: raw.title_en.get_ref().trim().to_owned(),
                    responsible_role: *raw.responsible_role.get_ref(),
                    unit_kinds: raw.unit_kinds.get_ref().clone(),
                    recurrence: raw.recurrence,
                    due,
                    move_due: raw.move_due.unwrap_or(move_due),
                    basis: raw.basis.get_ref().split_whitespace().collect::<Vec<_>>().join(" "),
                    policy,
                });
            }
        }
        errors.extend(find_cycles(source, &raw.obligations));
        match (time_zone, due_time, followup) {
            (Some(time_zone), Some(due_time), Ok(followup)) if errors.is_empty() => Ok(Self {
                time_zone_name: raw
                    .time_zone
                    .map_or_else(|| DEFAULT_TIME_ZONE.to_owned(), Spanned::into_inner),
                time_zone,
                due_time,
                half_days,
                workdays: Workdays::new(extra_days_off),
                send_window,
                quiet_periods,
                meetings,
                followup,
                obligations,
            }),
            _ => Err(ConfigErrors(errors)),
        }
    }
}

const DEFAULT_TIME_ZONE: &str = "Europe/Stockholm";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    time_zone: Option<Spanned<String>>,
    due_time: Option<Spanned<String>>,
    move_due: Option<NonBusinessDayRule>,
    reminders: Option<Spanned<RawPolicy>>,
    send_window: Option<Spanned<RawSendWindow>>,
    #[serde(default)]
    quiet_periods: Vec<Spanned<RawQuietPeriod>>,
    #[serde(default)]
    meetings: BTreeMap<String, Spanned<Vec<String>>>,
    followup: Option<Spanned<RawChoices>>,
    #[serde(default)]
    extra_days_off: Vec<Spanned<String>>,
    half_days: Option<Spanned<RawHalfDays>>,
    #[serde(default)]
    obligations: Vec<RawObligation>,
}

/// `half_days = { due_time = "12:00", eves = [...] }`; every eve when `eves` is left out.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHalfDays {
    due_time: String,
    eves: Option<Vec<Eve>>,
}

/// `[followup]`: the goals and priority areas the follow-up form offers.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawChoices {
    #[serde(default)]
    goals: Vec<Goal>,
    #[serde(default)]
    priority_areas: Vec<String>,
}

impl RawChoices {
    /// The choices, or why not: a blank or repeated name.
    fn checked(&self) -> Result<Choices, String> {
        let mut seen = BTreeSet::new();
        let names = self
            .goals
            .iter()
            .map(|g| g.name.as_str())
            .chain(self.priority_areas.iter().map(String::as_str));
        for name in names {
            if name.trim().is_empty() {
                return Err("a goal or priority area has no name".into());
            }
            if !seen.insert(name.trim()) {
                return Err(format!("\"{name}\" is listed twice"));
            }
        }
        let trimmed = |name: &str| name.trim().to_owned();
        Ok(Choices {
            goals: self
                .goals
                .iter()
                .map(|g| Goal {
                    name: trimmed(&g.name),
                    ..g.clone()
                })
                .collect(),
            priority_areas: self.priority_areas.iter().map(|a| trimmed(a)).collect(),
        })
    }
}

/// `{ weeks = [28, 31] }` or `{ from = "12-27", to = "12-31" }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuietPeriod {
    weeks: Option<[i8; 2]>,
    from: Option<String>,
    to: Option<String>,
}

impl RawQuietPeriod {
    fn parse(&self) -> Result<QuietPeriod, String> {
        match (self.weeks, &self.from, &self.to) {
            (Some([first, last]), None, None) => {
                if !(1..=53).contains(&first) || !(first..=53).contains(&last) {
                    return Err(format!(
                        "weeks = [{first}, {last}]: give the first and last ISO week, 1 to 53, first not after last"
                    ));
                }
                Ok(QuietPeriod::Weeks { first, last })
            }
            (None, Some(from), Some(to)) => Ok(QuietPeriod::Days {
                from: parse_month_day(from)?,
                to: parse_month_day(to)?,
            }),
            _ => {
                Err("write a quiet period as { weeks = [FIRST, LAST] } or { from = \"MM-DD\", to = \"MM-DD\" }".into())
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawObligation {
    id: Spanned<String>,
    title_sv: Spanned<String>,
    title_en: Spanned<String>,
    responsible_role: Spanned<Role>,
    unit_kinds: Spanned<Vec<UnitKind>>,
    recurrence: Recurrence,
    due: Spanned<RawDue>,
    move_due: Option<NonBusinessDayRule>,
    basis: Spanned<String>,
    reminders: Option<Spanned<RawPolicy>>,
}

#[derive(Deserialize, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct RawDue {
    date: Option<String>,
    year_offset: Option<i16>,
    on: Option<String>,
    business_days_before: Option<u16>,
    business_days_after: Option<u16>,
    obligation: Option<String>,
    business_days_before_call: Option<u16>,
    meeting: Option<String>,
    months_after_grant: Option<u8>,
    months_after_start: Option<u8>,
}

const DUE_FORMS: &str = "write due as { date = \"MM-DD\", year_offset = N }, { on = \"YYYY-MM-DD\" }, \
     or { business_days_before = N, obligation = \"ID\" } / { business_days_after = N, obligation = \"ID\" }, \
     or { meeting = \"BODY\", obligation = \"ID\" } (optionally with business_days_after/_before), \
     or for recurrence = \"per_call\" { business_days_before_call = N }, \
     or for recurrence = \"per_project\" { months_after_grant = N }, \
     or for recurrence = \"on_demand\" { months_after_start = N }";

/// The most months after a grant or a start an item may fall due (a long EU project).
const MAX_MONTHS_AFTER_START: u8 = 84;

fn parse_due(
    raw: &Spanned<RawDue>,
    recurrence: Recurrence,
    recurrences: &BTreeMap<&str, Recurrence>,
    meetings: &BTreeMap<String, Vec<Date>>,
) -> Result<DueRule, String> {
    let raw = raw.get_ref();
    if let Some(rule) = parse_months_after_start(raw, recurrence) {
        return rule;
    }
    if let Some(body) = &raw.meeting {
        return parse_meeting_due(raw, body, recurrence, recurrences, meetings);
    }
    if recurrence == Recurrence::PerCall || raw.business_days_before_call.is_some() {
        return match (raw.business_days_before_call, recurrence) {
            (Some(days), Recurrence::PerCall)
                if *raw
                    == (RawDue {
                        business_days_before_call: Some(days),
                        ..RawDue::default()
                    }) =>
            {
                if days > MAX_BUSINESS_DAYS {
                    return Err(format!("at most {MAX_BUSINESS_DAYS} business days"));
                }
                Ok(DueRule::BeforeCallDeadline { business_days: days })
            }
            (Some(_), Recurrence::PerCall) => {
                Err("give only business_days_before_call for a per-call obligation".into())
            }
            (None, _) => Err("a per-call obligation is due { business_days_before_call = N }".into()),
            (Some(_), _) => Err("business_days_before_call suits only recurrence = \"per_call\"".into()),
        };
    }
    let relative = match (raw.business_days_before, raw.business_days_after) {
        (Some(days), None) => Some(-i32::from(days)),
        (None, Some(days)) => Some(i32::from(days)),
        (None, None) => None,
        (Some(_), Some(_)) => return Err("give business_days_before or business_days_after, not both".into()),
    };
    match (&raw.date, &raw.on, relative, &raw.obligation) {
        (Some(date), None, None, None) => {
            if recurrence == Recurrence::Once {
                return Err("an obligation that occurs once needs a full date: { on = \"YYYY-MM-DD\" }".into());
            }
            let (month, day) = parse_month_day(date)?;
            let year_offset = raw.year_offset.unwrap_or(0);
            if year_offset.abs() > MAX_YEAR_OFFSET {
                return Err(format!(
                    "year_offset {year_offset} is out of range -{MAX_YEAR_OFFSET}..={MAX_YEAR_OFFSET}"
                ));
            }
            Ok(DueRule::DayOfYear {
                month,
                day,
                year_offset,
            })
        }
        (None, Some(on), None, None) if raw.year_offset.is_none() => {
            if recurrence != Recurrence::Once {
                let hint = "a fixed date suits only recurrence = \"once\"; use { date = \"MM-DD\" } for a recurring obligation";
                return Err(hint.into());
            }
            parse_date(on).map(DueRule::On)
        }
        (None, None, Some(business_days), Some(other)) if raw.year_offset.is_none() => {
            if business_days.unsigned_abs() > u32::from(MAX_BUSINESS_DAYS) {
                return Err(format!("at most {MAX_BUSINESS_DAYS} business days"));
            }
            Ok(DueRule::Relative {
                obligation: anchor(other, recurrence, recurrences)?,
                business_days,
            })
        }
        (None, None, Some(_), None) => Err("a business-day rule needs obligation = \"ID\" to count from".into()),
        _ => Err(DUE_FORMS.into()),
    }
}

/// The due rule of a per-project or on-demand obligation, `{ months_after_grant = N }` or
/// `{ months_after_start = N }`; `None` for other obligations.
fn parse_months_after_start(raw: &RawDue, recurrence: Recurrence) -> Option<Result<DueRule, String>> {
    // Each key, the recurrence it belongs to, and what an obligation of that recurrence is called.
    let keys = [
        (
            "months_after_grant",
            raw.months_after_grant,
            Recurrence::PerProject,
            "a per-project",
        ),
        (
            "months_after_start",
            raw.months_after_start,
            Recurrence::OnDemand,
            "an on-demand",
        ),
    ];
    if let Some((key, _, suits, _)) = keys
        .iter()
        .find(|(_, months, suits, _)| months.is_some() && *suits != recurrence)
    {
        return Some(Err(format!("{key} suits only recurrence = \"{}\"", suits.as_str())));
    }
    let (key, months, _, kind) = keys.into_iter().find(|(_, _, suits, _)| *suits == recurrence)?;
    let alone = RawDue {
        months_after_grant: raw.months_after_grant,
        months_after_start: raw.months_after_start,
        ..RawDue::default()
    };
    Some(match months {
        Some(months) if *raw == alone => {
            if (1..=MAX_MONTHS_AFTER_START).contains(&months) {
                Ok(DueRule::MonthsAfterStart { months })
            } else {
                Err(format!("{key} is 1 to {MAX_MONTHS_AFTER_START}"))
            }
        }
        Some(_) => Err(format!("give only {key} for {kind} obligation")),
        None => Err(format!("{kind} obligation is due {{ {key} = N }}")),
    })
}

/// The obligation a relative due rule counts from, which must recur as this one does.
fn anchor(
    other: &str,
    recurrence: Recurrence,
    recurrences: &BTreeMap<&str, Recurrence>,
) -> Result<ObligationId, String> {
    match recurrences.get(other) {
        None => Err(format!("due rule refers to unknown obligation \"{other}\"")),
        Some(theirs) if *theirs != recurrence => Err(format!(
            "due rule refers to \"{other}\", which recurs {}, but this obligation recurs {}",
            theirs.as_str(),
            recurrence.as_str()
        )),
        Some(_) => Ok(ObligationId(other.to_owned())),
    }
}

/// `{ meeting = "BODY", obligation = "ID", business_days_after = N, business_days_before = M }`.
fn parse_meeting_due(
    raw: &RawDue,
    body: &str,
    recurrence: Recurrence,
    recurrences: &BTreeMap<&str, Recurrence>,
    meetings: &BTreeMap<String, Vec<Date>>,
) -> Result<DueRule, String> {
    let only_meeting_keys =
        raw.date.is_none() && raw.on.is_none() && raw.year_offset.is_none() && raw.business_days_before_call.is_none();
    let (Some(other), true) = (&raw.obligation, only_meeting_keys) else {
        return Err(
            "a meeting rule is { meeting = \"BODY\", obligation = \"ID\" }, optionally with \
                    business_days_after = N (after the obligation) and business_days_before = N (before the meeting)"
                .into(),
        );
    };
    if !meetings.contains_key(body) {
        return Err(format!(
            "no meetings of \"{body}\" are listed; add {body} = [\"YYYY-MM-DD\", …] under [meetings]"
        ));
    }
    let (after, before) = (
        raw.business_days_after.unwrap_or(0),
        raw.business_days_before.unwrap_or(0),
    );
    if after.max(before) > MAX_BUSINESS_DAYS {
        return Err(format!("at most {MAX_BUSINESS_DAYS} business days"));
    }
    Ok(DueRule::Meeting {
        body: body.to_owned(),
        obligation: anchor(other, recurrence, recurrences)?,
        after,
        before,
    })
}

/// `[meetings]`: each body's meeting days as dates, sorted, or errors naming the key.
fn parse_meetings(
    source: SourceFile<'_>,
    raw: &BTreeMap<String, Spanned<Vec<String>>>,
    errors: &mut Vec<ConfigError>,
) -> BTreeMap<String, Vec<Date>> {
    raw.iter()
        .map(|(body, days)| {
            let mut dates: Vec<Date> = days
                .get_ref()
                .iter()
                .filter_map(|day| {
                    parse_date(day)
                        .map_err(|reason| errors.push(source.error_at(days.span(), format!("meetings.{body}"), reason)))
                        .ok()
                })
                .collect();
            dates.sort_unstable();
            dates.dedup();
            (body.clone(), dates)
        })
        .collect()
}

fn parse_month_day(text: &str) -> Result<(i8, i8), String> {
    let invalid = || format!("\"{text}\" is not a day of the year like 02-15 (MM-DD)");
    let (month, day) = text.split_once('-').ok_or_else(invalid)?;
    let (month, day) = (
        month.parse::<i8>().map_err(|_| invalid())?,
        day.parse::<i8>().map_err(|_| invalid())?,
    );
    if (month, day) == (2, 29) {
        return Err("02-29 does not exist every year; use 02-28 or 03-01".into());
    }
    // 2027 is not a leap year, so every valid MM-DD other than 02-29 exists in it.
    Date::new(2027, month, day).map_err(|_| invalid())?;
    Ok((month, day))
}

/// Cycles among relative due rules, each reported once at the obligation where it is first met.
fn find_cycles(source: SourceFile<'_>, obligations: &[RawObligation]) -> Vec<ConfigError> {
    let refers_to: BTreeMap<&str, &str> = obligations
        .iter()
        .filter_map(|o| {
            o.due
                .get_ref()
                .obligation
                .as_deref()
                .map(|to| (o.id.get_ref().as_str(), to))
        })
        .collect();
    let mut reported: BTreeSet<&str> = BTreeSet::new();
    let mut errors = Vec::new();
    for (i, obligation) in obligations.iter().enumerate() {
        let start = obligation.id.get_ref().as_str();
        let mut path = vec![start];
        let mut current = start;
        while let Some(&next) = refers_to.get(current) {
            if let Some(at) = path.iter().position(|p| *p == next) {
                let cycle = &path[at..];
                if cycle.contains(&start) && cycle.iter().all(|id| !reported.contains(id)) {
                    reported.extend(cycle.iter().copied());
                    let shown = cycle.iter().chain([&next]).copied().collect::<Vec<_>>().join(" → ");
                    errors.push(source.error_at(
                        obligation.due.span(),
                        format!("obligations[{i}].due"),
                        format!("due rules form a cycle: {shown}"),
                    ));
                }
                break;
            }
            path.push(next);
            current = next;
        }
    }
    errors
}
