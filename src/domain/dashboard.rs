//! What the dashboard shows of a year: the årshjul (a wheel of twelve months with the due
//! dates on it, coloured by state) and the matrix of units × obligations. Pure: the geometry
//! and the grouping; the HTTP adapter renders it.

use std::collections::{BTreeMap, HashMap};
use std::f64::consts::{FRAC_PI_2, TAU};

use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;

use super::config::{Config, Language};
use super::messages::{title, unit_name};
use super::occurrence::{OccurrenceState, StoredOccurrence};

/// Where an occurrence stands as the dashboard shows it: an open one past its due date is
/// overdue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    // In order of concern: the worst first.
    Overdue,
    Open,
    Submitted,
    Acknowledged,
    Waived,
}

impl Status {
    /// `occurrence`'s status at `now`.
    pub fn of(occurrence: &StoredOccurrence, now: Timestamp) -> Self {
        match occurrence.state {
            OccurrenceState::Open if occurrence.due_at < now => Self::Overdue,
            OccurrenceState::Open => Self::Open,
            OccurrenceState::Submitted => Self::Submitted,
            OccurrenceState::Acknowledged => Self::Acknowledged,
            OccurrenceState::Waived => Self::Waived,
        }
    }

    /// Every status, in order of concern.
    pub const ALL: [Self; 5] = [
        Self::Overdue,
        Self::Open,
        Self::Submitted,
        Self::Acknowledged,
        Self::Waived,
    ];

    /// The name used in CSS classes and filters.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Overdue => "overdue",
            Self::Open => "open",
            Self::Submitted => "submitted",
            Self::Acknowledged => "acknowledged",
            Self::Waived => "waived",
        }
    }

    /// In words, in `language`.
    pub fn label(self, language: Language) -> &'static str {
        match self {
            Self::Overdue if language == Language::Sv => "försenat",
            Self::Overdue => "overdue",
            Self::Open => OccurrenceState::Open.label(language),
            Self::Submitted => OccurrenceState::Submitted.label(language),
            Self::Acknowledged => OccurrenceState::Acknowledged.label(language),
            Self::Waived => OccurrenceState::Waived.label(language),
        }
    }
}

/// The last thing someone did to an occurrence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastAction {
    pub person: String,
    pub action: String,
    pub at: Timestamp,
}

/// The occurrences of `year` (by due date, in the calendar's time zone) that are still
/// configured, in due-date order.
pub fn of_year<'a>(config: &Config, occurrences: &'a [StoredOccurrence], year: i16) -> Vec<&'a StoredOccurrence> {
    occurrences
        .iter()
        .filter(|o| o.configured && config.local_date(o.due_at).year() == year)
        .collect()
}

/// The radius of the wheel's rim; the SVG's view box is centred on 0,0.
pub const RADIUS: f64 = 150.0;

/// A month's sector on the wheel: the line where it starts and where its name goes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Month {
    pub name: &'static str,
    pub start: (f64, f64),
    pub label: (f64, f64),
}

/// One obligation's due date on the wheel, for every unit it falls on that day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mark {
    pub x: f64,
    pub y: f64,
    pub r: f64,
    /// The most worrying status among its occurrences.
    pub status: Status,
    /// Its text for screen readers and the tooltip: what, when, and how many in each state.
    pub label: String,
    /// The obligation, for the link to the matrix.
    pub obligation: String,
}

/// The wheel of one year.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Wheel {
    pub months: Vec<Month>,
    pub marks: Vec<Mark>,
    /// Where today is on the wheel, when it is this year.
    pub today: Option<(f64, f64)>,
}

const MONTHS_SV: [&str; 12] = [
    "jan", "feb", "mar", "apr", "maj", "jun", "jul", "aug", "sep", "okt", "nov", "dec",
];
const MONTHS_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The point at `radius` for `date` on the wheel of its year: January at the top, clockwise.
fn point(date: Date, radius: f64) -> (f64, f64) {
    let turn = f64::from(date.day_of_year() - 1) / f64::from(date.days_in_year());
    let angle = turn * TAU - FRAC_PI_2;
    (round(radius * angle.cos()), round(radius * angle.sin()))
}

fn round(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// The wheel of `year` with `occurrences` (those of the year) on it, as of `now`.
pub fn wheel(
    config: &Config,
    occurrences: &[&StoredOccurrence],
    year: i16,
    now: Timestamp,
    language: Language,
) -> Wheel {
    let names = if language == Language::Sv { MONTHS_SV } else { MONTHS_EN };
    let months = (1..=12i8)
        .zip(names)
        .map(|(month, name)| {
            let first = Date::new(year, month, 1).unwrap_or_default();
            let middle = Date::new(year, month, 15).unwrap_or_default();
            Month {
                name,
                start: point(first, RADIUS),
                label: point(middle, RADIUS + 22.0),
            }
        })
        .collect();
    // Each obligation has its own ring, so that marks of different obligations on the same
    // day do not cover each other.
    let rings: Vec<&str> = config.calendar.obligations.iter().map(|o| o.id.as_str()).collect();
    let mut groups: BTreeMap<(Date, usize), Vec<&StoredOccurrence>> = BTreeMap::new();
    for occurrence in occurrences {
        let ring = rings.iter().position(|id| *id == occurrence.obligation).unwrap_or(0);
        groups
            .entry((config.local_date(occurrence.due_at), ring))
            .or_default()
            .push(occurrence);
    }
    let marks = groups
        .into_iter()
        .map(|((date, ring), group)| {
            let radius = 40.0 + (RADIUS - 50.0) * (ring as f64 + 0.5) / rings.len().max(1) as f64;
            let (x, y) = point(date, radius);
            let mut counts: BTreeMap<Status, usize> = BTreeMap::new();
            for occurrence in &group {
                *counts.entry(Status::of(occurrence, now)).or_default() += 1;
            }
            let tally: Vec<String> = counts
                .iter()
                .map(|(status, n)| format!("{n} {}", status.label(language)))
                .collect();
            Mark {
                x,
                y,
                r: (3.0 + (group.len() as f64).sqrt()).min(9.0),
                status: counts.keys().next().copied().unwrap_or(Status::Open),
                label: format!("{} – {date}: {}", title(config, group[0], language), tally.join(", ")),
                obligation: group[0].obligation.clone(),
            }
        })
        .collect();
    let today = config.local_date(now);
    Wheel {
        months,
        marks,
        today: (today.year() == year).then(|| point(today, RADIUS)),
    }
}

/// One occurrence in a cell of the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CellEntry {
    pub id: i64,
    pub status: Status,
    pub status_label: &'static str,
    pub due: Date,
    /// Who acted last, and when (a local date and time).
    pub acted: Option<String>,
    /// The diarienummer the submission was registered under.
    pub diarienummer: Option<String>,
}

