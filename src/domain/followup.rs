//! The yearly follow-up to KLK as a form: per project or activity whether it is a project
//! (projektmedel) or the unit's own activity (verksamhet), its budget, the grant received, the
//! co-financing, purpose, results, the funding programme, diarienummer, period and partner
//! countries, the strategy's priority area and the goals it links to, chosen from the
//! municipality's list. Pure: reading what was typed, checking it, and the totals.
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

/// What the form offers to choose from: the municipality's goals and the strategy's priority
/// areas (`[followup]` in the calendar).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Choices {
    pub goals: Vec<Goal>,
    pub priority_areas: Vec<String>,
}

/// One of the municipality's goals an activity can link to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Goal {
    pub name: String,
    pub kind: GoalKind,
    /// For a verksamhetsspecifikt goal: the units whose goal it is (none: every unit's).
    #[serde(default)]
    pub units: Vec<String>,
}

/// Whether a goal is the whole municipality's or one activity's ("kommunövergripande och
/// verksamhetsspecifika mål").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GoalKind {
    Kommunovergripande,
    Verksamhetsspecifikt,
}

impl Choices {
    /// The goals `unit`'s follow-up can link to: every municipality-wide goal and the unit's own.
    pub fn goals_for<'a>(&'a self, unit: &'a str) -> impl Iterator<Item = &'a Goal> {
        self.goals
            .iter()
            .filter(move |g| g.units.is_empty() || g.units.iter().any(|u| u == unit))
    }
}

/// What a row reports on: a project with external funding, or the unit's own activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    /// Projektmedel: an EU or other externally funded project.
    Projekt,
    /// Verksamhet: visits, networks, twin-town work within the unit's own budget.
    Verksamhet,
}

impl ActivityKind {
    /// Both kinds, in the report's order.
    pub const ALL: [Self; 2] = [Self::Verksamhet, Self::Projekt];

    /// The name in posted forms and CSV exports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Projekt => "projekt",
            Self::Verksamhet => "verksamhet",
        }
    }

    /// In words, in `language`.
    pub fn label(self, language: Language) -> &'static str {
        match (self, language) {
            (Self::Projekt, Language::Sv) => "Projektmedel",
            (Self::Projekt, Language::En) => "Project funds",
            (Self::Verksamhet, Language::Sv) => "Verksamhet",
            (Self::Verksamhet, Language::En) => "Activities",
        }
    }
}

/// One row of the form, exactly as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ActivityInput {
    pub kind: String,
    pub name: String,
    pub programme: String,
    pub diarienummer: String,
    pub period: String,
    pub partners: String,
    pub budget: String,
    pub grant: String,
    pub cofinancing: String,
    pub purpose: String,
    pub results: String,
    pub priority_area: String,
    /// The goals chosen, one per line.
    pub goals: String,
}

impl ActivityInput {
    fn field_mut(&mut self, field: &str) -> Option<&mut String> {
        Some(match field {
            "kind" => &mut self.kind,
            "name" => &mut self.name,
            "programme" => &mut self.programme,
            "diarienummer" => &mut self.diarienummer,
            "period" => &mut self.period,
            "partners" => &mut self.partners,
            "budget" => &mut self.budget,
            "grant" => &mut self.grant,
            "cofinancing" => &mut self.cofinancing,
            "purpose" => &mut self.purpose,
            "results" => &mut self.results,
            "priority_area" => &mut self.priority_area,
            "goals" => &mut self.goals,
            _ => return None,
        })
    }

    /// The goals chosen, one per line as posted.
    pub fn chosen_goals(&self) -> Vec<String> {
        self.goals
            .lines()
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Whether nothing was typed in the row.
    pub fn is_blank(&self) -> bool {
        FIELDS
            .iter()
            .all(|(f, _, _)| self.clone().field_mut(f).is_none_or(|v| v.trim().is_empty()))
    }
}

/// What a field is called on the form, in `language`.
pub fn field_label(field: &str, language: Language) -> &'static str {
    let (_, sv, en) = FIELDS
        .iter()
        .find(|(name, _, _)| *name == field)
        .unwrap_or(&FIELDS[FIELDS.len() - 1]);
    match language {
        Language::Sv => sv,
        Language::En => en,
    }
}

