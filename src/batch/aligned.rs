//! Department files whose rows come in one key order (exported from one
//! register, or split from one file), some of them listing only some of
//! the firms: the first file's rows give the order, and each firm's rows
//! of the other files are at their heads when the first file reaches its
//! key. The firms are joined as the files are read, without sorting every
//! row by key ([`super::joined`]'s plain way).
//!
//! That gives what the sort gives only when each firm so joined has no
//! other row anywhere: every row of the other files must be taken by a row
//! of the first file, no key may come twice, and no firm may give a
//! conflict (conflicts are written in key order). Otherwise
//! [`stream_aligned`] gives up (`None`), having written nothing, and the
//! caller reads the files again the plain way; it gives up as soon as a
//! key of the first file comes twice or another file's next row is of a
//! key the first file has passed ([`Passed`]), or when that row waits
//! through [`PATIENCE`] batches of the first file's rows (a key the first
//! file may not have). A row with no key is rejected as the plain way
//! rejects it, wherever it is. The firms are joined and evaluated as by the
//! sort ([`Joiner::firm`]); the run's output is in key order whatever order
//! its firms came in.

use std::sync::mpsc::Receiver;

use rayon::prelude::*;

use super::joined::{read_file, DataFiles, Done, FiledRejects, Joiner, KeyedBatch, Read};
use super::sort::{Order, Sorted, Sorter};
use super::*;
use crate::data::stream::{RawBatch, RawRow, Seen, Stream};
use crate::data::Reject;

/// Batches of one file read ahead of the join (besides the one being
/// read): enough that a file whose reading is slow for a while (the
/// workbook's, waiting on its sheet's thread) does not leave the join
/// waiting with a core idle.
const AHEAD: usize = 3;

/// Batches of the first file that another file's next row may wait through
/// before the files are taken to be in different orders (so a file whose
/// firms are more than about 32,768 of the first file's rows apart is read
/// the plain way).
const PATIENCE: u64 = 3;

/// Why the files cannot be joined row by row.
struct NotAligned;

/// The keys of the first file's rows taken so far, as hashes, to give up
/// as soon as a key comes twice or another file's next row is of a key
/// already passed (so it will never be taken), instead of at the end. Up
/// to a number of keys (the memory for the run's index); past it, only the
/// check at the end ([`Batch::any_key_twice`]) finds a key twice. Two keys
/// of one hash only make the run give up: never a wrong join.
struct Passed {
    hashes: hashbrown::HashSet<u64, foldhash::fast::FixedState>,
    most: usize,
}

impl Passed {
    fn new(memory: usize) -> Passed {
        Passed {
            hashes: Default::default(),
            // a hash and the table's room for it
            most: memory / 16,
        }
    }

    fn hash(key: &Key) -> u64 {
        use std::hash::BuildHasher;
        foldhash::fast::FixedState::default().hash_one(key.as_str())
    }

    /// Notes `key` passed: `false` when it was already.
    fn pass(&mut self, key: &Key) -> bool {
        if self.hashes.len() >= self.most {
            return true;
        }
        self.hashes.insert(Passed::hash(key))
    }

    /// Whether `key` was passed (as far as noted).
    fn has(&self, key: &Key) -> bool {
        !self.hashes.is_empty() && self.hashes.contains(&Passed::hash(key))
    }
}

/// One file's batches being taken row by row.
struct Cursor {
    file: u16,
    /// Batches held: all but the last taken whole.
    batches: Vec<KeyedBatch>,
    /// The next row of the last batch.
    at: usize,
    ended: bool,
    /// The first file's batch at which the next row became next.
    since: u64,
}

impl Cursor {
    fn new(file: u16) -> Cursor {
        Cursor {
            file,
            batches: Vec::new(),
            at: 0,
            ended: false,
            since: 0,
        }
    }

