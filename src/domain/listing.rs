//! Occurrences rendered for people and programs: a text table, JSON, and iCalendar
//! (RFC 5545) with one all-day VEVENT per deadline and a UID that stays stable across runs.

use std::fmt::Write as _;

use icalendar::{Calendar as IcsCalendar, Component, Event, EventLike};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;

use super::config::{Config, Language, Obligation, Unit};
use super::occurrence::{OccurrenceState, StoredOccurrence};
use super::schedule::Occurrence;

/// A CSV field (RFC 4180) that a spreadsheet shows as typed: quoted when it holds a comma, a
/// quote or a line break, and, unless it is a number, prefixed with `'` when it would start a
/// formula in Excel or LibreOffice (`=`, `+`, `-`, `@`, a tab or a carriage return) — the
/// report's texts are typed by units.
pub fn csv_field(field: &str) -> String {
    let formula = field.starts_with(['=', '+', '-', '@', '\t', '\r']) && field.parse::<f64>().is_err();
    let field = if formula { format!("'{field}") } else { field.to_owned() };
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field
    }
}

/// One occurrence with everything a reader needs to act on it.
#[derive(Debug, Clone, Serialize)]
pub struct Listed<'a> {
    pub obligation: &'a str,
    pub title_sv: &'a str,
    pub title_en: &'a str,
    pub unit: &'a str,
    pub unit_name: &'a str,
    pub period: String,
    /// RFC 3339 with the local offset, e.g. `2027-02-15T16:00:00+01:00`.
    pub due: String,
    pub responsible_role: &'static str,
    /// The person who holds the responsible role, if anyone does.
    pub responsible: Option<Responsible<'a>>,
    pub recurrence: &'static str,
    pub basis: &'a str,
    /// Where a stored occurrence stands (not for deadlines computed from the calendar).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<OccurrenceState>,
    #[serde(skip)]
    due_date: Date,
    /// The deadline as people read it: "måndag 15 februari 2027 kl. 16.00".
    #[serde(skip)]
    due_text: String,
    /// The responsible role's Swedish name: "EU-kontaktperson".
    #[serde(skip)]
    role_name: &'static str,
    /// What the occurrence concerns, in Swedish: "år 2026".
    #[serde(skip)]
    concerns: Option<String>,
}

/// The person responsible for an occurrence.
#[derive(Debug, Clone, Serialize)]
pub struct Responsible<'a> {
    pub person: &'a str,
    pub name: &'a str,
    pub email: &'a str,
}

/// The occurrences with their obligation, unit and responsible person looked up.
pub fn list<'a>(config: &'a Config, occurrences: &[Occurrence]) -> Vec<Listed<'a>> {
    occurrences
        .iter()
        .filter_map(|o| {
            listed(
                config,
                o.obligation.as_str(),
                o.unit.as_str(),
                o.period.to_string(),
                o.due_at,
                None,
            )
        })
        .collect()
}

/// Stored occurrences, looked up the same way, with their state.
pub fn list_stored<'a>(config: &'a Config, occurrences: &[StoredOccurrence]) -> Vec<Listed<'a>> {
    occurrences
        .iter()
        .filter_map(|o| {
            listed(
                config,
                &o.obligation,
                &o.unit,
                o.period.clone(),
                o.due_at,
                Some(o.state),
            )
        })
        .collect()
}

