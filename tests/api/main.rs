//! The one integration test binary. Database tests run against SQLite, or against PostgreSQL
//! when `scripts/test` sets ARSHJUL_TEST_POSTGRES_URL; the script runs the suite both ways.

mod authentic_mail;
mod authorisation;
mod browser;
mod calls;
mod cli;
mod dashboard;
mod digests;
mod durability;
mod faults;
mod feeds;
mod helpers;
mod inbound;
mod materialise;
mod matrix;
mod microsoft;
mod nothing_lost;
mod peers;
mod reminders;
mod serve;
mod surface;
mod teams;
