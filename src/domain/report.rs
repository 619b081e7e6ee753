//! KLK's yearly compilation of the units' follow-ups: every activity and project with its
//! money, the totals with subtotals for verksamhet and projektmedel, the goals they link to, and which units submitted on time, late or not
//! at all. Pure; rendered as Markdown, CSV and a standalone HTML document here, and by the
//! dashboard's report page from the same template (`templates/dashboard/report_body.html`).

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use serde::Serialize;

use super::config::{Config, Language};
use super::followup::{self, Activity, ActivityInput, ActivityKind, Totals};
use super::occurrence::{OccurrenceState, StoredOccurrence};

/// A follow-up as stored: the rows typed last, and the rows submitted last and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFollowUp {
    pub occurrence_id: i64,
    pub rows: Vec<ActivityInput>,
    /// What the report compiles; a draft saved after submitting leaves it alone.
    pub submitted_rows: Option<Vec<ActivityInput>>,
    /// The form's diarienummer field, as typed.
    pub diarienummer: String,
    pub saved_by: String,
    pub saved_at: Timestamp,
    pub submitted_at: Option<Timestamp>,
}

/// How a unit met the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Timeliness {
    OnTime,
    Late,
    /// Not submitted, and the deadline has passed.
    Missing,
    /// Not submitted yet, and there is still time.
    NotYetDue,
    Waived,
}

impl Timeliness {
    /// The name in CSV exports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OnTime => "on_time",
            Self::Late => "late",
            Self::Missing => "missing",
            Self::NotYetDue => "not_yet_due",
            Self::Waived => "waived",
        }
    }

    /// In words, in `language`.
    pub fn label(self, language: Language) -> &'static str {
        match (self, language) {
            (Self::OnTime, Language::Sv) => "i tid",
            (Self::OnTime, Language::En) => "on time",
            (Self::Late, Language::Sv) => "för sent",
            (Self::Late, Language::En) => "late",
            (Self::Missing, Language::Sv) => "saknas",
            (Self::Missing, Language::En) => "missing",
            (Self::NotYetDue, Language::Sv) => "ej inlämnad, tid kvar",
            (Self::NotYetDue, Language::En) => "not yet submitted, still time",
            (Self::Waived, Language::Sv) => "struket",
            (Self::Waived, Language::En) => "waived",
        }
    }
}

/// One unit's part of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnitReport {
    pub unit: String,
    pub name: String,
    pub due: String,
    pub submitted: Option<String>,
    /// The diarienummer the follow-up was registered under.
    pub diarienummer: Option<String>,
    pub timeliness: Timeliness,
    pub status: &'static str,
    pub activities: Vec<Activity>,
    pub totals: Totals,
}

/// The totals of one kind of activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subtotal {
    pub kind: ActivityKind,
    pub label: &'static str,
    pub totals: Totals,
}

/// The compiled report of one year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub year: i16,
    pub units: Vec<UnitReport>,
    pub totals: Totals,
    /// The totals of verksamhet and of projektmedel ("dels verksamheten och dels projektmedel").
    pub subtotals: Vec<Subtotal>,
    /// Every goal linked to, with how many activities link to it, most first.
    pub goals: Vec<(String, usize)>,
    pub on_time: usize,
    pub late: usize,
    pub missing: usize,
}

