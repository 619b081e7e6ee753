//! EU funding calls over HTTP: `POST /api/announcements` (bearer token) for the strategist's
//! tools, `GET /api/announcements` to read them back, `PATCH /api/announcements/{id}` to correct
//! one and `POST /api/announcements/{id}/cancel` to cancel it; and the signed answer links in
//! the messages (`GET` shows what the link does, its form `POST`s the answer, as for `/ack`).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use serde_json::json;

use super::page::{Page, refused, say, unavailable};
use crate::app::App;
use crate::app::calls::{Announcing, Answering, Change};
use crate::domain::calls::{Announcement, Draft, Interest};
use crate::domain::config::{Language, Person};
use crate::domain::messages::long_day;
use crate::domain::occurrence::Actor;
use crate::domain::tokens::CallLinkClaims;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/api/announcements", get(list).post(create))
        .route("/api/announcements/{id}", patch(correct))
        .route("/api/announcements/{id}/cancel", post(cancel))
        .route("/calls/answer/{token}", get(show).post(answer))
}

/// The person the request's bearer token acts as, or why it is refused.
fn bearer(app: &App, headers: &HeaderMap) -> Result<Person, &'static str> {
    let hash = super::bearer_sha256(headers).ok_or("send Authorization: Bearer TOKEN")?;
    let person = app
        .api_tokens
        .get(&hash)
        .and_then(|id| app.config().directory.person_named(id).cloned());
    person.ok_or("the token is not one of api.tokens")
}

/// 401 with the reason.
fn unauthorised(reason: &str) -> Response {
    let body = axum::Json(json!({ "error": reason }));
    (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], body).into_response()
}

async fn create(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let person = match bearer(&app, &headers) {
        Ok(person) => person,
        Err(reason) => return unauthorised(reason),
    };
    let draft: Draft = match serde_json::from_slice(&body) {
        Ok(draft) => draft,
        Err(error) => return unreadable(&error),
    };
    respond(app.announce(&person, &draft).await, StatusCode::CREATED)
}

/// `PATCH /api/announcements/{id}`: the fields given replace the call's; the network is told.
async fn correct(State(app): State<Arc<App>>, Path(id): Path<i64>, headers: HeaderMap, body: Bytes) -> Response {
    let person = match bearer(&app, &headers) {
        Ok(person) => person,
        Err(reason) => return unauthorised(reason),
    };
    let changes: serde_json::Map<String, serde_json::Value> = match serde_json::from_slice(&body) {
        Ok(changes) => changes,
        Err(error) => return unreadable(&error),
    };
    let announcement = match app.store.announcement(id).await {
        Ok(Some(announcement)) => announcement,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(error) => return unavailable_api(&error),
    };
    let mut draft = json!(announcement.call.to_draft());
    for (field, value) in changes {
        draft[field] = value;
    }
    let draft: Draft = match serde_json::from_value(draft) {
        Ok(draft) => draft,
        Err(error) => return unreadable(&error),
    };
    let actor = api_actor(&person);
    respond(
        app.change_call(&person, id, &Change::Correct(draft), &actor).await,
        StatusCode::OK,
    )
}

/// `POST /api/announcements/{id}/cancel`, optionally with `{"reason": "…"}`.
async fn cancel(State(app): State<Arc<App>>, Path(id): Path<i64>, headers: HeaderMap, body: Bytes) -> Response {
    let person = match bearer(&app, &headers) {
        Ok(person) => person,
        Err(reason) => return unauthorised(reason),
    };
    let reason = match body.is_empty() {
        true => None,
        false => match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(body) => body["reason"].as_str().map(str::to_owned),
            Err(error) => return unreadable(&error),
        },
    };
    let actor = api_actor(&person);
    respond(
        app.change_call(&person, id, &Change::Cancel { reason }, &actor).await,
        StatusCode::OK,
    )
}

fn api_actor(person: &Person) -> Actor<'_> {
    Actor {
        person: person.id.as_str(),
        channel: "api",
        source: "HTTP API",
        note: None,
    }
}

/// The answer to an announcement, a correction or a cancellation; `done` for one carried out.
fn respond(outcome: anyhow::Result<Announcing>, done: StatusCode) -> Response {
    match outcome {
        Ok(Announcing::Done(announcement)) => (done, axum::Json(announcement)).into_response(),
        Ok(Announcing::Before(announcement)) => {
            let mut body = json!(announcement);
            body["duplicate"] = json!(true);
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        Ok(Announcing::Invalid(errors)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({ "errors": errors })),
        )
            .into_response(),
        Ok(Announcing::Refused(why)) => {
            (StatusCode::FORBIDDEN, axum::Json(json!({ "error": why.to_string() }))).into_response()
        }
        Ok(Announcing::NoCall) => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "error": "no such call, or it is cancelled" })),
        )
            .into_response(),
        Err(error) => unavailable_api(&error),
    }
}

