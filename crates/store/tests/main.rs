//! Store tests: every test runs on a fresh SQLite file and on a fresh PostgreSQL database.

mod catalog;
mod lease;
mod open;
mod platform;
