//! The yearly follow-up to KLK as a form: per project or activity its budget, the grant
//! received, the co-financing, purpose, results and the goals it links to. Pure: reading what
//! was typed, checking it, and the totals.
//!
//! What people typed is kept as typed ([`ActivityInput`]) — in drafts and after errors — so
//! nothing is lost; [`check`] turns it into [`Activity`] values or names every wrong field.

use serde::{Deserialize, Serialize};

use super::config::Language;
use super::occurrence::OccurrenceState;

/// The obligation whose occurrences are filled in with this form.
pub const OBLIGATION: &str = "uppfoljning";

/// The dashboard path of occurrence `id`'s form, for reminders and pages.
pub fn form_path(id: i64) -> String {
    format!("/dashboard/occurrences/{id}/followup")
}

/// Whether a follow-up in `state` can no longer be changed: acknowledged or waived.
pub fn is_locked(state: OccurrenceState) -> bool {
    matches!(state, OccurrenceState::Acknowledged | OccurrenceState::Waived)
}

/// The most activities one follow-up holds.
pub const MAX_ACTIVITIES: usize = 50;
/// The most characters of one text field.
const MAX_TEXT: usize = 4000;

/// One row of the form, exactly as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ActivityInput {
    pub name: String,
    pub budget: String,
    pub grant: String,
    pub cofinancing: String,
    pub purpose: String,
    pub results: String,
    pub goals: String,
}

/// The fields of a row, in the form's order, as they are named in posted forms.
pub const FIELDS: [&str; 7] = ["name", "budget", "grant", "cofinancing", "purpose", "results", "goals"];

impl ActivityInput {
    fn field_mut(&mut self, field: &str) -> Option<&mut String> {
        Some(match field {
            "name" => &mut self.name,
            "budget" => &mut self.budget,
            "grant" => &mut self.grant,
            "cofinancing" => &mut self.cofinancing,
            "purpose" => &mut self.purpose,
            "results" => &mut self.results,
            "goals" => &mut self.goals,
            _ => return None,
        })
    }

    /// Whether nothing was typed in the row.
    pub fn is_blank(&self) -> bool {
        FIELDS
            .iter()
            .all(|f| self.clone().field_mut(f).is_none_or(|v| v.trim().is_empty()))
    }
}

/// What a field is called on the form, in `language`.
pub fn field_label(field: &str, language: Language) -> &'static str {
    let sv = language == Language::Sv;
    match field {
        "name" if sv => "Namn",
        "name" => "Name",
        "budget" => "Budget",
        "grant" if sv => "Erhållet bidrag",
        "grant" => "Grant received",
        "cofinancing" if sv => "Medfinansiering",
        "cofinancing" => "Co-financing",
        "purpose" if sv => "Syfte",
        "purpose" => "Purpose",
        "results" if sv => "Uppnådda resultat",
        "results" => "Results achieved",
        "goals" if sv => "Kopplade mål",
        _ => "Linked goals",
    }
}

/// A checked activity; amounts in whole kronor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Activity {
    pub name: String,
    pub budget: i64,
    pub grant: i64,
    pub cofinancing: i64,
    pub purpose: String,
    pub results: String,
    /// The goals it links to, one per line or comma.
    pub goals: Vec<String>,
}

/// The sums of a set of activities, in kronor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub budget: i64,
    pub grant: i64,
    pub cofinancing: i64,
}

impl Totals {
    /// The sums of `activities`.
    pub fn of<'a>(activities: impl IntoIterator<Item = &'a Activity>) -> Self {
        activities.into_iter().fold(Self::default(), |totals, a| {
            totals.plus(Self {
                budget: a.budget,
                grant: a.grant,
                cofinancing: a.cofinancing,
            })
        })
    }

    /// `self` and `other` added.
    pub fn plus(self, other: Self) -> Self {
        Self {
            budget: self.budget + other.budget,
            grant: self.grant + other.grant,
            cofinancing: self.cofinancing + other.cofinancing,
        }
    }
}

/// A wrong field: the row (from 0; `None` for the form as a whole), the field, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub row: Option<usize>,
    pub field: &'static str,
    pub message: String,
}

/// The rows of a posted form (`name_0`, `budget_0`, … `goals_N`), in row order; unknown
/// keys are left to the caller. Blank rows between others are kept (the form shows them
/// again); blank rows at the end are dropped.
pub fn read_rows<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<ActivityInput> {
    let mut rows: Vec<ActivityInput> = Vec::new();
    for (key, value) in pairs {
        let Some((field, index)) = key.rsplit_once('_') else {
            continue;
        };
        let Ok(index) = index.parse::<usize>() else { continue };
        if index >= MAX_ACTIVITIES || !FIELDS.contains(&field) {
            continue;
        }
        if rows.len() <= index {
            rows.resize(index + 1, ActivityInput::default());
        }
        if let Some(slot) = rows[index].field_mut(field) {
            *slot = value.to_owned();
        }
    }
    while rows.last().is_some_and(ActivityInput::is_blank) {
        rows.pop();
    }
    rows
}

