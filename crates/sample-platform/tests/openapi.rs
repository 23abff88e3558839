//! The OpenAPI document of the contract against the real server.
