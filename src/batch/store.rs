//! Decisions kept compactly while a run goes on: each firm's block of encoded
//! pairs, in memory up to a limit and in a temporary file beyond it, so the
//! memory a run needs does not grow with its data.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use rust_decimal::Decimal;

use crate::eval::Outcome;

/// A pair as stored: what the report needs to write its line.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored<'a> {
    pub policy: u16,
    pub outcome: Outcome,
    pub amount: Option<Decimal>,
    /// Settled across firms: its funded amount (or cut) comes from settlement.
    pub settled: bool,
    /// Reasons in their stored form ([`crate::eval::Reason`]; empty for none).
    pub reasons: &'a str,
}

const HAS_AMOUNT: u8 = 1 << 2;
const SETTLED: u8 = 1 << 3;
const HAS_REASONS: u8 = 1 << 4;

/// Appends the encoding of a pair to `out`.
pub fn encode(
    out: &mut Vec<u8>,
    policy: u16,
    outcome: Outcome,
    amount: Option<Decimal>,
    settled: bool,
    reasons: &str,
) {
    let mut tag = match outcome {
        Outcome::Eligible => 0u8,
        Outcome::Ineligible => 1,
        Outcome::Review => 2,
    };
    if amount.is_some() {
        tag |= HAS_AMOUNT;
    }
    if settled {
        tag |= SETTLED;
    }
    if !reasons.is_empty() {
        tag |= HAS_REASONS;
    }
    out.push(tag);
    out.extend_from_slice(&policy.to_le_bytes());
    if let Some(a) = amount {
        out.extend_from_slice(&a.serialize());
    }
    if !reasons.is_empty() {
        put_text(out, reasons);
    }
}

/// Appends a text with its length before it.
pub(crate) fn put_text(out: &mut Vec<u8>, text: &str) {
    let len = u32::try_from(text.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(text.as_bytes().get(..len as usize).unwrap_or_default());
}

/// A text written by [`put_text`], taken off the front.
pub(crate) fn take_text(bytes: &mut &[u8]) -> Option<String> {
    let len = u32::from_le_bytes(take(bytes, 4)?.try_into().ok()?);
    Some(String::from_utf8_lossy(take(bytes, len as usize)?).into_owned())
}

/// The next `n` bytes, taken off the front.
pub(super) fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, rest) = bytes.split_at_checked(n)?;
    *bytes = rest;
    Some(head)
}

/// The pairs of one firm's block.
pub fn decode(bytes: &[u8]) -> Pairs<'_> {
    Pairs { bytes }
}

/// Iterates over the pairs of a block.
pub struct Pairs<'a> {
    bytes: &'a [u8],
}

impl<'a> Iterator for Pairs<'a> {
    type Item = Stored<'a>;

    fn next(&mut self) -> Option<Stored<'a>> {
        let bytes = &mut self.bytes;
        let tag = *take(bytes, 1)?.first()?;
        let policy = u16::from_le_bytes(take(bytes, 2)?.try_into().ok()?);
        let outcome = match tag & 3 {
            0 => Outcome::Eligible,
            1 => Outcome::Ineligible,
            _ => Outcome::Review,
        };
        let mut s = Stored {
            policy,
            outcome,
            amount: None,
            settled: tag & SETTLED != 0,
            reasons: "",
        };
        if tag & HAS_AMOUNT != 0 {
            s.amount = Some(Decimal::deserialize(take(bytes, 16)?.try_into().ok()?));
        }
        if tag & HAS_REASONS != 0 {
            let len = u32::from_le_bytes(take(bytes, 4)?.try_into().ok()?);
            s.reasons = std::str::from_utf8(take(bytes, len as usize)?).unwrap_or_default();
        }
        Some(s)
    }
}

/// Where the blocks live: pages in memory up to a limit, then a file.
pub struct Store {
    /// Full pages and the page being filled; a page is never reallocated, so
    /// memory is what is stored (no doubling, no copies).
    pages: Vec<Vec<u8>>,
    /// Offset of the first byte still in memory; earlier bytes are spilled.
    spilled: u64,
    /// Offset where each in-memory page starts.
    starts: Vec<u64>,
    spill: Option<(PathBuf, File)>,
    spill_dir: Option<PathBuf>,
    /// Names the spill file.
    name: &'static str,
    limit: usize,
    in_memory: usize,
    /// Spills its pages itself past the limit ([`Store::new`]); else only
    /// when told, in the order given ([`Store::spill_in_order`]).
    auto: bool,
}

