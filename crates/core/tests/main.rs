//! Integration tests of changeover-core.
