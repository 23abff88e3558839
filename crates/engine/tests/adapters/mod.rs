pub mod db;
mod hooks;
mod metadb;
pub mod processes;
mod requests;
mod rolling;