/// Bytes per page at most (a bigger chunk gets a page of its own size).
const PAGE: usize = 4 << 20;
/// Bytes per page at least: a store limited below [`PAGE`] uses pages of its
/// limit, so the limit holds and small limits really spill.
const MIN_PAGE: usize = 4 << 10;

impl Store {
    /// Keeps up to `limit` bytes in memory; beyond that, spills into a file
    /// in `spill_dir` (or keeps everything in memory without one).
    pub fn new(spill_dir: Option<PathBuf>, limit: usize) -> Store {
        Store::named("decisions", spill_dir, limit)
    }

    /// A store whose spill file is named after `name`.
    pub fn named(name: &'static str, spill_dir: Option<PathBuf>, limit: usize) -> Store {
        Store {
            name,
            pages: Vec::new(),
            spilled: 0,
            starts: Vec::new(),
            spill: None,
            spill_dir,
            limit,
            in_memory: 0,
            auto: true,
        }
    }

    /// A store that spills only when told, its blocks in the order given
    /// ([`Store::spill_in_order`]): a run's decisions, spilled with the
    /// firms' index in key order, so that the output reads them back in
    /// long stretches rather than block by block.
    pub fn in_order(spill_dir: Option<PathBuf>, limit: usize) -> Store {
        let mut store = Store::new(spill_dir, limit);
        store.auto = false;
        store
    }

    /// Bytes held in memory.
    pub fn held(&self) -> usize {
        self.in_memory
    }

    /// Where the blocks still in memory start: a block before it is on disk.
    pub fn spilled(&self) -> u64 {
        self.spilled
    }

    /// Moves every block held in memory to the spill file, in the order
    /// `order` visits them: it calls its visitor with each block's start and
    /// length, and the start becomes the block's new place (a block
    /// already on disk keeps its own). `order` must visit each block in
    /// memory once (a block visited twice is written twice; one not visited
    /// is lost), as the firms' index does with the entries it holds, sorted
    /// by key.
    pub fn spill_in_order(
        &mut self,
        order: impl FnOnce(&mut dyn FnMut(&mut u64, u32) -> std::io::Result<()>) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let Some(dir) = &self.spill_dir else {
            return Ok(());
        };
        if self.spill.is_none() {
            self.spill = Some(spill_file(dir, self.name, "spill")?);
        }
        let Some((_, file)) = &self.spill else {
            return Ok(());
        };
        let (pages, starts, spilled) = (&self.pages, &self.starts, self.spilled);
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        let mut written = 0u64;
        order(&mut |start: &mut u64, len: u32| {
            if *start < spilled {
                // on disk already: it stays where it is
                return Ok(());
            }
            let bytes = in_pages(pages, starts, *start, len);
            out.write_all(bytes)?;
            *start = spilled + written;
            written += bytes.len() as u64;
            Ok(())
        })?;
        out.flush()?;
        drop(out);
        self.spilled += written;
        self.pages.clear();
        self.starts.clear();
        self.in_memory = 0;
        Ok(())
    }

    /// Fills `buf` with the spill file's bytes from `at` (leaves it as it
    /// is when nothing is spilled).
    pub fn read_spilled(&self, at: u64, buf: &mut [u8]) -> std::io::Result<()> {
        match &self.spill {
            Some((_, file)) => read_at(file, buf, at),
            None => Ok(()),
        }
    }

    fn end(&self) -> u64 {
        match (self.starts.last(), self.pages.last()) {
            (Some(s), Some(p)) => s + p.len() as u64,
            _ => self.spilled,
        }
    }

    /// Appends whole blocks (they stay together); returns where they start.
    pub fn append(&mut self, bytes: &[u8]) -> std::io::Result<u64> {
        let at = self.end();
        let fits = self
            .pages
            .last()
            .is_some_and(|p| p.capacity() - p.len() >= bytes.len());
        if !fits {
            let page = PAGE.min(self.limit.max(MIN_PAGE));
            self.pages.push(Vec::with_capacity(page.max(bytes.len())));
            self.starts.push(at);
        }
        if let Some(page) = self.pages.last_mut() {
            page.extend_from_slice(bytes);
        }
        self.in_memory += bytes.len();
        if self.auto && self.in_memory > self.limit {
            self.spill_pages()?;
        }
        Ok(at)
    }

    /// Moves every full page to the spill file.
    fn spill_pages(&mut self) -> std::io::Result<()> {
        let Some(dir) = &self.spill_dir else {
            return Ok(());
        };
        if self.spill.is_none() {
            self.spill = Some(spill_file(dir, self.name, "spill")?);
        }
        let Some((_, file)) = &mut self.spill else {
            return Ok(());
        };
        let keep = self.pages.len().saturating_sub(1);
        for page in self.pages.drain(..keep) {
            file.write_all(&page)?;
            self.spilled += page.len() as u64;
            self.in_memory -= page.len();
        }
        self.starts.drain(..keep);
        Ok(())
    }