/// One occurrence looked up, if its obligation and unit are in the configuration.
fn listed<'a>(
    config: &'a Config,
    obligation: &str,
    unit: &str,
    period: String,
    due_at: Timestamp,
    state: Option<OccurrenceState>,
) -> Option<Listed<'a>> {
    let obligation: &Obligation = config
        .calendar
        .obligations
        .iter()
        .find(|o| o.id.as_str() == obligation)?;
    let unit: &Unit = config.directory.unit_named(unit)?;
    let local = config.calendar.time_zone.to_offset(due_at);
    let responsible = super::planner::responsible_holder(config, unit, obligation.responsible_role);
    Some(Listed {
        obligation: obligation.id.as_str(),
        title_sv: &obligation.title_sv,
        title_en: &obligation.title_en,
        unit: unit.id.as_str(),
        unit_name: &unit.name,
        due: due_at.display_with_offset(local).to_string(),
        responsible_role: obligation.responsible_role.as_str(),
        responsible: responsible.map(|p| Responsible {
            person: p.id.as_str(),
            name: &p.name,
            email: &p.email,
        }),
        recurrence: obligation.recurrence.as_str(),
        basis: &obligation.basis,
        state,
        due_date: config.local_date(due_at),
        due_text: super::messages::long_date(config, due_at, Language::Sv),
        role_name: super::messages::role_name(obligation.responsible_role, Language::Sv),
        concerns: super::messages::concerns(&period, None, true),
        period,
    })
}

/// A plain-text table, one line per occurrence.
pub fn table(listed: &[Listed<'_>]) -> String {
    let rows = listed.iter().map(|l| {
        vec![
            l.due_date.to_string(),
            l.obligation.to_owned(),
            l.unit.to_owned(),
            l.period.clone(),
            l.responsible_role.to_owned(),
            l.responsible
                .as_ref()
                .map_or_else(|| "(nobody)".to_owned(), |r| r.name.to_owned()),
        ]
    });
    text_table(&["DUE", "OBLIGATION", "UNIT", "PERIOD", "ROLE", "RESPONSIBLE"], rows)
}

/// Columns padded to their widest cell, two spaces apart, under a header line.
pub fn text_table(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = std::iter::once(header.iter().map(|h| (*h).to_owned()).collect())
        .chain(rows)
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or_default()
        })
        .collect();
    let mut out = String::new();
    for cells in rows {
        let line: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    out
}

/// An iCalendar feed named `name` with one all-day event per occurrence. `stamp` is the DTSTAMP
/// of every event: the time the feed was produced.
pub fn ics(name: &str, listed: &[Listed<'_>], stamp: Timestamp) -> String {
    let stamp = chrono::DateTime::from_timestamp(stamp.as_second(), 0).unwrap_or_default();
    let mut calendar = IcsCalendar::empty();
    calendar
        .append_property(("VERSION", "2.0"))
        .append_property(("PRODID", "-//arshjul//governance calendar//SV"))
        .append_property(("CALSCALE", "GREGORIAN"))
        .append_property(("METHOD", "PUBLISH"))
        .name(name);
    for l in listed {
        let Some(start) = chrono::NaiveDate::from_ymd_opt(
            i32::from(l.due_date.year()),
            l.due_date.month().unsigned_abs().into(),
            l.due_date.day().unsigned_abs().into(),
        ) else {
            continue;
        };
        let mut description = format!("{} ({})\n\nAnsvarig: {}", l.title_sv, l.title_en, l.role_name);
        if let Some(r) = &l.responsible {
            let _ = write!(description, " {} <{}>", r.name, r.email);
        }
        if let Some(concerns) = &l.concerns {
            let _ = write!(description, "\nAvser: {concerns}");
        }
        let _ = write!(description, "\nSista dag: {}", l.due_text);
        if let Some(state) = l.state {
            let _ = write!(description, "\nStatus: {}", state.label(Language::Sv));
        }
        let _ = write!(description, "\n\nUr riktlinjerna: {}", l.basis);
        calendar.push(
            Event::new()
                .uid(&format!("{}.{}.{}@arshjul", l.obligation, l.unit, l.period))
                .timestamp(stamp)
                .summary(&match &l.concerns {
                    Some(concerns) => format!("{} – {} ({concerns})", l.title_sv, l.unit_name),
                    None => format!("{} – {}", l.title_sv, l.unit_name),
                })
                .description(&description)
                .starts(start)
                .ends(start + chrono::Days::new(1))
                .done(),
        );
    }
    calendar.done().to_string()
}
