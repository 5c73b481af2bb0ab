//! The ledger's payments by firm, held flat: each firm's payments a span of
//! one vector, found by the key's hash in a table whose slot holds the key
//! itself (inline up to 24 bytes) and where the payments are: a look-up
//! reads the table's control bytes, its slot, then the payments, and
//! nothing else.
//!
//! The firms are split into [`PARTS`] parts by their key's hash, each with
//! its own table and payments: a file's rows are filed into the parts on all
//! cores at once (a firm is always in the same part, and each part takes its
//! rows in the ledger's order, so a firm's payments keep the ledger's order
//! whatever the thread count).
//!
//! A row filed is not looked up in its part's table at once: 5,000,000 rows
//! over 1,000,000 firms at random would each miss the cache there (the
//! tables of all parts take some 70 MiB). Each part keeps up to [`PENDING`]
//! rows waiting, with their keys, and then finds their firms all at once in
//! the order of the table's slots ([`Part::flush`]), walking the table from
//! one end to the other rather than jumping about it. Which number a firm
//! gets changes with that order, never which payments are its own nor their
//! order.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, Ordering};

use hashbrown::hash_table::Entry;
use hashbrown::HashTable;

use super::Payment;

/// How many parts the firms are split into.
pub(super) const PARTS: usize = 64;

/// Rows a part keeps waiting before it finds their firms (small in tests,
/// so that small files flush many times).
const PENDING: usize = if cfg!(test) { 3 } else { 8192 };

/// Ranges of slots the rows waiting are ordered by before they are looked
/// up (a counting sort).
const BINS: usize = 1024;

/// The hash of a firm's key: fixed, the same in every run.
pub(super) fn hash(key: &[u8]) -> u64 {
    foldhash::fast::FixedState::default().hash_one(key)
}

/// The part a key's hash falls in: bits the tables themselves do not use
/// (they place by the low bits and tell keys apart by the top seven).
pub(super) fn part_of(hash: u64) -> usize {
    ((hash >> 32) as usize) % PARTS
}

/// A part would hold more than 4,294,967,295 firms or payments (counted in
/// 32 bits).
#[derive(Debug)]
pub(super) struct Full;

/// A part could not hold the payment of this line.
pub(super) type FullAt = (u64, Full);

/// A row filed whose firm is still to be found: its key, the key's hash
/// and its payment's place in the part's `payments`.
#[derive(Debug)]
struct Pending {
    hash: u64,
    key: compact_str::CompactString,
    at: u32,
}

impl std::fmt::Display for Full {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("台账中本政策集要读的企业过多, 无法全部保留 (the ledger holds more firms under the ids the set reads than can be kept)")
    }
}

/// A firm of a part, as its table holds it: 32 bytes, so that a slot lies
/// within one cache line.
#[derive(Clone, Debug)]
struct Firm {
    key: compact_str::CompactString,
    /// Where its payments start in the part's `payments` (while a file is
    /// filed, before [`Part::finish`]: its number in the part, firms
    /// numbered in the order first seen), and how many.
    start: u32,
    count: u32,
}

/// The firms whose keys' hashes fall in one part, and their payments.
#[derive(Debug, Default)]
pub(super) struct Part {
    table: HashTable<Firm>,
    /// Bytes of the keys too long to be held in the table's slots.
    long_keys: usize,
    payments: Vec<Payment>,
    /// Whether a run has looked the firm up, at its first payment's place
    /// (a firm has at least one payment: it is made by filing one).
    looked_up: Vec<AtomicBool>,
    /// While a file is filed ([`Part::file`]), before [`Part::finish`]: the
    /// payments are in the order filed, and this is the number of each
    /// one's firm (0 until its row is looked up, [`Part::flush`]).
    firm_of: Vec<u32>,
    /// While a file is filed: the rows whose firms are still to be found.
    pending: Vec<Pending>,
}

impl Part {
    /// The firm with `key` (whose hash is `hash`), added with no payments
    /// and `start` when new.
    fn firm(&mut self, hash: u64, key: &str, start: usize) -> Result<&mut Firm, Full> {
        let start = u32::try_from(start).map_err(|_| Full)?;
        let entry = self
            .table
            .entry(hash, |f| f.key == key, |f| self::hash(f.key.as_bytes()));
        match entry {
            Entry::Occupied(e) => Ok(e.into_mut()),
            Entry::Vacant(v) => {
                let key = compact_str::CompactString::new(key);
                if key.is_heap_allocated() {
                    self.long_keys += key.capacity();
                }
                Ok(v.insert(Firm {
                    key,
                    start,
                    count: 0,
                })
                .into_mut())
            }
        }
    }

    /// Files a payment read from a file: kept in the order filed until
    /// [`Part::finish`] groups them; its firm is found later, with other
    /// rows' ([`Part::flush`]).
    pub(super) fn file(
        &mut self,
        hash: u64,
        key: &compact_str::CompactString,
        payment: Payment,
    ) -> Result<(), FullAt> {
        if self.pending.len() >= PENDING {
            self.flush()?;
        }
        let at = u32::try_from(self.payments.len()).map_err(|_| (payment.line, Full))?;
        if self.pending.capacity() == 0 {
            self.pending.reserve_exact(PENDING);
        }
        self.pending.push(Pending {
            hash,
            key: key.clone(),
            at,
        });
        self.firm_of.push(0);
        self.payments.push(payment);
        Ok(())
    }