/// The fields of a row, in the form's order: as they are named in posted forms, and what they
/// are called in Swedish and English.
pub const FIELDS: [(&str, &str, &str); 13] = [
    ("kind", "Typ", "Type"),
    ("name", "Namn", "Name"),
    ("programme", "Finansieringsprogram", "Funding programme"),
    (
        "diarienummer",
        "Projektets diarienummer",
        "The project's registry number",
    ),
    ("period", "Projektperiod", "Project period"),
    ("partners", "Partnerländer", "Partner countries"),
    ("budget", "Budget", "Budget"),
    ("grant", "Erhållet bidrag", "Grant received"),
    ("cofinancing", "Medfinansiering", "Co-financing"),
    ("purpose", "Syfte", "Purpose"),
    ("results", "Uppnådda resultat", "Results achieved"),
    ("priority_area", "Prioriterat område", "Priority area"),
    ("goals", "Kopplade mål", "Linked goals"),
];

/// A checked activity; amounts in whole kronor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Activity {
    pub kind: ActivityKind,
    pub name: String,
    pub programme: String,
    pub diarienummer: Option<String>,
    pub period: String,
    pub partners: String,
    pub priority_area: Option<String>,
    pub budget: i64,
    pub grant: i64,
    pub cofinancing: i64,
    pub purpose: String,
    pub results: String,
    /// The goals it links to.
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
        if index >= MAX_ACTIVITIES || !FIELDS.iter().any(|(known, _, _)| *known == field) {
            continue;
        }
        if rows.len() <= index {
            rows.resize(index + 1, ActivityInput::default());
        }
        if let Some(slot) = rows[index].field_mut(field) {
            // Each goal ticked comes as its own `goals_N`.
            if field == "goals" && !slot.is_empty() {
                slot.push('\n');
                slot.push_str(value);
            } else {
                *slot = value.to_owned();
            }
        }
    }
    while rows.last().is_some_and(ActivityInput::is_blank) {
        rows.pop();
    }
    rows
}