/// 422 for a body that is not the JSON expected.
fn unreadable(error: &serde_json::Error) -> Response {
    let errors = [json!({ "field": "body", "message": format!("not an announcement in JSON: {error}") })];
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        axum::Json(json!({ "errors": errors })),
    )
        .into_response()
}

fn unavailable_api(error: &anyhow::Error) -> Response {
    tracing::error!(error = format!("{error:#}"), "an API request about calls failed");
    StatusCode::SERVICE_UNAVAILABLE.into_response()
}

async fn list(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Err(reason) = bearer(&app, &headers) {
        return unauthorised(reason);
    }
    match app.store.announcements().await {
        Ok(announcements) => axum::Json(announcements).into_response(),
        Err(error) => unavailable_api(&error),
    }
}

/// The claims of an answer link, the call and its reader, or the page that says why not.
async fn open(app: &App, token: &str) -> Result<(CallLinkClaims, Announcement, Person), Page> {
    let claims: CallLinkClaims = app.links.signer.verify(token, app.clock.now()).map_err(|error| {
        app.metrics.rejected_link(error.label());
        refused(error)
    })?;
    let person = app.config().directory.person_named(&claims.person).cloned();
    match (app.store.announcement(claims.call_id).await, person) {
        (Ok(Some(announcement)), Some(person)) => Ok((claims, announcement, person)),
        (Ok(_), _) => Err(refused(crate::domain::tokens::LinkError::Revoked)),
        (Err(error), person) => {
            tracing::error!(error = format!("{error:#}"), "reading a call for a link failed");
            Err(unavailable(person.map_or(Language::Sv, |p| p.language)))
        }
    }
}

fn details(announcement: &Announcement, interest: Interest, language: Language) -> Vec<(&'static str, String)> {
    let call = &announcement.call;
    vec![
        (
            say(language, "Utlysning", "Call"),
            format!("#{} {}", announcement.id, call.title),
        ),
        (say(language, "Program", "Programme"), call.programme.clone()),
        (
            say(language, "Sista ansökningsdag", "Call deadline"),
            long_day(call.deadline, language),
        ),
        (
            say(language, "Svar", "Answer"),
            interest.label(language == Language::Sv).to_owned(),
        ),
    ]
}

async fn show(State(app): State<Arc<App>>, Path(token): Path<String>) -> Page {
    let (claims, announcement, person) = match open(&app, &token).await {
        Ok(opened) => opened,
        Err(page) => return page,
    };
    let language = person.language;
    Page {
        status: StatusCode::OK,
        language,
        title: say(language, "Svara på utlysningen?", "Answer the call?"),
        message: say(
            language,
            "Bekräfta med knappen nedan.",
            "Confirm with the button below.",
        )
        .to_owned(),
        details: details(&announcement, claims.interest, language),
        form: Some((
            say(language, "Skicka svaret", "Send the answer"),
            format!("/calls/answer/{token}"),
        )),
    }
}

async fn answer(State(app): State<Arc<App>>, Path(token): Path<String>) -> Page {
    let (claims, announcement, person) = match open(&app, &token).await {
        Ok(opened) => opened,
        Err(page) => return page,
    };
    let language = person.language;
    let actor = Actor {
        person: person.id.as_str(),
        channel: "link",
        source: "signed link",
        note: None,
    };
    let details = details(&announcement, claims.interest, language);
    let page = |status, title, message: String| Page {
        status,
        language,
        title,
        message,
        details: details.clone(),
        form: None,
    };
    match app.answer_call(&person, announcement.id, claims.interest, &actor).await {
        Ok(Answering::Recorded { units, .. }) => page(
            StatusCode::OK,
            say(
                language,
                "Tack – svaret är registrerat",
                "Thank you – the answer is recorded",
            ),
            format!(
                "{} {}",
                say(language, "Gäller:", "For:"),
                crate::domain::messages::unit_names(&app.config(), &units, language)
            ),
        ),
        Ok(Answering::Already { .. }) => page(
            StatusCode::OK,
            say(language, "Redan registrerat", "Already recorded"),
            say(
                language,
                "Det här svaret är redan registrerat.",
                "This answer is already recorded.",
            )
            .to_owned(),
        ),
        Ok(Answering::Refused(why)) => page(
            StatusCode::CONFLICT,
            say(language, "Kan inte registreras", "Cannot be recorded"),
            why.text(language),
        ),
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "recording an answer to a call failed");
            unavailable(language)
        }
    }
}
