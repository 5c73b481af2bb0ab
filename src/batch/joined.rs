//! A run over several departments' files (LANGUAGE.md section 11), in
//! bounded memory: each file's rows are read with their key and sorted by
//! key (spilling to disk past a limit); the sorted rows are then taken a
//! firm at a time, parsed, joined ([`crate::data::join`]) and evaluated in
//! parallel chunks, in key order. Rejects are sorted back into file and row
//! order at the end.

use std::cmp::Ordering;

use rayon::prelude::*;

use super::sort::{key_heap, put_text, take_array, take_key, Got, Item, Key, Order, Sorter};
use super::store::take;
use super::*;
use crate::data::join::{self, Conflict, Files, Part};
use crate::data::stream::{RawBatch, RawRow, Repeated, RowParser, Seen, Stream};
use crate::data::{DataError, Reject};

/// A row of one of the files, with its key: the row as [`RawRow::encode`]
/// writes it, in one allocation, so that it is copied from the reader's
/// buffer once and written to a run in one piece.
struct JoinRow {
    key: Key,
    file: u16,
    line: u64,
    row: Box<[u8]>,
}

impl JoinRow {
    fn new(key: Key, file: u16, raw: &RawRow) -> JoinRow {
        let mut row = Vec::with_capacity(raw.encoded_len());
        raw.encode(&mut row);
        JoinRow {
            key,
            file,
            line: raw.line,
            row: row.into_boxed_slice(),
        }
    }

    /// The row, read into `into` (its buffers reused); a row that does not
    /// read back as [`JoinRow::new`] wrote it (a run file damaged on disk)
    /// is an error naming it, never a row silently dropped.
    fn raw_into(&self, into: &mut RawRow, names: &[String]) -> Result<(), RunError> {
        let mut bytes = &self.row[..];
        match into.decode_into(&mut bytes) {
            Some(()) if bytes.is_empty() => Ok(()),
            _ => Err(RunError::RowDamaged {
                file: names.get(self.file as usize).cloned().unwrap_or_default(),
                row: self.line,
            }),
        }
    }
}

impl Item for JoinRow {
    fn encode(&self, out: &mut Vec<u8>) {
        put_text(out, &self.key);
        out.extend_from_slice(&self.file.to_le_bytes());
        out.extend_from_slice(&self.line.to_le_bytes());
        out.extend_from_slice(&(self.row.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.row);
    }

    fn decode(bytes: &mut &[u8]) -> Option<Self> {
        let key = take_key(bytes)?;
        let file = u16::from_le_bytes(take_array(bytes)?);
        let line = u64::from_le_bytes(take_array(bytes)?);
        let len = u32::from_le_bytes(take_array(bytes)?);
        Some(JoinRow {
            key,
            file,
            line,
            row: take(bytes, len as usize)?.into(),
        })
    }

    fn heap(&self) -> usize {
        key_heap(&self.key) + self.row.len()
    }
}

/// By key, then the file's place on the command line, then line.
struct ByKeyFile;

impl Order<JoinRow> for ByKeyFile {
    fn cmp(&self, a: &JoinRow, b: &JoinRow) -> Ordering {
        a.key
            .cmp(&b.key)
            .then(a.file.cmp(&b.file))
            .then(a.line.cmp(&b.line))
    }

    fn prefix(&self, r: &JoinRow) -> Option<u128> {
        Some(prefix(&r.key))
    }
}

/// A reject and the file it is in, numbered in the order found.
struct Filed {
    file: u16,
    seq: u64,
    reject: Reject,
}

impl Item for Filed {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.file.to_le_bytes());
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(&self.reject.row.to_le_bytes());
        put_text(out, &self.reject.column);
        put_text(out, &self.reject.value);
        put_text(out, &self.reject.reason);
    }

    fn decode(bytes: &mut &[u8]) -> Option<Self> {
        fn text(bytes: &mut &[u8]) -> Option<String> {
            let len = u32::from_le_bytes(take_array(bytes)?);
            Some(String::from_utf8_lossy(take(bytes, len as usize)?).into_owned())
        }
        let file = u16::from_le_bytes(take_array(bytes)?);
        let seq = u64::from_le_bytes(take_array(bytes)?);
        let row = u64::from_le_bytes(take_array(bytes)?);
        Some(Filed {
            file,
            seq,
            reject: Reject {
                row,
                column: text(bytes)?,
                value: text(bytes)?,
                reason: text(bytes)?,
            },
        })
    }

    fn heap(&self) -> usize {
        let r = &self.reject;
        r.column.capacity() + r.value.capacity() + r.reason.capacity()
    }
}

