//! Sorting more than fits in memory: items are held in memory up to a limit;
//! beyond it they are sorted and written to a run file, and the runs are read
//! back merged. Without a spill directory everything stays in memory.
//!
//! The order given must be total (every order used here ends on the row's
//! line), so the merged sequence is the same however the items were split
//! into runs: spilling never changes a result.

use std::cmp::Ordering;
use std::fs::File;
use std::io::Write;
use std::ops::Deref;
use std::path::PathBuf;

use rayon::prelude::*;

use super::store::{read_at, spill_file};

/// Something sortable to disk.
pub trait Item: Sized + Send + Sync {
    /// Appends the item's bytes.
    fn encode(&self, out: &mut Vec<u8>);
    /// Takes one item off the front of `bytes`.
    fn decode(bytes: &mut &[u8]) -> Option<Self>;
    /// Bytes the item holds on the heap (its own size is counted apart).
    fn heap(&self) -> usize;
}

/// A total order on items.
pub trait Order<T>: Send + Sync {
    fn cmp(&self, a: &T, b: &T) -> Ordering;
    /// A number whose order agrees with [`Order::cmp`] where it differs (a
    /// key's first bytes), compared first to spare most full comparisons.
    fn prefix(&self, _item: &T) -> Option<u128> {
        None
    }
}

/// Bytes per item that sorting takes besides the items: a (prefix,
/// position) pair while sorting and the position kept after.
const SORT_SCRATCH: usize = 36;

/// Runs merged at once; more are merged into one first.
const FAN_IN: usize = 64;
/// Bytes per block of a run file (a block holds whole items).
const BLOCK: usize = 64 << 10;

/// One sorted run on disk; its file goes when it does. The file is open
/// only while it is written or read, so a run costs no file handle while it
/// waits.
struct Run {
    path: PathBuf,
    len: u64,
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Items being gathered.
pub struct Sorter<T, O> {
    name: &'static str,
    order: O,
    items: Vec<T>,
    heap: usize,
    limit: usize,
    dir: Option<PathBuf>,
    runs: Vec<Run>,
    count: u64,
}

impl<T: Item, O: Order<T>> Sorter<T, O> {
    /// Holds up to `limit` bytes in memory, then spills into `dir` (or holds
    /// everything without one). `name` names the run files.
    pub fn new(name: &'static str, order: O, limit: usize, dir: Option<PathBuf>) -> Self {
        Sorter {
            name,
            order,
            items: Vec::new(),
            heap: 0,
            limit,
            dir,
            runs: Vec::new(),
            count: 0,
        }
    }

    /// Bytes held in memory, with what sorting them will take.
    pub fn held(&self) -> usize {
        self.items.capacity() * (std::mem::size_of::<T>() + SORT_SCRATCH) + self.heap
    }

    /// Items pushed so far.
    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn push(&mut self, item: T) -> std::io::Result<()> {
        self.heap += item.heap();
        self.items.push(item);
        self.count += 1;
        if self.held() > self.limit {
            self.spill()?;
        }
        Ok(())
    }

    /// Writes what is held to a run (nothing without a spill directory).
    pub fn spill(&mut self) -> std::io::Result<()> {
        self.spill_each(|_| Ok(()))
    }

    /// Writes what is held, in the order of `perm`, to a run.
    fn spill_sorted(&mut self, perm: &[u32]) -> std::io::Result<()> {
        let Some(dir) = self.dir.clone() else {
            return Ok(());
        };
        let items = std::mem::take(&mut self.items);
        self.heap = 0;
        let run = write_run(
            &dir,
            self.name,
            perm.iter().filter_map(|&i| items.get(i as usize)),
        )?;
        drop(items);
        self.runs.push(run);
        if self.runs.len() >= FAN_IN {
            let runs = std::mem::take(&mut self.runs);
            let merged = merge_to_run(Merge::new(&self.order, &[], &[], &runs), &dir, self.name)?;
            self.runs.push(merged);
        }
        Ok(())
    }

    /// Writes what is held to a run, as [`Sorter::spill`] does, after
    /// giving each item to `each` in order (which may change it without
    /// changing its place in the order).
    pub fn spill_each(
        &mut self,
        mut each: impl FnMut(&mut T) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        if self.items.is_empty() || self.dir.is_none() {
            return Ok(());
        }
        let perm = sorted(&self.order, &self.items);
        for &i in &perm {
            if let Some(item) = self.items.get_mut(i as usize) {
                each(item)?;
            }
        }
        self.spill_sorted(&perm)
    }

