//! Ports implemented over the other crates: metadata databases by `changeover-metadb`.

pub mod airflow;
pub mod drivers;
pub mod hooks;
pub mod metadb;
pub mod store;