    /// The block at `[start, start + len)`: borrowed when in memory, read
    /// into `buf` when spilled.
    pub fn read<'s>(
        &'s self,
        start: u64,
        len: u32,
        buf: &'s mut Vec<u8>,
    ) -> std::io::Result<&'s [u8]> {
        if start >= self.spilled {
            return Ok(in_pages(&self.pages, &self.starts, start, len));
        }
        buf.clear();
        if let Some((_, file)) = &self.spill {
            buf.resize(len as usize, 0);
            read_at(file, buf, start)?;
        }
        Ok(buf)
    }
}

/// The block at `[start, start + len)` of pages starting at `starts`.
fn in_pages<'s>(pages: &'s [Vec<u8>], starts: &[u64], start: u64, len: u32) -> &'s [u8] {
    let page = starts.partition_point(|&s| s <= start).saturating_sub(1);
    let (Some(&from), Some(bytes)) = (starts.get(page), pages.get(page)) else {
        return &[];
    };
    let at = usize::try_from(start - from).unwrap_or(usize::MAX);
    bytes
        .get(at..at.saturating_add(len as usize))
        .unwrap_or_default()
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Some((path, _)) = self.spill.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Numbers the spill files of this process: every store and every sorted
/// run gets a file of its own, however many runs share a spill folder.
static SPILL_NAMES: AtomicU64 = AtomicU64::new(0);

