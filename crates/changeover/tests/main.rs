//! Integration tests: the real `changeover` binary against SQLite and PostgreSQL stores.
