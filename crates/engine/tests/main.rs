//! The engine's tests: the loop over an in-memory platform that counts every side effect
//! (`flow`), and the adapters over real databases and processes (`adapters`).

mod adapters;
mod e2e;
mod flow;