/// The activities of `rows`, skipping blank rows, or every wrong field in `language`.
pub fn check(rows: &[ActivityInput], language: Language) -> Result<Vec<Activity>, Vec<FieldError>> {
    let sv = language == Language::Sv;
    let mut errors = Vec::new();
    let mut activities = Vec::new();
    for (row, input) in rows.iter().enumerate().filter(|(_, r)| !r.is_blank()) {
        let mut error = |field: &'static str, sv_text: &str, en_text: &str| {
            errors.push(FieldError {
                row: Some(row),
                field,
                message: if sv { sv_text } else { en_text }.to_owned(),
            });
        };
        let mut text = |field: &'static str, value: &str, required: bool| {
            let value = value.trim();
            if required && value.is_empty() {
                error(field, "Fyll i fältet.", "Fill in this field.");
            } else if value.chars().count() > MAX_TEXT {
                error(field, "Högst 4000 tecken.", "At most 4000 characters.");
            }
            value.to_owned()
        };
        let name = text("name", &input.name, true);
        let purpose = text("purpose", &input.purpose, true);
        let results = text("results", &input.results, true);
        let goals = text("goals", &input.goals, false);
        let mut amount = |field: &'static str, value: &str| match kronor(value) {
            Ok(amount) => amount,
            Err(()) => {
                errors.push(FieldError {
                    row: Some(row),
                    field,
                    message: if sv {
                        "Skriv ett belopp i hela kronor, till exempel 120 000."
                    } else {
                        "Write an amount in whole kronor, for example 120 000."
                    }
                    .to_owned(),
                });
                0
            }
        };
        let (budget, grant, cofinancing) = (
            amount("budget", &input.budget),
            amount("grant", &input.grant),
            amount("cofinancing", &input.cofinancing),
        );
        activities.push(Activity {
            name,
            budget,
            grant,
            cofinancing,
            purpose,
            results,
            goals: goals
                .split(['\n', ',', ';'])
                .map(str::trim)
                .filter(|g| !g.is_empty())
                .map(str::to_owned)
                .collect(),
        });
    }
    if activities.is_empty() && errors.is_empty() {
        errors.push(FieldError {
            row: None,
            field: "name",
            message: if sv {
                "Fyll i minst en aktivitet eller ett projekt."
            } else {
                "Fill in at least one activity or project."
            }
            .to_owned(),
        });
    }
    if errors.is_empty() { Ok(activities) } else { Err(errors) }
}

/// A non-negative amount in whole kronor as people write it: `120000`, `120 000`,
/// `120 000 kr`, `120 000:-`. Empty is 0.
fn kronor(text: &str) -> Result<i64, ()> {
    let digits: String = text
        .trim()
        .trim_end_matches(":-")
        .trim_end_matches("kr")
        .trim_end_matches("SEK")
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}')
        .collect();
    if digits.is_empty() {
        return Ok(0);
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(());
    }
    digits.parse::<i64>().ok().filter(|a| *a <= 1_000_000_000_000).ok_or(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, budget: &str, grant: &str, cofinancing: &str) -> ActivityInput {
        ActivityInput {
            name: name.into(),
            budget: budget.into(),
            grant: grant.into(),
            cofinancing: cofinancing.into(),
            purpose: "Syfte".into(),
            results: "Resultat".into(),
            goals: "Mål 1, Mål 2".into(),
        }
    }

    #[test]
    fn amounts_are_read_as_people_write_them_and_totals_add_up() {
        let rows = vec![
            row("A", "120 000 kr", "60000", "60 000:-"),
            row("B", "1 000", "", "1000"),
        ];
        let activities = check(&rows, Language::Sv).unwrap();
        assert_eq!(activities[0].goals, ["Mål 1", "Mål 2"]);
        assert_eq!(
            Totals::of(&activities),
            Totals {
                budget: 121_000,
                grant: 60_000,
                cofinancing: 61_000
            }
        );
    }

    #[test]
    fn every_wrong_field_is_named_with_its_row_and_blank_rows_are_skipped() {
        let mut bad = row("", "12,5", "tio", "-3");
        bad.results = String::new();
        let rows = vec![row("A", "1", "1", "1"), ActivityInput::default(), bad];
        let errors = check(&rows, Language::En).unwrap_err();
        let named: Vec<_> = errors.iter().map(|e| (e.row, e.field)).collect();
        assert_eq!(
            named,
            [
                (Some(2), "name"),
                (Some(2), "results"),
                (Some(2), "budget"),
                (Some(2), "grant"),
                (Some(2), "cofinancing")
            ]
        );
        assert_eq!(errors[0].message, "Fill in this field.");
        assert_eq!(
            check(&[ActivityInput::default()], Language::Sv).unwrap_err()[0].row,
            None
        );
    }

    #[test]
    fn posted_rows_are_read_by_index_and_unknown_keys_ignored() {
        let pairs = [
            ("name_1", "B"),
            ("name_0", "A"),
            ("budget_0", "5"),
            ("csrf", "x"),
            ("evil_99", "y"),
            ("name_2", " "),
        ];
        let rows = read_rows(pairs);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].name.as_str(), rows[0].budget.as_str(), rows[1].name.as_str()),
            ("A", "5", "B")
        );
    }
}
