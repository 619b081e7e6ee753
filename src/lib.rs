//! arshjul keeps a Swedish municipality's governance calendar for its international and EU
//! work: it knows every deadline the guideline creates, reminds the people responsible by
//! email, Microsoft Teams and Matrix, escalates, and records their acknowledgements.
//!
//! # Layout
//!
//! Dependencies run one way: `cli` → [`startup`] → (`http`, `jobs`, `outbox`, `inbound`) →
//! [`app`] → (`storage`, `channels`) → [`domain`]. Nothing imports `startup` but the CLI and the
//! tests; `app` imports no adapter; channels never touch storage; the domain does no I/O.
//!
//! - [`domain`]: the pure core (no tokio, sqlx, reqwest, lettre or axum; no clock) —
//!   configuration (directory with its transports, calendar with its meeting plans and
//!   follow-up choices), business days (Sweden's less a municipality's own days off, the
//!   eves with shortened hours: [`domain::business_days::Workdays`]), mandate periods, due
//!   dates (at meetings, after a grant, on demand), occurrences (with who acted, [`domain::occurrence::Actor`]), the
//!   pipeline's vocabulary ([`domain::steps`]: step, ask, reason, subject, delivery state), the
//!   planner, routing, who may see and do what ([`domain::access`]), reading what people write
//!   ([`domain::replies`]), messages and their templates (built in, or an operator's in their
//!   place: [`domain::templates`]), EU calls, signed tokens (a key per purpose), diarienummer
//!   ([`domain::diary`]), the follow-up form, the yearly report (Markdown, CSV and its HTML document) and listings (table, JSON,
//!   iCalendar).
//! - [`app`]: the use cases over one [`app::App`] state — configuration and reload, planning
//!   (materialise, plan), actions with the notices they cause, EU calls, inbound handling
//!   (take in, match, check authenticity and rights, act, settle — digests included), the
//!   signed links in messages, sign-in mail within its limits, sign-in through the
//!   organisation's OpenID provider ([`app::oidc`]: PKCE, state, nonce, the ID token verified),
//!   and health (readiness). Every entry point calls these.
//! - [`storage`]: one `Store` over SQLite or PostgreSQL; occurrences, outbox, audit log, inbox,
//!   EU calls with each unit's interest and outcome, sessions and sign-in links. Singleton work
//!   (materialise, plan, granting a sign-in link) runs under one lock; the planning decision is
//!   passed in as a closure.
//! - [`channels`]: the channel registry ([`channels::Notifiers`]) and one `Notifier` per
//!   channel (email, Teams, Matrix bot and webhooks, signed webhook), with the HTTP status rules;
//!   [`channels::oauth`] the HTTP of the `oauth2`/`openidconnect` crates and the mail tokens
//!   (client credentials, kept and renewed) with which SMTP and the IMAP poller sign in.
//! - [`outbox`]: the dispatcher (claim, then send and record as a stream, a bounded number
//!   unrecorded at once) and the composing of messages.
//! - [`inbound`]: the transports that receive — email (`mailgate`, IMAP; its authenticity by
//!   signed token or by the trusted `Authentication-Results` in `inbound::authentication`),
//!   the Matrix sync, the Teams hook's signature — each handing messages to `app::inbound`.
//! - [`http`]: the axum router; each feature module owns its routes (health, metrics, ack,
//!   hooks, calls API, feeds, the dashboard), `http::page` the plain pages they share, one
//!   layer every response's security headers, `http::limits` the requests per client, and
//!   `http::server` the serving itself (timeouts, a connection cap, each request's peer).
//! - [`jobs`]: scheduled work (materialisation with the inbox's retention, planning) as UTC
//!   ticks.
//! - [`startup`]: the composition root, `Application::build` → `run_until_stopped`.
//! - [`cli`]: the `arshjul` subcommands, one file per group (serve, check, status, acting,
//!   calendar, channels, calls, report, bench); `cli/mod.rs` only parses and dispatches.
//! - [`settings`]: layered runtime settings (defaults, a file, `ARSHJUL__…` variables); they
//!   derive their own values (routing, the Teams key, the API token table, the IMAP account).
//! - [`clock`]: the only reader of wall time; `ARSHJUL_NOW` starts it elsewhere.
//! - [`metrics`], [`telemetry`]: Prometheus metrics and tracing.
//!
//! Crates rather than hand-written code: the Prometheus exposition format is
//! `prometheus-client`'s (it escapes label values, such as channel names, and owns the
//! format); percent-decoding in the IMAP URL is `percent-encoding`'s (already in the tree
//! through `url`); the text of a Teams message's HTML is `mail-parser`'s `html_to_text`
//! (already used for email), after the bot's `<at>` mention is cut out, which no crate knows;
//! the free space of the SQLite disk is `fs4`'s; OAuth 2.0 and OpenID Connect are `oauth2`'s and
//! `openidconnect`'s (through our own reqwest, redirects off), SASL XOAUTH2 lettre's for SMTP and
//! a few lines over async-imap's `Authenticator` for IMAP. `Authentication-Results` is read by a small
//! parser of our own: no maintained crate parses it (`mail-auth` verifies DKIM and DMARC
//! itself and writes such headers — the border server's job here).

pub mod app;
pub mod channels;
pub mod cli;
pub mod clock;
pub mod domain;
pub mod http;
pub mod inbound;
pub mod jobs;
pub mod metrics;
pub mod outbox;
pub mod settings;
pub mod startup;
pub mod storage;
pub mod telemetry;
