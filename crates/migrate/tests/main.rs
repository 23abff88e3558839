//! Integration tests of changeover-migrate against the real PostgreSQL and MariaDB servers.
//! Every test creates fresh databases with random names and drops them at the end.

mod crash;
mod fake_dsapi;
mod mariadb_source;
mod postgres_source;
mod progress;
mod scope;
mod stop;
mod support;
mod target_state;
