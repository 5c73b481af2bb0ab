//! Keys found on more than one row: every row of such a key is rejected,
//! which is only known once the whole file is read. The firm index and the
//! rejected rows' keys, both sorted by key, are read side by side; each row
//! of a repeated key is noted (with its key's first rows and count, what its
//! reject names) to be read again, and its firm taken out of the run.

use std::cmp::Ordering;

use super::sort::{self, put_text, take_array, take_key, Item, Key, Order, Sorted, Sorter};
use super::store::{self, Store};
use super::{Batch, FirmEntry, Tally};
use crate::data::stream::{DupRow, Repeated};
use crate::settle::streamed::ByKey;

impl<'p> Batch<'p> {
    /// Sorts the firms by key and finds every key on more than one row,
    /// among the firms and the `rejected` rows' keys (sorted by key): each
    /// row of such a key, in line order, to be read again for its rejects.
    /// The firms of those keys are taken out of the run: out of the totals
    /// now, out of settlement and the output later.
    pub fn duplicates(
        &mut self,
        rejected: &Sorted<FirmEntry, ByKey>,
    ) -> std::io::Result<Sorted<DupRow, ByLine>> {
        let dir = self.spill_dir.clone();
        let rows = Sorter::new("repeated", ByLine, self.memory.rejects, dir.clone());
        let dropped = Sorter::new("dropped", ByKey, self.memory.rejects, dir.clone());
        self.sorted();
        // the usual case, every key once, seen without going through merges
        let unique = self
            .sorted
            .as_ref()
            .and_then(|s| s.any_neighbours(|a, b| a.key == b.key))
            == Some(false);
        if unique && rejected.is_empty() {
            return Ok(rows.finish());
        }
        let (store, Some(sorted)) = (&self.store, &self.sorted) else {
            return Ok(rows.finish());
        };
        let mut tally = std::mem::take(&mut self.tally);
        let overflowed = tally.iter().any(|t| t.overflow);
        let mut out = Takeout {
            rows,
            dropped,
            tally: &mut tally,
            store,
            buf: Vec::new(),
        };
        // a key's entries are held while they are counted; a key on more
        // rows than that is noted and its rows handed out in a last pass
        let (mut firms, mut others) = (Group(sorted.iter()), Group(rejected.iter()));
        let (mut valid, mut bad) = (Vec::new(), Vec::new());
        let mut big = Sorter::new("repeated-keys", ByLine, self.memory.rejects, dir);
        loop {
            let key = match (firms.key()?, others.key()?) {
                (Some(a), Some(b)) => a.min(b),
                (Some(k), None) | (None, Some(k)) => k,
                (None, None) => break,
            }
            .clone();
            let n = firms.take(&key, &mut valid)? + others.take(&key, &mut bad)?;
            if n < 2 || key.is_empty() {
                continue;
            }
            let mut first: Vec<u64> = valid.iter().chain(&bad).map(|e| e.line).collect();
            first.sort_unstable();
            first.truncate(Repeated::NAMED + 1);
            let repeated = Repeated { first, count: n };
            if valid.len() + bad.len() < n as usize {
                // in key order: numbered as they come
                big.push(DupRow {
                    line: big.len(),
                    key: key.as_str().into(),
                    repeated,
                })?;
                continue;
            }
            for f in &valid {
                out.firm(&key, &repeated, f)?;
            }
            for r in &bad {
                out.row(&key, &repeated, r.line)?;
            }
        }
        drop((valid, bad));
        let big = big.finish();
        if !big.is_empty() {
            let (mut firms, mut others) = (Group(sorted.iter()), Group(rejected.iter()));
            for d in big.iter() {
                let d = d?;
                let key = Key::from(&*d.key);
                firms.pass(&key)?;
                others.pass(&key)?;
                while let Some(f) = firms.next_of(&key)? {
                    out.firm(&key, &d.repeated, &f)?;
                }
                while let Some(r) = others.next_of(&key)? {
                    out.row(&key, &d.repeated, r.line)?;
                }
            }
        }
        let Takeout { rows, dropped, .. } = out;
        let dropped = dropped.finish();
        if overflowed && !dropped.is_empty() {
            // a sum that overflowed may not once a firm is out: count again
            let mut buf = Vec::new();
            tally = vec![Tally::default(); tally.len()];
            let mut gone = Skip::new(dropped.iter());
            for f in sorted.iter() {
                let f = f?;
                if gone.skips(&f.key, f.line)? {
                    continue;
                }
                for s in store::decode(store.read(f.start, f.len, &mut buf)?) {
                    if let Some(t) = tally.get_mut(s.policy as usize) {
                        t.count(&s, 1);
                    }
                }
            }
        }
        self.tally = tally;
        self.dropped = (!dropped.is_empty()).then_some(dropped);
        Ok(rows.finish())
    }
}

