//! Rejects held back until the whole file is read: a row is only known to
//! share its key with a later row at the end, and then its reject for the
//! key goes among those it had ([`RejectLog::replay_inserting`]; a JSON
//! line's rejects are read again, [`crate::data::stream::Stream::reparse_each`],
//! and take the place of those it had) in row order. Kept compactly in a [`Store`], so they spill to disk like
//! decisions.

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
        for r in rejects {
            self.buf.extend_from_slice(&r.row.to_le_bytes());
            put(&mut self.buf, &r.column);
            put(&mut self.buf, &r.value);
            put(&mut self.buf, &r.reason);
        }
        if self.buf.len() >= BLOCK {
            self.flush()?;
        }
        Ok(())
    }

    /// Moves what is gathered into the store, as one block.
    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let len = u32::try_from(self.buf.len()).map_err(std::io::Error::other)?;
        let at = self.store.append(&self.buf)?;
        self.blocks.push((at, len));
        self.buf.clear();
        Ok(())
    }

    /// Every reject logged, in order.
    fn iter(&self) -> Rejects<'_> {
        Rejects {
            log: self,
            block: 0,
            bytes: Vec::new(),
            at: 0,
        }
    }

    /// Hands every reject to `emit` in row order, with the rows that
    /// `replaced` (in row order too) has rejects for given those instead of
    /// the ones logged.
    pub fn replay(
        &mut self,
        replaced: &mut RejectLog,
        mut emit: impl FnMut(&Reject) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        self.flush()?;
        replaced.flush()?;
        let mut new = replaced.iter();
        let mut head = new.next().transpose()?;
        let mut replacing = None;
        for r in self.iter() {
            let r = r?;
            // new rejects of the rows before this one, and of this one
            while let Some(n) = head.take_if(|n| n.row <= r.row) {
                if n.row == r.row {
                    replacing = Some(r.row);
                }
                emit(&n)?;
                head = new.next().transpose()?;
            }
            if replacing != Some(r.row) {
                emit(&r)?;
            }
        }
        while let Some(n) = head {
            emit(&n)?;
            head = new.next().transpose()?;
        }
        Ok(())
    }
}

impl RejectLog {
    /// Hands every reject to `emit` in row order, with those of `inserted`
    /// (in row order, each with its index among its row's rejects as
    /// logged) among them.
    pub fn replay_inserting(
        &mut self,
        mut inserted: impl Iterator<Item = std::io::Result<(Reject, u32)>>,
        mut emit: impl FnMut(&Reject) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        self.flush()?;
        let mut head = inserted.next().transpose()?;
        // the row of the last reject logged, and how many it has had
        let (mut row, mut index) = (None, 0u64);
        for r in self.iter() {
            let r = r?;
            if row != Some(r.row) {
                (row, index) = (Some(r.row), 0);
            }
            while let Some((n, _)) =
                head.take_if(|(n, at)| n.row < r.row || (n.row == r.row && u64::from(*at) <= index))
            {
                emit(&n)?;
                head = inserted.next().transpose()?;
            }
            emit(&r)?;
            index += 1;
        }
        while let Some((n, _)) = head {
            emit(&n)?;
            head = inserted.next().transpose()?;
        }
        Ok(())
    }
}

/// Bytes gathered before they go to the store as a block.
const BLOCK: usize = 64 << 10;

/// Reads a log's rejects in order.
struct Rejects<'a> {
    log: &'a RejectLog,
    block: usize,
    bytes: Vec<u8>,
    at: usize,
}

impl Iterator for Rejects<'_> {
    type Item = std::io::Result<Reject>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.at >= self.bytes.len() {
            let &(at, len) = self.log.blocks.get(self.block)?;
            self.block += 1;
            let mut buf = Vec::new();
            match self.log.store.read(at, len, &mut buf) {
                Ok(b) => {
                    self.bytes.clear();
                    self.bytes.extend_from_slice(b);
                    self.at = 0;
                }
                Err(e) => return Some(Err(e)),
            }
        }
        let mut rest = self.bytes.get(self.at..).unwrap_or_default();
        let before = rest.len();
        let Some(r) = decode(&mut rest) else {
            self.at = self.bytes.len();
            self.block = self.log.blocks.len();
            return Some(Err(std::io::Error::other("the reject log is damaged")));
        };
        self.at += before - rest.len();
        Some(Ok(r))
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
        let mut replaced = RejectLog::new(None, 0);
        for (row, cols) in [(1, &["k"][..]), (5, &["a", "k"]), (7, &["k"]), (12, &["k"])] {
            let rejects: Vec<Reject> = cols.iter().map(|c| reject(row, c)).collect();
            replaced.add(&rejects).unwrap();
        }
        let mut out = Vec::new();
        log.replay(&mut replaced, noting(&mut out)).unwrap();
        let want = listed(&[
            (1, "k"),
            (2, "a"),
            (2, "b"),
            (5, "a"),
            (5, "k"),
            (7, "k"),
            (9, "c"),
            (12, "k"),
        ]);
        assert_eq!(out, want);
    }

    /// Notes each reject's row and column in `out`.
    fn noting(out: &mut Vec<(u64, String)>) -> impl FnMut(&Reject) -> std::io::Result<()> + '_ {
        |r| {
            out.push((r.row, r.column.clone()));
            Ok(())
        }
    }

    fn listed(rows: &[(u64, &str)]) -> Vec<(u64, String)> {
        rows.iter().map(|(r, c)| (*r, c.to_string())).collect()
    }

    #[test]
    fn replays_with_inserted_rejects_at_their_places() {
        let mut log = RejectLog::new(None, 0);
        log.add(&[reject(2, "a"), reject(2, "b")]).unwrap();
        log.add(&[reject(5, "a"), reject(9, "c"), reject(9, "d")])
            .unwrap();
        let inserted = [(1, 0), (2, 2), (5, 0), (7, 0), (9, 1), (12, 0)]
            .map(|(row, at)| Ok((reject(row, "k"), at)));
        let mut out = Vec::new();
        log.replay_inserting(inserted.into_iter(), noting(&mut out))
            .unwrap();
        let want = listed(&[
            (1, "k"),
            (2, "a"),
            (2, "b"),
            (2, "k"),
            (5, "k"),
            (5, "a"),
            (7, "k"),
            (9, "c"),
            (9, "k"),
            (9, "d"),
            (12, "k"),
        ]);
        assert_eq!(out, want);
    }
}
