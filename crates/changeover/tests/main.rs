//! Integration tests: the real `changeover` binary against SQLite and PostgreSQL stores.

mod common;

mod catalog;
mod check;
mod help;
mod migrate_stop;
mod remote;
mod remote_upgrade;
mod store;
mod validation;
