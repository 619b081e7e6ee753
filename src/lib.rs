//! arshjul keeps a Swedish municipality's governance calendar for its international and EU
//! work: it knows every deadline the guideline creates and, in later stages, reminds the
//! people responsible and records their acknowledgements.
//!
//! # Layout
//!
//! - [`domain`]: the pure core — configuration, Swedish business days, mandate periods, due
//!   dates, occurrences. No I/O, no clock.
//! - [`settings`]: layered runtime settings (defaults, a file, `ARSHJUL__…` variables).
//! - [`clock`]: the only reader of wall time.
//! - [`storage`]: one `Store` over SQLite or PostgreSQL; occurrences and the audit log.
//! - [`startup`]: the composition root, `Application::build` → `run_until_stopped`.
//! - [`jobs`]: scheduled work (materialisation) as UTC ticks.
//! - [`http`]: the axum router; each feature module owns its routes.
//! - [`listing`]: occurrences as a table, JSON or iCalendar.
//! - [`cli`]: the `arshjul` subcommands.
//! - [`telemetry`]: tracing set-up.

pub mod cli;
pub mod clock;
pub mod domain;
pub mod http;
pub mod jobs;
pub mod listing;
pub mod settings;
pub mod startup;
pub mod storage;
pub mod telemetry;
