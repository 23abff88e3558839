//! Moving one table's deletes ahead of the inserts they do not touch, so that alternating
//! "delete the old row, insert the new one" pairs become one `DELETE … IN (…)` and one run
//! of inserts (one `COPY` on PostgreSQL) instead of a statement and a round trip each.
//!
//! Measured on a snapshot of 100,000 definitions into PostgreSQL: the 10,000 schedules,
//! each written as a delete and an insert, took 5.9 s of the snapshot's sending as 20,000
//! statements.
//!
//! # Guarantees
//! - A delete moves ahead of an insert only if the inserted row cannot match the delete's
//!   key, under SQL comparison on either engine: values compare as integers or as ASCII
//!   text without case and trailing spaces (MariaDB's default collations); any other
//!   value (NULL, a time, a boolean, non-ASCII text, a column of mixed kinds, a key column
//!   the row lacks) is taken to match, and nothing moves past it.
//! - Inserts keep their order among themselves, deletes among themselves; an update is a
//!   barrier nothing crosses. So the table ends as if the writes ran in their given order.

use std::borrow::Borrow;
use std::collections::HashSet;

use crate::write::{Columns, SqlValue, Write};

/// A value as it compares in SQL, for the values whose comparison is known.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Probe {
    Int(i64),
    /// ASCII text, lowercased, trailing spaces removed.
    Text(String),
}

impl Probe {
    fn of(value: &SqlValue) -> Option<Probe> {
        match value {
            SqlValue::Int(v) => Some(Probe::Int(*v)),
            SqlValue::Text(t) if t.is_ascii() => {
                Some(Probe::Text(t.trim_end_matches(' ').to_ascii_lowercase()))
            }
            _ => None,
        }
    }

    fn same_kind(&self, other: &Probe) -> bool {
        matches!(
            (self, other),
            (Probe::Int(_), Probe::Int(_)) | (Probe::Text(_), Probe::Text(_))
        )
    }
}