    /// The next row (its batch's place and its row's), reading the file's
    /// next batch when needed; the rejects of rows with no key are filed
    /// on the way (a row with no key takes no part in a firm).
    fn next(
        &mut self,
        inbox: &Receiver<Read>,
        rejects: &mut Vec<(u16, Reject)>,
        step: u64,
    ) -> Result<Option<(usize, usize)>, NotAligned> {
        loop {
            let last = self.batches.len().checked_sub(1);
            if let Some(b) = last.and_then(|l| self.batches.get_mut(l)) {
                match b.keys.get_mut(self.at) {
                    Some(Ok(_)) => return Ok(last.map(|l| (l, self.at))),
                    Some(Err(rs)) => {
                        rejects.extend(std::mem::take(rs).into_iter().map(|r| (self.file, r)));
                        self.taken(step);
                        continue;
                    }
                    None => {}
                }
            }
            if self.ended {
                return Ok(None);
            }
            match inbox.recv() {
                Ok(Read::Rows(batch)) => {
                    self.batches.push(batch);
                    self.at = 0;
                    self.since = step;
                }
                // the plain way reports it as it does
                Ok(Read::Failed(..)) => return Err(NotAligned),
                Err(_) => self.ended = true,
            }
        }
    }

    /// Takes the next row.
    fn taken(&mut self, step: u64) {
        self.at += 1;
        self.since = step;
    }

    /// The key of a row [`Cursor::next`] gave.
    fn key(&self, (b, r): (usize, usize)) -> Option<&Key> {
        self.batches.get(b)?.keys.get(r)?.as_ref().ok()
    }

    /// The row of a place [`Cursor::next`] gave.
    fn row(&self, b: usize, r: usize) -> Option<&RawRow> {
        self.batches.get(b)?.rows.rows().get(r)
    }

    /// Whether its next row, held, has waited too long for its key.
    fn stuck(&self, step: u64) -> bool {
        let held = self.batches.last().is_some_and(|b| self.at < b.keys.len());
        held && step.saturating_sub(self.since) >= PATIENCE
    }

    /// Gives back the batches taken whole, to be filled again; the bytes of
    /// the file read with the last.
    fn release(&mut self, free: &std::sync::mpsc::Sender<RawBatch>) -> u64 {
        let position = self.batches.last().map_or(0, |b| b.position);
        let whole = match self.batches.last() {
            Some(b) if self.at < b.keys.len() => self.batches.len() - 1,
            _ => self.batches.len(),
        };
        for b in self.batches.drain(..whole) {
            // a reader that has stopped takes no more
            let _ = free.send(b.rows);
        }
        if self.batches.is_empty() {
            self.at = 0;
        }
        position
    }
}

/// Each firm of a batch of the first file: its rows as (file, batch, row)
/// places in the cursors, `links[starts[i]..starts[i + 1]]`.
#[derive(Default)]
struct Firms {
    starts: Vec<usize>,
    links: Vec<(usize, usize, usize)>,
}

/// Takes the first file's next batch and, for each of its rows, the rows
/// of the other files at their heads with its key: `Ok(false)` when the
/// first file has ended (and so have the others).
fn next_firms(
    cursors: &mut [Cursor],
    inbox: &[Receiver<Read>],
    rejects: &mut Vec<(u16, Reject)>,
    step: u64,
    firms: &mut Firms,
    passed: &mut Passed,
) -> Result<bool, NotAligned> {
    firms.starts.clear();
    firms.links.clear();
    let (Some((first, others)), Some((first_inbox, other_inbox))) =
        (cursors.split_first_mut(), inbox.split_first())
    else {
        return Err(NotAligned);
    };
    // the first file's next batch, whole
    if first.next(first_inbox, rejects, step)?.is_none() {
        for (c, i) in others.iter_mut().zip(other_inbox) {
            if c.next(i, rejects, step)?.is_some() {
                return Err(NotAligned);
            }
        }
        return Ok(false);
    }
    let last = first.batches.len() - 1;
    while let Some((b, r)) = first.next(first_inbox, rejects, step)? {
        if b != last {
            // the next batch is for the next step
            break;
        }
        let Some(key) = first.key((b, r)) else {
            return Err(NotAligned);
        };
        if !passed.pass(key) {
            return Err(NotAligned);
        }
        firms.starts.push(firms.links.len());
        firms.links.push((0, b, r));
        for (f, (c, i)) in others.iter_mut().zip(other_inbox).enumerate() {
            if let Some(at) = c.next(i, rejects, step)? {
                match c.key(at) {
                    Some(k) if k == key => {
                        firms.links.push((f + 1, at.0, at.1));
                        c.taken(step);
                    }
                    // passed: it would wait for ever
                    Some(k) if passed.has(k) => return Err(NotAligned),
                    _ => {}
                }
            }
        }
        first.taken(step);
    }
    firms.starts.push(firms.links.len());
    Ok(true)
}

