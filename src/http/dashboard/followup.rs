//! The yearly follow-up form, reached from the reminder's link: one row per project or
//! activity. Drafts are saved; what was typed comes back with every error; submitting it
//! submits the occurrence, and the manager acknowledges as before.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Form, Router};

use super::{Visitor, message, not_found, page, unavailable};
use crate::app::App;
use crate::app::actions::Acted;
use crate::domain::access::may;
use crate::domain::diary;
use crate::domain::followup::{self, ActivityInput, FieldError, MAX_ACTIVITIES};
use crate::domain::messages::{long_date, title, unit_name};
use crate::domain::occurrence::{Action, OccurrenceState, StoredOccurrence};
use crate::domain::occurrence::{ActionOutcome, Actor};

pub fn router() -> Router<Arc<App>> {
    Router::new().route("/dashboard/occurrences/{id}/followup", get(show).post(save))
}

/// The follow-up occurrence `id`, if the visitor may fill it in; else the page that says no.
async fn open(app: &App, visitor: &Visitor, id: i64) -> Result<StoredOccurrence, Response> {
    match app.store.occurrence(id).await {
        Ok(Some(o)) if o.obligation == followup::OBLIGATION && visitor.viewer.sees_unit(&o.unit) => Ok(o),
        Ok(_) => Err(not_found(visitor)),
        Err(error) => Err(unavailable(visitor, &error)),
    }
}

/// What the form shows besides the rows: the form's diarienummer field as typed, the errors
/// beside their fields (the diarienummer's apart), a notice, and how many blank rows to add to.
#[derive(Default)]
struct Shown<'a> {
    diarienummer: &'a str,
    errors: &'a [FieldError],
    diarienummer_error: Option<&'a str>,
    notice: Option<&'a str>,
    blank_rows: usize,
}

/// The form with `rows` and what `shown` adds.
fn form(
    app: &App,
    visitor: &Visitor,
    occurrence: &StoredOccurrence,
    status: StatusCode,
    mut rows: Vec<ActivityInput>,
    shown: Shown<'_>,
) -> Response {
    let errors = shown.errors;
    let notice = shown.notice;
    let config = app.config();
    let language = visitor.language;
    // Those who may see the follow-up but not submit it get it read-only, and why.
    let not_allowed = may(&config, &visitor.viewer.person, occurrence, Action::Submit)
        .err()
        .map(|why| match language {
            crate::domain::config::Language::Sv => {
                format!("Du kan läsa uppföljningen men inte ändra den: {}.", why.text(language))
            }
            crate::domain::config::Language::En => {
                format!("You can read the follow-up but not change it: {}.", why.text(language))
            }
        });
    let notice = notice.or(not_allowed.as_deref());
    let acknowledged = followup::is_locked(occurrence.state);
    let locked = acknowledged || not_allowed.is_some();
    if !locked {
        let room = MAX_ACTIVITIES.saturating_sub(rows.len());
        rows.extend(std::iter::repeat_n(
            ActivityInput::default(),
            shown.blank_rows.max(1).min(room),
        ));
    }
    let field_errors: BTreeMap<String, &str> = errors
        .iter()
        .filter_map(|e| e.row.map(|row| (format!("{}_{row}", e.field), e.message.as_str())))
        .collect();
    let form_errors: Vec<&str> = errors
        .iter()
        .filter(|e| e.row.is_none())
        .map(|e| e.message.as_str())
        .collect();
    let row_word = if language == crate::domain::config::Language::Sv {
        "Rad"
    } else {
        "Row"
    };
    let diarienummer_label = if language == crate::domain::config::Language::Sv {
        "Diarienummer"
    } else {
        "Registry number"
    };
    let summary: Vec<(String, String)> = shown
        .diarienummer_error
        .map(|e| ("diarienummer".to_owned(), format!("{diarienummer_label}: {e}")))
        .into_iter()
        .chain(errors.iter().map(|e| {
            let anchor = format!("{}_{}", e.field, e.row.unwrap_or(0));
            let text = match e.row {
                Some(row) => format!(
                    "{row_word} {}, {}: {}",
                    row + 1,
                    followup::field_label(e.field, language),
                    e.message
                ),
                None => e.message.clone(),
            };
            (anchor, text)
        }))
        .collect();
    let choices = &config.calendar.followup;
    let goals_for_unit: Vec<&followup::Goal> = choices.goals_for(&occurrence.unit).collect();
    let chosen: Vec<Vec<String>> = rows.iter().map(ActivityInput::chosen_goals).collect();
    page(
        visitor,
        status,
        "followup.html",
        &followup::form_path(occurrence.id),
        minijinja::context! {
            id => occurrence.id,
            title => title(&config, occurrence, language),
            unit => unit_name(&config, occurrence, language),
            period => occurrence.period,
            due => long_date(&config, occurrence.due_at, language),
            submitted => occurrence.state == OccurrenceState::Submitted,
            diarienummer => if shown.diarienummer.is_empty() {
                occurrence.diarienummer.clone().unwrap_or_default()
            } else {
                shown.diarienummer.to_owned()
            },
            diarienummer_error => shown.diarienummer_error,
            goals => goals_for_unit,
            priority_areas => &choices.priority_areas,
            acknowledged, locked, rows, chosen, field_errors, form_errors, summary, notice,
        },
    )
}

