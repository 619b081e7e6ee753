//! The dashboard's pages: the year as a wheel and a matrix, one occurrence with its history
//! and deliveries, the outbox with retry, starting a revision, the EU calls with each unit's
//! answer, and the compiled report. Each shows only what the visitor may see.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::{Visitor, message, not_found, page, unavailable};
use crate::app::App;
use crate::app::actions::Started;
use crate::domain::access::may_start;
use crate::domain::config::{Language, Recurrence};
use crate::domain::dashboard::{self, Status};
use crate::domain::messages::{long_date, title, unit_name};
use crate::domain::occurrence::Actor;
use crate::domain::report;
use crate::domain::steps::DeliveryState;
use crate::domain::{followup, occurrence::OccurrenceState};

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/dashboard", get(year))
        .route("/dashboard/occurrences/{id}", get(occurrence))
        .route("/dashboard/outbox", get(outbox))
        .route("/dashboard/outbox/{id}/retry", post(retry))
        .route("/dashboard/start", post(start))
        .route("/dashboard/calls", get(calls))
        .route("/dashboard/report", get(report_page))
}

#[derive(Deserialize)]
struct YearFilter {
    year: Option<i16>,
    unit: Option<String>,
}

fn this_year(app: &App) -> i16 {
    app.config().local_date(app.clock.now()).year()
}

async fn year(State(app): State<Arc<App>>, visitor: Visitor, Query(filter): Query<YearFilter>) -> Response {
    let (config, now, language) = (app.config(), app.clock.now(), visitor.language);
    let (occurrences, acted) = match tokio::try_join!(app.store.occurrences(), app.store.last_actions()) {
        Ok(read) => read,
        Err(error) => return unavailable(&visitor, &error),
    };
    let year = filter.year.unwrap_or_else(|| this_year(&app));
    let unit = filter.unit.filter(|u| !u.is_empty());
    let visible: Vec<_> = occurrences
        .iter()
        .filter(|o| o.configured && visitor.viewer.sees_unit(&o.unit))
        .cloned()
        .collect();
    let years: BTreeSet<i16> = visible
        .iter()
        .map(|o| config.local_date(o.due_at).year())
        .chain([year])
        .collect();
    let units: Vec<(String, String)> = config
        .directory
        .units
        .iter()
        .filter(|u| visible.iter().any(|o| o.unit == u.id.as_str()))
        .map(|u| {
            (
                u.id.to_string(),
                if language == Language::Sv { &u.name } else { &u.name_en }.clone(),
            )
        })
        .collect();
    let shown: Vec<_> = dashboard::of_year(&config, &visible, year)
        .into_iter()
        .filter(|o| unit.as_ref().is_none_or(|u| o.unit == *u))
        .collect();
    let wheel = dashboard::wheel(&config, &shown, year, now, language);
    let matrix = dashboard::matrix(&config, &shown, &acted, now, language);
    // What KLK may start on demand (a revision), by id and title.
    let on_demand: Vec<(String, String)> = config
        .calendar
        .obligations
        .iter()
        .filter(|o| o.recurrence == Recurrence::OnDemand && may_start(&config, &visitor.viewer.person))
        .map(|o| {
            (
                o.id.to_string(),
                if language == Language::Sv {
                    &o.title_sv
                } else {
                    &o.title_en
                }
                .clone(),
            )
        })
        .collect();
    let counts: Vec<(&str, &str, usize)> = Status::ALL
        .iter()
        .map(|s| {
            (
                s.as_str(),
                s.label(language),
                shown.iter().filter(|o| Status::of(o, now) == *s).count(),
            )
        })
        .collect();
    page(
        &visitor,
        StatusCode::OK,
        "year.html",
        "/dashboard",
        minijinja::context! {
            year, years, units, unit, wheel, matrix, counts, on_demand, radius => dashboard::RADIUS,
        },
    )
}

