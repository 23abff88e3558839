//! A position in a source's change stream: a binary log file and offset, or a WAL LSN.

use std::cmp::Ordering;
use std::fmt;

use crate::source_mysql::BinlogPosition;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    Binlog(BinlogPosition),
    /// The end LSN of the last applied transaction.
    Lsn(u64),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Binlog(p) => write!(f, "{p}"),
            Position::Lsn(lsn) => write!(f, "lsn:{}", format_lsn(*lsn)),
        }
    }
}

impl Position {
    pub fn parse(text: &str) -> Option<Position> {
        match text.strip_prefix("lsn:") {
            Some(lsn) => parse_lsn(lsn).map(Position::Lsn),
            None => BinlogPosition::parse(text).map(Position::Binlog),
        }
    }

    /// Orders positions of the same kind; `None` across kinds.
    pub fn compare(&self, other: &Position) -> Option<Ordering> {
        match (self, other) {
            (Position::Binlog(a), Position::Binlog(b)) => {
                Some((a.file.as_str(), a.pos).cmp(&(b.file.as_str(), b.pos)))
            }
            (Position::Lsn(a), Position::Lsn(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }

    /// Whether this position is at or after `other`.
    pub fn reached(&self, other: &Position) -> bool {
        self.compare(other).is_some_and(Ordering::is_ge)
    }
}

/// `1/4FCD3110` → u64.
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.trim().split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

pub fn format_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_parse_print_and_order() {
        let lsn = Position::parse("lsn:1/4FCD3110").unwrap();
        assert_eq!(lsn, Position::Lsn((1 << 32) | 0x4FCD_3110));
        assert_eq!(lsn.to_string(), "lsn:1/4FCD3110");
        assert!(Position::Lsn(5).reached(&Position::Lsn(5)));
        assert!(!Position::Lsn(4).reached(&Position::Lsn(5)));
        let a = Position::parse("mysql-bin.000003:10").unwrap();
        let b = Position::parse("mysql-bin.000004:4").unwrap();
        assert!(b.reached(&a) && !a.reached(&b));
        assert!(!a.reached(&lsn));
    }
}
