//! Mailing sign-in links within limits: one person gets at most one a minute and five an hour
//! (by default), one client address can have twenty mailed an hour, a bounded number are sent
//! at once, and each link mailed revokes the person's older ones. What the asker sees never
//! depends on any of it.

use std::sync::Arc;

use super::App;
use super::links::SIGN_IN_MINUTES;
use crate::channels::Recipient;
use crate::domain::config::Person;
use crate::settings::SignInSettings;

/// The sign-in mail desk of one instance.
pub struct SignInMail {
    limits: SignInSettings,
    sending: Arc<tokio::sync::Semaphore>,
}

impl SignInMail {
    /// A desk with `limits`, nothing in flight.
    pub fn new(limits: &SignInSettings) -> Self {
        Self {
            sending: Arc::new(tokio::sync::Semaphore::new(limits.max_sends_in_flight.max(1))),
            limits: limits.clone(),
        }
    }

    /// Whether sign-in links are mailed (`sign_in.email_links`).
    pub fn email_links(&self) -> bool {
        self.limits.email_links
    }

    /// How long a dashboard session may go unused.
    pub fn session_idle(&self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_mins(self.limits.session_idle_minutes.max(1))
    }

    /// Mails `person` a sign-in link that goes to `next`, in the background, if the limits
    /// allow it; logs what it did. Returns at once, whatever happens.
    pub fn request(&self, app: &Arc<App>, person: &Person, next: &str, client: String) {
        let Ok(permit) = Arc::clone(&self.sending).try_acquire_owned() else {
            tracing::warn!(person = %person.id, "too many sign-in mails being sent; this one is not");
            return;
        };
        let (app, person, next) = (Arc::clone(app), person.clone(), next.to_owned());
        tokio::spawn(async move {
            let now = app.clock.now();
            let sent = match app
                .store
                .grant_sign_in_link(person.id.as_str(), &client, &app.sign_in.limits, now)
                .await
            {
                Ok(true) => mail_link(&app, &person, &next, now).await.map(|()| true),
                Ok(false) => Ok(false),
                Err(error) => Err(error),
            };
            match sent {
                Ok(true) => tracing::info!(person = %person.id, "sign-in link sent"),
                Ok(false) => tracing::info!(person = %person.id, %client, "sign-in link limit reached; none sent"),
                Err(error) => {
                    tracing::error!(error = format!("{error:#}"), person = %person.id, "sending a sign-in link failed");
                }
            }
            drop(permit);
        });
    }
}

/// Mails `person` a link, issued at `now`, that signs them in and goes to `next`.
async fn mail_link(app: &App, person: &Person, next: &str, now: jiff::Timestamp) -> anyhow::Result<()> {
    let url = app.links.sign_in_url(person.id.as_str(), next, now)?;
    let mail = crate::domain::messages::sign_in_message(&app.config(), person, &url, SIGN_IN_MINUTES)?;
    app.notifiers
        .email
        .send_direct(&Recipient::from(person), &mail.subject, mail.text, mail.html)
        .await
        .map_err(anyhow::Error::from)
}
