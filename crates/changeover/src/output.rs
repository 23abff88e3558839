//! Printing results: aligned tables for people, JSON (`--json`) for scripts. Everything a
//! script may parse goes to stdout; logs and errors go to stderr.

use comfy_table::{ContentArrangement, Table, presets};
use serde::Serialize;

/// A table with a clean look: upper-case headers, aligned columns, no box drawing.
pub fn table<I, R, C>(headers: &[&str], rows: I) -> String
where
    I: IntoIterator<Item = R>,
    R: IntoIterator<Item = C>,
    C: Into<comfy_table::Cell>,
{
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(headers.iter().map(|h| h.to_uppercase()));
    for row in rows {
        table.add_row(row);
    }
    // comfy-table pads the first column with a leading space; trim it for a flush left edge.
    table
        .lines()
        .map(|line| {
            line.strip_prefix(' ')
                .unwrap_or(&line)
                .trim_end()
                .to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Prints a value as pretty JSON on stdout.
pub fn json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A short form of a digest for tables.
pub fn short_digest(hex: &str) -> &str {
    hex.get(..8).unwrap_or(hex)
}

/// A timestamp for tables: UTC to the minute.
pub fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_aligned_and_plain() {
        let text = table(
            &["version", "format"],
            [["1.0.0", "yaml"], ["1.10.0", "zip"]],
        );
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("VERSION"), "{text}");
        assert_eq!(lines[1].find("yaml"), lines[2].find("zip"), "{text}");
        assert!(!text.contains('|') && !text.contains('+'), "{text}");
    }
}