/// File, row, then the order found (a row's rejects stay in their order).
struct ByFileRow;

impl Order<Filed> for ByFileRow {
    fn cmp(&self, a: &Filed, b: &Filed) -> Ordering {
        (a.file, a.reject.row, a.seq).cmp(&(b.file, b.reject.row, b.seq))
    }
}

/// The rejects of a joined run, as found, to be given back in file and
/// row order (a row's rejects in the order found).
pub(super) struct FiledRejects {
    sorter: Sorter<Filed, ByFileRow>,
    seq: u64,
}

impl FiledRejects {
    pub fn new(name: &'static str, memory: usize, dir: Option<std::path::PathBuf>) -> Self {
        FiledRejects {
            sorter: Sorter::new(name, ByFileRow, memory, dir),
            seq: 0,
        }
    }

    pub fn file(&mut self, file: u16, reject: Reject) -> std::io::Result<()> {
        self.seq += 1;
        self.sorter.push(Filed {
            file,
            seq: self.seq,
            reject,
        })
    }

    /// Ends a joined run: sorts the firms' index (every firm is on one
    /// key: nothing to take out) and gives every reject to `on_reject`.
    pub fn finish(
        self,
        batch: &mut Batch<'_>,
        mut on_reject: impl FnMut(u16, &Reject) -> std::io::Result<()>,
    ) -> Result<(), RunError> {
        let none = Sorter::new("rejected-keys", ByKey, 0, None).finish();
        batch.duplicates(&none)?;
        for r in self.sorter.finish().iter() {
            let r = r?;
            on_reject(r.file, &r.reject)?;
        }
        Ok(())
    }
}

/// The data files of a joined run.
pub struct DataFiles<'a> {
    pub streams: &'a mut [Stream],
    /// As given after `--data`, without `SOURCE=`.
    pub names: &'a [String],
    /// The `SOURCE=` of each.
    pub sources: &'a [Option<String>],
}

impl<'a> DataFiles<'a> {
    /// The files' names and sources, as the join names them.
    pub fn files(&self) -> Files<'a> {
        Files {
            names: self.names,
            sources: self.sources,
        }
    }

    pub fn new(streams: &'a mut [Stream], labels: &'a crate::data::Labels) -> DataFiles<'a> {
        DataFiles {
            streams,
            names: &labels.names,
            sources: &labels.sources,
        }
    }
}

/// One firm's rows, in file and line order: a range of the rows taken from
/// the sort.
type Group = std::ops::Range<usize>;

/// What a chunk of firms gave.
pub(super) struct Done {
    /// Rows evaluated, per file: the rows of the firms joined.
    pub evaluated: Vec<u64>,
    pub rejects: Vec<(u16, Reject)>,
    pub conflicts: Vec<Conflict>,
    pub unknown: Vec<(u16, Seen)>,
    pub chunk: Chunk,
}

impl Done {
    /// Nothing yet, for `files` files.
    pub(super) fn new(files: usize, evaluator: &Evaluator<'_>) -> Done {
        Done {
            evaluated: vec![0; files],
            rejects: Vec::new(),
            conflicts: Vec::new(),
            unknown: Vec::new(),
            chunk: evaluator.evaluate(&[]),
        }
    }
}

/// What joining a firm's rows needs.
pub(super) struct Joiner<'a> {
    pub program: &'a Program,
    pub parsers: &'a [std::sync::Arc<RowParser>],
    pub files: &'a Files<'a>,
    /// [`files_apart`]: firms whose rows all read are joined directly.
    pub direct: bool,
}

