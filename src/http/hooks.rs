//! `POST /hooks/teams`: the Teams outgoing webhook. [`crate::inbound::teams`] checks and reads
//! the request; the answer we give appears in the thread within Teams's five seconds.
//! Unsigned, forged or stale requests get 401 and are counted.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use crate::app::App;
use crate::app::inbound::handle;

/// The routes of this module.
pub fn router() -> Router<Arc<App>> {
    Router::new().route("/hooks/teams", post(teams))
}

async fn teams(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(key) = &app.teams_hook_key else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let authorization = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let message = match crate::inbound::teams::read(key, authorization, &body, app.clock.now()) {
        Ok(message) => message,
        Err(refused) if refused.is_unauthenticated() => {
            app.metrics.rejected_hook(refused.reason());
            tracing::warn!(reason = refused.reason(), "refused a Teams webhook request");
            return (StatusCode::UNAUTHORIZED, refused.reason()).into_response();
        }
        Err(refused) => return (StatusCode::BAD_REQUEST, refused.reason()).into_response(),
    };
    let text = match handle(&app, &message).await {
        Ok(Some(handled)) => handled.text,
        Ok(None) => "Redan mottaget. / Already received.".to_owned(),
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "handling a Teams message failed");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    axum::Json(json!({"type": "message", "text": text})).into_response()
}
