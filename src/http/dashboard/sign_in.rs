//! Signing in by a one-time emailed link. `POST /sign-in` mails a link to a person in the
//! directory with a role (and says the same whatever the address, so nobody learns who is in
//! the directory); `GET /sign-in/{token}` only shows a button, because mail scanners follow
//! links; its `POST` uses the link up — once, within 15 minutes — and starts a session.
//! `sign_in.email_links = false` turns the links off.
//!
//! Or through the organisation's OpenID provider (`[sign_in.oidc]`, [`crate::app::oidc`]):
//! `GET /sign-in/oidc` sends the browser there with a cookie that ties the sign-in to it, and
//! `GET /sign-in/oidc/callback` finishes it and starts the same session.

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
use crate::app::oidc::Refusal;
use crate::domain::access::Viewer;
use crate::domain::tokens::{SignInClaims, sha256_hex};
use crate::http::limits::Client;
use crate::storage::Session;

/// How long a session lasts.
const SESSION_HOURS: i64 = 12;

/// The cookie that ties a sign-in through the provider to the browser that began it.
const OIDC_COOKIE: &str = "arshjul_oidc";

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/sign-in", get(ask).post(send_link))
        .route("/sign-in/oidc", get(begin_with_provider))
        .route("/sign-in/oidc/callback", get(finish_with_provider))
        .route("/sign-in/{token}", get(confirm).post(start))
        .route("/sign-out", post(sign_out))
}

#[derive(serde::Deserialize)]
struct Asking {
    next: Option<String>,
    /// Set after signing out.
    signed_out: Option<String>,
}

/// What the provider sends back: a code and the state, or an error.
#[derive(serde::Deserialize)]
struct ProviderAnswer {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
    error: Option<String>,
    error_description: Option<String>,
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
            ..minijinja::context! {
                lang, csrf => token, here => "/sign-in", minutes => SIGN_IN_MINUTES,
                email_links => app.sign_in.email_links(),
                provider => app.oidc.as_ref().map(|oidc| oidc.provider_name().to_owned()),
            }
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

async fn ask(State(app): State<Arc<App>>, headers: HeaderMap, Query(asking): Query<Asking>) -> Response {
    let next = local_path(asking.next.as_deref());
    let (signed_out, end_session) = match (&asking.signed_out, &app.oidc) {
        (Some(_), Some(oidc)) => (true, oidc.end_session_url().await),
        (Some(_), None) => (true, None),
        (None, _) => (false, None),
    };
    sign_in_page(
        &app,
        &headers,
        StatusCode::OK,
        minijinja::context! { step => "ask", next, signed_out, end_session },
    )
}

/// Emailed links are not offered (`sign_in.email_links = false`): the sign-in page says so,
/// with the provider's button.
fn links_off(app: &App, headers: &HeaderMap) -> Response {
    sign_in_page(
        app,
        headers,
        StatusCode::NOT_FOUND,
        minijinja::context! { step => "ask", next => "/dashboard", refused => "links_off" },
    )
}

async fn begin_with_provider(State(app): State<Arc<App>>, headers: HeaderMap, Query(next): Query<Next>) -> Response {
    let Some(oidc) = &app.oidc else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(browser) = fresh_token() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    match oidc.begin(&local_path(next.next.as_deref()), &browser).await {
        Ok(authorize_url) => {
            let mut response = Redirect::to(&authorize_url).into_response();
            response
                .headers_mut()
                .append(header::SET_COOKIE, set_cookie(&app, OIDC_COOKIE, &browser, 600));
            response
        }
        Err(refusal) => provider_refused(&app, &headers, &refusal),
    }
}

async fn finish_with_provider(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(answer): Query<ProviderAnswer>,
) -> Response {
    let Some(oidc) = &app.oidc else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let finished = match answer.error {
        Some(error) => Err(Refusal::Provider(format!(
            "{error}{}",
            answer.error_description.map(|d| format!(": {d}")).unwrap_or_default()
        ))),
        None => {
            oidc.finish(
                &app.config(),
                &answer.state,
                &answer.code,
                cookie(&headers, OIDC_COOKIE),
            )
            .await
        }
    };
    let signed_in = match finished {
        Ok(signed_in) => signed_in,
        Err(refusal) => return provider_refused(&app, &headers, &refusal),
    };
    match open_session(&app, &signed_in.person).await {
        Ok(id) => {
            tracing::info!(person = %signed_in.person, "signed in to the dashboard through the provider");
            let mut response = session_started(&app, &id, &signed_in.next);
            response
                .headers_mut()
                .append(header::SET_COOKIE, set_cookie(&app, OIDC_COOKIE, "", 0));
            response
        }
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "starting a session failed");
            super::super::page::unavailable(language(&headers)).into_response()
        }
    }
}

/// The sign-in page saying why signing in through the provider did not work (and logged).
fn provider_refused(app: &App, headers: &HeaderMap, refusal: &Refusal) -> Response {
    tracing::warn!(reason = %refusal, "refused a sign-in through the provider");
    app.metrics.rejected_link(refusal.label());
    let status = match refusal {
        Refusal::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::FORBIDDEN,
    };
    sign_in_page(
        app,
        headers,
        status,
        minijinja::context! { step => "ask", next => "/dashboard", refused => refusal.label() },
    )
}

/// Starts a dashboard session for `person`: the session's id, for its cookie.
async fn open_session(app: &App, person: &str) -> anyhow::Result<String> {
    let (Some(id), Some(csrf)) = (fresh_token(), fresh_token()) else {
        anyhow::bail!("no random token");
    };
    let now = app.clock.now();
    let until = now.checked_add(SignedDuration::from_hours(SESSION_HOURS))?;
    let session = Session {
        person: person.to_owned(),
        csrf,
    };
    app.store
        .start_session(&sha256_hex(id.as_bytes()), &session, now, until)
        .await?;
    Ok(id)
}

/// The answer that sets the session's cookie and goes on to `next`.
fn session_started(app: &App, id: &str, next: &str) -> Response {
    let mut response = Redirect::to(&local_path(Some(next))).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(app, session_cookie(app), id, SESSION_HOURS * 3600),
    );
    response
}

async fn send_link(
    State(app): State<Arc<App>>,
    Extension(Client(client)): Extension<Client>,
    headers: HeaderMap,
    Form(request): Form<LinkRequest>,
) -> Response {
    if !app.sign_in.email_links() {
        return links_off(&app, &headers);
    }
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
    if !app.sign_in.email_links() {
        return links_off(&app, &headers);
    }
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
    if !app.sign_in.email_links() {
        return links_off(&app, &headers);
    }
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
    let stored = async {
        if !app
            .store
            .use_sign_in(&claims.nonce, &claims.person, issued, expires, now)
            .await?
        {
            return Ok(None);
        }
        open_session(&app, &claims.person).await.map(Some)
    };
    match stored.await {
        Ok(Some(id)) => {
            tracing::info!(person = %claims.person, "signed in to the dashboard");
            session_started(&app, &id, &claims.next)
        }
        Ok(None) => again("used"),
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
    let mut response = Redirect::to("/sign-in?signed_out=1").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(&app, session_cookie(&app), "", 0));
    response
}