/// Whether the files' first rows may be in one key order: a batch of each
/// file is read (and given back to it, to be read again as if it had not
/// been), and the keys another file's batch shares with the first file's
/// must come in the same order in both. Files each in an order of its own
/// (sorted each its own way, shuffled) share some of their first keys
/// (about 256 of 16,384 among 1,000,000 firms) in different orders, and
/// are so found before anything is joined: they go the plain way at once,
/// without an attempt that would give up after a few batches, and without
/// opening their workbooks twice. Only a guess that spares time: files it
/// lets through may still be given up on ([`stream_aligned`]), and a file
/// that cannot be read goes the plain way, which tells of it.
pub fn may_be_in_one_order(
    streams: &mut [Stream],
    parsers: &[std::sync::Arc<crate::data::stream::RowParser>],
) -> Result<bool, RunError> {
    let mut batches = Vec::with_capacity(streams.len());
    for stream in streams.iter_mut() {
        let mut batch = RawBatch::default();
        if stream.next_batch(ROWS_PER_BATCH, &mut batch).is_err() {
            for stream in streams.iter_mut() {
                stream.restart()?;
            }
            return Ok(false);
        }
        batches.push(batch);
    }
    let key = |f: usize, raw: &RawRow| parsers.get(f).and_then(|p| p.row_key(raw));
    let mut first: std::collections::HashMap<String, usize> = Default::default();
    if let Some(batch) = batches.first() {
        for (i, raw) in batch.rows().iter().enumerate() {
            if let Some(k) = key(0, raw) {
                first.entry(k).or_insert(i);
            }
        }
    }
    let mut one_order = true;
    for (f, batch) in batches.iter().enumerate().skip(1) {
        let mut last = None;
        for raw in batch.rows() {
            let Some(at) = key(f, raw).and_then(|k| first.get(&k).copied()) else {
                continue;
            };
            if last.is_some_and(|l| at <= l) {
                one_order = false;
                break;
            }
            last = Some(at);
        }
    }
    for (stream, batch) in streams.iter_mut().zip(batches) {
        stream.unread(batch);
    }
    Ok(one_order)
}

