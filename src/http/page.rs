//! The plain pages that links lead to — confirmations, refusals, "try again" — in the
//! reader's language, from one template. `ack`, `calls` and the dashboard use them.

use std::sync::LazyLock;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use minijinja::Environment;

use crate::domain::config::Language;
use crate::domain::tokens::LinkError;

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

/// The page for a link that cannot be trusted or has run out.
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

/// The page for a moment when the database cannot be reached: nothing was changed.
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