/// `columns` of `row` as probes; `None` if one is missing or not comparable.
fn project(row: &Columns, columns: &[&'static str]) -> Option<Vec<Probe>> {
    columns
        .iter()
        .map(|c| {
            row.iter()
                .find(|(name, _)| name == c)
                .and_then(|(_, v)| Probe::of(v))
        })
        .collect()
}

/// Writes since the last barrier: deletes first when emitted, then inserts.
struct Group<T> {
    deletes: Vec<T>,
    inserts: Vec<T>,
    /// The key columns of the group's deletes, once it has one.
    key: Option<Vec<&'static str>>,
    /// The inserted rows projected on `key` (set once `key` is).
    inserted: HashSet<Vec<Probe>>,
    /// Per key column, a probe of the kind every inserted row has there.
    kinds: Vec<Probe>,
    /// An inserted row that may match any key: no delete moves past it.
    tainted: bool,
}

impl<T: Borrow<Write>> Group<T> {
    fn new() -> Group<T> {
        Group {
            deletes: Vec::new(),
            inserts: Vec::new(),
            key: None,
            inserted: HashSet::new(),
            kinds: Vec::new(),
            tainted: false,
        }
    }

    /// Records an inserted row's projection on the group's key.
    fn note(&mut self, row: &Columns) {
        let Some(key) = &self.key else { return };
        match project(row, key) {
            Some(probes) => {
                if self.kinds.is_empty() {
                    self.kinds.clone_from(&probes);
                } else if !self.kinds.iter().zip(&probes).all(|(a, b)| a.same_kind(b)) {
                    self.tainted = true;
                }
                self.inserted.insert(probes);
            }
            None => self.tainted = true,
        }
    }

    fn insert(&mut self, write: T) {
        if let Write::Insert { row, .. } = write.borrow() {
            self.note(row);
        }
        self.inserts.push(write);
    }

    /// Whether a delete of `key` may move ahead of the group's inserts.
    fn admits(&mut self, key: &Columns) -> bool {
        let names: Vec<&'static str> = key.iter().map(|(c, _)| *c).collect();
        if self.key.as_ref().is_some_and(|k| *k != names) {
            return false;
        }
        if self.inserts.is_empty() {
            return true;
        }
        if self.key.is_none() {
            // The group began with inserts: project them on this first key.
            self.key = Some(names);
            let inserts = std::mem::take(&mut self.inserts);
            for write in &inserts {
                if let Write::Insert { row, .. } = write.borrow() {
                    self.note(row);
                }
            }
            self.inserts = inserts;
        }
        if self.tainted || key.is_empty() {
            return false;
        }
        let Some(probes) = key
            .iter()
            .map(|(_, v)| Probe::of(v))
            .collect::<Option<Vec<Probe>>>()
        else {
            return false;
        };
        self.kinds.iter().zip(&probes).all(|(a, b)| a.same_kind(b))
            && !self.inserted.contains(&probes)
    }

    fn delete(&mut self, write: T) {
        if self.key.is_none()
            && let Write::Delete { key, .. } = write.borrow()
        {
            self.key = Some(key.iter().map(|(c, _)| *c).collect());
        }
        self.deletes.push(write);
    }

    fn flush(&mut self, out: &mut Vec<T>) {
        out.append(&mut self.deletes);
        out.append(&mut self.inserts);
        *self = Group::new();
    }
}

/// One table's writes (in order), with deletes moved ahead of the inserts they cannot touch.
pub fn hoist_deletes<T: Borrow<Write>>(list: Vec<T>) -> Vec<T> {
    let mut out = Vec::with_capacity(list.len());
    let mut group = Group::new();
    for write in list {
        match write.borrow() {
            Write::Insert { .. } => group.insert(write),
            Write::Delete { key, .. } => {
                if !group.admits(key) {
                    group.flush(&mut out);
                }
                group.delete(write);
            }
            Write::Update { .. } => {
                group.flush(&mut out);
                out.push(write);
            }
        }
    }
    group.flush(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::memory::MemoryTarget;

    fn insert(code: SqlValue, name: &str) -> Write {
        Write::Insert {
            table: "t",
            row: vec![("code", code), ("name", name.into())],
        }
    }

    fn delete(code: SqlValue) -> Write {
        Write::Delete {
            table: "t",
            key: vec![("code", code)],
        }
    }

    fn kinds(list: &[Write]) -> String {
        list.iter()
            .map(|w| match w {
                Write::Insert { .. } => 'I',
                Write::Delete { .. } => 'D',
                Write::Update { .. } => 'U',
            })
            .collect()
    }

    #[test]
    fn replacing_pairs_become_one_run_of_deletes_and_one_of_inserts() {
        let list: Vec<Write> = (1..=4)
            .flat_map(|i| [delete(i.into()), insert(i.into(), "x")])
            .collect();
        assert_eq!(kinds(&hoist_deletes(list)), "DDDDIIII");
    }

    #[test]
    fn a_delete_of_a_row_inserted_before_it_stays_after_it() {
        let list = vec![insert(1.into(), "a"), delete(2.into()), delete(1.into())];
        let out = hoist_deletes(list);
        assert_eq!(kinds(&out), "DID");
        assert!(matches!(&out[2], Write::Delete { key, .. } if key[0].1 == SqlValue::Int(1)));
    }

    #[test]
    fn text_that_sql_may_call_equal_is_a_match() {
        // MariaDB's default collation: case and trailing spaces do not count.
        for deleted in ["ABC", "abc  ", "Abc"] {
            let list = vec![insert("abc".into(), "a"), delete(deleted.into())];
            assert_eq!(kinds(&hoist_deletes(list)), "ID", "{deleted:?}");
        }
        let list = vec![insert("é".into(), "a"), delete("x".into())];
        assert_eq!(
            kinds(&hoist_deletes(list)),
            "ID",
            "non-ASCII text is not compared"
        );
        let list = vec![insert("5".into(), "a"), delete(5.into())];
        assert_eq!(kinds(&hoist_deletes(list)), "ID", "text against an integer");
        let list = vec![insert(SqlValue::Null, "a"), delete(5.into())];
        assert_eq!(kinds(&hoist_deletes(list)), "ID", "NULL");
    }

    #[test]
    fn nothing_crosses_an_update() {
        let update = Write::Update {
            table: "t",
            set: vec![("name", "y".into())],
            key: vec![("code", 9.into())],
        };
        let list = vec![insert(1.into(), "a"), update, delete(2.into())];
        assert_eq!(kinds(&hoist_deletes(list)), "IUD");
    }

    fn value() -> impl Strategy<Value = SqlValue> {
        prop_oneof![
            (0i64..4).prop_map(SqlValue::Int),
            prop::sample::select(vec!["a", "A", "a ", "b", "é", "1"]).prop_map(SqlValue::from),
            Just(SqlValue::Null),
        ]
    }

    fn write() -> impl Strategy<Value = Write> {
        prop_oneof![
            4 => (value(), prop::sample::select(vec!["x", "y"])).prop_map(|(c, n)| insert(c, n)),
            3 => value().prop_map(delete),
            1 => value().prop_map(|c| Write::Delete {
                table: "t",
                key: vec![("name", c)],
            }),
            1 => (value(), value()).prop_map(|(c, n)| Write::Update {
                table: "t",
                set: vec![("name", n)],
                key: vec![("code", c)],
            }),
        ]
    }

    proptest! {
        #[test]
        fn the_table_ends_the_same(start in prop::collection::vec(write(), 0..6),
                                   list in prop::collection::vec(write(), 0..40)) {
            let mut before = MemoryTarget::default();
            before.apply(&start);
            let mut after = before.clone();
            before.apply(&list);
            let hoisted = hoist_deletes(list.clone());
            prop_assert_eq!(hoisted.len(), list.len());
            after.apply(&hoisted);
            prop_assert_eq!(&before.tables, &after.tables);
        }
    }
}
