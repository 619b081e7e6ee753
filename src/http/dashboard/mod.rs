//! The dashboard: server-rendered pages for people in the directory, signed in by a one-time
//! emailed link. Swedish by default, English by a switch kept in a cookie. Every form carries
//! a CSRF token: the session's own once signed in, a double-submit cookie before.
//!
//! - [`sign_in`]: asking for a link, using it, signing out.
//! - [`pages`]: the year (wheel and matrix), an occurrence, the outbox, EU calls, the report.
//! - [`followup`]: the yearly follow-up form.

mod followup;
mod pages;
mod sign_in;

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use minijinja::{Environment, Value};
use serde::Deserialize;

use crate::app::App;
use crate::domain::access::Viewer;
use crate::domain::config::Language;
use crate::domain::report::{self};
use crate::domain::tokens::sha256_hex;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/dashboard") }))
        .route("/dashboard/style.css", get(style))
        .route("/language/{code}", get(switch_language))
        .merge(sign_in::router())
        .merge(pages::router())
        .merge(followup::router())
}

/// The session cookie's name: with the `__Host-` prefix over TLS, so that the browser takes it
/// only with `Secure`, `Path=/` and no `Domain` — no other host of the domain can set it.
fn session_cookie(app: &App) -> &'static str {
    if app.links.over_tls() {
        "__Host-arshjul_session"
    } else {
        "arshjul_session"
    }
}
const LANGUAGE_COOKIE: &str = "arshjul_lang";
/// The double-submit CSRF cookie of the forms shown before signing in.
const FORM_COOKIE: &str = "arshjul_form";

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    let templates = [
        ("base.html", include_str!("../../../templates/dashboard/base.html")),
        (
            "message.html",
            include_str!("../../../templates/dashboard/message.html"),
        ),
        (
            "sign_in.html",
            include_str!("../../../templates/dashboard/sign_in.html"),
        ),
        ("year.html", include_str!("../../../templates/dashboard/year.html")),
        (
            "occurrence.html",
            include_str!("../../../templates/dashboard/occurrence.html"),
        ),
        ("outbox.html", include_str!("../../../templates/dashboard/outbox.html")),
        ("calls.html", include_str!("../../../templates/dashboard/calls.html")),
        ("report.html", include_str!("../../../templates/dashboard/report.html")),
        (
            "followup.html",
            include_str!("../../../templates/dashboard/followup.html"),
        ),
    ];
    for (name, source) in templates.into_iter().chain(report::HTML_TEMPLATES) {
        if let Err(error) = env.add_template(name, source) {
            tracing::error!(%error, template = name, "invalid dashboard template");
        }
    }
    // `{{ t("svenska", "English") }}`: the text in the page's language.
    env.add_function("t", report::template_text);
    env
});

async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../../../templates/dashboard/style.css"),
    )
        .into_response()
}

/// The value of cookie `name` in the request's headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(key, value)| (key == name).then_some(value))
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, path /, Secure when served over TLS.
fn set_cookie(app: &App, name: &str, value: &str, max_age_seconds: i64) -> HeaderValue {
    let secure = if app.links.over_tls() { "; Secure" } else { "" };
    let cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_seconds}{secure}");
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The page language: the switch's cookie, else Swedish.
fn language(headers: &HeaderMap) -> Language {
    match cookie(headers, LANGUAGE_COOKIE) {
        Some("en") => Language::En,
        _ => Language::Sv,
    }
}

fn lang_code(language: Language) -> &'static str {
    if language == Language::Sv { "sv" } else { "en" }
}

#[derive(Deserialize)]
struct Next {
    next: Option<String>,
}

/// `/language/en?next=/dashboard`: remembers the language and goes back.
async fn switch_language(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
    axum::extract::Path(code): axum::extract::Path<String>,
    Query(next): Query<Next>,
) -> Response {
    let code = if code == "en" { "en" } else { "sv" };
    let mut response = Redirect::to(&local_path(next.next.as_deref())).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&app, LANGUAGE_COOKIE, code, 365 * 24 * 3600),
    );
    response
}

/// `next` if it is a path of this site, else the dashboard: never a redirect elsewhere.
fn local_path(next: Option<&str>) -> String {
    next.filter(|path| is_local_path(path))
        .unwrap_or("/dashboard")
        .to_owned()
}