impl Joiner<'_> {
    /// Joins one firm's rows (all of `key`, in file and line order) and
    /// adds what it gave to `done`: its record to `records`, the rows of
    /// each file evaluated, its rejects, conflicts and what parsing saw.
    /// Whether it was joined into a record.
    pub fn firm<R: std::borrow::Borrow<RawRow>>(
        &self,
        key: &Key,
        rows: &[(u16, R)],
        done: &mut Done,
        records: &mut Vec<crate::record::Record>,
    ) -> bool {
        let direct = self
            .direct
            .then(|| join_direct(self.program, self.parsers, rows, &mut done.unknown))
            .flatten();
        let joined = match direct {
            Some(joined) => joined,
            None => join_firm(
                self.program,
                self.parsers,
                self.files,
                key,
                rows,
                &mut done.unknown,
            ),
        };
        let joined_ok = joined.record.is_some();
        if joined_ok {
            for (file, _) in rows {
                if let Some(n) = done.evaluated.get_mut(*file as usize) {
                    *n += 1;
                }
            }
        }
        done.rejects.extend(joined.rejects);
        done.conflicts.extend(joined.conflicts);
        records.extend(joined.record);
        joined_ok
    }
}

/// A run over the data files of a run: one file streamed as LANGUAGE.md
/// section 8 reads it, several joined per firm ([`stream_joined`], section
/// 11). Beside the batch: the rows of each file that were evaluated.
pub fn stream_files<'p>(
    program: &'p Program,
    files: DataFiles<'_>,
    opts: RunOptions,
    spill: Option<Spill>,
    mut on_reject: impl FnMut(u16, &Reject) -> std::io::Result<()>,
    on_conflict: impl FnMut(&Conflict) -> std::io::Result<()>,
    on_progress: impl FnMut(u64),
) -> Result<(Batch<'p>, Vec<u64>), RunError> {
    if let [one] = files.streams {
        let batch = super::stream(program, one, opts, spill, |r| on_reject(0, r), on_progress)?;
        // one file: each firm evaluated is one of its rows
        let firms = batch.firms() as u64;
        return Ok((batch, vec![firms]));
    }
    stream_joined(
        program,
        files,
        opts,
        spill,
        on_reject,
        on_conflict,
        on_progress,
    )
}

/// Runs over several files joined per firm. Rejects go to `on_reject` (with
/// their file's place) in file and row order at the end; conflicts go to
/// `on_conflict` in key order as firms are joined; `on_progress` hears the
/// bytes read so far. Beside the batch: the rows of each file that were
/// evaluated (its firms' rows), which with its rejected rows make up its
/// rows.
pub fn stream_joined<'p>(
    program: &'p Program,
    mut files: DataFiles<'_>,
    opts: RunOptions,
    spill: Option<Spill>,
    mut on_reject: impl FnMut(u16, &Reject) -> std::io::Result<()>,
    on_conflict: impl FnMut(&Conflict) -> std::io::Result<()>,
    mut on_progress: impl FnMut(u64),
) -> Result<(Batch<'p>, Vec<u64>), RunError> {
    // files whose rows come in one key order are joined as they are read,
    // without the sort, when that gives what the sort gives
    let parsers: Vec<_> = files.streams.iter().map(Stream::parser).collect();
    if files_apart(program, &parsers)
        && files.streams.iter().all(Stream::can_read_again)
        && super::aligned::may_be_in_one_order(files.streams, &parsers)?
    {
        let tried = super::aligned::stream_aligned(
            program,
            &mut files,
            opts.clone(),
            spill.clone(),
            &mut on_reject,
            &mut on_progress,
        )?;
        if let Some(done) = tried {
            return Ok(done);
        }
        for stream in files.streams.iter_mut() {
            stream.restart()?;
        }
    }
    stream_sorted(
        program,
        files,
        opts,
        spill,
        on_reject,
        on_conflict,
        on_progress,
    )
}