/// Rows read again, in line order.
#[derive(Clone, Copy, Debug)]
pub struct ByLine;

impl Order<DupRow> for ByLine {
    fn cmp(&self, a: &DupRow, b: &DupRow) -> Ordering {
        a.line.cmp(&b.line)
    }
}

impl Item for DupRow {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.line.to_le_bytes());
        put_text(out, &self.key);
        out.extend_from_slice(&self.repeated.count.to_le_bytes());
        out.push(self.repeated.first.len() as u8);
        for l in &self.repeated.first {
            out.extend_from_slice(&l.to_le_bytes());
        }
    }

    fn decode(bytes: &mut &[u8]) -> Option<Self> {
        let line = u64::from_le_bytes(take_array(bytes)?);
        let key = take_key(bytes)?;
        let count = u64::from_le_bytes(take_array(bytes)?);
        let [n] = take_array::<1>(bytes)?;
        let first = (0..n)
            .map(|_| take_array(bytes).map(u64::from_le_bytes))
            .collect::<Option<Vec<u64>>>()?;
        Some(DupRow {
            line,
            key: key.as_str().into(),
            repeated: Repeated { first, count },
        })
    }

    fn heap(&self) -> usize {
        self.key.len() + 16 + self.repeated.first.capacity() * 8 + 16
    }
}

/// Passes over the firms taken out while firms go by in key order.
pub(crate) struct Skip<'s>(sort::Merge<'s, FirmEntry, ByKey>);

impl<'s> Skip<'s> {
    pub(crate) fn new(gone: sort::Merge<'s, FirmEntry, ByKey>) -> Self {
        Skip(gone)
    }

    /// Whether the firm of `key` on `line` (coming after every firm asked
    /// before) was taken out.
    pub(crate) fn skips(&mut self, key: &str, line: u64) -> std::io::Result<bool> {
        while self
            .0
            .next_if(|h| (h.key.as_str(), h.line) < (key, line))?
            .is_some()
        {}
        Ok(self
            .0
            .peek()?
            .is_some_and(|h| h.key == key && h.line == line))
    }
}

/// Entries of one key held at once while looking for repeated keys.
const TAKE_HELD: usize = 1024;

/// What taking out the rows of repeated keys gives.
struct Takeout<'a> {
    /// Each row of a repeated key, to be read again.
    rows: Sorter<DupRow, ByLine>,
    /// The firms taken out.
    dropped: Sorter<FirmEntry, ByKey>,
    tally: &'a mut Vec<Tally>,
    store: &'a Store,
    buf: Vec<u8>,
}

impl Takeout<'_> {
    /// A rejected row of a repeated key.
    fn row(&mut self, key: &Key, repeated: &Repeated, line: u64) -> std::io::Result<()> {
        self.rows.push(DupRow {
            line,
            key: key.as_str().into(),
            repeated: repeated.clone(),
        })
    }

    /// A firm of a repeated key: out of the totals and the run.
    fn firm(&mut self, key: &Key, repeated: &Repeated, f: &FirmEntry) -> std::io::Result<()> {
        self.row(key, repeated, f.line)?;
        for s in store::decode(self.store.read(f.start, f.len, &mut self.buf)?) {
            if let Some(t) = self.tally.get_mut(s.policy as usize) {
                t.count(&s, -1);
            }
        }
        self.dropped.push(FirmEntry::clone(f))
    }
}

/// Entries sorted by key, taken a key at a time.
struct Group<'s>(sort::Merge<'s, FirmEntry, ByKey>);

impl<'s> Group<'s> {
    /// The next entry's key.
    fn key(&mut self) -> std::io::Result<Option<&Key>> {
        Ok(self.0.peek()?.map(|h| &h.key))
    }

    /// Takes the entries of `key` at the front: how many, and into `out`
    /// the first [`TAKE_HELD`] of them.
    fn take(&mut self, key: &Key, out: &mut Vec<sort::Got<'s, FirmEntry>>) -> std::io::Result<u64> {
        out.clear();
        let mut n = 0;
        while let Some(e) = self.next_of(key)? {
            n += 1;
            if out.len() < TAKE_HELD {
                out.push(e);
            }
        }
        Ok(n)
    }

    /// Passes over the entries before `key`.
    fn pass(&mut self, key: &Key) -> std::io::Result<()> {
        while self.0.next_if(|e| e.key < *key)?.is_some() {}
        Ok(())
    }

    /// The next entry, if its key is `key`.
    fn next_of(&mut self, key: &Key) -> std::io::Result<Option<sort::Got<'s, FirmEntry>>> {
        self.0.next_if(|e| e.key == *key)
    }
}