/// Whether a browser reads `path`, as a `Location`, as a path of this site: it begins with
/// one `/`, names no other host however it is read (`//host`, `/\host`, a tab or newline that
/// browsers drop), and holds no whitespace or control characters at all.
fn is_local_path(path: &str) -> bool {
    const HERE: &str = "arshjul.invalid";
    let plain = path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !path.chars().any(|c| c.is_whitespace() || c.is_control());
    plain
        && url::Url::parse(&format!("https://{HERE}/"))
            .and_then(|base| base.join(path))
            .is_ok_and(|joined| joined.host_str() == Some(HERE))
}

/// A fresh random token (session id, CSRF token); `None`, logged, if the system has none.
fn fresh_token() -> Option<String> {
    crate::app::links::random_token()
        .inspect_err(|error| tracing::error!(error = format!("{error:#}"), "no random token"))
        .ok()
}

/// Whether two secrets are equal, in time that does not depend on where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// A signed-in person, with what they may see and the session's CSRF token. Extracting it
/// from a request without a live session redirects to the sign-in page.
pub(super) struct Visitor {
    pub viewer: Viewer,
    pub name: String,
    pub csrf: String,
    pub language: Language,
    session_hash: String,
}

impl Visitor {
    /// Whether a posted form carries this session's CSRF token.
    fn posted_csrf(&self, form: &[(String, String)]) -> bool {
        form.iter()
            .any(|(key, value)| key == "csrf" && same_secret(value, &self.csrf))
    }
}

impl FromRequestParts<Arc<App>> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Self::Rejection> {
        let language = language(&parts.headers);
        let to_sign_in = || {
            let here = parts.uri.path_and_query().map_or("/dashboard", |p| p.as_str());
            let next: String = url::form_urlencoded::byte_serialize(here.as_bytes()).collect();
            Redirect::to(&format!("/sign-in?next={next}")).into_response()
        };
        let Some(id) = cookie(&parts.headers, session_cookie(app)) else {
            return Err(to_sign_in());
        };
        let session_hash = sha256_hex(id.as_bytes());
        let session = match app
            .store
            .session(&session_hash, app.clock.now(), app.sign_in.session_idle())
            .await
        {
            Ok(Some(session)) => session,
            Ok(None) => return Err(to_sign_in()),
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), "reading a session failed");
                return Err(super::page::unavailable(language).into_response());
            }
        };
        let config = app.config();
        let Some(viewer) = Viewer::of(&config, &session.person) else {
            // They left the directory or lost their roles since signing in.
            return Err(to_sign_in());
        };
        let name = config
            .directory
            .person_named(&session.person)
            .map_or_else(|| session.person.clone(), |p| p.name.clone());
        Ok(Self {
            viewer,
            name,
            csrf: session.csrf,
            language,
            session_hash,
        })
    }
}