/// A unit's row of the matrix: one cell per column, each with the unit's occurrences of
/// that obligation in the year (usually one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub unit: String,
    pub name: String,
    pub cells: Vec<Vec<CellEntry>>,
}

/// A column of the matrix: an obligation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    pub obligation: String,
    pub title: String,
}

/// Units × obligations of a year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Matrix {
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
}

/// The matrix of `occurrences` (those of the year, already filtered to what the viewer may
/// see), with the last action on each from `acted`.
pub fn matrix(
    config: &Config,
    occurrences: &[&StoredOccurrence],
    acted: &HashMap<i64, LastAction>,
    now: Timestamp,
    language: Language,
) -> Matrix {
    let columns: Vec<Column> = config
        .calendar
        .obligations
        .iter()
        .filter(|o| occurrences.iter().any(|occ| occ.obligation == o.id.as_str()))
        .map(|o| Column {
            obligation: o.id.to_string(),
            title: if language == Language::Sv {
                &o.title_sv
            } else {
                &o.title_en
            }
            .clone(),
        })
        .collect();
    let mut rows: Vec<Row> = Vec::new();
    for unit in &config.directory.units {
        let mine: Vec<&&StoredOccurrence> = occurrences.iter().filter(|o| o.unit == unit.id.as_str()).collect();
        if mine.is_empty() {
            continue;
        }
        let cells = columns
            .iter()
            .map(|column| {
                mine.iter()
                    .filter(|o| o.obligation == column.obligation)
                    .map(|o| {
                        let status = Status::of(o, now);
                        CellEntry {
                            id: o.id,
                            status,
                            status_label: status.label(language),
                            due: config.local_date(o.due_at),
                            acted: acted
                                .get(&o.id)
                                .map(|last| format!("{} {}", last.person, config.local_minute(last.at))),
                            diarienummer: o.diarienummer.clone(),
                        }
                    })
                    .collect()
            })
            .collect();
        rows.push(Row {
            unit: unit.id.to_string(),
            name: unit_name(config, mine[0], language),
            cells,
        });
    }
    Matrix { columns, rows }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::config::fixtures::{SHIPPED_CALENDAR, follow_up, shipped_with};

    #[test]
    fn marks_group_an_obligation_s_day_and_take_the_most_worrying_colour() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let acknowledged = follow_up(OccurrenceState::Acknowledged);
        let open = StoredOccurrence {
            id: 8,
            unit: "omsorg".into(),
            ..follow_up(OccurrenceState::Open)
        };
        let after_due = acknowledged.due_at + jiff::SignedDuration::from_hours(48);
        let all = [acknowledged, open];
        let year = of_year(&config, &all, 2027);
        assert_eq!(year.len(), 2);
        assert!(of_year(&config, &all, 2026).is_empty());
        let wheel = wheel(&config, &year, 2027, after_due, Language::Sv);
        assert_eq!(wheel.months.len(), 12);
        assert_eq!(wheel.months[0].start, (0.0, -RADIUS), "January starts at the top");
        assert_eq!(wheel.marks.len(), 1);
        let mark = &wheel.marks[0];
        assert_eq!(mark.status, Status::Overdue);
        assert!(
            mark.label.ends_with("2027-02-15: 1 försenat, 1 kvitterat"),
            "{}",
            mark.label
        );
        // 15 February is in the first quarter of the year: right of centre, above it.
        assert!(mark.x > 0.0 && mark.y < 0.0, "{mark:?}");
        assert!(wheel.today.is_some());
    }

    #[test]
    fn the_matrix_has_a_row_per_unit_and_a_column_per_obligation_with_who_acted() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let submitted = follow_up(OccurrenceState::Submitted);
        let acted = HashMap::from([(
            7,
            LastAction {
                person: "anna".into(),
                action: "submit".into(),
                at: "2027-02-01T09:30:00Z".parse().unwrap(),
            },
        )]);
        let matrix = matrix(&config, &[&submitted], &acted, submitted.due_at, Language::En);
        assert_eq!(matrix.columns.len(), 1);
        assert_eq!(matrix.rows.len(), 1);
        let entry = &matrix.rows[0].cells[0][0];
        assert_eq!((entry.status, entry.status_label), (Status::Submitted, "submitted"));
        assert_eq!(entry.acted.as_deref(), Some("anna 2027-02-01 10:30"));
    }
}
