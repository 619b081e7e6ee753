//! The transports that receive what people send: email (`arshjul mailgate` and IMAP), the
//! Matrix bot's sync, and the Teams outgoing webhook's signature. Each turns what arrives into
//! an [`crate::app::inbound::Inbound`] message and hands it to the application.

pub mod authentication;
pub mod email;
pub mod imap;
pub mod matrix;
pub mod teams;
