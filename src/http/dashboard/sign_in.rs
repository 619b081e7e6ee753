//! Signing in by a one-time emailed link. `POST /sign-in` mails a link to a person in the
//! directory with a role (and says the same whatever the address, so nobody learns who is in
//! the directory); `GET /sign-in/{token}` only shows a button, because mail scanners follow
//! links; its `POST` uses the link up — once, within 15 minutes — and starts a session.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use jiff::SignedDuration;

use super::{
    FORM_COOKIE, Next, Visitor, cookie, fresh_token, lang_code, language, local_path, render, same_secret,
    session_cookie, set_cookie,
};
use crate::app::App;
use crate::app::links::SIGN_IN_MINUTES;
use crate::domain::access::Viewer;
use crate::domain::tokens::{SignInClaims, sha256_hex};
use crate::http::limits::Client;
use crate::storage::Session;

/// How long a session lasts.
const SESSION_HOURS: i64 = 12;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/sign-in", get(ask).post(send_link))
        .route("/sign-in/{token}", get(confirm).post(start))
        .route("/sign-out", post(sign_out))
}

#[derive(serde::Deserialize)]
struct LinkRequest {
    #[serde(default)]
    email: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    csrf: String,
}

#[derive(serde::Deserialize)]
struct Confirmation {
    #[serde(default)]
    csrf: String,
}

/// A page of the sign-in flow, with the double-submit CSRF token in a cookie and the form.
fn sign_in_page(app: &App, headers: &HeaderMap, status: StatusCode, context: minijinja::Value) -> Response {
    let token = match cookie(headers, FORM_COOKIE) {
        Some(token) if token.len() >= 32 => token.to_owned(),
        _ => match fresh_token() {
            Some(token) => token,
            None => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
    };
    let lang = lang_code(language(headers));
    let mut response = render(
        status,
        "sign_in.html",
        minijinja::context! {
            ..context,
            ..minijinja::context! { lang, csrf => token, here => "/sign-in", minutes => SIGN_IN_MINUTES }
        },
    );
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(app, FORM_COOKIE, &token, 3600));
    response
}

/// Whether a pre-session form's token matches its cookie.
fn form_token_matches(headers: &HeaderMap, posted: &str) -> bool {
    cookie(headers, FORM_COOKIE).is_some_and(|expected| !posted.is_empty() && same_secret(posted, expected))
}

async fn ask(State(app): State<Arc<App>>, headers: HeaderMap, Query(next): Query<Next>) -> Response {
    let next = local_path(next.next.as_deref());
    sign_in_page(
        &app,
        &headers,
        StatusCode::OK,
        minijinja::context! { step => "ask", next },
    )
}

async fn send_link(
    State(app): State<Arc<App>>,
    Extension(Client(client)): Extension<Client>,
    headers: HeaderMap,
    Form(request): Form<LinkRequest>,
) -> Response {
    let next = local_path(Some(&request.next));
    if !form_token_matches(&headers, &request.csrf) {
        return sign_in_page(
            &app,
            &headers,
            StatusCode::FORBIDDEN,
            minijinja::context! { step => "ask", next, refused => "stale", email => request.email },
        );
    }
    let email = request.email.trim();
    if !email.contains('@') {
        return sign_in_page(
            &app,
            &headers,
            StatusCode::UNPROCESSABLE_ENTITY,
            minijinja::context! { step => "ask", next, invalid => true, email },
        );
    }
    let config = app.config();
    let person = config
        .directory
        .people
        .iter()
        .find(|p| p.email.eq_ignore_ascii_case(email))
        .filter(|p| Viewer::of(&config, p.id.as_str()).is_some());
    match person {
        // Sent after answering, so that the answer takes as long for any address.
        Some(person) => app.sign_in.request(&app, person, &next, client),
        None => tracing::info!("sign-in asked for an address that may not sign in"),
    }
    sign_in_page(&app, &headers, StatusCode::OK, minijinja::context! { step => "sent" })
}

/// The verified claims of a sign-in link, or why it does not work (counted and logged).
fn verify(app: &App, token: &str) -> Result<SignInClaims, &'static str> {
    app.links.signer.verify(token, app.clock.now()).map_err(|error| {
        app.metrics.rejected_link(error.label());
        tracing::warn!(reason = error.label(), "refused a sign-in link");
        error.label()
    })
}

/// The sign-in page saying why a link does not work, with the form to ask for a new one.
fn refused(app: &App, headers: &HeaderMap, reason: &str) -> Response {
    sign_in_page(
        app,
        headers,
        StatusCode::GONE,
        minijinja::context! { step => "ask", next => "/dashboard", refused => reason },
    )
}

async fn confirm(State(app): State<Arc<App>>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    match verify(&app, &token) {
        Ok(claims) => {
            let name = app
                .config()
                .directory
                .person_named(&claims.person)
                .map_or_else(|| claims.person.clone(), |p| p.name.clone());
            sign_in_page(
                &app,
                &headers,
                StatusCode::OK,
                minijinja::context! { step => "confirm", name, action => format!("/sign-in/{token}") },
            )
        }
        Err(reason) => refused(&app, &headers, reason),
    }
}

async fn start(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<Confirmation>,
) -> Response {
    let claims = match verify(&app, &token) {
        Ok(claims) => claims,
        Err(reason) => return refused(&app, &headers, reason),
    };
    let again = |reason: &str| {
        sign_in_page(
            &app,
            &headers,
            StatusCode::FORBIDDEN,
            minijinja::context! { step => "ask", next => claims.next.clone(), refused => reason },
        )
    };
    if !form_token_matches(&headers, &form.csrf) {
        return again("stale");
    }
    let config = app.config();
    if Viewer::of(&config, &claims.person).is_none() {
        return again("no_access");
    }
    let now = app.clock.now();
    let expires = jiff::Timestamp::from_second(claims.expires).unwrap_or(now);
    let issued = jiff::Timestamp::from_second(claims.issued).unwrap_or(jiff::Timestamp::MIN);
    let (Some(id), Some(csrf)) = (fresh_token(), fresh_token()) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let session = Session {
        person: claims.person.clone(),
        csrf,
    };
    let stored = async {
        if !app
            .store
            .use_sign_in(&claims.nonce, &claims.person, issued, expires, now)
            .await?
        {
            return Ok(false);
        }
        let until = now.checked_add(SignedDuration::from_hours(SESSION_HOURS))?;
        app.store
            .start_session(&sha256_hex(id.as_bytes()), &session, now, until)
            .await?;
        anyhow::Ok(true)
    };
    match stored.await {
        Ok(true) => {
            tracing::info!(person = %claims.person, "signed in to the dashboard");
            let mut response = Redirect::to(&local_path(Some(&claims.next))).into_response();
            response.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(&app, session_cookie(&app), &id, SESSION_HOURS * 3600),
            );
            response
        }
        Ok(false) => again("used"),
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "starting a session failed");
            super::super::page::unavailable(language(&headers)).into_response()
        }
    }
}

async fn sign_out(State(app): State<Arc<App>>, visitor: Visitor, Form(form): Form<Vec<(String, String)>>) -> Response {
    if !visitor.posted_csrf(&form) {
        return super::forged(&visitor);
    }
    if let Err(error) = app.store.end_session(&visitor.session_hash).await {
        return super::unavailable(&visitor, &error);
    }
    let mut response = Redirect::to("/sign-in").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(&app, session_cookie(&app), "", 0));
    response
}