    /// Keeps only the items `keep` holds, when none was spilled to a run;
    /// `false` (and nothing changed) when some were. The order being total,
    /// what [`Sorter::finish`] gives is the same as pushing only those.
    pub fn retain_held(&mut self, mut keep: impl FnMut(&T) -> bool) -> bool {
        if !self.runs.is_empty() {
            return false;
        }
        self.items.retain(|t| keep(t));
        self.heap = self.items.iter().map(Item::heap).sum();
        self.count = self.items.len() as u64;
        true
    }

    /// Sorts what is held; the result can be read in order any number of times.
    pub fn finish(self) -> Sorted<T, O> {
        let perm = sorted(&self.order, &self.items);
        Sorted {
            order: self.order,
            items: self.items,
            perm,
            runs: self.runs,
            count: self.count,
        }
    }
}

/// The sorted positions of `items`, ties by position.
fn sorted<T: Item, O: Order<T>>(order: &O, items: &[T]) -> Vec<u32> {
    let at = |i: u32| items.get(i as usize);
    let full = |a: u32, b: u32| match (at(a), at(b)) {
        (Some(x), Some(y)) => order.cmp(x, y).then(a.cmp(&b)),
        _ => a.cmp(&b),
    };
    let n = u32::try_from(items.len()).unwrap_or(u32::MAX);
    if in_order(order, items) {
        // held in order already (a file in key order): ties are by
        // position, so the order is the positions themselves
        return (0..n).collect();
    }
    if items.first().and_then(|i| order.prefix(i)).is_some() {
        let mut keyed: Vec<(u128, u32)> = (0..n)
            .map(|i| (at(i).and_then(|t| order.prefix(t)).unwrap_or(0), i))
            .collect();
        keyed.par_sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| full(a.1, b.1)));
        keyed.into_iter().map(|(_, i)| i).collect()
    } else {
        let mut perm: Vec<u32> = (0..n).collect();
        perm.par_sort_unstable_by(|&a, &b| full(a, b));
        perm
    }
}

/// Whether no item of `items` comes before the one held before it: then
/// [`sorted`] is their positions. Compared by prefix where the prefixes
/// differ (they agree with the order), else in full; stops at the first
/// pair out of order.
fn in_order<T: Item, O: Order<T>>(order: &O, items: &[T]) -> bool {
    let Some(first) = items.first() else {
        return true;
    };
    let mut before = (first, order.prefix(first));
    for item in items.get(1..).unwrap_or_default() {
        let prefix = order.prefix(item);
        let by_prefix = match (before.1, prefix) {
            (Some(a), Some(b)) if a != b => Some(a < b),
            _ => None,
        };
        let fine = by_prefix.unwrap_or_else(|| order.cmp(before.0, item) != Ordering::Greater);
        if !fine {
            return false;
        }
        before = (item, prefix);
    }
    true
}

fn write_run<T: Item>(
    dir: &std::path::Path,
    name: &str,
    items: impl Iterator<Item = impl Deref<Target = T>>,
) -> std::io::Result<Run> {
    let (path, file) = spill_file(dir, name, "run")?;
    let mut run = Run { path, len: 0 };
    let mut out = std::io::BufWriter::with_capacity(1 << 20, &file);
    let mut block = Vec::with_capacity(BLOCK + 1024);
    let flush = |block: &mut Vec<u8>, out: &mut std::io::BufWriter<&File>| {
        let len = u32::try_from(block.len()).map_err(std::io::Error::other)?;
        out.write_all(&len.to_le_bytes())?;
        out.write_all(block)?;
        let written = 4 + block.len() as u64;
        block.clear();
        Ok::<u64, std::io::Error>(written)
    };
    let mut len = 0;
    for item in items {
        item.encode(&mut block);
        if block.len() >= BLOCK {
            len += flush(&mut block, &mut out)?;
        }
    }
    if !block.is_empty() {
        len += flush(&mut block, &mut out)?;
    }
    out.flush()?;
    drop(out);
    run.len = len;
    Ok(run)
}

