//! arshjul keeps a Swedish municipality's governance calendar for its international and EU
//! work: it knows every deadline the guideline creates, reminds the people responsible by
//! email, Microsoft Teams and Matrix, escalates, and records their acknowledgements.
//!
//! # Layout
//!
//! - [`domain`]: the pure core — configuration, Swedish business days, mandate periods, due
//!   dates, occurrences, the planner, routing, messages, EU calls and the answers to them, who
//!   sees what on the dashboard, the follow-up form and the yearly report. No I/O, no clock.
//! - [`settings`]: layered runtime settings (defaults, a file, `ARSHJUL__…` variables).
//! - [`clock`]: the only reader of wall time.
//! - [`storage`]: one `Store` over SQLite or PostgreSQL; occurrences, outbox, audit log, inbox,
//!   EU calls with each unit's interest and outcome. A delivery is about an occurrence or a call.
//! - [`outbox`]: the dispatcher that claims due deliveries, sends and records them.
//! - [`channels`]: one `Notifier` per channel (email, Teams, Matrix bot and webhooks, signed
//!   webhook) and the HTTP status rules.
//! - [`inbound`]: replies, reactions and commands from people, in one pipeline per message.
//! - [`links`]: signed acknowledgement links in messages.
//! - [`metrics`]: Prometheus counters and gauges for `/metrics`.
//! - [`startup`]: the composition root, `Application::build` → `run_until_stopped`.
//! - [`jobs`]: scheduled work (materialisation, planning) as UTC ticks.
//! - [`http`]: the axum router; each feature module owns its routes. `http::dashboard` is the
//!   signed-in dashboard (sign-in by emailed link, sessions, CSRF, the year's wheel and matrix,
//!   the follow-up form, the compiled report), rendered from `templates/dashboard/`.
//! - [`listing`]: occurrences as a table, JSON or iCalendar.
//! - [`calls`]: EU funding calls — announce, correct, cancel, answer — from every channel.
//! - [`cli`]: the `arshjul` subcommands (`cli::calls`: `announce` and `calls`; `cli::report`).
//! - [`telemetry`]: tracing set-up.
//! - [`bench`]: `arshjul bench`, the pipeline's throughput, latency and memory figures.

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
