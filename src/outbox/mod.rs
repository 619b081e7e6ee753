//! The delivery pipeline after planning: the dispatcher claims due deliveries, groups them into
//! one message per recipient and channel, sends through the channels, and records the result.

mod compose;
pub mod dispatcher;
pub mod retry;

pub use dispatcher::{DispatchOutcome, Dispatcher};