/// Writes what `m` gives to one run.
fn merge_to_run<T: Item, O: Order<T>>(
    mut m: Merge<'_, T, O>,
    dir: &std::path::Path,
    name: &str,
) -> std::io::Result<Run> {
    let mut err = None;
    let run = write_run(
        dir,
        name,
        std::iter::from_fn(|| match m.next()? {
            Ok(item) => Some(item),
            Err(e) => {
                err = Some(e);
                None
            }
        }),
    )?;
    match err {
        Some(e) => Err(e),
        None => Ok(run),
    }
}

/// Sorted items: those held in memory and the runs on disk.
pub struct Sorted<T, O> {
    order: O,
    items: Vec<T>,
    perm: Vec<u32>,
    runs: Vec<Run>,
    count: u64,
}

impl<T: Item, O: Order<T>> Sorted<T, O> {
    /// Every item, in order.
    pub fn iter(&self) -> Merge<'_, T, O> {
        Merge::new(&self.order, &self.items, &self.perm, &self.runs)
    }

    /// Items in all.
    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Every item in order, when everything is held in memory (`None` when
    /// some of it is on disk): read without a merge.
    pub fn held_in_order(&self) -> Option<InOrder<'_, T>> {
        if !self.runs.is_empty() {
            return None;
        }
        Some(InOrder {
            items: &self.items,
            perm: &self.perm,
        })
    }

    /// Whether two neighbours in order are `same`, when everything is held
    /// in memory (`None` when some of it is on disk).
    pub fn any_neighbours(&self, same: impl Fn(&T, &T) -> bool) -> Option<bool> {
        if !self.runs.is_empty() {
            return None;
        }
        let at = |i: &u32| self.items.get(*i as usize);
        Some(
            self.perm
                .windows(2)
                .any(|w| match (w.first().and_then(at), w.get(1).and_then(at)) {
                    (Some(a), Some(b)) => same(a, b),
                    _ => false,
                }),
        )
    }

    /// Bytes held in memory.
    pub fn held(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<T>()
            + self.perm.capacity() * 4
            + self.items.iter().map(Item::heap).sum::<usize>()
    }

    /// Moves everything to one run on disk (when there is a spill
    /// directory): nothing held in memory, one file to read.
    pub fn spill(self, name: &'static str, dir: Option<PathBuf>) -> std::io::Result<Self> {
        let Some(dir) = dir else { return Ok(self) };
        if self.items.is_empty() && self.runs.len() <= 1 {
            return Ok(self);
        }
        self.merged(name, &dir, true)
    }

    /// Merges the runs on disk into one (what is held stays in memory), so
    /// reading takes one file handle however many runs there were.
    pub fn compact(self, name: &'static str, dir: Option<PathBuf>) -> std::io::Result<Self> {
        match dir {
            Some(dir) if self.runs.len() > 1 => self.merged(name, &dir, false),
            _ => Ok(self),
        }
    }

    /// The runs, and what is held if `held`, merged into one run.
    fn merged(
        self,
        name: &'static str,
        dir: &std::path::Path,
        held: bool,
    ) -> std::io::Result<Self> {
        let no_perm: &[u32] = &[];
        let perm = if held { &self.perm[..] } else { no_perm };
        let run = merge_to_run(
            Merge::new(&self.order, &self.items, perm, &self.runs),
            dir,
            name,
        )?;
        let Sorted {
            order,
            items,
            perm,
            count,
            ..
        } = self;
        let (items, perm) = if held {
            (Vec::new(), Vec::new())
        } else {
            (items, perm)
        };
        Ok(Sorted {
            order,
            items,
            perm,
            runs: vec![run],
            count,
        })
    }
}

/// Sorted items all held in memory, read by their place in order.
#[derive(Clone, Copy)]
pub struct InOrder<'a, T> {
    items: &'a [T],
    perm: &'a [u32],
}

impl<'a, T> InOrder<'a, T> {
    pub fn len(&self) -> usize {
        self.perm.len()
    }

    pub fn is_empty(&self) -> bool {
        self.perm.is_empty()
    }

