//! Calendar feeds: `GET /calendar/{token}.ics` — one person's, one unit's or the whole
//! municipality's deadlines as RFC 5545, read fresh on every request, so a moved deadline moves
//! in the subscriber's calendar (the UIDs stay). The token names the scope and is signed; a
//! wrong one, or one made before its feed was rotated, gets 404 and is counted like a refused
//! link.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::app::App;
use crate::domain::listing::{ics, list_stored};

pub fn router() -> Router<Arc<App>> {
    Router::new().route("/calendar/{file}", get(feed))
}

async fn feed(State(app): State<Arc<App>>, Path(file): Path<String>) -> Response {
    let token = file.strip_suffix(".ics").unwrap_or(&file);
    let read = async {
        let claims = app.links.feed_claims(&app.store, token, app.clock.now()).await?;
        anyhow::Ok((claims, app.store.occurrences().await?))
    };
    let (claims, occurrences) = match read.await {
        Ok((Ok(claims), occurrences)) => (claims, occurrences),
        Ok((Err(error), _)) => {
            app.metrics.rejected_link(error.label());
            return StatusCode::NOT_FOUND.into_response();
        }
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "reading a calendar feed failed");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let config = app.config();
    let shown: Vec<_> = occurrences
        .into_iter()
        .filter(|o| claims.scope.includes(&config, o))
        .collect();
    let body = ics(
        &claims.scope.name(&config),
        &list_stored(&config, &shown),
        app.clock.now(),
    );
    ([(header::CONTENT_TYPE, "text/calendar; charset=utf-8")], body).into_response()
}