/// The report of the follow-ups of `year` (the year the work concerns), as of `now`.
pub fn compile(
    config: &Config,
    year: i16,
    occurrences: &[StoredOccurrence],
    followups: &[StoredFollowUp],
    now: Timestamp,
    language: Language,
) -> Report {
    let forms: HashMap<i64, &StoredFollowUp> = followups.iter().map(|f| (f.occurrence_id, f)).collect();
    let day = |at: Timestamp| config.local_date(at).to_string();
    let period = year.to_string();
    let mut units: Vec<UnitReport> = occurrences
        .iter()
        .filter(|o| o.obligation == followup::OBLIGATION && o.period == period && o.configured)
        .map(|occurrence| {
            let submitted = matches!(
                occurrence.state,
                OccurrenceState::Submitted | OccurrenceState::Acknowledged
            );
            let timeliness = match (occurrence.state, occurrence.submitted_at) {
                (OccurrenceState::Waived, _) => Timeliness::Waived,
                (_, Some(at)) if submitted && at <= occurrence.due_at => Timeliness::OnTime,
                _ if submitted => Timeliness::Late,
                _ if now > occurrence.due_at => Timeliness::Missing,
                _ => Timeliness::NotYetDue,
            };
            let activities = forms
                .get(&occurrence.id)
                .filter(|_| submitted)
                .and_then(|form| form.submitted_rows.as_deref())
                .and_then(|rows| followup::check(rows, &config.calendar.followup, &occurrence.unit, language).ok())
                .unwrap_or_default();
            UnitReport {
                unit: occurrence.unit.clone(),
                name: super::messages::unit_name(config, occurrence, language),
                due: day(occurrence.due_at),
                submitted: occurrence.submitted_at.filter(|_| submitted).map(day),
                diarienummer: occurrence.diarienummer.clone(),
                timeliness,
                status: timeliness.label(language),
                totals: Totals::of(&activities),
                activities,
            }
        })
        .collect();
    units.sort_by(|a, b| a.name.cmp(&b.name));
    let mut goals: BTreeMap<&str, usize> = BTreeMap::new();
    for goal in units.iter().flat_map(|u| &u.activities).flat_map(|a| &a.goals) {
        *goals.entry(goal).or_default() += 1;
    }
    let mut goals: Vec<(String, usize)> = goals.into_iter().map(|(g, n)| (g.to_owned(), n)).collect();
    goals.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let count = |t: Timeliness| units.iter().filter(|u| u.timeliness == t).count();
    let subtotals = ActivityKind::ALL
        .iter()
        .map(|&kind| Subtotal {
            kind,
            label: kind.label(language),
            totals: Totals::of(units.iter().flat_map(|u| &u.activities).filter(|a| a.kind == kind)),
        })
        .collect();
    Report {
        year,
        subtotals,
        totals: units.iter().fold(Totals::default(), |t, u| t.plus(u.totals)),
        goals,
        on_time: count(Timeliness::OnTime),
        late: count(Timeliness::Late),
        missing: count(Timeliness::Missing),
        units,
    }
}

/// An amount in kronor with thousands grouped by spaces: `1 250 000 kr`.
pub fn kronor(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(' ');
        }
        grouped.push(c);
    }
    format!("{}{grouped} kr", if amount < 0 { "-" } else { "" })
}