/// [`stream_joined`] by sorting every file's rows by key.
pub(super) fn stream_sorted<'p>(
    program: &'p Program,
    files: DataFiles<'_>,
    opts: RunOptions,
    spill: Option<Spill>,
    on_reject: impl FnMut(u16, &Reject) -> std::io::Result<()>,
    mut on_conflict: impl FnMut(&Conflict) -> std::io::Result<()>,
    mut on_progress: impl FnMut(u64),
) -> Result<(Batch<'p>, Vec<u64>), RunError> {
    let memory = spill.as_ref().map(|s| s.memory).unwrap_or_default();
    let dir = spill.as_ref().map(|s| s.dir.clone());
    let mut rows = Sorter::new("joined-rows", ByKeyFile, memory.decisions, dir.clone());
    let mut rejects = FiledRejects::new("joined-rejects", memory.rejects, dir.clone());
    let parsers: Vec<_> = files.streams.iter().map(Stream::parser).collect();
    // every file read on a thread of its own, side by side; its rows come
    // here in its order and go into one sort, whose order (key, file, line)
    // does not depend on how the files' batches interleave
    let count = files.streams.len();
    let (sent, received) = std::sync::mpsc::sync_channel::<Read>(count);
    let mut failed: Vec<(u16, DataError)> = Vec::new();
    std::thread::scope(|scope| -> Result<(), RunError> {
        // dropped when this returns, early too: a reader still sending then
        // stops
        let received = received;
        let mut free = Vec::with_capacity(count);
        for (f, (stream, parser)) in files.streams.iter_mut().zip(&parsers).enumerate() {
            let file = u16::try_from(f).unwrap_or(u16::MAX);
            let sent = sent.clone();
            let (back, comes_back) = std::sync::mpsc::channel();
            free.push(back);
            scope.spawn(move || read_file(program, file, stream, parser, &sent, &comes_back));
        }
        drop(sent);
        let mut positions = vec![0u64; count];
        for read in received.iter() {
            let batch = match read {
                Read::Rows(batch) => batch,
                Read::Failed(file, e) => {
                    failed.push((file, e));
                    continue;
                }
            };
            if !failed.is_empty() {
                // the rest is read only to know which file failed first
                continue;
            }
            let file = batch.file;
            for (raw, key) in batch.rows.rows().iter().zip(batch.keys) {
                match key {
                    Ok(key) => rows.push(JoinRow::new(key, file, raw))?,
                    Err(rs) => {
                        for r in rs {
                            rejects.file(file, r)?;
                        }
                    }
                }
            }
            if let Some(p) = positions.get_mut(file as usize) {
                *p = batch.position;
            }
            if let Some(back) = free.get(file as usize) {
                // a reader that has stopped takes no more
                let _ = back.send(batch.rows);
            }
            on_progress(positions.iter().sum());
        }
        Ok(())
    })?;
    // as when the files are read one after another: the first file's error
    if let Some((_, e)) = failed.into_iter().min_by_key(|(file, _)| *file) {
        return Err(e.into());
    }
    // what is held beyond the index's share goes to disk as one more run
    // (the runs already there are merged as they are read, not first
    // copied into one)
    if rows.held() > memory.index {
        rows.spill()?;
    }
    let sorted = rows.finish();
    let mut batch = Batch::new(program, opts, spill);
    let evaluator = batch.evaluator();
    let names = files.files();
    let joiner = Joiner {
        program,
        parsers: &parsers,
        files: &names,
        direct: files_apart(program, &parsers),
    };
    let work = |rows: &[Got<'_, JoinRow>], groups: &[Group]| -> Result<Vec<Done>, RunError> {
        groups
            .par_chunks(records::CHUNK)
            .map(|groups| -> Result<Done, RunError> {
                let mut done = Done::new(files.names.len(), &evaluator);
                let mut records = Vec::with_capacity(groups.len());
                // a firm's rows read back, into buffers used again firm
                // after firm
                let mut raws: Vec<(u16, RawRow)> = Vec::new();
                for group in groups {
                    let rows = rows.get(group.clone()).unwrap_or_default();
                    let Some(key) = rows.first().map(|r| &r.key) else {
                        continue;
                    };
                    if raws.len() < rows.len() {
                        raws.resize_with(rows.len(), Default::default);
                    }
                    for (row, (file, raw)) in rows.iter().zip(raws.iter_mut()) {
                        *file = row.file;
                        row.raw_into(raw, files.names)?;
                    }
                    let raws = raws.get(..rows.len()).unwrap_or_default();
                    joiner.firm(key, raws, &mut done, &mut records);
                }
                done.chunk = evaluator.evaluate(&records);
                Ok(done)
            })
            .collect()
    };
    let mut evaluated = vec![0u64; files.names.len()];
    let mut absorb = |batch: &mut Batch<'_>,
                      rejects: &mut FiledRejects,
                      done: Vec<Done>|
     -> Result<(), RunError> {
        for d in done {
            for (total, n) in evaluated.iter_mut().zip(&d.evaluated) {
                *total += n;
            }
            for (file, r) in d.rejects {
                rejects.file(file, r)?;
            }
            for c in &d.conflicts {
                on_conflict(c)?;
            }
            for (file, seen) in &d.unknown {
                if let Some(s) = files.streams.get_mut(*file as usize) {
                    s.add_seen(seen);
                }
            }
            batch.absorb(d.chunk)?;
        }
        Ok(())
    };
    // firms are taken a batch at a time, the next batch read from the sort
    // while the last is parsed, joined and evaluated
    let mut merge = sorted.iter();
    let mut carry = None;
    let mut current = next_firms(&mut merge, &mut carry)?;
    while !current.0.is_empty() {
        let (done, next) = rayon::join(
            || work(&current.0, &current.1),
            || next_firms(&mut merge, &mut carry),
        );
        absorb(&mut batch, &mut rejects, done?)?;
        current = next?;
    }
    drop(current);
    drop(merge);
    drop(sorted);
    rejects.finish(&mut batch, on_reject)?;
    Ok((batch, evaluated))
}

