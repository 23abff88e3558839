//! The server side of changeover: the maintenance [`gateway`] in front of the platform.
//!
//! **Architecture Invariant:** this is the only crate that knows HTTP wire types (status
//! codes, headers, JSON error bodies); the engine and the store never see them.

pub mod api;
pub mod auth;
pub mod console;
pub mod gateway;
