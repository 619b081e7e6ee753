//! Signed acknowledgement links. `GET /ack/{token}` only shows what the link would do — mail
//! scanners follow links, so a GET changes nothing; its form `POST`s to record the action,
//! once. Forged, tampered, expired or revoked links get a page that says why, and are counted.

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use minijinja::Environment;

use crate::app::App;
use crate::domain::config::{Config, Language};
use crate::domain::messages::{long_date, title, unit_name};
use crate::domain::occurrence::{Action, OccurrenceState, StoredOccurrence, Transition};
use crate::domain::occurrence::{ActionOutcome, Actor};
use crate::domain::tokens::{LinkClaims, LinkError};

pub fn router() -> Router<Arc<App>> {
    Router::new().route("/ack/{token}", get(show).post(record))
}

static PAGE: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    if let Err(error) = env.add_template("page.html", include_str!("../../templates/pages/page.html")) {
        tracing::error!(%error, "invalid page template");
    }
    env
});

/// A page to show, in one language.
pub(super) struct Page {
    pub(super) status: StatusCode,
    pub(super) language: Language,
    pub(super) title: &'static str,
    pub(super) message: String,
    pub(super) details: Vec<(&'static str, String)>,
    /// The confirmation form: its button label and the URL it posts to.
    pub(super) form: Option<(&'static str, String)>,
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let (lang, (button, form_action)) = (
            if self.language == Language::Sv { "sv" } else { "en" },
            self.form
                .map_or((None, String::new()), |(button, action)| (Some(button), action)),
        );
        let rendered = PAGE.get_template("page.html").and_then(|t| {
            t.render(minijinja::context! {
                lang, title => self.title, message => self.message, details => self.details, button, form_action,
            })
        });
        match rendered {
            Ok(html) => (self.status, Html(html)).into_response(),
            Err(error) => {
                tracing::error!(%error, "rendering a page failed");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

/// Swedish or English text, by the reader's language.
pub(super) fn say(language: Language, sv: &'static str, en: &'static str) -> &'static str {
    if language == Language::Sv { sv } else { en }
}

/// The verified claims of `token` and the occurrence they name, or the page that says why not.
async fn open(app: &App, token: &str) -> Result<(LinkClaims, StoredOccurrence, Language), Page> {
    let claims: LinkClaims = app.links.signer.verify(token, app.clock.now()).map_err(|error| {
        app.metrics.rejected_link(error.label());
        tracing::warn!(reason = error.label(), "refused a signed link");
        refused(error)
    })?;
    let config = app.config();
    let language = config
        .directory
        .person_named(&claims.person)
        .map_or(Language::Sv, |p| p.language);
    let occurrence = match app.store.occurrence(claims.occurrence_id).await {
        Ok(Some(occurrence)) => occurrence,
        Ok(None) => return Err(gone(language)),
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "reading an occurrence for a link failed");
            return Err(unavailable(language));
        }
    };
    Ok((claims, occurrence, language))
}

async fn show(State(app): State<Arc<App>>, Path(token): Path<String>) -> Page {
    let (claims, occurrence, language) = match open(&app, &token).await {
        Ok(opened) => opened,
        Err(page) => return page,
    };
    let config = app.config();
    let details = details(&config, &occurrence, language);
    match claims.action.transition(occurrence.state) {
        Transition::To(_) => Page {
            status: StatusCode::OK,
            language,
            title: confirm_title(claims.action, language),
            message: say(
                language,
                "Bekräfta med knappen nedan.",
                "Confirm with the button below.",
            )
            .to_owned(),
            details,
            form: Some((button(claims.action, language), format!("/ack/{token}"))),
        },
        Transition::AlreadyDone => already(language, details),
        Transition::Refused => not_possible(language, occurrence.state, details),
    }
}

async fn record(State(app): State<Arc<App>>, Path(token): Path<String>) -> Page {
    let (claims, occurrence, language) = match open(&app, &token).await {
        Ok(opened) => opened,
        Err(page) => return page,
    };
    let actor = Actor {
        person: &claims.person,
        channel: "link",
        source: "signed link",
        note: None,
    };
    let outcome = app.record_action(occurrence.id, claims.action, &actor).await;
    let config = app.config();
    match outcome {
        Ok(Some(ActionOutcome::Recorded { to, .. })) => {
            app.metrics.action(claims.action.as_str(), "recorded");
            tracing::info!(occurrence = occurrence.id, person = %claims.person, action = claims.action.as_str(), "action recorded from a link");
            let mut recorded = occurrence.clone();
            recorded.state = to;
            Page {
                status: StatusCode::OK,
                language,
                title: say(language, "Tack – det är registrerat", "Thank you – it is recorded"),
                message: say(
                    language,
                    "Åtgärden är sparad i årshjulet.",
                    "The action is saved in the governance calendar.",
                )
                .to_owned(),
                details: details(&config, &recorded, language),
                form: None,
            }
        }
        Ok(Some(ActionOutcome::AlreadyRecorded(_))) => {
            app.metrics.action(claims.action.as_str(), "already");
            already(language, details(&config, &occurrence, language))
        }
        Ok(Some(ActionOutcome::Refused(state))) => {
            app.metrics.action(claims.action.as_str(), "refused");
            not_possible(language, state, details(&config, &occurrence, language))
        }
        Ok(None) => gone(language),
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "recording an action failed");
            unavailable(language)
        }
    }
}

