//! The ledger's payments by firm, held flat: each firm's key once, in one
//! string, its payments a span of one vector, its number found by the key's
//! hash in a table that holds nothing but numbers.
//!
//! The firms are split into [`PARTS`] parts by their key's hash, each with
//! its own table and payments: a file's rows are filed into the parts on all
//! cores at once (a firm is always in the same part, and each part takes its
//! rows in the ledger's order, so a firm's payments keep the ledger's order
//! whatever the thread count), and a part's table is small enough to stay in
//! the cache while its rows are filed.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, Ordering};

use hashbrown::hash_table::Entry;
use hashbrown::HashTable;

use super::Payment;

/// How many parts the firms are split into.
pub(super) const PARTS: usize = 64;

/// The hash of a firm's key: fixed, the same in every run.
pub(super) fn hash(key: &str) -> u64 {
    foldhash::fast::FixedState::default().hash_one(key)
}

/// The part a key's hash falls in: bits the tables themselves do not use
/// (they place by the low bits and tell keys apart by the top seven).
pub(super) fn part_of(hash: u64) -> usize {
    ((hash >> 32) as usize) % PARTS
}

/// The firms whose keys' hashes fall in one part, and their payments.
#[derive(Debug, Default)]
pub(super) struct Part {
    /// Each firm's number in the part, found by its key's hash.
    table: HashTable<u32>,
    /// The firms' keys one after another: firm `f`'s ends at `key_ends[f]`.
    keys: String,
    key_ends: Vec<usize>,
    /// Where each firm's payments start in `payments` (they end where the
    /// next firm's start).
    starts: Vec<u32>,
    /// Whether a run has looked the firm up.
    looked_up: Vec<AtomicBool>,
    payments: Vec<Payment>,
    /// While a file is filed ([`Part::file`]), before [`Part::finish`]: the
    /// payments are in the order filed, and these are the firm of each and
    /// each firm's count.
    firm_of: Vec<u32>,
    counts: Vec<u32>,
}

/// Firm `firm`'s key in `keys`.
fn key_of<'a>(keys: &'a str, key_ends: &[usize], firm: u32) -> &'a str {
    let f = firm as usize;
    let end = key_ends.get(f).copied().unwrap_or(0);
    let start = match f.checked_sub(1) {
        Some(before) => key_ends.get(before).copied().unwrap_or(0),
        None => 0,
    };
    keys.get(start..end).unwrap_or_default()
}

impl Part {
    /// The firm's number, and whether it is new (numbered after the others).
    fn firm(&mut self, hash: u64, key: &str) -> (u32, bool) {
        let Part {
            table,
            keys,
            key_ends,
            ..
        } = self;
        match table.entry(
            hash,
            |&f| key_of(keys, key_ends, f) == key,
            |&f| self::hash(key_of(keys, key_ends, f)),
        ) {
            Entry::Occupied(e) => (*e.get(), false),
            Entry::Vacant(v) => {
                let firm = key_ends.len() as u32;
                keys.push_str(key);
                key_ends.push(keys.len());
                v.insert(firm);
                (firm, true)
            }
        }
    }

    /// Files a payment read from a file: kept in the order filed until
    /// [`Part::finish`] groups them.
    pub(super) fn file(&mut self, hash: u64, key: &str, payment: Payment) {
        let (firm, new) = self.firm(hash, key);
        if new {
            self.counts.push(0);
        }
        if let Some(n) = self.counts.get_mut(firm as usize) {
            *n += 1;
        }
        self.firm_of.push(firm);
        self.payments.push(payment);
    }

    /// Groups the payments filed by firm, each firm's in the order filed (a
    /// counting sort), and lets go of what filing needed.
    pub(super) fn finish(&mut self) {
        let counts = std::mem::take(&mut self.counts);
        let firm_of = std::mem::take(&mut self.firm_of);
        let mut starts = Vec::with_capacity(counts.len());
        let mut at = 0u32;
        for &n in &counts {
            starts.push(at);
            at += n;
        }
        // each place's payment: the firm's next free place, in order filed
        let mut next = starts.clone();
        let mut order = vec![0u32; firm_of.len()];
        for (i, &f) in firm_of.iter().enumerate() {
            if let Some(n) = next.get_mut(f as usize) {
                if let Some(slot) = order.get_mut(*n as usize) {
                    *slot = i as u32;
                }
                *n += 1;
            }
        }
        drop(next);
        drop(firm_of);
        let filed = std::mem::take(&mut self.payments);
        self.payments = order
            .iter()
            .filter_map(|&i| filed.get(i as usize).copied())
            .collect();
        self.starts = starts;
        self.looked_up = counts.iter().map(|_| AtomicBool::new(false)).collect();
        self.keys.shrink_to_fit();
        self.key_ends.shrink_to_fit();
    }

    /// Adds one payment among its firm's, after them (the part's payments
    /// stay grouped: time in their number).
    pub(super) fn add(&mut self, hash: u64, key: &str, payment: Payment) {
        let (firm, new) = self.firm(hash, key);
        if new {
            self.starts.push(self.payments.len() as u32);
            self.looked_up.push(AtomicBool::new(false));
        }
        let (_, end) = self.span(firm);
        self.payments.insert(end.min(self.payments.len()), payment);
        for start in self.starts.iter_mut().skip(firm as usize + 1) {
            *start += 1;
        }
    }

    /// Where firm `firm`'s payments are in `payments`.
    fn span(&self, firm: u32) -> (usize, usize) {
        let f = firm as usize;
        let start = self.starts.get(f).map_or(0, |&s| s as usize);
        let end = self
            .starts
            .get(f + 1)
            .map_or(self.payments.len(), |&s| s as usize);
        (start, end)
    }

    /// The payments of the firm with `key` (whose hash is `hash`), noting
    /// that it was looked up; `None` when the part has no such firm.
    pub(super) fn payments(&self, hash: u64, key: &str) -> Option<&[Payment]> {
        let &firm = self
            .table
            .find(hash, |&f| key_of(&self.keys, &self.key_ends, f) == key)?;
        if let Some(seen) = self.looked_up.get(firm as usize) {
            seen.store(true, Ordering::Relaxed);
        }
        let (start, end) = self.span(firm);
        self.payments.get(start..end)
    }

    pub(super) fn firms(&self) -> usize {
        self.key_ends.len()
    }

    pub(super) fn firms_not_looked_up(&self) -> usize {
        self.looked_up
            .iter()
            .filter(|f| !f.load(Ordering::Relaxed))
            .count()
    }

    /// About how many bytes the part holds: its payments, its firms' keys,
    /// starts and flags, and its table (a number and a control byte a slot,
    /// at most 7/8 of the slots used).
    pub(super) fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        self.payments.capacity() * size_of::<Payment>()
            + self.keys.capacity()
            + self.key_ends.capacity() * size_of::<usize>()
            + self.starts.capacity() * size_of::<u32>()
            + self.looked_up.capacity()
            + (self.firm_of.capacity() + self.counts.capacity()) * size_of::<u32>()
            + self.table.capacity() * (size_of::<u32>() + 1) * 8 / 7
    }
}
