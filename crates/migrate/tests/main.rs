//! Integration tests of changeover-migrate against real PostgreSQL and MariaDB servers.