async fn show(State(app): State<Arc<App>>, visitor: Visitor, Path(id): Path<i64>) -> Response {
    let occurrence = match open(&app, &visitor, id).await {
        Ok(o) => o,
        Err(page) => return page,
    };
    match app.store.followup(id).await {
        Ok(saved) => {
            let (rows, diarienummer) = saved.map(|f| (f.rows, f.diarienummer)).unwrap_or_default();
            let shown = Shown {
                diarienummer: &diarienummer,
                ..Shown::default()
            };
            form(&app, &visitor, &occurrence, StatusCode::OK, rows, shown)
        }
        Err(error) => unavailable(&visitor, &error),
    }
}

async fn save(
    State(app): State<Arc<App>>,
    visitor: Visitor,
    Path(id): Path<i64>,
    Form(posted): Form<Vec<(String, String)>>,
) -> Response {
    if !visitor.posted_csrf(&posted) {
        return super::forged(&visitor);
    }
    let occurrence = match open(&app, &visitor, id).await {
        Ok(o) => o,
        Err(page) => return page,
    };
    let refusal = if followup::is_locked(occurrence.state) {
        Some(StatusCode::CONFLICT)
    } else {
        may(&app.config(), &visitor.viewer.person, &occurrence, Action::Submit)
            .err()
            .map(|_| StatusCode::FORBIDDEN)
    };
    if let Some(status) = refusal {
        // Nothing posted is kept: the form shows what was saved, read-only.
        let saved = match app.store.followup(id).await {
            Ok(saved) => saved.map(|f| f.rows).unwrap_or_default(),
            Err(error) => return unavailable(&visitor, &error),
        };
        return form(&app, &visitor, &occurrence, status, saved, Shown::default());
    }
    let rows = followup::read_rows(posted.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let field = |name: &str| posted.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let intent = field("intent").unwrap_or("draft");
    let typed_diarienummer = field("diarienummer").unwrap_or_default();
    let (now, person) = (app.clock.now(), visitor.viewer.person.as_str());
    let sv = visitor.language == crate::domain::config::Language::Sv;
    let diarienummer =
        diary::check(typed_diarienummer).map_err(|(sv_text, en_text)| if sv { sv_text } else { en_text });
    let checked = (intent == "submit").then(|| {
        let config = app.config();
        let rows = followup::check(&rows, &config.calendar.followup, &occurrence.unit, visitor.language);
        match (rows, &diarienummer) {
            (Ok(_), Err(_)) => Err(Vec::new()),
            (rows, _) => rows,
        }
    });
    let submitting = matches!(checked, Some(Ok(_)));
    // What was typed is saved first, whatever happens next: nothing is lost.
    if let Err(error) = app
        .store
        .save_followup(id, (&rows, typed_diarienummer), person, submitting, now)
        .await
    {
        return unavailable(&visitor, &error);
    }
    match checked {
        None => {
            let shown = Shown {
                diarienummer: typed_diarienummer,
                notice: Some(if sv {
                    "Utkastet är sparat."
                } else {
                    "The draft is saved."
                }),
                blank_rows: if intent == "add" { 2 } else { 1 },
                ..Shown::default()
            };
            form(&app, &visitor, &occurrence, StatusCode::OK, rows, shown)
        }
        Some(Err(errors)) => form(
            &app,
            &visitor,
            &occurrence,
            StatusCode::UNPROCESSABLE_ENTITY,
            rows,
            Shown {
                diarienummer: typed_diarienummer,
                errors: &errors,
                diarienummer_error: diarienummer.err(),
                ..Shown::default()
            },
        ),
        Some(Ok(activities)) => {
            let note = diarienummer.ok().flatten();
            let actor = Actor {
                person,
                channel: "dashboard",
                source: "follow-up form",
                note: note.as_deref(),
            };
            match app.record_action(id, Action::Submit, &actor).await {
                Ok(Some(Acted::Done(
                    outcome @ (ActionOutcome::Recorded { .. } | ActionOutcome::AlreadyRecorded(_)),
                ))) => {
                    // A correction submitted again counts as `already`, as on the links.
                    let counted = if matches!(outcome, ActionOutcome::Recorded { .. }) {
                        "recorded"
                    } else {
                        "already"
                    };
                    app.metrics.action(Action::Submit.as_str(), counted);
                    tracing::info!(
                        occurrence = id,
                        person,
                        activities = activities.len(),
                        "follow-up submitted on the form"
                    );
                    message(
                        &visitor,
                        StatusCode::OK,
                        (
                            "Tack – uppföljningen är inlämnad",
                            "Thank you – the follow-up is submitted",
                        ),
                        (
                            "Uppföljningen är inskickad till kommunledningskontoret. Enhetens chef får en begäran om att kvittera den.",
                            "The follow-up has gone to the Municipal Executive Office. The unit's manager is asked to acknowledge it.",
                        ),
                    )
                }
                Ok(Some(Acted::Done(ActionOutcome::Refused(_)) | Acted::NotAllowed(_)) | None) => form(
                    &app,
                    &visitor,
                    &occurrence,
                    StatusCode::CONFLICT,
                    rows,
                    Shown::default(),
                ),
                Err(error) => unavailable(&visitor, &error),
            }
        }
    }
}