/// Runs over department files in one key order, joined as they are read;
/// `None` (nothing written, the streams read in part) when they are not,
/// or when joining them so would not give what the sort gives (see the
/// module). Only for files whose columns are apart
/// ([`super::joined::files_apart`]).
pub fn stream_aligned<'p>(
    program: &'p Program,
    files: &mut DataFiles<'_>,
    opts: RunOptions,
    spill: Option<Spill>,
    on_reject: impl FnMut(u16, &Reject) -> std::io::Result<()>,
    mut on_progress: impl FnMut(u64),
) -> Result<Option<(Batch<'p>, Vec<u64>)>, RunError> {
    let parsers: Vec<_> = files.streams.iter().map(Stream::parser).collect();
    let memory = spill.as_ref().map(|s| s.memory).unwrap_or_default();
    let dir = spill.as_ref().map(|s| s.dir.clone());
    let mut rejects = FiledRejects::new("aligned-rejects", memory.rejects, dir.clone());
    // the keys of firms joined with no record (a row did not read): with
    // the run's index, every key joined, to find one joined twice
    let mut unjoined = Sorter::new("aligned-keys", ByKey, memory.rejects, dir.clone());
    let count = files.streams.len();
    let names = files.files();
    let joiner = Joiner {
        program,
        parsers: &parsers,
        files: &names,
        direct: true,
    };
    let mut batch = Batch::new(program, opts, spill);
    let evaluator = batch.evaluator();
    let mut evaluated = vec![0u64; count];
    // what parsing noticed, per file, added to the streams at the end
    let mut seen: Vec<Seen> = (0..count).map(|_| Seen::default()).collect();
    let aligned = std::thread::scope(|scope| -> Result<bool, RunError> {
        let mut inbox = Vec::with_capacity(count);
        let mut free = Vec::with_capacity(count);
        let mut cursors = Vec::with_capacity(count);
        for (f, (stream, parser)) in files.streams.iter_mut().zip(&parsers).enumerate() {
            let file = u16::try_from(f).unwrap_or(u16::MAX);
            let (sent, received) = std::sync::mpsc::sync_channel::<Read>(AHEAD);
            let (back, comes_back) = std::sync::mpsc::channel::<RawBatch>();
            inbox.push(received);
            free.push(back);
            cursors.push(Cursor::new(file));
            scope.spawn(move || read_file(program, file, stream, parser, &sent, &comes_back));
        }
        let mut firms = Firms::default();
        let mut keyless = Vec::new();
        let mut passed = Passed::new(memory.index);
        for step in 1u64.. {
            let more = next_firms(
                &mut cursors,
                &inbox,
                &mut keyless,
                step,
                &mut firms,
                &mut passed,
            );
            for (file, r) in keyless.drain(..) {
                rejects.file(file, r)?;
            }
            match more {
                Ok(true) => {}
                Ok(false) => return Ok(true),
                Err(NotAligned) => return Ok(false),
            }
            if cursors.iter().any(|c| c.stuck(step)) {
                return Ok(false);
            }
            for JoinedChunk {
                done: d,
                unjoined: keys,
            } in join_firms(&joiner, &evaluator, &cursors, &firms, count)
            {
                if !d.conflicts.is_empty() {
                    return Ok(false);
                }
                for (total, n) in evaluated.iter_mut().zip(&d.evaluated) {
                    *total += n;
                }
                for (file, r) in d.rejects {
                    rejects.file(file, r)?;
                }
                for (file, mut s) in d.unknown {
                    // the streams keep no keys of what they saw
                    s.keys.clear();
                    if let Some(into) = seen.get_mut(file as usize) {
                        into.join(s);
                    }
                }
                for (key, line) in keys {
                    unjoined.push(FirmEntry {
                        key,
                        line,
                        start: 0,
                        len: 0,
                    })?;
                }
                batch.absorb(d.chunk)?;
            }
            let read: u64 = cursors
                .iter_mut()
                .zip(&free)
                .map(|(c, free)| c.release(free))
                .sum();
            on_progress(read);
        }
        Ok(true)
        // the receivers go here: a reader still sending stops
    })?;
    if !aligned || batch.any_key_twice(&unjoined.finish())? {
        return Ok(None);
    }
    for (stream, s) in files.streams.iter_mut().zip(&seen) {
        stream.add_seen(s);
    }
    rejects.finish(&mut batch, on_reject)?;
    Ok(Some((batch, evaluated)))
}

/// What a chunk of firms gave, with the keys (and first lines) of its
/// firms joined with no record.
struct JoinedChunk {
    done: Done,
    unjoined: Vec<(Key, u64)>,
}

/// Joins and evaluates the firms [`next_firms`] found, in parallel chunks.
fn join_firms(
    joiner: &Joiner<'_>,
    evaluator: &Evaluator<'_>,
    cursors: &[Cursor],
    firms: &Firms,
    files: usize,
) -> Vec<JoinedChunk> {
    let spans: Vec<&[usize]> = firms.starts.windows(2).collect();
    spans
        .par_chunks(records::CHUNK)
        .map(|spans| {
            let mut done = Done::new(files, evaluator);
            let mut unjoined = Vec::new();
            let mut records = Vec::with_capacity(spans.len());
            let mut rows: Vec<(u16, &RawRow)> = Vec::with_capacity(files);
            for span in spans {
                let (Some(&from), Some(&to)) = (span.first(), span.get(1)) else {
                    continue;
                };
                rows.clear();
                let mut key = None;
                for &(f, b, r) in firms.links.get(from..to).unwrap_or_default() {
                    let Some(c) = cursors.get(f) else { continue };
                    key = key.or_else(|| c.key((b, r)));
                    if let Some(raw) = c.row(b, r) {
                        rows.push((c.file, raw));
                    }
                }
                let Some(key) = key else { continue };
                if !joiner.firm(key, &rows, &mut done, &mut records) {
                    let line = rows.first().map_or(0, |(_, r)| r.line);
                    unjoined.push((key.clone(), line));
                }
            }
            done.chunk = evaluator.evaluate(&records);
            JoinedChunk { done, unjoined }
        })
        .collect()
}

