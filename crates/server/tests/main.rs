//! Integration tests of changeover-server: real HTTP servers on 127.0.0.1 port 0, real
//! stores (a fresh SQLite file or PostgreSQL database per test).

mod api;
mod browser;
mod fixtures;
mod gateway;
mod platform;
mod rolling;
mod sample;
mod schemathesis;
mod upgrade_http;
mod users;