/// The rows of the next firms from the sort, at least [`ROWS_PER_BATCH`]
/// of them unless it ends: borrowed where the sort holds them, no copy.
/// `carry` is the first row of the firm after them, read already.
#[allow(clippy::type_complexity)]
fn next_firms<'a, O: Order<JoinRow>>(
    merge: &mut super::sort::Merge<'a, JoinRow, O>,
    carry: &mut Option<Got<'a, JoinRow>>,
) -> Result<(Vec<Got<'a, JoinRow>>, Vec<Group>), RunError> {
    let mut rows: Vec<Got<'a, JoinRow>> = Vec::new();
    let mut groups: Vec<Group> = Vec::new();
    let mut take = |row: Got<'a, JoinRow>, rows: &mut Vec<Got<'a, JoinRow>>| {
        match (groups.last_mut(), rows.last()) {
            (Some(group), Some(last)) if last.key == row.key => group.end += 1,
            _ => groups.push(rows.len()..rows.len() + 1),
        }
        rows.push(row);
    };
    if let Some(row) = carry.take() {
        take(row, &mut rows);
    }
    for item in merge.by_ref() {
        let row = item?;
        let same_firm = rows.last().is_some_and(|last| last.key == row.key);
        if !same_firm && rows.len() >= ROWS_PER_BATCH {
            *carry = Some(row);
            break;
        }
        take(row, &mut rows);
    }
    Ok((rows, groups))
}

/// A batch of one file's rows as read, with the key of each (or the
/// rejects of a row with none), and the bytes of the file read so far.
pub(super) struct KeyedBatch {
    pub file: u16,
    pub rows: RawBatch,
    pub keys: Vec<Result<Key, Vec<Reject>>>,
    pub position: u64,
}

/// What a file's reader sends.
pub(super) enum Read {
    Rows(KeyedBatch),
    /// The file cannot be read further.
    Failed(u16, DataError),
}

/// Reads one file's rows and keys them, sending them in batches; stops at
/// the end of the file, at an error, or when no one listens. The batches'
/// buffers come back through `free` to be filled again: the rows are
/// copied where they are sorted, and the reader allocates none.
pub(super) fn read_file(
    program: &Program,
    file: u16,
    stream: &mut Stream,
    parser: &RowParser,
    sent: &std::sync::mpsc::SyncSender<Read>,
    free: &std::sync::mpsc::Receiver<RawBatch>,
) {
    loop {
        let mut rows = free.try_recv().unwrap_or_default();
        match stream.next_batch(ROWS_PER_BATCH, &mut rows) {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                let _ = sent.send(Read::Failed(file, e));
                return;
            }
        }
        let keys = rows
            .rows()
            .iter()
            .map(|raw| match parser.row_key_as(raw, |k| Key::from(k)) {
                Some(key) => Ok(key),
                None => {
                    let mut seen = Seen::default();
                    let keyed = keyed(program, parser, raw, None, &mut seen);
                    stream.add_seen(&seen);
                    keyed
                }
            })
            .collect();
        let batch = KeyedBatch {
            file,
            rows,
            keys,
            position: stream.position(),
        };
        if sent.send(Read::Rows(batch)).is_err() {
            return;
        }
    }
}

