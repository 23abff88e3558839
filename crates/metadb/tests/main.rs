//! Integration tests against the machine's real PostgreSQL and MariaDB, and SQLite files.
//! Each test creates fresh databases with random names and drops them.

mod backup;
mod common;
mod data_update;
mod migration;
mod secrets;