    /// The `i`-th item in order.
    pub fn get(&self, i: usize) -> Option<&'a T> {
        self.perm.get(i).and_then(|&p| self.items.get(p as usize))
    }

    /// The place of the first item from `from` on for which `before` does
    /// not hold (it holds for a first stretch of them, as by
    /// [`slice::partition_point`]).
    pub fn partition_point(&self, from: usize, before: impl Fn(&T) -> bool) -> usize {
        let rest = self.perm.get(from..).unwrap_or_default();
        from + rest.partition_point(|&p| self.items.get(p as usize).is_some_and(&before))
    }
}

/// An item read: borrowed from memory or decoded from a run.
pub enum Got<'a, T> {
    Held(&'a T),
    Read(T),
}

impl<T: Clone> Got<'_, T> {
    /// The item itself: one read is moved out, one held is copied.
    pub fn into_owned(self) -> T {
        match self {
            Got::Held(t) => t.clone(),
            Got::Read(t) => t,
        }
    }
}

impl<T> Deref for Got<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match self {
            Got::Held(t) => t,
            Got::Read(t) => t,
        }
    }
}

/// Reads a run block by block (its file open from the first read to the last).
struct RunReader<'a> {
    run: &'a Run,
    file: Option<File>,
    at: u64,
    block: Vec<u8>,
    used: usize,
}

impl RunReader<'_> {
    fn next<T: Item>(&mut self) -> std::io::Result<Option<T>> {
        if self.used >= self.block.len() {
            if self.at >= self.run.len {
                self.file = None;
                return Ok(None);
            }
            let file = match &mut self.file {
                Some(f) => f,
                None => self.file.insert(File::open(&self.run.path)?),
            };
            let mut len = [0u8; 4];
            read_at(file, &mut len, self.at)?;
            let len = u32::from_le_bytes(len) as usize;
            self.block.resize(len, 0);
            read_at(file, &mut self.block, self.at + 4)?;
            self.at += 4 + len as u64;
            self.used = 0;
        }
        let mut rest = self.block.get(self.used..).unwrap_or_default();
        let before = rest.len();
        let item = T::decode(&mut rest).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("a sort run file is damaged: {}", self.run.path.display()),
            )
        })?;
        self.used += before - rest.len();
        Ok(Some(item))
    }
}

enum Source<'a, T> {
    Held(std::slice::Iter<'a, u32>, &'a [T]),
    Run(RunReader<'a>),
}

impl<'a, T: Item> Source<'a, T> {
    fn next(&mut self) -> std::io::Result<Option<Got<'a, T>>> {
        match self {
            Source::Held(perm, items) => Ok(perm
                .next()
                .and_then(|&i| items.get(i as usize))
                .map(Got::Held)),
            Source::Run(r) => Ok(r.next()?.map(Got::Read)),
        }
    }
}

/// The items of several sorted sources, in order (a heap of their heads).
pub struct Merge<'a, T, O> {
    order: &'a O,
    sources: Vec<Source<'a, T>>,
    heads: Vec<Option<Got<'a, T>>>,
    /// Each head's [`Order::prefix`], taken once when it is read: the heap
    /// compares them first, and the full order only where they are equal.
    prefixes: Vec<Option<u128>>,
    /// Sources with a head, as a binary min-heap.
    heap: Vec<usize>,
    started: bool,
    failed: bool,
}

impl<'a, T: Item, O: Order<T>> Merge<'a, T, O> {
    fn new(order: &'a O, items: &'a [T], perm: &'a [u32], runs: &'a [Run]) -> Self {
        let mut sources: Vec<Source<'a, T>> = runs
            .iter()
            .map(|run| {
                Source::Run(RunReader {
                    run,
                    file: None,
                    at: 0,
                    block: Vec::new(),
                    used: 0,
                })
            })
            .collect();
        if !perm.is_empty() {
            sources.push(Source::Held(perm.iter(), items));
        }
        Merge {
            order,
            heads: (0..sources.len()).map(|_| None).collect(),
            prefixes: vec![None; sources.len()],
            sources,
            heap: Vec::new(),
            started: false,
            failed: false,
        }
    }

