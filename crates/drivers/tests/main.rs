//! Integration tests of changeover-drivers, with real processes and real servers.

mod contract;
mod lifecycle;
mod platform;
mod rollout;
mod support;