impl Batch<'_> {
    /// Whether a key is on two of the firms joined, counting with the
    /// run's index those in `others` (sorted by key): sorts the index.
    fn any_key_twice(&mut self, others: &Sorted<FirmEntry, ByKey>) -> std::io::Result<bool> {
        self.sorted();
        let Some(sorted) = self.sorted.as_ref() else {
            return Ok(false);
        };
        if others.is_empty() {
            if let Some(twice) = sorted.any_neighbours(|a, b| a.key == b.key) {
                return Ok(twice);
            }
        }
        // both in key order: a key twice is two neighbours of the merge
        let (mut a, mut b) = (sorted.iter().peekable(), others.iter().peekable());
        let mut last: Option<Key> = None;
        loop {
            let take_a = match (a.peek(), b.peek()) {
                (Some(Ok(x)), Some(Ok(y))) => ByKey.cmp(&**x, &**y).is_le(),
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => return Ok(false),
                (Some(Err(_)), _) => true,
                (_, Some(Err(_))) => false,
            };
            let next = if take_a { a.next() } else { b.next() };
            let Some(entry) = next else {
                return Ok(false);
            };
            let entry = entry?;
            if last.as_ref() == Some(&entry.key) {
                return Ok(true);
            }
            last = Some(entry.key.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    //! Property: department files joined as they are read give what the
    //! sort gives, or nothing (the plain way then runs): random splits of
    //! the example firms with rows missing, keys twice, rows with no key,
    //! keys of no firm of the first file, rows out of order, bad cells.

    use std::path::{Path, PathBuf};

    use super::*;
    use crate::data::stream::Stream;
    use crate::data::ReadOptions;

    use crate::test_rng::Rng;

    /// In `0..n` (0 when `n` is 0).
    fn below(rng: &mut Rng, n: usize) -> usize {
        rng.below(n as u64) as usize
    }

    /// The example firms' first `n` rows as cells (header first), each key
    /// once (the example repeats some).
    fn firms(n: usize) -> Vec<Vec<String>> {
        let mut reader = csv::Reader::from_path("policies/data/firms.csv").expect("firms");
        let header: Vec<String> = reader
            .headers()
            .expect("header")
            .iter()
            .map(String::from)
            .collect();
        let mut rows = vec![header];
        let mut keys = std::collections::HashSet::new();
        for r in reader.records().take(n) {
            let row: Vec<String> = r.expect("a row").iter().map(String::from).collect();
            if keys.insert(row.first().cloned()) {
                rows.push(row);
            }
        }
        rows
    }

    /// The firms split into three files by column (the key in each), then
    /// changed as `rng` says; `plain` changes nothing but rows left out of
    /// the second and third files. The files' paths.
    fn split(rng: &mut Rng, dir: &Path, plain: bool) -> Vec<PathBuf> {
        split_shuffled(rng, dir, plain, false)
    }

    /// [`split`], each file's rows in an order of its own if `shuffled`.
    fn split_shuffled(rng: &mut Rng, dir: &Path, plain: bool, shuffled: bool) -> Vec<PathBuf> {
        let all = firms(120);
        let Some((header, rows)) = all.split_first() else {
            panic!("no firms");
        };
        let groups: [std::ops::Range<usize>; 3] = [1..12, 12..24, 24..header.len()];
        let mut paths = Vec::new();
        for (f, cols) in groups.iter().enumerate() {
            let take = |row: &[String]| -> Vec<String> {
                let mut cells = vec![row.first().cloned().unwrap_or_default()];
                cells.extend(cols.clone().filter_map(|c| row.get(c).cloned()));
                cells
            };
            let mut lines: Vec<Vec<String>> = Vec::new();
            for row in rows {
                // the first file lists every firm; the others may not
                if f > 0 && rng.next().is_multiple_of(3) {
                    continue;
                }
                lines.push(take(row));
            }
            if !plain {
                let n = lines.len();
                for _ in 0..below(rng, 3) {
                    let i = below(rng, n);
                    match below(rng, 6) {
                        // the same key twice in one file
                        0 => {
                            if let Some(l) = lines.get(i).cloned() {
                                lines.insert(below(rng, n), l);
                            }
                        }
                        // no key
                        1 => {
                            if let Some(k) = lines.get_mut(i).and_then(|l| l.first_mut()) {
                                k.clear();
                            }
                        }
                        // a key the first file does not have
                        2 => {
                            if let Some(mut l) = lines.get(i).cloned() {
                                if let Some(k) = l.first_mut() {
                                    *k = format!("91420100MA4K{:06}", below(rng, 999_999));
                                }
                                lines.insert(i, l);
                            }
                        }
                        // out of order
                        3 => {
                            let j = below(rng, n);
                            if i < n && j < n {
                                lines.swap(i, j);
                            }
                        }
                        // a cell that does not read
                        4 => {
                            if let Some(c) = lines.get_mut(i).and_then(|l| l.get_mut(1)) {
                                *c = "不是数#".into();
                            }
                        }
                        // a firm's row left out
                        _ => {
                            if i < lines.len() {
                                lines.remove(i);
                            }
                        }
                    }
                }
            }
            if shuffled {
                for i in (1..lines.len()).rev() {
                    lines.swap(i, below(rng, i + 1));
                }
            }
            let path = dir.join(format!("d{f}.csv"));
            let mut w = csv::Writer::from_path(&path).expect("write");
            w.write_record(take(header)).expect("header");
            for l in &lines {
                w.write_record(l).expect("row");
            }
            w.flush().expect("flush");
            paths.push(path);
        }
        paths
    }

    /// Everything a run over the files gives, as text: `None` when the
    /// files joined as read give up.
    fn run(
        program: &Program,
        paths: &[PathBuf],
        as_read: bool,
        spill: Option<Spill>,
    ) -> Option<String> {
        run_way(
            program,
            paths,
            if as_read { Way::AsRead } else { Way::Sorted },
            spill,
        )
    }

    /// How a test run joins its files.
    #[derive(Clone, Copy, PartialEq)]
    enum Way {
        /// [`stream_aligned`] alone.
        AsRead,
        /// The plain way, every row sorted by key.
        Sorted,
        /// As a run does ([`super::super::joined::stream_joined`]): the
        /// early check of order, then as read or sorted.
        Chosen,
    }

    fn run_way(
        program: &Program,
        paths: &[PathBuf],
        way: Way,
        spill: Option<Spill>,
    ) -> Option<String> {
        let mut streams: Vec<Stream> = paths
            .iter()
            .map(|p| Stream::open_path(p, &program.schema, &ReadOptions::default()).expect("open"))
            .collect();
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        let sources = vec![None; paths.len()];
        let mut files = DataFiles {
            streams: &mut streams,
            names: &names,
            sources: &sources,
        };
        let opts = RunOptions {
            as_of: crate::date::Date::parse_iso("2024-12-31").expect("a date"),
            all: true,
            ledger: None,
            profile: None,
        };
        let mut rejects = Vec::new();
        let mut conflicts = Vec::new();
        let on_conflict = |c: &crate::data::join::Conflict| {
            conflicts.push(c.clone());
            Ok(())
        };
        let on_reject = |f: u16, r: &Reject| {
            rejects.push((f, r.clone()));
            Ok(())
        };
        use super::super::joined::{stream_joined, stream_sorted};
        let (batch, evaluated) = match way {
            Way::AsRead => stream_aligned(program, &mut files, opts, spill, on_reject, |_| {})
                .expect("a run")?,
            Way::Chosen => {
                stream_joined(program, files, opts, spill, on_reject, on_conflict, |_| {})
                    .expect("a run")
            }
            Way::Sorted => {
                stream_sorted(program, files, opts, spill, on_reject, on_conflict, |_| {})
                    .expect("a run")
            }
        };
        let settled = batch.finish().expect("settled");
        let infos: Vec<_> = streams
            .iter()
            .map(|s| {
                let i = s.info();
                (i.rows, i.sha256, i.unknown_columns, i.odd)
            })
            .collect();
        Some(format!(
            "{:?}\n{:?}\n{rejects:?}\n{conflicts:?}\n{evaluated:?}\n{infos:?}",
            settled.firms().expect("firms"),
            settled.summary(),
        ))
    }

    /// The example set's program, and a folder for a test's files with
    /// one for spilling in it.
    fn example(name: &str) -> (Program, PathBuf, PathBuf) {
        let program = crate::load::PolicySet::load(Path::new("policies"))
            .expect("the example set")
            .program;
        let dir = std::env::temp_dir().join(format!("mianshen-{name}-{}", std::process::id()));
        let spill_dir = dir.join("spill");
        std::fs::create_dir_all(&spill_dir).expect("a folder");
        (program, dir, spill_dir)
    }

    #[test]
    fn files_joined_as_read_give_what_the_sort_gives() {
        let (program, dir, spill_dir) = example("aligned");
        let (mut as_read, mut given_up) = (0, 0);
        for seed in 1..=60u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let plain = seed.is_multiple_of(4);
            let paths = split(&mut rng, &dir, plain);
            // a tiny memory on some: what the sorts hold spills
            let spill = seed.is_multiple_of(3).then(|| Spill {
                dir: spill_dir.clone(),
                memory: Memory::within(1 << 16),
            });
            let sorted = run(&program, &paths, false, spill.clone());
            match run(&program, &paths, true, spill) {
                Some(got) => {
                    as_read += 1;
                    assert_eq!(Some(got), sorted, "seed {seed}: joined as read differs");
                }
                None => {
                    assert!(
                        !plain,
                        "seed {seed}: files in one order were not joined as read"
                    );
                    given_up += 1;
                }
            }
        }
        assert!(
            as_read > 15 && given_up > 5,
            "{as_read} joined as read, {given_up} not"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Every row a stream has left, as [`RawRow::encode`] writes it.
    fn all_rows(stream: &mut Stream) -> Vec<Vec<u8>> {
        let mut batch = RawBatch::default();
        let mut rows = Vec::new();
        while stream.next_batch(ROWS_PER_BATCH, &mut batch).expect("read") {
            for r in batch.rows() {
                let mut e = Vec::new();
                r.encode(&mut e);
                rows.push(e);
            }
        }
        rows
    }

    /// The streams of `paths`, opened.
    fn open(program: &Program, paths: &[PathBuf]) -> Vec<Stream> {
        paths
            .iter()
            .map(|p| Stream::open_path(p, &program.schema, &ReadOptions::default()).expect("open"))
            .collect()
    }

    /// Property: the early check of order ([`may_be_in_one_order`]) lets
    /// files in one order through and stops files each in an order of its
    /// own, and a run that makes it (the rows it read given back to their
    /// files) gives what the plain way gives: random splits, in one order
    /// or shuffled, with rows left out, keys twice, rows with no key, bad
    /// cells, and a tiny `--memory` on some.
    #[test]
    fn the_early_check_of_order_changes_nothing_but_the_way() {
        let (program, dir, spill_dir) = example("order");
        let (mut let_through, mut stopped) = (0, 0);
        for seed in 1..=48u64 {
            let mut rng = Rng(seed.wrapping_mul(0xD1B5_4A32_D192_ED03) | 1);
            let plain = seed.is_multiple_of(4);
            let shuffled = seed % 5 < 2;
            let paths = split_shuffled(&mut rng, &dir, plain, shuffled);
            let parsers: Vec<_> = open(&program, &paths).iter().map(Stream::parser).collect();
            let mut streams = open(&program, &paths);
            let guess = may_be_in_one_order(&mut streams, &parsers).expect("read");
            if plain && !shuffled {
                assert!(guess, "seed {seed}: files in one order were stopped");
            }
            if shuffled {
                assert!(!guess, "seed {seed}: shuffled files were let through");
            }
            // the rows given back are read again as if never read
            for (given_back, fresh) in streams.iter_mut().zip(open(&program, &paths).iter_mut()) {
                assert_eq!(all_rows(given_back), all_rows(fresh), "seed {seed}");
                assert_eq!(given_back.info().rows, fresh.info().rows, "seed {seed}");
            }
            let spill = seed.is_multiple_of(3).then(|| Spill {
                dir: spill_dir.clone(),
                memory: Memory::within(1 << 16),
            });
            let sorted = run_way(&program, &paths, Way::Sorted, spill.clone());
            let chosen = run_way(&program, &paths, Way::Chosen, spill);
            assert_eq!(
                chosen, sorted,
                "seed {seed}: the run differs from the plain way"
            );
            if guess {
                let_through += 1;
            } else {
                stopped += 1;
            }
        }
        assert!(
            let_through > 5 && stopped > 10,
            "{let_through} let through, {stopped} stopped"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