/// A rendered page (`http::guarded` gives it the security headers).
fn render(status: StatusCode, template: &str, context: Value) -> Response {
    match TEMPLATES.get_template(template).and_then(|t| t.render(context)) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(
                error = format!("{error:#}"),
                template,
                "rendering a dashboard page failed"
            );
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A page for a signed-in visitor: `context` plus the language, the visitor and their token.
fn page(visitor: &Visitor, status: StatusCode, template: &str, path: &str, context: Value) -> Response {
    let base = minijinja::context! {
        lang => lang_code(visitor.language),
        visitor_name => visitor.name,
        central => visitor.viewer.is_central(),
        csrf => visitor.csrf,
        here => path,
    };
    render(status, template, minijinja::context! { ..context, ..base })
}

/// A page with a heading and a sentence: refusals, confirmations, errors.
fn message(visitor: &Visitor, status: StatusCode, title: (&str, &str), text: (&str, &str)) -> Response {
    let sv = visitor.language == Language::Sv;
    let pick = |(s, e): (&str, &str)| if sv { s.to_owned() } else { e.to_owned() };
    page(
        visitor,
        status,
        "message.html",
        "/dashboard",
        minijinja::context! { title => pick(title), text => pick(text) },
    )
}

/// The page for a form posted without this session's CSRF token.
fn forged(visitor: &Visitor) -> Response {
    message(
        visitor,
        StatusCode::FORBIDDEN,
        ("Formuläret kunde inte tas emot", "The form could not be accepted"),
        (
            "Formuläret kom inte från den här inloggningen. Ladda om sidan och försök igen.",
            "The form did not come from this session. Reload the page and try again.",
        ),
    )
}

/// The page for something the visitor may not see, or that does not exist: the same, so
/// that nobody learns what exists in units they may not see.
fn not_found(visitor: &Visitor) -> Response {
    message(
        visitor,
        StatusCode::NOT_FOUND,
        ("Sidan finns inte", "No such page"),
        (
            "Det finns ingenting här som du har behörighet att se.",
            "There is nothing here that you may see.",
        ),
    )
}

/// The page for a database that cannot be reached.
fn unavailable(visitor: &Visitor, error: &anyhow::Error) -> Response {
    tracing::error!(
        error = format!("{error:#}"),
        "a dashboard page could not read the database"
    );
    super::page::unavailable(visitor.language).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_site_are_followed_after_a_language_switch_or_sign_in() {
        for ours in ["/dashboard", "/occurrences/42?tab=log", "/calls/3#svar", "/a%2F%2Fb"] {
            assert_eq!(local_path(Some(ours)), ours);
        }
        for elsewhere in [
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r//evil.example",
            "/ /evil.example",
            "/\u{0}/evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "evil.example",
            "",
        ] {
            assert_eq!(local_path(Some(elsewhere)), "/dashboard", "{elsewhere:?}");
        }
        assert_eq!(local_path(None), "/dashboard");
    }

    #[test]
    fn every_template_compiles_and_the_sign_in_page_renders_in_both_languages() {
        let names: Vec<&str> = TEMPLATES.templates().map(|(name, _)| name).collect();
        assert_eq!(names.len(), 11, "a template failed to compile: {names:?}");
        for lang in ["sv", "en"] {
            let html = TEMPLATES
                .get_template("sign_in.html")
                .and_then(|t| t.render(minijinja::context! { lang, step => "ask", next => "/dashboard", csrf => "x", here => "/sign-in", email_links => true }))
                .unwrap_or_else(|e| panic!("{e:#}"));
            assert!(html.contains(if lang == "sv" { "Skicka länk" } else { "Send link" }));
            let provider_only = TEMPLATES
                .get_template("sign_in.html")
                .and_then(|t| {
                    t.render(minijinja::context! {
                        lang, step => "ask", next => "/dashboard", csrf => "x", here => "/sign-in",
                        email_links => false, provider => "Microsoft",
                    })
                })
                .unwrap_or_else(|e| panic!("{e:#}"));
            assert!(provider_only.contains(if lang == "sv" {
                "Logga in med Microsoft"
            } else {
                "Sign in with Microsoft"
            }));
            assert!(!provider_only.contains("name=\"email\""));
        }
    }

    #[test]
    fn the_follow_up_form_shows_what_was_typed_and_the_error_beside_its_field() {
        let rows = vec![crate::domain::followup::ActivityInput {
            name: "Erasmus+ <ungdom>".into(),
            grant: "tio".into(),
            ..Default::default()
        }];
        let errors = std::collections::BTreeMap::from([("grant_0", "Skriv ett belopp")]);
        let html = TEMPLATES
            .get_template("followup.html")
            .and_then(|t| {
                t.render(minijinja::context! {
                    lang => "sv", id => 7, rows, field_errors => errors, summary => vec![("grant_0", "Skriv ett belopp")],
                    csrf => "token", here => "/x", locked => false,
                })
            })
            .unwrap_or_else(|e| panic!("{e:#}"));
        assert!(
            html.contains(r#"value="Erasmus+ &lt;ungdom&gt;""#),
            "typed text is kept, escaped"
        );
        assert!(html.contains(r#"<p class="error" id="grant_0-error">Skriv ett belopp</p>"#));
        assert!(html.contains(r#"aria-describedby="grant_0-error""#));
        assert!(html.contains(r##"<a href="#grant_0">Skriv ett belopp</a>"##));
        assert!(html.contains(r#"name="csrf" value="token""#));
    }
}