async fn occurrence(State(app): State<Arc<App>>, visitor: Visitor, Path(id): Path<i64>) -> Response {
    let config = app.config();
    let language = visitor.language;
    let occurrence = match app.store.occurrence(id).await {
        Ok(Some(o)) if visitor.viewer.sees_unit(&o.unit) => o,
        Ok(_) => return not_found(&visitor),
        Err(error) => return unavailable(&visitor, &error),
    };
    let (audit, deliveries) = match tokio::try_join!(app.store.audit_log(Some(id)), app.store.deliveries_of(id)) {
        Ok(read) => read,
        Err(error) => return unavailable(&visitor, &error),
    };
    let local = |at: jiff::Timestamp| config.local_minute(at);
    let history: Vec<_> = audit
        .iter()
        .map(|e| (local(e.at), e.actor.clone(), e.action.clone(), e.detail.clone()))
        .collect();
    let sent: Vec<_> = deliveries
        .iter()
        .map(|d| {
            (
                d.step.clone(),
                d.recipient.clone(),
                d.channel.clone(),
                d.state.as_str(),
                d.sent_at.map(local).unwrap_or_default(),
                d.current_error().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let status = Status::of(&occurrence, app.clock.now());
    let form = occurrence.obligation == followup::OBLIGATION && occurrence.state != OccurrenceState::Waived;
    page(
        &visitor,
        StatusCode::OK,
        "occurrence.html",
        &format!("/dashboard/occurrences/{id}"),
        minijinja::context! {
            id,
            title => title(&config, &occurrence, language),
            unit => unit_name(&config, &occurrence, language),
            period => occurrence.period,
            due => long_date(&config, occurrence.due_at, language),
            status => status.as_str(),
            status_label => status.label(language),
            diarienummer => occurrence.diarienummer,
            history, sent, form,
        },
    )
}

#[derive(Deserialize)]
struct OutboxFilter {
    state: Option<String>,
}

/// The states the outbox page lists unless asked for one.
const WAITING_OR_FAILED: [DeliveryState; 4] = [
    DeliveryState::Dead,
    DeliveryState::Failed,
    DeliveryState::Pending,
    DeliveryState::Sending,
];

async fn outbox(State(app): State<Arc<App>>, visitor: Visitor, Query(filter): Query<OutboxFilter>) -> Response {
    if !visitor.viewer.is_central() {
        return not_found(&visitor);
    }
    let chosen: Option<DeliveryState> = filter.state.as_deref().and_then(|s| s.parse().ok());
    let states = chosen.map_or_else(|| WAITING_OR_FAILED.to_vec(), |s| vec![s]);
    let mut rows = Vec::new();
    for state in &states {
        match app.store.outbox(Some(*state), 200).await {
            Ok(found) => rows.extend(found),
            Err(error) => return unavailable(&visitor, &error),
        }
    }
    let config = app.config();
    let local = |at: jiff::Timestamp| config.local_minute(at);
    let rows: Vec<_> = rows
        .iter()
        .map(|r| {
            minijinja::context! {
                id => r.id, subject => r.subject().map(|s| s.to_string()).unwrap_or_default(),
                occurrence => r.occurrence_id, step => r.step, recipient => r.recipient, channel => r.channel,
                state => r.state.as_str(), due => local(r.not_before), attempts => r.attempts,
                error => r.current_error(),
                retry => matches!(r.state, DeliveryState::Failed | DeliveryState::Dead),
            }
        })
        .collect();
    let states: Vec<&str> = DeliveryState::ALL.iter().map(|s| s.as_str()).collect();
    page(
        &visitor,
        StatusCode::OK,
        "outbox.html",
        "/dashboard/outbox",
        minijinja::context! { rows, states, chosen => chosen.map(|s| s.as_str()) },
    )
}

async fn retry(
    State(app): State<Arc<App>>,
    visitor: Visitor,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if !visitor.posted_csrf(&form) {
        return super::forged(&visitor);
    }
    if !visitor.viewer.is_central() {
        return not_found(&visitor);
    }
    match app.store.retry(id, app.clock.now()).await {
        Ok(true) => {
            tracing::info!(delivery = id, person = %visitor.viewer.person, "delivery put back in line from the dashboard");
            Redirect::to("/dashboard/outbox").into_response()
        }
        Ok(false) => message(
            &visitor,
            StatusCode::CONFLICT,
            ("Kan inte försöka igen", "Cannot retry"),
            (
                "Utskicket har redan skickats eller står redan i kö.",
                "The delivery was sent already or is already waiting.",
            ),
        ),
        Err(error) => unavailable(&visitor, &error),
    }
}

/// KLK starts an on-demand item (a revision) from the year page: `obligation`, and `due`
/// (YYYY-MM-DD) or blank for the calendar's default.
async fn start(State(app): State<Arc<App>>, visitor: Visitor, Form(form): Form<Vec<(String, String)>>) -> Response {
    if !visitor.posted_csrf(&form) {
        return super::forged(&visitor);
    }
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.trim());
    let due = match field("due") {
        "" => None,
        text => match text.parse() {
            Ok(date) => Some(date),
            Err(_) => {
                return message(
                    &visitor,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ("Kunde inte startas", "Could not be started"),
                    ("Skriv sista dag som 2027-09-30.", "Write the due date as 2027-09-30."),
                );
            }
        },
    };
    let person = visitor.viewer.person.clone();
    let actor = Actor {
        person: &person,
        channel: "dashboard",
        source: "start form",
        note: None,
    };
    match app.start(field("obligation"), due, &actor).await {
        Ok(Started::Created(ids)) => match ids.first() {
            Some(id) => Redirect::to(&format!("/dashboard/occurrences/{id}")).into_response(),
            None => Redirect::to("/dashboard").into_response(),
        },
        Ok(Started::Already) => message(
            &visitor,
            StatusCode::CONFLICT,
            ("Redan startad", "Started already"),
            ("Den startades redan i dag.", "It was started today already."),
        ),
        Ok(Started::NotAllowed) => not_found(&visitor),
        Ok(Started::Invalid(_)) => message(
            &visitor,
            StatusCode::UNPROCESSABLE_ENTITY,
            ("Kunde inte startas", "Could not be started"),
            (
                "Välj vad som ska startas och en sista dag efter i dag.",
                "Choose what to start and a due date after today.",
            ),
        ),
        Err(error) => unavailable(&visitor, &error),
    }
}

async fn calls(State(app): State<Arc<App>>, visitor: Visitor) -> Response {
    let (announcements, interests) = match tokio::try_join!(app.store.announcements(), app.store.interests()) {
        Ok(read) => read,
        Err(error) => return unavailable(&visitor, &error),
    };
    let config = app.config();
    let sv = visitor.language == Language::Sv;
    let calls: Vec<_> = announcements
        .iter()
        .map(|a| {
            let units: Vec<_> = a
                .call
                .targeted(&config)
                .into_iter()
                .filter(|u| visitor.viewer.sees_unit(u.id.as_str()))
                .map(|u| {
                    let answer = interests
                        .iter()
                        .find(|i| i.announcement_id == a.id && i.unit == u.id.as_str());
                    minijinja::context! {
                        unit => if sv { &u.name } else { &u.name_en },
                        interest => answer.map(|i| i.interest.label(sv)),
                        person => answer.map(|i| i.person.clone()),
                        outcome => answer.and_then(|i| i.outcome).map(|o| o.as_str()),
                        amount => answer.and_then(|i| i.amount).map(report::kronor),
                    }
                })
                .collect();
            minijinja::context! {
                id => a.id, title => a.call.title, programme => a.call.programme, link => a.call.link,
                deadline => a.call.deadline.to_string(), state => a.state.as_str(), units,
            }
        })
        .collect();
    page(
        &visitor,
        StatusCode::OK,
        "calls.html",
        "/dashboard/calls",
        minijinja::context! { calls },
    )
}

#[derive(Deserialize)]
struct ReportRequest {
    year: Option<i16>,
    format: Option<String>,
}

/// `/dashboard/report?year=2026&format=html|md|csv`: the compiled report; KLK only.
async fn report_page(State(app): State<Arc<App>>, visitor: Visitor, Query(request): Query<ReportRequest>) -> Response {
    if !visitor.viewer.is_central() {
        return not_found(&visitor);
    }
    let (occurrences, followups) = match tokio::try_join!(app.store.occurrences(), app.store.followups()) {
        Ok(read) => read,
        Err(error) => return unavailable(&visitor, &error),
    };
    // The follow-up of the work of last year is the one compiled this year.
    let year = request.year.unwrap_or_else(|| this_year(&app) - 1);
    let config = app.config();
    let compiled = report::compile(
        &config,
        year,
        &occurrences,
        &followups,
        app.clock.now(),
        visitor.language,
    );
    let download = |body: String, content_type: &'static str, extension: &str| {
        let disposition = format!("attachment; filename=\"arshjul-rapport-{year}.{extension}\"");
        (
            [
                (header::CONTENT_TYPE, content_type.to_owned()),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            body,
        )
            .into_response()
    };
    match request.format.as_deref() {
        Some("md") => download(
            report::markdown(&compiled, visitor.language),
            "text/markdown; charset=utf-8",
            "md",
        ),
        Some("csv") => download(report::csv(&compiled), "text/csv; charset=utf-8", "csv"),
        _ => page(
            &visitor,
            StatusCode::OK,
            "report.html",
            "/dashboard/report",
            report::template_context(&compiled, visitor.language),
        ),
    }
}
