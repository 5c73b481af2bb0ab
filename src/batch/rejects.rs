//! Rejects held back until the whole file is read: a row is only known to
//! share its key with a later row at the end, and then its rejects (read
//! again, [`crate::data::stream::Stream::reparse`]) take their place in row
//! order. Kept compactly in a [`Store`], so they spill to disk like
//! decisions.

use std::collections::HashSet;
use std::path::PathBuf;

use super::store::{put_text as put, take, Store};
use crate::data::Reject;

/// Rejects in row order, as found.
pub struct RejectLog {
    store: Store,
    /// Where each appended block starts and its length.
    blocks: Vec<(u64, u32)>,
    buf: Vec<u8>,
}

fn text(bytes: &mut &[u8]) -> Option<String> {
    let len = u32::from_le_bytes(take(bytes, 4)?.try_into().ok()?);
    Some(String::from_utf8_lossy(take(bytes, len as usize)?).into_owned())
}

fn decode(bytes: &mut &[u8]) -> Option<Reject> {
    let row = u64::from_le_bytes(take(bytes, 8)?.try_into().ok()?);
    Some(Reject {
        row,
        column: text(bytes)?,
        value: text(bytes)?,
        reason: text(bytes)?,
    })
}

impl RejectLog {
    /// Spills beyond `limit` bytes into `spill_dir` (or keeps all in memory).
    pub fn new(spill_dir: Option<PathBuf>, limit: usize) -> RejectLog {
        RejectLog {
            store: Store::named("rejects", spill_dir, limit),
            blocks: Vec::new(),
            buf: Vec::new(),
        }
    }

    /// Adds rejects that follow every one added before, in row order.
    pub fn add(&mut self, rejects: &[Reject]) -> std::io::Result<()> {
        if rejects.is_empty() {
            return Ok(());
        }
        self.buf.clear();
        for r in rejects {
            self.buf.extend_from_slice(&r.row.to_le_bytes());
            put(&mut self.buf, &r.column);
            put(&mut self.buf, &r.value);
            put(&mut self.buf, &r.reason);
        }
        let len = u32::try_from(self.buf.len()).map_err(std::io::Error::other)?;
        let at = self.store.append(&self.buf)?;
        self.blocks.push((at, len));
        Ok(())
    }

    /// Hands every reject to `emit` in row order, with the rows of `replaced`
    /// (in row order) given their new rejects instead of those logged.
    pub fn replay(
        &self,
        replaced: &[(u64, Vec<Reject>)],
        mut emit: impl FnMut(&Reject) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let rows: HashSet<u64> = replaced.iter().map(|(row, _)| *row).collect();
        let mut pending = replaced.iter().peekable();
        let mut buf = Vec::new();
        for &(at, len) in &self.blocks {
            let mut bytes = self.store.read(at, len, &mut buf)?;
            while !bytes.is_empty() {
                let Some(r) = decode(&mut bytes) else {
                    return Err(std::io::Error::other("the reject log is damaged"));
                };
                while let Some((_, new)) = pending.next_if(|(row, _)| *row < r.row) {
                    new.iter().try_for_each(&mut emit)?;
                }
                if !rows.contains(&r.row) {
                    emit(&r)?;
                }
            }
        }
        for (_, new) in pending {
            new.iter().try_for_each(&mut emit)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reject(row: u64, column: &str) -> Reject {
        Reject {
            row,
            column: column.into(),
            value: "值".into(),
            reason: format!("reason {row}"),
        }
    }

    #[test]
    fn replays_in_row_order_with_replaced_rows() {
        let mut log = RejectLog::new(None, 0);
        log.add(&[reject(2, "a"), reject(2, "b")]).unwrap();
        log.add(&[]).unwrap();
        log.add(&[reject(5, "a"), reject(9, "c")]).unwrap();
        let replaced = vec![
            (1, vec![reject(1, "k")]),
            (5, vec![reject(5, "a"), reject(5, "k")]),
            (7, vec![reject(7, "k")]),
            (12, vec![reject(12, "k")]),
        ];
        let mut out = Vec::new();
        log.replay(&replaced, |r| {
            out.push((r.row, r.column.clone()));
            Ok(())
        })
        .unwrap();
        let want: Vec<(u64, String)> = [
            (1, "k"),
            (2, "a"),
            (2, "b"),
            (5, "a"),
            (5, "k"),
            (7, "k"),
            (9, "c"),
            (12, "k"),
        ]
        .iter()
        .map(|(r, c)| (*r, c.to_string()))
        .collect();
        assert_eq!(out, want);
    }
}