/// The report as Markdown, ready to paste into the verksamhetsberättelse.
pub fn markdown(report: &Report, language: Language) -> String {
    let sv = language == Language::Sv;
    let t = |sv_text: &'static str, en_text: &'static str| if sv { sv_text } else { en_text };
    let cell = |text: &str| text.replace('|', "\\|").replace(['\r', '\n'], " ");
    let mut out = format!(
        "# {} {}\n\n",
        t(
            "Sammanställning av det internationella arbetet",
            "Compilation of the international work"
        ),
        report.year
    );
    out += &format!(
        "{}: {} {}, {} {}, {} {}.\n\n",
        t("Uppföljningar", "Follow-ups"),
        report.on_time,
        t("i tid", "on time"),
        report.late,
        t("för sent", "late"),
        report.missing,
        t("saknas", "missing")
    );
    let row = |cells: &[&str]| format!("| {} |\n", cells.join(" | "));
    let money = |totals: Totals| [kronor(totals.budget), kronor(totals.grant), kronor(totals.cofinancing)];
    out += &row(&[
        "",
        t("Budget", "Budget"),
        t("Erhållet bidrag", "Grant received"),
        t("Medfinansiering", "Co-financing"),
    ]);
    out += "|---|---:|---:|---:|\n";
    for subtotal in &report.subtotals {
        let [budget, grant, cofinancing] = money(subtotal.totals);
        out += &row(&[subtotal.label, &budget, &grant, &cofinancing]);
    }
    let [budget, grant, cofinancing] = money(report.totals);
    out += &row(&[&format!("**{}**", t("Totalt", "Total")), &budget, &grant, &cofinancing]);
    out += &format!("\n## {}\n\n", t("Inlämning per enhet", "Submission by unit"));
    out += &row(&[
        t("Enhet", "Unit"),
        t("Sista dag", "Due"),
        t("Inlämnad", "Submitted"),
        t("Diarienummer", "Registry number"),
        t("Status", "Status"),
    ]);
    out += "|---|---|---|---|---|\n";
    for unit in &report.units {
        out += &row(&[
            &cell(&unit.name),
            &unit.due,
            unit.submitted.as_deref().unwrap_or("–"),
            unit.diarienummer.as_deref().unwrap_or("–"),
            unit.status,
        ]);
    }
    for unit in report.units.iter().filter(|u| !u.activities.is_empty()) {
        out += &format!("\n## {}\n\n", cell(&unit.name));
        out += &row(&[
            t("Aktivitet/projekt", "Activity/project"),
            t("Typ", "Type"),
            t("Budget", "Budget"),
            t("Bidrag", "Grant"),
            t("Medfinansiering", "Co-financing"),
            t("Syfte", "Purpose"),
            t("Resultat", "Results"),
            t("Mål", "Goals"),
        ]);
        out += "|---|---|---:|---:|---:|---|---|---|\n";
        for a in &unit.activities {
            let [budget, grant, cofinancing] = money(Totals::of([a]));
            out += &row(&[
                &cell(&activity_name(a)),
                a.kind.label(language),
                &budget,
                &grant,
                &cofinancing,
                &cell(&a.purpose),
                &cell(&a.results),
                &cell(&a.goals.join(", ")),
            ]);
        }
        let [budget, grant, cofinancing] = money(unit.totals);
        out += &row(&[
            &format!("**{}**", t("Summa", "Sum")),
            "",
            &budget,
            &grant,
            &cofinancing,
            "",
            "",
            "",
        ]);
    }
    if !report.goals.is_empty() {
        out += &format!("\n## {}\n\n", t("Kopplade mål", "Linked goals"));
        for (goal, count) in &report.goals {
            out += &format!("- {} ({count})\n", cell(goal));
        }
    }
    out
}

/// The activity's name with what identifies a project: "Gröna hamnar (Interreg, TN 2026/12,
/// 2026–2028; Polen, Litauen)".
fn activity_name(activity: &Activity) -> String {
    let about: Vec<&str> = [
        activity.programme.as_str(),
        activity.diarienummer.as_deref().unwrap_or(""),
        activity.period.as_str(),
    ]
    .into_iter()
    .filter(|part| !part.is_empty())
    .collect();
    let mut name = activity.name.clone();
    match (about.is_empty(), activity.partners.is_empty()) {
        (true, true) => {}
        (false, true) => name += &format!(" ({})", about.join(", ")),
        (true, false) => name += &format!(" ({})", activity.partners),
        (false, false) => name += &format!(" ({}; {})", about.join(", "), activity.partners),
    }
    name
}

/// The report as CSV: one row per activity, and one per unit without activities, so that the
/// submission status of every unit is there too. Amounts are plain whole kronor.
pub fn csv(report: &Report) -> String {
    let mut out = String::from(
        "year,unit,unit_name,status,due,submitted,activity,budget,grant,cofinancing,purpose,results,goals,\
         kind,programme,project_diarienummer,project_period,partners,priority_area,diarienummer\n",
    );
    for unit in &report.units {
        let head = [
            report.year.to_string(),
            unit.unit.clone(),
            unit.name.clone(),
            unit.timeliness.as_str().to_owned(),
            unit.due.clone(),
            unit.submitted.clone().unwrap_or_default(),
        ];
        let rows: Vec<[String; 13]> = if unit.activities.is_empty() {
            vec![Default::default()]
        } else {
            unit.activities
                .iter()
                .map(|a| {
                    [
                        a.name.clone(),
                        a.budget.to_string(),
                        a.grant.to_string(),
                        a.cofinancing.to_string(),
                        a.purpose.clone(),
                        a.results.clone(),
                        a.goals.join("; "),
                        a.kind.as_str().to_owned(),
                        a.programme.clone(),
                        a.diarienummer.clone().unwrap_or_default(),
                        a.period.clone(),
                        a.partners.clone(),
                        a.priority_area.clone().unwrap_or_default(),
                    ]
                })
                .collect()
        };
        for row in rows {
            let diarienummer = unit.diarienummer.clone().unwrap_or_default();
            let line: Vec<String> = head
                .iter()
                .chain(row.iter())
                .chain([&diarienummer])
                .map(|v| super::listing::csv_field(v))
                .collect();
            out += &line.join(",");
            out.push('\n');
        }
    }
    out
}