    /// Whether source `a`'s head comes before source `b`'s.
    fn before(&self, a: usize, b: usize) -> bool {
        if let (Some(Some(x)), Some(Some(y))) = (self.prefixes.get(a), self.prefixes.get(b)) {
            if x != y {
                return x < y;
            }
        }
        match (self.heads.get(a), self.heads.get(b)) {
            (Some(Some(x)), Some(Some(y))) => self.order.cmp(x, y).then(a.cmp(&b)).is_lt(),
            _ => a < b,
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut least = i;
            for c in [l, r] {
                if let (Some(&sc), Some(&sl)) = (self.heap.get(c), self.heap.get(least)) {
                    if self.before(sc, sl) {
                        least = c;
                    }
                }
            }
            if least == i {
                return;
            }
            self.heap.swap(i, least);
            i = least;
        }
    }

    fn fill(&mut self, s: usize) -> std::io::Result<bool> {
        let got = match self.sources.get_mut(s) {
            Some(source) => source.next()?,
            None => None,
        };
        let has = got.is_some();
        // one source has no other to be compared with
        if self.sources.len() > 1 {
            if let Some(p) = self.prefixes.get_mut(s) {
                *p = got.as_ref().and_then(|g| self.order.prefix(g));
            }
        }
        if let Some(h) = self.heads.get_mut(s) {
            *h = got;
        }
        Ok(has)
    }

    fn start(&mut self) -> std::io::Result<()> {
        self.started = true;
        for s in 0..self.sources.len() {
            if self.fill(s)? {
                self.heap.push(s);
            }
        }
        for i in (0..self.heap.len() / 2).rev() {
            self.sift_down(i);
        }
        Ok(())
    }

    /// The next item, left in place.
    pub fn peek(&mut self) -> std::io::Result<Option<&Got<'a, T>>> {
        if !self.started {
            self.start()?;
        }
        Ok(self
            .heap
            .first()
            .and_then(|&s| self.heads.get(s))
            .and_then(Option::as_ref))
    }

    /// The next item if `take` holds for it; otherwise it stays next.
    pub fn next_if(
        &mut self,
        take: impl FnOnce(&T) -> bool,
    ) -> std::io::Result<Option<Got<'a, T>>> {
        if self.peek()?.is_some_and(|h| take(h)) {
            self.pop()
        } else {
            Ok(None)
        }
    }

    fn pop(&mut self) -> std::io::Result<Option<Got<'a, T>>> {
        if !self.started {
            self.start()?;
        }
        let Some(&s) = self.heap.first() else {
            return Ok(None);
        };
        // one source: no heap to keep
        if self.sources.len() == 1 {
            let item = self.heads.get_mut(s).and_then(Option::take);
            if !self.fill(s)? {
                self.heap.clear();
            }
            return Ok(item);
        }
        let item = self.heads.get_mut(s).and_then(Option::take);
        if !self.fill(s)? {
            let last = self.heap.len() - 1;
            self.heap.swap(0, last);
            self.heap.pop();
        }
        self.sift_down(0);
        Ok(item)
    }
}

