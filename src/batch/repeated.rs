//! Keys found on more than one row: every row of such a key is rejected,
//! which is only known once the whole file is read. The firm index and the
//! rejected rows' keys, both sorted by key, are read side by side; each row
//! of a repeated key is noted (with its key's first rows and count, what its
//! reject names) to be read again, and its firm taken out of the run.

use std::cmp::Ordering;

use super::sort::{
    self, put_text, take_array, take_key, InOrder, Item, Key, Order, Sorted, Sorter,
};
use super::store::{self, Store};
use super::{Batch, FirmEntry, Tally};
use crate::data::stream::{DupRow, KeyReject, Repeated};
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
            big: Sorter::new("repeated-keys", ByLine, self.memory.rejects, dir),
            tally: &mut tally,
            store,
            buf: Vec::new(),
        };
        let mut others = Group(rejected.iter());
        match sorted.held_in_order() {
            Some(firms) => held_groups(firms, &mut others, &mut out)?,
            None => {
                let mut firms = Group(sorted.iter());
                let (mut valid, mut bad) = (Vec::new(), Vec::new());
                loop {
                    let key = match (firms.key()?, others.key()?) {
                        (Some(a), Some(b)) => a.min(b),
                        (Some(k), None) | (None, Some(k)) => k,
                        (None, None) => break,
                    }
                    .clone();
                    let n = firms.take(&key, &mut valid)? + others.take(&key, &mut bad)?;
                    out.key(&key, &valid, &bad, n)?;
                }
            }
        }
        let big = std::mem::replace(&mut out.big, Sorter::new("", ByLine, 0, None)).finish();
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
                    out.row(&key, &d.repeated, &r)?;
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
        out.extend_from_slice(&self.at.to_u64().to_le_bytes());
        out.extend_from_slice(&self.repeated.count.to_le_bytes());
        out.push(self.repeated.first.len() as u8);
        for l in &self.repeated.first {
            out.extend_from_slice(&l.to_le_bytes());
        }
    }

    fn decode(bytes: &mut &[u8]) -> Option<Self> {
        let line = u64::from_le_bytes(take_array(bytes)?);
        let key = take_key(bytes)?;
        let at = KeyReject::from_u64(u64::from_le_bytes(take_array(bytes)?));
        let count = u64::from_le_bytes(take_array(bytes)?);
        let [n] = take_array::<1>(bytes)?;
        let first = (0..n)
            .map(|_| take_array(bytes).map(u64::from_le_bytes))
            .collect::<Option<Vec<u64>>>()?;
        Some(DupRow {
            line,
            key: key.as_str().into(),
            repeated: Repeated { first, count },
            at,
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

/// The keys on several rows among firms all held in memory in key order
/// (`firms`) and the rejected rows' entries (`others`), each given to
/// `out` in key order with its entries, as the merge of both would: keys on
/// one firm only and no rejected row are passed over by comparing
/// neighbours, with no merge.
fn held_groups<'s>(
    firms: InOrder<'s, FirmEntry>,
    others: &mut Group<'s>,
    out: &mut Takeout,
) -> std::io::Result<()> {
    let n = firms.len();
    // the first entries of `key` from `i` on, and where they end
    let run = |i: usize, key: &Key| {
        let mut j = i;
        while firms.get(j).is_some_and(|f| f.key == *key) {
            j += 1;
        }
        let held: Vec<&FirmEntry> = (i..j.min(i + TAKE_HELD))
            .filter_map(|x| firms.get(x))
            .collect();
        (held, j)
    };
    let mut bad = Vec::new();
    let mut i = 0;
    loop {
        // the firms before the next rejected row's key
        let end = match others.key()? {
            Some(k) => firms.partition_point(i, |f| f.key < *k),
            None => n,
        };
        while let Some(f) = firms.get(i).filter(|_| i < end) {
            if firms.get(i + 1).is_some_and(|g| g.key == f.key) {
                let (valid, j) = run(i, &f.key);
                out.key(&f.key, &valid, &[] as &[&FirmEntry], (j - i) as u64)?;
                i = j;
            } else {
                i += 1;
            }
        }
        // the next rejected row's key, with its firms
        let Some(key) = others.key()?.cloned() else {
            return Ok(());
        };
        let (valid, j) = run(i, &key);
        let count = others.take(&key, &mut bad)?;
        out.key(&key, &valid, &bad, (j - i) as u64 + count)?;
        i = j;
    }
}

/// What taking out the rows of repeated keys gives.
struct Takeout<'a> {
    /// Each row of a repeated key, to be read again.
    rows: Sorter<DupRow, ByLine>,
    /// The keys on more rows than are held at once, numbered in key
    /// order: their rows are handed out in a pass of their own.
    big: Sorter<DupRow, ByLine>,
    /// The firms taken out.
    dropped: Sorter<FirmEntry, ByKey>,
    tally: &'a mut Vec<Tally>,
    store: &'a Store,
    buf: Vec<u8>,
}

impl Takeout<'_> {
    /// A key's entries: `n` rows in all, the first ones of its firms
    /// (`valid`) and of its rejected rows (`bad`) held. Every row of a key
    /// on several is rejected.
    fn key<F: std::ops::Deref<Target = FirmEntry>, R: std::ops::Deref<Target = FirmEntry>>(
        &mut self,
        key: &Key,
        valid: &[F],
        bad: &[R],
        n: u64,
    ) -> std::io::Result<()> {
        if n < 2 || key.is_empty() {
            return Ok(());
        }
        let mut first: Vec<u64> = valid
            .iter()
            .map(|e| e.line)
            .chain(bad.iter().map(|e| e.line))
            .collect();
        first.sort_unstable();
        first.truncate(Repeated::NAMED + 1);
        let repeated = Repeated { first, count: n };
        if valid.len() + bad.len() < n as usize {
            // in key order: numbered as they come
            return self.big.push(DupRow {
                line: self.big.len(),
                key: key.as_str().into(),
                repeated,
                // each row's own is its entry's
                at: KeyReject::None,
            });
        }
        for f in valid {
            self.firm(key, &repeated, f)?;
        }
        for r in bad {
            self.row(key, &repeated, r)?;
        }
        Ok(())
    }

    /// A row of a repeated key, its reject for it going `at` among its
    /// others.
    fn repeat(
        &mut self,
        key: &Key,
        repeated: &Repeated,
        line: u64,
        at: KeyReject,
    ) -> std::io::Result<()> {
        self.rows.push(DupRow {
            line,
            key: key.as_str().into(),
            repeated: repeated.clone(),
            at,
        })
    }

    /// A rejected row of a repeated key (its entry among the rejected rows').
    fn row(&mut self, key: &Key, repeated: &Repeated, r: &FirmEntry) -> std::io::Result<()> {
        self.repeat(key, repeated, r.line, KeyReject::from_u64(r.start))
    }

    /// A firm of a repeated key: out of the totals and the run. Its row had
    /// no other reject.
    fn firm(&mut self, key: &Key, repeated: &Repeated, f: &FirmEntry) -> std::io::Result<()> {
        self.repeat(key, repeated, f.line, KeyReject::At(0))?;
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