fn details(config: &Config, occurrence: &StoredOccurrence, language: Language) -> Vec<(&'static str, String)> {
    vec![
        (say(language, "Ärende", "Item"), title(config, occurrence, language)),
        (say(language, "Enhet", "Unit"), unit_name(config, occurrence, language)),
        ("Period", occurrence.period.clone()),
        (
            say(language, "Sista dag", "Due"),
            long_date(config, occurrence.due_at, language),
        ),
        (
            say(language, "Läge", "Status"),
            occurrence.state.label(language).to_owned(),
        ),
    ]
}

fn confirm_title(action: Action, language: Language) -> &'static str {
    match action {
        Action::Submit => say(language, "Markera som inlämnad?", "Mark as submitted?"),
        Action::Acknowledge => say(language, "Kvittera inlämningen?", "Acknowledge the submission?"),
        Action::Waive => say(language, "Stryka ärendet?", "Waive the item?"),
    }
}

fn button(action: Action, language: Language) -> &'static str {
    match action {
        Action::Submit => say(language, "Markera som inlämnad", "Mark as submitted"),
        Action::Acknowledge => say(language, "Kvittera", "Acknowledge"),
        Action::Waive => say(language, "Stryk", "Waive"),
    }
}

fn already(language: Language, details: Vec<(&'static str, String)>) -> Page {
    Page {
        status: StatusCode::OK,
        language,
        title: say(language, "Redan registrerat", "Already recorded"),
        message: say(
            language,
            "Det här är redan registrerat. Du behöver inte göra något mer.",
            "This is already recorded. Nothing more is needed.",
        )
        .to_owned(),
        details,
        form: None,
    }
}

fn not_possible(language: Language, state: OccurrenceState, details: Vec<(&'static str, String)>) -> Page {
    let message = match language {
        Language::Sv => format!("Det går inte längre: ärendet är {}.", state.label(language)),
        Language::En => format!("This is no longer possible: the item is {}.", state.label(language)),
    };
    Page {
        status: StatusCode::CONFLICT,
        language,
        title: say(language, "Kan inte registreras", "Cannot be recorded"),
        message,
        details,
        form: None,
    }
}

pub(super) fn refused(error: LinkError) -> Page {
    // The reader is unknown (the link cannot be trusted), so the page is in both languages.
    let (status, message) = match error {
        LinkError::Malformed | LinkError::Forged => (
            StatusCode::BAD_REQUEST,
            "Länken är ogiltig – den har ändrats eller kommer inte från arshjul. / The link is invalid: it was changed or does not come from arshjul.",
        ),
        LinkError::Expired => (
            StatusCode::GONE,
            "Länken har slutat gälla. Använd länken i den senaste påminnelsen. / The link has expired. Use the link in the latest reminder.",
        ),
        LinkError::Revoked => (
            StatusCode::FORBIDDEN,
            "Länken har dragits tillbaka. Använd länken i den senaste påminnelsen. / The link was revoked. Use the link in the latest reminder.",
        ),
    };
    Page {
        status,
        language: Language::Sv,
        title: "Länken fungerar inte / The link does not work",
        message: message.to_owned(),
        details: Vec::new(),
        form: None,
    }
}

fn gone(language: Language) -> Page {
    Page {
        status: StatusCode::NOT_FOUND,
        language,
        title: say(language, "Ärendet finns inte", "No such item"),
        message: say(
            language,
            "Ärendet som länken gäller finns inte längre.",
            "The item this link is about no longer exists.",
        )
        .to_owned(),
        details: Vec::new(),
        form: None,
    }
}

pub(super) fn unavailable(language: Language) -> Page {
    Page {
        status: StatusCode::SERVICE_UNAVAILABLE,
        language,
        title: say(language, "Försök igen om en stund", "Please try again shortly"),
        message: say(
            language,
            "Årshjulet kan inte nå sin databas just nu. Inget har ändrats.",
            "The governance calendar cannot reach its database right now. Nothing was changed.",
        )
        .to_owned(),
        details: Vec::new(),
        form: None,
    }
}