impl<'a, T: Item, O: Order<T>> Iterator for Merge<'a, T, O> {
    type Item = std::io::Result<Got<'a, T>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.pop() {
            Ok(item) => item.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

pub(crate) use super::store::put_text;

/// A firm's key: up to 24 bytes held inline, longer ones on the heap.
pub type Key = compact_str::CompactString;

/// Takes a key written by `put_text`.
pub fn take_key(bytes: &mut &[u8]) -> Option<Key> {
    let len = u32::from_le_bytes(take_array(bytes)?);
    let text = super::store::take(bytes, len as usize)?;
    std::str::from_utf8(text).ok().map(Key::new)
}

/// Takes `N` bytes.
pub fn take_array<const N: usize>(bytes: &mut &[u8]) -> Option<[u8; N]> {
    super::store::take(bytes, N)?.try_into().ok()
}

/// Heap bytes of a key, as the allocator counts them (rounded up, with its
/// header); none for a key held inline.
pub fn key_heap(key: &Key) -> usize {
    if key.is_heap_allocated() {
        (key.capacity() + 8).next_multiple_of(16) + 8
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Word(Key, u64);

    impl Item for Word {
        fn encode(&self, out: &mut Vec<u8>) {
            put_text(out, &self.0);
            out.extend_from_slice(&self.1.to_le_bytes());
        }
        fn decode(bytes: &mut &[u8]) -> Option<Self> {
            Some(Word(
                take_key(bytes)?,
                u64::from_le_bytes(take_array(bytes)?),
            ))
        }
        fn heap(&self) -> usize {
            key_heap(&self.0)
        }
    }

    struct ByWord;
    impl Order<Word> for ByWord {
        fn cmp(&self, a: &Word, b: &Word) -> Ordering {
            a.0.cmp(&b.0).then(a.1.cmp(&b.1))
        }
        fn prefix(&self, w: &Word) -> Option<u128> {
            Some(super::super::prefix(&w.0))
        }
    }

    struct ByNumberDesc;
    impl Order<Word> for ByNumberDesc {
        fn cmp(&self, a: &Word, b: &Word) -> Ordering {
            (b.1 % 7).cmp(&(a.1 % 7)).then(a.1.cmp(&b.1))
        }
    }

    fn words(n: u64) -> Vec<Word> {
        // a fixed scramble, keys sharing long prefixes
        (0..n)
            .map(|i| {
                let k = (i * 7919 + 13) % 1009;
                Word(Key::from(format!("企业-0000000000000000-{k:04}")), i)
            })
            .collect()
    }

    fn sort_all<O: Order<Word>>(order: O, limit: usize, dir: Option<PathBuf>) -> Vec<Word> {
        let mut s = Sorter::new("test", order, limit, dir);
        for w in words(5000) {
            s.push(w).unwrap();
        }
        let sorted = s.finish();
        let first: Vec<Word> = sorted.iter().map(|w| (*w.unwrap()).clone()).collect();
        let again: Vec<Word> = sorted.iter().map(|w| (*w.unwrap()).clone()).collect();
        assert_eq!(first, again, "read twice, the same");
        first
    }

    /// `sorted` of items already in order (kept as they are) agrees with a
    /// stable sort, and so does that of items out of order by one swap,
    /// ties (equal keys, equal numbers) included, with and without prefixes.
    #[test]
    fn items_in_order_are_taken_as_they_are() {
        let mut rng = crate::test_rng::Rng(0x0dd5_0a7e);
        for case in 0..400 {
            let n = rng.below(300) as usize;
            let long = rng.below(2) == 0;
            let mut items: Vec<Word> = (0..n)
                .map(|_| {
                    let k = rng.below(40);
                    let key = if long {
                        format!("企业-0000000000000000-{k:03}")
                    } else {
                        format!("N{k:02}")
                    };
                    Word(Key::from(key), rng.below(5))
                })
                .collect();
            let stable = |order: &dyn Fn(&Word, &Word) -> Ordering, items: &[Word]| {
                let mut idx: Vec<u32> = (0..items.len() as u32).collect();
                idx.sort_by(|&a, &b| order(&items[a as usize], &items[b as usize]));
                idx
            };
            let word = |a: &Word, b: &Word| ByWord.cmp(a, b);
            let number = |a: &Word, b: &Word| ByNumberDesc.cmp(a, b);
            if rng.below(4) != 0 {
                items.sort_by(word);
            }
            if n > 1 && rng.below(3) == 0 {
                let i = rng.below(n as u64 - 1) as usize;
                items.swap(i, i + 1);
            }
            assert_eq!(
                sorted(&ByWord, &items),
                stable(&word, &items),
                "case {case}"
            );
            assert_eq!(
                sorted(&ByNumberDesc, &items),
                stable(&number, &items),
                "case {case}"
            );
            items.sort_by(number);
            assert_eq!(
                sorted(&ByNumberDesc, &items),
                stable(&number, &items),
                "case {case}"
            );
        }
    }

    #[test]
    fn spilled_runs_merge_to_the_in_memory_order() {
        let dir = std::env::temp_dir().join(format!("mianshen-sort-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut want = words(5000);
        want.sort_by(|a, b| ByWord.cmp(a, b));
        assert_eq!(sort_all(ByWord, usize::MAX, None), want);
        // about 60 items a run: 80-odd runs, so runs are merged on the way
        assert_eq!(sort_all(ByWord, 4096, Some(dir.clone())), want);
        assert_eq!(sort_all(ByWord, 1, Some(dir.clone())), want);
        let mut want = words(5000);
        want.sort_by(|a, b| ByNumberDesc.cmp(a, b));
        assert_eq!(sort_all(ByNumberDesc, 2000, Some(dir.clone())), want);
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert!(left.is_empty(), "run files are removed: {left:?}");
        let _ = std::fs::remove_dir_all(dir);
    }

    /// [`ByWord`] without its prefix: the merge compares every head in full.
    struct ByWordInFull;
    impl Order<Word> for ByWordInFull {
        fn cmp(&self, a: &Word, b: &Word) -> Ordering {
            ByWord.cmp(a, b)
        }
    }

    /// Property: runs merged by their heads' prefixes (compared first, the
    /// full order on ties) give the sequence of runs merged in full, and of
    /// a stable sort, on random keys (short, long with a shared 16-byte
    /// start, equal ones on several lines) under random spill limits.
    #[test]
    fn merging_by_prefix_gives_the_full_order() {
        let dir = std::env::temp_dir().join(format!("mianshen-sort4-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut rng = crate::test_rng::Rng(0x9e37_79b9);
        for case in 0..60 {
            let n = rng.below(3000) as usize;
            let items: Vec<Word> = (0..n)
                .map(|i| {
                    let k = rng.below(200);
                    let key = match rng.below(3) {
                        0 => format!("N{k:02}"),
                        1 => format!("9142010200000000{k:04}"),
                        _ => format!("企业-0000000000000000-{k:03}"),
                    };
                    // lines may repeat across keys, never within one
                    Word(Key::from(key), i as u64 % 97 * 1000 + i as u64)
                })
                .collect();
            let limit = [1, 512, 4096, 1 << 16][rng.below(4) as usize];
            let mut by_prefix = Sorter::new("test", ByWord, limit, Some(dir.clone()));
            let mut in_full = Sorter::new("test", ByWordInFull, limit, Some(dir.clone()));
            for w in &items {
                by_prefix.push(w.clone()).unwrap();
                in_full.push(w.clone()).unwrap();
            }
            fn read<O: Order<Word>>(i: Merge<'_, Word, O>) -> Vec<Word> {
                i.map(|w| (*w.unwrap()).clone()).collect()
            }
            let (a, b) = (by_prefix.finish(), in_full.finish());
            let got = read(a.iter());
            assert_eq!(got, read(b.iter()), "case {case}");
            let mut want = items.clone();
            want.sort_by(|x, y| ByWord.cmp(x, y));
            assert_eq!(got, want, "case {case}");
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_spilled_sorted_set_reads_the_same() {
        let dir = std::env::temp_dir().join(format!("mianshen-sort2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut s = Sorter::new("test", ByWord, usize::MAX, Some(dir.clone()));
        for w in words(300) {
            s.push(w).unwrap();
        }
        let sorted = s.finish();
        let held: Vec<Word> = sorted.iter().map(|w| (*w.unwrap()).clone()).collect();
        let spilled = sorted.spill("test", Some(dir.clone())).unwrap();
        assert_eq!(spilled.held(), 0);
        let read: Vec<Word> = spilled.iter().map(|w| (*w.unwrap()).clone()).collect();
        assert_eq!(held, read);
        drop(spilled);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// `spill_each` visits the items held in their order, and what it
    /// changes (without moving an item in the order) is what the run holds.
    #[test]
    fn spill_each_visits_in_order() {
        let dir = std::env::temp_dir().join(format!("mianshen-sort3-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut s = Sorter::new("test", ByWord, usize::MAX, Some(dir.clone()));
        let mut want = Vec::new();
        for (i, w) in words(700).into_iter().enumerate() {
            s.push(w.clone()).unwrap();
            want.push(w);
            if i % 250 == 249 {
                let mut seen = Vec::new();
                s.spill_each(|w| {
                    seen.push(w.clone());
                    w.1 += 1_000_000;
                    Ok(())
                })
                .unwrap();
                assert!(seen.windows(2).all(|p| ByWord.cmp(&p[0], &p[1]).is_lt()));
                assert_eq!(seen.len(), 250);
            }
        }
        for w in &mut want[..500] {
            w.1 += 1_000_000;
        }
        want.sort_by(|a, b| ByWord.cmp(a, b));
        let got: Vec<Word> = s.finish().iter().map(|w| (*w.unwrap()).clone()).collect();
        assert_eq!(got, want);
        let _ = std::fs::remove_dir_all(dir);
    }
}