/// The key of a row (`key`, its key cell as [`RowParser::row_key`] reads
/// it), or when its key cell gives none the key of the row read whole; a
/// row with no key at all is rejected whatever else it holds.
fn keyed(
    program: &Program,
    parser: &RowParser,
    raw: &RawRow,
    key: Option<String>,
    seen: &mut Seen,
) -> Result<Key, Vec<Reject>> {
    match key {
        Some(key) => Ok(Key::from(key)),
        None => parser
            .parse(raw, seen)
            .map(|record| Key::from(record.key(program.schema.key))),
    }
}

/// One firm of a joined run, as [`find_firm`] finds it.
pub struct Found {
    pub joined: join::Joined,
    /// The file and line of each of the firm's rows.
    pub rows: Vec<(u16, u64)>,
}

/// One firm of a joined run, found by reading every file (nothing else is
/// kept), as [`stream_joined`] joins it: `None` when no file has the key.
pub fn find_firm(
    program: &Program,
    files: DataFiles<'_>,
    key: &str,
) -> Result<Option<Found>, RunError> {
    let parsers: Vec<_> = files.streams.iter().map(Stream::parser).collect();
    let mut rows: Vec<(u16, RawRow)> = Vec::new();
    let mut batch_rows = RawBatch::default();
    for (f, (stream, parser)) in files.streams.iter_mut().zip(&parsers).enumerate() {
        let file = u16::try_from(f).unwrap_or(u16::MAX);
        while stream.next_batch(ROWS_PER_BATCH, &mut batch_rows)? {
            for raw in batch_rows.rows() {
                let mut seen = Seen::default();
                let found = keyed(program, parser, raw, parser.row_key(raw), &mut seen);
                if found.is_ok_and(|k| &*k == key) {
                    rows.push((file, raw.clone()));
                }
            }
        }
    }
    if rows.is_empty() {
        return Ok(None);
    }
    let names = files.files();
    let lines = rows.iter().map(|(f, r)| (*f, r.line)).collect();
    let joined = join_firm(
        program,
        &parsers,
        &names,
        &Key::from(key),
        &rows,
        &mut Vec::new(),
    );
    Ok(Some(Found {
        joined,
        rows: lines,
    }))
}

/// Whether no two of the files have a column for the same field but the
/// key, and none is JSON Lines (whose lines name their own fields): then a
/// firm whose rows all read, one a file, with keys that read the same, has
/// nothing to compare, and [`join_direct`] joins it.
pub(super) fn files_apart(program: &Program, parsers: &[std::sync::Arc<RowParser>]) -> bool {
    let key = program.schema.key;
    (0..program.schema.fields.len()).all(|f| {
        let given: Option<Vec<bool>> = parsers.iter().map(|p| p.has_column(f)).collect();
        given.is_some_and(|given| f == key || given.iter().filter(|&&g| g).count() <= 1)
    })
}

/// [`join_firm`] of files apart ([`files_apart`]): each row parsed
/// straight into the firm's record, which is what the full join gives when
/// no field has two values. `None` when the firm needs the full join: a
/// file with more than one of its rows, a row that does not read, keys that
/// read differently (nothing of the firm is kept then).
fn join_direct<R: std::borrow::Borrow<RawRow>>(
    program: &Program,
    parsers: &[std::sync::Arc<RowParser>],
    rows: &[(u16, R)],
    unknown: &mut Vec<(u16, Seen)>,
) -> Option<join::Joined> {
    let key = program.schema.key;
    // rows come in file order: a file twice is two neighbours
    if rows
        .iter()
        .zip(rows.iter().skip(1))
        .any(|(a, b)| a.0 == b.0)
    {
        return None;
    }
    let mut cells = crate::data::stream::missing_cells(program.schema.fields.len());
    // the key's cell as the first file gives it: the full join uses that
    // when all give the same
    let mut first_key = None;
    // the first row's key cell as written: a later row's of the same text
    // is not read again (the key checked once per firm)
    let mut first_text = None;
    let mut seen_of = Vec::new();
    // what a row's parse noticed (mostly nothing): taken when it is not empty
    let mut seen = Seen::default();
    for (i, (file, raw)) in rows.iter().enumerate() {
        let parser = parsers.get(*file as usize)?;
        let raw = raw.borrow();
        if i == 0 {
            parser.parse_into(raw, &mut seen, &mut cells).ok()?;
            first_text = parser.key_text(raw);
        } else if first_text.is_some() && parser.key_text(raw) == first_text {
            parser
                .parse_into_known_key(raw, &mut seen, &mut cells)
                .ok()?;
        } else {
            parser.parse_into(raw, &mut seen, &mut cells).ok()?;
        }
        let read = cells.get(key)?;
        match &first_key {
            None => first_key = Some(read.clone()),
            Some(first) if join::same(first, read) => {}
            Some(_) => return None,
        }
        if !seen.is_empty() {
            seen_of.push((*file, std::mem::take(&mut seen)));
        }
    }
    if let (Some(slot), Some(first)) = (cells.get_mut(key), first_key) {
        *slot = first;
    }
    let row = rows.first()?.1.borrow().line;
    unknown.extend(seen_of);
    Some(join::Joined {
        record: Some(crate::record::Record { row, cells }),
        rejects: Vec::new(),
        conflicts: Vec::new(),
    })
}

