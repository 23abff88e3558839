//! End to end: the real sample platform (its two processes, metadata on SQLite or
//! PostgreSQL) upgraded by the console in each mode, with the store on SQLite.

mod crash;
mod harness;
mod modes;
mod rollback;
mod stop;