/// The report's HTML templates: its body (shared with the dashboard's page) and the
/// standalone document around it.
pub const HTML_TEMPLATES: [(&str, &str); 2] = [
    (
        "report_body.html",
        include_str!("../../templates/dashboard/report_body.html"),
    ),
    (
        "report_document.html",
        include_str!("../../templates/dashboard/report_document.html"),
    ),
];

/// `t(sv, en)` in a template: the text in the language of the context's `lang`.
pub fn template_text(state: &minijinja::State, sv: String, en: String) -> String {
    if state.lookup("lang").is_some_and(|l| l.as_str() == Some("en")) {
        en
    } else {
        sv
    }
}

/// What the report's templates need: the report, its language and the amount formatter.
pub fn template_context(report: &Report, language: Language) -> minijinja::Value {
    let lang = if language == Language::En { "en" } else { "sv" };
    minijinja::context! {
        report, lang, kronor => minijinja::Value::from_function(|amount: i64| kronor(amount)),
    }
}

/// The compiled report as a standalone HTML document (`arshjul report --format html`).
pub fn html_document(report: &Report, language: Language) -> Result<String, minijinja::Error> {
    let mut env = minijinja::Environment::new();
    for (name, source) in HTML_TEMPLATES {
        env.add_template(name, source)?;
    }
    env.add_function("t", template_text);
    env.get_template("report_document.html")?
        .render(template_context(report, language))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::config::fixtures::{SHIPPED_CALENDAR, follow_up, shipped_with};

    const GOAL: &str = "Attraktiv kommun att bo, verka och vistas i";

    fn form(occurrence_id: i64, rows: &[(&str, &str, &str, &str)], submitted: bool) -> StoredFollowUp {
        let rows: Vec<ActivityInput> = rows
            .iter()
            .map(|(name, budget, grant, cofinancing)| ActivityInput {
                // The funded programmes are projects, the rest the unit's own activities.
                kind: if ["Erasmus+", "Interreg"].contains(name) {
                    "projekt"
                } else {
                    "verksamhet"
                }
                .into(),
                name: (*name).into(),
                budget: (*budget).into(),
                grant: (*grant).into(),
                cofinancing: (*cofinancing).into(),
                purpose: "Syfte".into(),
                results: "Resultat".into(),
                goals: GOAL.into(),
                ..ActivityInput::default()
            })
            .collect();
        StoredFollowUp {
            occurrence_id,
            submitted_rows: submitted.then(|| rows.clone()),
            rows,
            diarienummer: String::new(),
            saved_by: "someone".into(),
            saved_at: Timestamp::UNIX_EPOCH,
            submitted_at: submitted.then_some(Timestamp::UNIX_EPOCH),
        }
    }

    #[test]
    fn totals_and_compliance_come_from_the_submitted_forms_only() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let due = follow_up(OccurrenceState::Open).due_at;
        let on_time = StoredOccurrence {
            submitted_at: Some(due - jiff::SignedDuration::from_hours(24)),
            ..follow_up(OccurrenceState::Acknowledged)
        };
        let late = StoredOccurrence {
            id: 8,
            unit: "omsorg".into(),
            submitted_at: Some(due + jiff::SignedDuration::from_hours(24)),
            ..follow_up(OccurrenceState::Submitted)
        };
        let missing = StoredOccurrence {
            id: 9,
            unit: "kultur-och-fritid".into(),
            ..follow_up(OccurrenceState::Open)
        };
        let draft_only = form(9, &[("Utkast", "999", "999", "999")], false);
        // Unit 8 saved a draft after submitting: the report keeps what was submitted.
        let mut changed_after = form(8, &[("Interreg", "1 000 000", "600 000", "400 000")], true);
        changed_after.rows = form(8, &[("Ändrat", "tio", "", "")], false).rows;
        let forms = [
            form(
                7,
                &[
                    ("Erasmus+", "120 000", "100 000", "20 000"),
                    ("Twinning", "5 000", "", "5000"),
                ],
                true,
            ),
            changed_after,
            draft_only,
        ];
        let now = due + jiff::SignedDuration::from_hours(24 * 30);
        let report = compile(&config, 2026, &[on_time, late, missing], &forms, now, Language::Sv);
        assert_eq!(
            report.totals,
            Totals {
                budget: 1_125_000,
                grant: 700_000,
                cofinancing: 425_000
            }
        );
        assert_eq!((report.on_time, report.late, report.missing), (1, 1, 1));
        assert_eq!(report.goals, [(GOAL.to_owned(), 3)]);
        // "dels verksamheten och dels projektmedel": the twinning apart from the two projects.
        let subtotals: Vec<(&str, Totals)> = report.subtotals.iter().map(|s| (s.label, s.totals)).collect();
        assert_eq!(
            subtotals,
            [
                (
                    "Verksamhet",
                    Totals {
                        budget: 5_000,
                        grant: 0,
                        cofinancing: 5_000
                    }
                ),
                (
                    "Projektmedel",
                    Totals {
                        budget: 1_120_000,
                        grant: 700_000,
                        cofinancing: 420_000
                    }
                )
            ]
        );
        let markdown = markdown(&report, Language::Sv);
        assert!(
            markdown.contains(
                "| Verksamhet | 5 000 kr | 0 kr | 5 000 kr |\n| Projektmedel | 1 120 000 kr | 700 000 kr | 420 000 kr |\n\
                 | **Totalt** | 1 125 000 kr | 700 000 kr | 425 000 kr |"
            ),
            "{markdown}"
        );
        assert!(!markdown.contains("Utkast"));
        let csv = csv(&report);
        assert_eq!(csv.lines().count(), 1 + 2 + 1 + 1, "{csv}");
        assert!(csv.contains(",Erasmus+,120000,100000,20000,"), "{csv}");
    }

    #[test]
    fn a_cell_a_unit_typed_as_a_formula_reaches_the_spreadsheet_as_text() {
        let config = shipped_with(SHIPPED_CALENDAR);
        let occurrence = follow_up(OccurrenceState::Submitted);
        let mut typed = form(
            occurrence.id,
            &[("=HYPERLINK(\"https://evil.example\",\"x\")", "1", "1", "0")],
            true,
        );
        if let Some(rows) = typed.submitted_rows.as_mut() {
            rows[0].purpose = "@SUM(1+1)".into();
            rows[0].results = "+46 70 123".into();
            rows[0].partners = "-2+3".into();
        }
        let report = compile(
            &config,
            2026,
            &[occurrence],
            &[typed],
            Timestamp::UNIX_EPOCH,
            Language::Sv,
        );
        let csv = csv(&report);
        assert!(
            csv.contains(r#","'=HYPERLINK(""https://evil.example"",""x"")","#),
            "{csv}"
        );
        assert!(csv.contains(",'@SUM(1+1),'+46 70 123,"), "{csv}");
        assert!(csv.contains(",'-2+3,"), "{csv}");
        assert_eq!(
            super::super::listing::csv_field("-999"),
            "-999",
            "a number stays a number"
        );
        assert_eq!(super::super::listing::csv_field("\t=1"), "'\t=1");
    }

    #[test]
    fn amounts_are_grouped_by_thousands() {
        assert_eq!(kronor(0), "0 kr");
        assert_eq!(kronor(1_250_000), "1 250 000 kr");
        assert_eq!(kronor(-999), "-999 kr");
    }
}