/// Parses one firm's rows (all of one key, in file and line order; a key on
/// several rows of one file rejects all of them) and joins them; what each
/// file's rows showed of unknown columns and odd percents goes to
/// `unknown`.
fn join_firm<R: std::borrow::Borrow<RawRow>>(
    program: &Program,
    parsers: &[std::sync::Arc<RowParser>],
    files: &Files<'_>,
    key: &Key,
    rows: &[(u16, R)],
    unknown: &mut Vec<(u16, Seen)>,
) -> join::Joined {
    let mut parts = Vec::with_capacity(rows.len());
    let mut i = 0;
    while let Some(&(file, _)) = rows.get(i) {
        let same = rows
            .get(i..)
            .unwrap_or_default()
            .iter()
            .take_while(|(f, _)| *f == file)
            .count();
        let of_file = rows.get(i..i + same).unwrap_or_default();
        let repeated = (same > 1).then(|| {
            let lines: Vec<u64> = of_file.iter().map(|(_, r)| r.borrow().line).collect();
            Repeated::of(&lines)
        });
        let Some(parser) = parsers.get(file as usize) else {
            i += same;
            continue;
        };
        let mut seen = Seen::default();
        for (_, raw) in of_file {
            let raw = raw.borrow();
            parts.push(Part {
                file,
                line: raw.line,
                parsed: parser.parse_repeated(raw, &mut seen, repeated.as_ref()),
            });
        }
        if !seen.is_empty() {
            unknown.push((file, seen));
        }
        i += same;
    }
    let text = |part: usize, field: usize| {
        rows.get(part)
            .and_then(|(file, raw)| {
                Some(parsers.get(*file as usize)?.cell_text(raw.borrow(), field))
            })
            .unwrap_or_default()
    };
    let key_column = |part: usize| {
        rows.get(part)
            .and_then(|(file, raw)| Some(parsers.get(*file as usize)?.key_column(raw.borrow())))
            .unwrap_or_default()
    };
    join::join(&program.schema, files, key, parts, text, key_column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_that_does_not_read_back_is_an_error_naming_it() {
        let names = ["a.csv".to_string(), "b.xlsx".to_string()];
        let mut raw = RawRow::default();
        raw.line = 7;
        let row = JoinRow::new(Key::from("91420100MA4K0000X1"), 1, &raw);
        let mut into = RawRow::default();
        assert!(row.raw_into(&mut into, &names).is_ok());
        assert_eq!(into.line, 7);
        let damaged = |bytes: &[u8]| JoinRow {
            row: bytes.into(),
            ..JoinRow::new(row.key.clone(), row.file, &raw)
        };
        let cut = damaged(&row.row[..row.row.len() - 1]);
        let longer = damaged(&[&row.row[..], b"x"].concat());
        for bad in [cut, longer] {
            match bad.raw_into(&mut into, &names) {
                Err(RunError::RowDamaged { file, row }) => {
                    assert_eq!((file.as_str(), row), ("b.xlsx", 7));
                }
                other => panic!("expected a damaged row, got {other:?}"),
            }
        }
    }
}
