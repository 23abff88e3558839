//! A decoder for the pgoutput logical replication protocol (version 1): the messages a
//! publication's changes arrive in. Values are text.

use std::collections::BTreeMap;

/// One column value of a tuple.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Datum {
    Null,
    /// A TOASTed value that did not change (not sent).
    Unchanged,
    Text(String),
}

/// A decoded pgoutput message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Begin {
        final_lsn: u64,
        xid: u32,
    },
    Commit {
        commit_lsn: u64,
        end_lsn: u64,
    },
    Relation {
        id: u32,
        namespace: String,
        name: String,
        columns: Vec<String>,
    },
    Insert {
        relation: u32,
        new: Vec<Datum>,
    },
    Update {
        relation: u32,
        old: Option<Vec<Datum>>,
        new: Vec<Datum>,
    },
    Delete {
        relation: u32,
        old: Vec<Datum>,
    },
    /// Truncate, type, origin and logical messages: not followed.
    Other(u8),
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.data.len())
            .ok_or("pgoutput message is truncated")?;
        let slice = &self.data[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_be_bytes(
            self.take(2)?.try_into().map_err(|_| "bad int16")?,
        ))
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().map_err(|_| "bad int32")?,
        ))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_be_bytes(
            self.take(8)?.try_into().map_err(|_| "bad int64")?,
        ))
    }

    fn string(&mut self) -> Result<String, String> {
        let rest = &self.data[self.at..];
        let len = rest
            .iter()
            .position(|b| *b == 0)
            .ok_or("pgoutput string is not terminated")?;
        let text = String::from_utf8_lossy(&rest[..len]).into_owned();
        self.at += len + 1;
        Ok(text)
    }

    fn tuple(&mut self) -> Result<Vec<Datum>, String> {
        let n = self.u16()?;
        (0..n)
            .map(|_| match self.u8()? {
                b'n' => Ok(Datum::Null),
                b'u' => Ok(Datum::Unchanged),
                b't' => {
                    let len = self.u32()? as usize;
                    Ok(Datum::Text(
                        String::from_utf8_lossy(self.take(len)?).into_owned(),
                    ))
                }
                other => Err(format!("unknown tuple column kind {other}")),
            })
            .collect()
    }
}

/// Decodes one message.
pub fn decode(data: &[u8]) -> Result<Message, String> {
    let mut r = Reader { data, at: 0 };
    Ok(match r.u8()? {
        b'B' => {
            let final_lsn = r.u64()?;
            let _timestamp = r.u64()?;
            Message::Begin {
                final_lsn,
                xid: r.u32()?,
            }
        }
        b'C' => {
            let _flags = r.u8()?;
            let commit_lsn = r.u64()?;
            Message::Commit {
                commit_lsn,
                end_lsn: r.u64()?,
            }
        }
        b'R' => {
            let id = r.u32()?;
            let namespace = r.string()?;
            let name = r.string()?;
            let _identity = r.u8()?;
            let n = r.u16()?;
            let mut columns = Vec::with_capacity(usize::from(n));
            for _ in 0..n {
                let _flags = r.u8()?;
                columns.push(r.string()?);
                let _type = r.u32()?;
                let _typmod = r.u32()?;
            }
            Message::Relation {
                id,
                namespace,
                name,
                columns,
            }
        }
        b'I' => {
            let relation = r.u32()?;
            let _n = r.u8()?;
            Message::Insert {
                relation,
                new: r.tuple()?,
            }
        }
        b'U' => {
            let relation = r.u32()?;
            let mut old = None;
            let mut kind = r.u8()?;
            if kind == b'K' || kind == b'O' {
                old = Some(r.tuple()?);
                kind = r.u8()?;
            }
            if kind != b'N' {
                return Err(format!("update without a new tuple (kind {kind})"));
            }
            Message::Update {
                relation,
                old,
                new: r.tuple()?,
            }
        }
        b'D' => {
            let relation = r.u32()?;
            let _kind = r.u8()?;
            Message::Delete {
                relation,
                old: r.tuple()?,
            }
        }
        other => Message::Other(other),
    })
}

/// Column name → text for a tuple; unchanged TOAST values are taken from `old`.
pub fn fields(
    columns: &[String],
    new: &[Datum],
    old: Option<&[Datum]>,
) -> BTreeMap<String, Option<String>> {
    columns
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let value = match new.get(i) {
                Some(Datum::Text(t)) => Some(t.clone()),
                Some(Datum::Unchanged) => match old.and_then(|o| o.get(i)) {
                    Some(Datum::Text(t)) => Some(t.clone()),
                    _ => None,
                },
                _ => None,
            };
            (name.clone(), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_relation_insert_and_key_only_delete() {
        let mut rel = vec![b'R', 0, 0, 0x60, 0xee];
        rel.extend(b"public\0t_ds_project\0d\0\x02");
        rel.extend(b"\x01id\0\0\0\0\x17\xff\xff\xff\xff");
        rel.extend(b"\0name\0\0\0\0\x19\xff\xff\xff\xff");
        let Message::Relation {
            id, name, columns, ..
        } = decode(&rel).unwrap()
        else {
            panic!("not a relation")
        };
        assert_eq!(
            (id, name.as_str(), columns.clone()),
            (
                0x60ee,
                "t_ds_project",
                vec!["id".to_owned(), "name".to_owned()]
            )
        );
        let insert = b"I\0\0\x60\xeeN\0\x02t\0\0\0\x011t\0\0\0\x01a";
        let Message::Insert { new, .. } = decode(insert).unwrap() else {
            panic!("not an insert")
        };
        let f = fields(&columns, &new, None);
        assert_eq!(f["id"].as_deref(), Some("1"));
        assert_eq!(f["name"].as_deref(), Some("a"));
        let delete = b"D\0\0\x60\xeeK\0\x02t\0\0\0\x011n";
        assert_eq!(
            decode(delete).unwrap(),
            Message::Delete {
                relation: 0x60ee,
                old: vec![Datum::Text("1".into()), Datum::Null]
            }
        );
        assert_eq!(
            decode(b"I\0\0").unwrap_err(),
            "pgoutput message is truncated"
        );
    }
}
