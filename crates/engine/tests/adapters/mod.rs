pub mod db;
mod hooks;
mod metadb;
mod processes;
mod requests;
mod rolling;