/// A new spill file in `dir`, for reading and writing, under a name no other
/// file has (`.{name}-{pid}-{n}.{ext}`): an existing file is never reused or
/// truncated, so two logs (or two runs) can never write over each other.
pub(super) fn spill_file(
    dir: &std::path::Path,
    name: &str,
    ext: &str,
) -> std::io::Result<(PathBuf, File)> {
    loop {
        let n = SPILL_NAMES.fetch_add(1, Relaxed);
        let path = dir.join(format!(".{name}-{}-{n}.{ext}", std::process::id()));
        match std::fs::OpenOptions::new()
            .create_new(true)
            .read(true)
            .write(true)
            .open(&path)
        {
            Ok(file) => return Ok((path, file)),
            // left by an earlier process with the same id: take the next number
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(unix)]
pub(super) fn read_at(file: &File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, at)
}

#[cfg(not(unix))]
pub(super) fn read_at(file: &File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = file.try_clone()?;
    f.seek(SeekFrom::Start(at))?;
    f.read_exact(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_pairs() {
        let mut b = Vec::new();
        encode(
            &mut b,
            3,
            Outcome::Eligible,
            Some(Decimal::new(600000, 2)),
            false,
            "",
        );
        encode(
            &mut b,
            7,
            Outcome::Review,
            None,
            false,
            "标签\u{1f}missing: size",
        );
        encode(&mut b, 9, Outcome::Eligible, None, true, "");
        let d: Vec<Stored> = decode(&b).collect();
        assert_eq!(d.len(), 3);
        assert_eq!(d[0].amount, Some(Decimal::new(600000, 2)));
        assert_eq!(d[1].reasons, "标签\u{1f}missing: size");
        assert_eq!((d[2].policy, d[2].settled), (9, true));
    }

    #[test]
    fn spills_beyond_the_limit() {
        let dir = std::env::temp_dir().join(format!("mianshen-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut s = Store::new(Some(dir.clone()), 8);
        let a = s.append(b"0123456789").unwrap();
        let b = s.append(b"abc").unwrap();
        let big = vec![7u8; PAGE + 5];
        let c = s.append(&big).unwrap();
        let d = s.append(b"tail").unwrap();
        let mut buf = Vec::new();
        assert_eq!(s.read(a, 10, &mut buf).unwrap(), b"0123456789");
        assert_eq!(s.read(b, 3, &mut buf).unwrap(), b"abc");
        assert_eq!(s.read(c, big.len() as u32, &mut buf).unwrap(), &big[..]);
        assert_eq!(s.read(d, 4, &mut buf).unwrap(), b"tail");
        assert!(s.spilled > 0, "pages beyond the limit go to the file");
        drop(s);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Two stores of the same name in one folder (the two reject logs of a
    /// run, or two runs in one process) each spill into a file of their own.
    #[test]
    fn stores_of_one_name_spill_apart() {
        let dir = std::env::temp_dir().join(format!("mianshen-store-two-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut one = Store::named("rejects", Some(dir.clone()), 8);
        let mut two = Store::named("rejects", Some(dir.clone()), 8);
        let (a, b) = (vec![1u8; PAGE + 3], vec![2u8; PAGE + 7]);
        let at_a = one.append(&a).unwrap();
        let at_b = two.append(&b).unwrap();
        one.append(b"x").unwrap();
        two.append(b"y").unwrap();
        assert!(one.spilled > 0 && two.spilled > 0, "both spilled");
        let mut buf = Vec::new();
        assert_eq!(one.read(at_a, a.len() as u32, &mut buf).unwrap(), &a[..]);
        assert_eq!(two.read(at_b, b.len() as u32, &mut buf).unwrap(), &b[..]);
        drop((one, two));
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "both removed");
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Blocks spilled in the order asked take new starts there, in that
    /// order, one after the other: read back by the new starts, in long
    /// stretches or one by one, they are the blocks given; later blocks
    /// keep coming after them, in memory until spilled again.
    #[test]
    fn spills_blocks_in_the_order_given() {
        let dir = std::env::temp_dir().join(format!("mianshen-store-order-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut s = Store::in_order(Some(dir.clone()), 16);
        let blocks: Vec<Vec<u8>> = (0..40u8)
            .map(|i| vec![i; 1 + (i as usize * 7) % 23])
            .collect();
        let mut at: Vec<(u64, u32)> = Vec::new();
        for b in &blocks[..30] {
            at.push((s.append(b).unwrap(), b.len() as u32));
        }
        assert_eq!(s.spilled(), 0, "an ordered store never spills by itself");
        assert!(s.held() > 16);
        // a scrambled order, as sorting by key gives
        let order: Vec<usize> = (0..30).map(|i| (i * 17) % 30).collect();
        let mut moved = at.clone();
        s.spill_in_order(|visit| {
            for &i in &order {
                let (start, len) = &mut moved[i];
                visit(start, *len)?;
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(s.held(), 0);
        let total: u64 = at.iter().map(|&(_, l)| u64::from(l)).sum();
        assert_eq!(s.spilled(), total);
        // in the order visited, one after the other
        let mut next = 0;
        for &i in &order {
            assert_eq!(moved[i].0, next, "block {i}");
            next += u64::from(moved[i].1);
        }
        let mut buf = Vec::new();
        for (i, &(start, len)) in moved.iter().enumerate() {
            assert_eq!(s.read(start, len, &mut buf).unwrap(), &blocks[i][..]);
        }
        let mut all = vec![0u8; total as usize];
        s.read_spilled(0, &mut all).unwrap();
        let want: Vec<u8> = order.iter().flat_map(|&i| blocks[i].clone()).collect();
        assert_eq!(all, want, "one long stretch");
        // later blocks after them, in memory, then spilled in turn
        let mut later: Vec<(u64, u32)> = blocks[30..]
            .iter()
            .map(|b| (s.append(b).unwrap(), b.len() as u32))
            .collect();
        assert!(later.iter().all(|&(start, _)| start >= total));
        for (i, &(start, len)) in later.iter().enumerate() {
            assert_eq!(s.read(start, len, &mut buf).unwrap(), &blocks[30 + i][..]);
        }
        s.spill_in_order(|visit| {
            for (start, len) in later.iter_mut().rev() {
                visit(start, *len)?;
            }
            Ok(())
        })
        .unwrap();
        for (i, &(start, len)) in later.iter().enumerate() {
            assert!(start >= total);
            assert_eq!(s.read(start, len, &mut buf).unwrap(), &blocks[30 + i][..]);
        }
        for (i, &(start, len)) in moved.iter().enumerate() {
            assert_eq!(s.read(start, len, &mut buf).unwrap(), &blocks[i][..]);
        }
        // a block on disk already keeps its place
        let (mut start, len) = moved[3];
        s.spill_in_order(|visit| visit(&mut start, len)).unwrap();
        assert_eq!(start, moved[3].0);
        assert_eq!(s.read(start, len, &mut buf).unwrap(), &blocks[3][..]);
        drop(s);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "removed");
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Without a spill folder an ordered store keeps everything.
    #[test]
    fn an_ordered_store_without_a_folder_keeps_all() {
        let mut s = Store::in_order(None, 1);
        let a = s.append(b"abc").unwrap();
        s.spill_in_order(|_| Ok(())).unwrap();
        let mut buf = Vec::new();
        assert_eq!(s.read(a, 3, &mut buf).unwrap(), b"abc");
        assert_eq!(s.spilled(), 0);
    }
}