    /// Finds the firms of the rows waiting, in the order of the table's
    /// slots (as the table will be when they are in it, at most): a walk
    /// through the table, not a cache miss a row. A new firm's number is
    /// its place among the firms found so far.
    fn flush(&mut self) -> Result<(), FullAt> {
        let mut pending = std::mem::take(&mut self.pending);
        // the table places a key by its hash's low bits: the slots a bin
        // covers, in order
        let buckets = ((self.table.len() + pending.len()) * 8 / 7)
            .next_power_of_two()
            .max(BINS);
        let shift = buckets.trailing_zeros() - BINS.trailing_zeros();
        let bin = |p: &Pending| (p.hash as usize & (buckets - 1)) >> shift;
        let mut starts = vec![0u32; BINS + 1];
        for p in &pending {
            if let Some(s) = starts.get_mut(bin(p) + 1) {
                *s += 1;
            }
        }
        for b in 1..starts.len() {
            let before = starts.get(b - 1).copied().unwrap_or(0);
            if let Some(s) = starts.get_mut(b) {
                *s += before;
            }
        }
        let mut order = vec![0u32; pending.len()];
        for (i, p) in pending.iter().enumerate() {
            if let Some(next) = starts.get_mut(bin(p)) {
                if let Some(slot) = order.get_mut(*next as usize) {
                    *slot = i as u32;
                }
                *next += 1;
            }
        }
        for &i in &order {
            let Some(p) = pending.get(i as usize) else {
                continue;
            };
            let line = |part: &Part| {
                part.payments
                    .get(p.at as usize)
                    .map_or(0, |payment| payment.line)
            };
            let number = match self.firm(p.hash, &p.key, self.table.len()) {
                Ok(firm) => {
                    firm.count += 1;
                    firm.start
                }
                Err(full) => return Err((line(self), full)),
            };
            if let Some(f) = self.firm_of.get_mut(p.at as usize) {
                *f = number;
            }
        }
        pending.clear();
        self.pending = pending;
        Ok(())
    }

    /// Groups the payments filed by firm, the firms in their numbers' order
    /// and each firm's payments in the order filed (a counting sort), and
    /// lets go of what filing needed.
    pub(super) fn finish(&mut self) -> Result<(), FullAt> {
        self.flush()?;
        self.pending = Vec::new();
        let mut starts = vec![0u32; self.table.len()];
        for f in self.table.iter() {
            if let Some(s) = starts.get_mut(f.start as usize) {
                *s = f.count;
            }
        }
        let mut at = 0u32;
        for s in &mut starts {
            let count = *s;
            *s = at;
            at += count;
        }
        for f in self.table.iter_mut() {
            f.start = starts.get(f.start as usize).copied().unwrap_or(0);
        }
        // each place's payment: its firm's next free place, in order filed
        let firm_of = std::mem::take(&mut self.firm_of);
        let mut order = vec![0u32; firm_of.len()];
        for (i, &f) in firm_of.iter().enumerate() {
            if let Some(next) = starts.get_mut(f as usize) {
                if let Some(slot) = order.get_mut(*next as usize) {
                    *slot = i as u32;
                }
                *next += 1;
            }
        }
        drop(starts);
        drop(firm_of);
        let filed = std::mem::take(&mut self.payments);
        // (as many as filed, allocated once: a part holds no spare room)
        let mut grouped = Vec::with_capacity(order.len());
        grouped.extend(order.iter().filter_map(|&i| filed.get(i as usize).copied()));
        self.payments = grouped;
        self.looked_up = self
            .payments
            .iter()
            .map(|_| AtomicBool::new(false))
            .collect();
        Ok(())
    }

    /// The payments of the firm with `key` (whose hash is `hash`), noting
    /// that it was looked up; `None` when the part has no such firm.
    pub(super) fn payments(&self, hash: u64, key: &str) -> Option<&[Payment]> {
        let f = self.table.find(hash, |f| f.key == key)?;
        let start = f.start as usize;
        if let Some(seen) = self.looked_up.get(start) {
            seen.store(true, Ordering::Relaxed);
        }
        self.payments.get(start..start + f.count as usize)
    }

    /// Every firm's key and payments, in no particular order.
    pub(super) fn firms_and_payments(&self) -> impl Iterator<Item = (&str, &[Payment])> {
        self.table.iter().map(|f| {
            let start = f.start as usize;
            let payments = self.payments.get(start..start + f.count as usize);
            (f.key.as_str(), payments.unwrap_or_default())
        })
    }

    /// Every payment filed, in no particular order.
    pub(super) fn all_payments(&self) -> &[Payment] {
        &self.payments
    }

    pub(super) fn firms(&self) -> usize {
        self.table.len()
    }

    pub(super) fn firms_not_looked_up(&self) -> usize {
        self.table
            .iter()
            .filter(|f| {
                !self
                    .looked_up
                    .get(f.start as usize)
                    .is_some_and(|seen| seen.load(Ordering::Relaxed))
            })
            .count()
    }

    /// About how many bytes the part holds: its payments and their flags,
    /// its long keys, and its table (a firm and a control byte a slot, at
    /// most 7/8 of the slots used).
    pub(super) fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        self.payments.capacity() * size_of::<Payment>()
            + self.looked_up.capacity()
            + self.long_keys
            + self.firm_of.capacity() * size_of::<u32>()
            + self.pending.capacity() * size_of::<Pending>()
            + self.table.capacity() * (size_of::<Firm>() + 1) * 8 / 7
    }
}

#[cfg(test)]
mod tests {
    /// A table slot is 32 bytes: it lies within one cache line.
    #[test]
    fn a_firm_takes_32_bytes() {
        assert_eq!(std::mem::size_of::<super::Firm>(), 32);
    }
}
