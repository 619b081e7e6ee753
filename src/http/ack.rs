//! Signed acknowledgement links. `GET /ack/{token}` only shows what the link would do — mail
//! scanners follow links, so a GET changes nothing; its form `POST`s to record the action,
//! once. Forged, tampered, expired or revoked links get a page that says why, and are counted.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;

use super::page::{Page, refused, say, unavailable};
use crate::app::App;
use crate::app::actions::Acted;
use crate::domain::access::{NotAllowed, may};
use crate::domain::config::{Config, Language};
use crate::domain::messages::{long_date, title, unit_name};
use crate::domain::occurrence::{Action, OccurrenceState, StoredOccurrence, Transition};
use crate::domain::occurrence::{ActionOutcome, Actor};
use crate::domain::tokens::LinkClaims;

pub fn router() -> Router<Arc<App>> {
    Router::new().route("/ack/{token}", get(show).post(record))
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
    // Asked again when the button is pressed: the directory may change in between.
    if let Err(why) = may(&config, &claims.person, &occurrence, claims.action) {
        return not_allowed(language, &why, details);
    }
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
        Ok(Some(Acted::Done(ActionOutcome::Recorded { to, .. }))) => {
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
        Ok(Some(Acted::Done(ActionOutcome::AlreadyRecorded(_)))) => {
            app.metrics.action(claims.action.as_str(), "already");
            already(language, details(&config, &occurrence, language))
        }
        Ok(Some(Acted::Done(ActionOutcome::Refused(state)))) => {
            app.metrics.action(claims.action.as_str(), "refused");
            not_possible(language, state, details(&config, &occurrence, language))
        }
        Ok(Some(Acted::NotAllowed(why))) => {
            app.metrics.action(claims.action.as_str(), "not_allowed");
            not_allowed(language, &why, details(&config, &occurrence, language))
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
            say(language, "Status", "Status"),
            occurrence.state.label(language).to_owned(),
        ),
    ]
}

fn confirm_title(action: Action, language: Language) -> &'static str {
    match action {
        Action::Submit => say(language, "Markera som inlämnad?", "Mark as submitted?"),
        Action::Acknowledge => say(language, "Kvittera inlämningen?", "Acknowledge the submission?"),
        Action::Waive => say(language, "Stryka uppgiften?", "Waive the item?"),
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
        Language::Sv => format!("Det går inte längre: uppgiften är {}.", state.label(language)),
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

/// The link reached its person, but the directory in force no longer lets them do this.
fn not_allowed(language: Language, why: &NotAllowed, details: Vec<(&'static str, String)>) -> Page {
    let why = why.text(language);
    Page {
        status: StatusCode::FORBIDDEN,
        language,
        title: say(language, "Du kan inte göra det här nu", "You cannot do this now"),
        message: match language {
            Language::Sv => format!(
                "Länken skickades till dig, men enligt kommunens katalog i dag gäller att {why}. \
                 Ansvaret kan ha flyttats till någon annan. Inget har ändrats."
            ),
            Language::En => format!(
                "The link was sent to you, but under the municipality's directory today {why}. \
                 The responsibility may have moved to someone else. Nothing was changed."
            ),
        },
        details,
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
