//! Integration tests: the real `changeover` binary against SQLite and PostgreSQL stores.

mod common;

mod catalog;
mod check;
mod help;
mod remote;
mod remote_upgrade;
mod store;
mod validation;
