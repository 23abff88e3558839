//! The last lines of an instance log, for error messages and the console.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::ProcessError;

/// Only the end of a log is read; enough for a few hundred lines.
const TAIL_WINDOW: u64 = 64 * 1024;

/// The last `count` lines of the file (fewer when it is shorter).
pub(crate) fn last_lines(path: &Path, count: usize) -> Result<Vec<String>, ProcessError> {
    let mut file = File::open(path).map_err(|e| ProcessError::io("open log file", path, e))?;
    let length = file
        .metadata()
        .map_err(|e| ProcessError::io("read log file", path, e))?
        .len();
    let start = length.saturating_sub(TAIL_WINDOW);
    file.seek(SeekFrom::Start(start))
        .map_err(|e| ProcessError::io("read log file", path, e))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| ProcessError::io("read log file", path, e))?;
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<&str> = text.lines().collect();
    if start > 0 && !lines.is_empty() {
        // The first line was cut by the window.
        lines.remove(0);
    }
    let skip = lines.len().saturating_sub(count);
    Ok(lines[skip..].iter().map(|l| (*l).to_owned()).collect())
}

/// The bytes appended to the file after `offset`.
pub(crate) fn read_from(path: &Path, offset: u64) -> Result<String, ProcessError> {
    let mut file = File::open(path).map_err(|e| ProcessError::io("open log file", path, e))?;
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| ProcessError::io("read log file", path, e))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| ProcessError::io("read log file", path, e))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_lines_of_short_and_long_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        std::fs::write(&path, "one\ntwo\nthree\n").unwrap();
        assert_eq!(last_lines(&path, 2).unwrap(), vec!["two", "three"]);
        assert_eq!(last_lines(&path, 10).unwrap().len(), 3);
        let long: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, long).unwrap();
        assert_eq!(
            last_lines(&path, 2).unwrap(),
            vec!["line 19998", "line 19999"]
        );
        assert_eq!(
            read_from(&path, 0).unwrap().len() as u64,
            std::fs::metadata(&path).unwrap().len()
        );
    }
}