/// The activities of `rows` in `unit`'s follow-up, skipping blank rows, or every wrong field in
/// `language`. Goals and priority areas must be among `choices` (any goal when none are listed).
pub fn check(
    rows: &[ActivityInput],
    choices: &Choices,
    unit: &str,
    language: Language,
) -> Result<Vec<Activity>, Vec<FieldError>> {
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
        let programme = text("programme", &input.programme, false);
        let period = text("period", &input.period, false);
        let partners = text("partners", &input.partners, false);
        let purpose = text("purpose", &input.purpose, true);
        let results = text("results", &input.results, true);
        let kind = match input.kind.trim() {
            "projekt" => Some(ActivityKind::Projekt),
            "verksamhet" => Some(ActivityKind::Verksamhet),
            _ => None,
        };
        if kind.is_none() {
            error("kind", "Välj projekt eller verksamhet.", "Choose project or activity.");
        }
        let diarienummer = super::diary::check(&input.diarienummer).unwrap_or_else(|(sv_text, en_text)| {
            error("diarienummer", sv_text, en_text);
            None
        });
        let priority_area = Some(input.priority_area.trim()).filter(|a| !a.is_empty());
        if priority_area.is_some_and(|area| !choices.priority_areas.iter().any(|a| a == area)) {
            error(
                "priority_area",
                "Välj ett av de prioriterade områdena.",
                "Choose one of the priority areas.",
            );
        }
        let goals = input.chosen_goals();
        let listed = choices.goals_for(unit).map(|g| g.name.as_str()).collect::<Vec<_>>();
        if !choices.goals.is_empty() && goals.iter().any(|g| !listed.contains(&g.as_str())) {
            error(
                "goals",
                "Välj bland kommunens mål.",
                "Choose among the municipality's goals.",
            );
        }
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
            kind: kind.unwrap_or(ActivityKind::Verksamhet),
            name,
            programme,
            diarienummer,
            period,
            partners,
            priority_area: priority_area.map(str::to_owned),
            budget,
            grant,
            cofinancing,
            purpose,
            results,
            goals,
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
            kind: "projekt".into(),
            name: name.into(),
            budget: budget.into(),
            grant: grant.into(),
            cofinancing: cofinancing.into(),
            purpose: "Syfte".into(),
            results: "Resultat".into(),
            goals: "Mål 1\nMål 2".into(),
            ..ActivityInput::default()
        }
    }

    /// Two municipality-wide goals, one of Tekniska's own, and two priority areas.
    fn choices() -> Choices {
        let goal = |name: &str, kind, units: &[&str]| Goal {
            name: name.into(),
            kind,
            units: units.iter().map(|u| (*u).to_owned()).collect(),
        };
        Choices {
            goals: vec![
                goal("Mål 1", GoalKind::Kommunovergripande, &[]),
                goal("Mål 2", GoalKind::Kommunovergripande, &[]),
                goal("Renare vatten", GoalKind::Verksamhetsspecifikt, &["tekniska"]),
            ],
            priority_areas: vec!["Friska ekosystem".into(), "Hälsa och delaktighet".into()],
        }
    }

    #[test]
    fn goals_and_areas_come_from_the_lists_and_a_project_is_told_from_an_activity() {
        let mut project = row("Gröna hamnar", "1", "1", "0");
        project.programme = " Interreg ".into();
        project.diarienummer = "tn 2026/12".into();
        project.priority_area = "Friska ekosystem".into();
        project.goals = "Mål 2\nRenare vatten".into();
        let checked = check(std::slice::from_ref(&project), &choices(), "tekniska", Language::Sv).unwrap();
        assert_eq!(
            (
                checked[0].kind,
                checked[0].programme.as_str(),
                checked[0].diarienummer.as_deref()
            ),
            (ActivityKind::Projekt, "Interreg", Some("TN 2026/12"))
        );
        assert_eq!(checked[0].goals, ["Mål 2", "Renare vatten"]);
        // Another unit cannot link to Tekniska's own goal; an area or goal not listed, a
        // missing kind and a malformed diarienummer are each named.
        let errors = check(std::slice::from_ref(&project), &choices(), "omsorg", Language::Sv).unwrap_err();
        assert_eq!(errors.iter().map(|e| e.field).collect::<Vec<_>>(), ["goals"]);
        let mut wrong = project.clone();
        wrong.kind = String::new();
        wrong.diarienummer = "vet ej".into();
        wrong.priority_area = "Tillväxt".into();
        wrong.goals = "Mål 3".into();
        let errors = check(&[wrong], &choices(), "tekniska", Language::En).unwrap_err();
        let named: Vec<(&str, &str)> = errors.iter().map(|e| (e.field, e.message.as_str())).collect();
        assert_eq!(
            named,
            [
                ("kind", "Choose project or activity."),
                ("diarienummer", "Write the registry number as KS 2027/123."),
                ("priority_area", "Choose one of the priority areas."),
                ("goals", "Choose among the municipality's goals.")
            ]
        );
        // Without a list of goals, any goal typed counts.
        assert!(check(&[row("A", "1", "1", "0")], &Choices::default(), "omsorg", Language::Sv).is_ok());
    }

    #[test]
    fn each_goal_ticked_is_posted_on_its_own_and_read_as_one_per_line() {
        let rows = read_rows([("name_0", "A"), ("goals_0", "Mål 1"), ("goals_0", "Mål 2")]);
        assert_eq!(rows[0].chosen_goals(), ["Mål 1", "Mål 2"]);
    }

    #[test]
    fn amounts_are_read_as_people_write_them_and_totals_add_up() {
        let rows = vec![
            row("A", "120 000 kr", "60000", "60 000:-"),
            row("B", "1 000", "", "1000"),
        ];
        let activities = check(&rows, &choices(), "tekniska", Language::Sv).unwrap();
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
        let errors = check(&rows, &choices(), "tekniska", Language::En).unwrap_err();
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
            check(&[ActivityInput::default()], &choices(), "tekniska", Language::Sv).unwrap_err()[0].row,
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
