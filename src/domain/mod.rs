//! The pure core: configuration, calendar arithmetic and occurrences. Nothing here does I/O
//! or reads the clock; time is always an argument.

pub mod access;
pub mod business_days;
pub mod calls;
pub mod config;
pub mod dashboard;
pub mod diary;
pub mod feeds;
pub mod followup;
pub mod listing;
pub mod mandate;
pub mod messages;
pub mod occurrence;
pub mod planner;
pub mod policy;
pub mod replies;
pub mod report;
pub mod routing;
pub mod schedule;
pub mod simulation;
pub mod steps;
pub mod templates;
pub mod tokens;
