//! One module per command group; each has `Args` and `run(args, ctx)`.

pub mod audit;
pub mod backup;
pub mod demo;
pub mod gateway;
pub mod migrate;
pub mod platform;
pub mod serve;
pub mod upgrade;
pub mod user;
pub mod version;

/// A platform name: 1–64 of letters, digits, `-`, `_`, `.`.
pub fn check_platform_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a platform name (1 to 64 letters, digits, '-', '_' or '.')"
        ))
    }
}
