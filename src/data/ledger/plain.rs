//! The common ledger, read by lines: a file with no quote (`"`) and no line
//! ending but `\n` or `\r\n` is split into records by its line breaks and
//! into cells by its commas, which is what the CSV reader does with it. One
//! thread reads and hashes the file a block at a time, each block cut at a
//! line break into pieces that both cores read at once; the CSV reader's
//! single splitting thread is not in the way.
//!
//! A file that is not so is found out before any row after its first quote
//! or lone `\r` is taken, and read again by the CSV reader
//! ([`Reread::Quoted`]): the rows before it read the same either way, so
//! whatever this reader reports before it, the CSV reader would too.

use std::borrow::Cow;
use std::io::Read as _;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender};

use sha2::{Digest, Sha256};

use super::{
    decode, header, header_cells, is_utf8, parse_cells, payment_of, places, Check, Encoding,
    FieldType, Filing, Ledger, LedgerError, PaymentRow, Places, Reread,
};

/// Bytes read at a time into a piece, which holds whole lines (a longer
/// line makes a longer piece). Below glibc's least threshold for giving
/// an allocation pages of its own: a piece's buffer freed never raises it
/// (a buffer so freed makes every smaller allocation after it come from
/// the heap, where the parts' growing vectors leave holes: 230 MiB more
/// at the peak with buffers of 4 MiB). (Small in tests, so that small
/// files cross pieces and blocks.)
const PIECE: usize = if cfg!(test) { 50 } else { 64 << 10 };

/// Pieces handed on at a time, read on all cores.
const PIECES: usize = if cfg!(test) { 3 } else { 32 };

/// Lines of the file as read: pieces, one after another.
struct Block {
    chunks: Vec<Vec<u8>>,
    pieces: Vec<Piece>,
}

/// Whole lines of a block: `chunks[chunk][start..]`, the first on line
/// `line`.
#[derive(Clone, Copy, Debug)]
struct Piece {
    chunk: usize,
    start: usize,
    line: u64,
}

impl Block {
    fn bytes(&self, p: &Piece) -> &[u8] {
        self.chunks
            .get(p.chunk)
            .and_then(|c| c.get(p.start..))
            .unwrap_or_default()
    }
}

/// What reading a piece gave.
enum PieceRead {
    /// Its rows, up to and with the first that cannot be read.
    Rows(Vec<PaymentRow>),
    /// It holds a quote or a lone `\r`: the file is for the CSV reader.
    Quoted,
    /// It is not UTF-8 (when checked): the file is to be read as GB18030.
    NotUtf8,
}

/// Reads a ledger file as [`Ledger::read_checked`] does, by lines; a file
/// this cannot read so is [`Reread::Quoted`].
pub(super) fn read(
    path: &Path,
    ids: &[String],
    key_type: &FieldType,
    check: Check,
) -> Result<Ledger, Reread> {
    use rayon::prelude::*;
    let unreadable = |source| LedgerError::Unreadable {
        path: path.into(),
        source,
    };
    let (encoding, beside, _) = super::encoding_of(path, check)?;
    let mut ledger = Ledger::empty(ids.len(), key_type);
    let places = places(ids);
    let mut filing = Filing::default();
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let (send, blocks) = std::sync::mpsc::sync_channel::<Result<Block, LedgerError>>(2);
    // (every buffer read into is handed back: one is never freed while
    // the file is read)
    let (give_back, recycled) = std::sync::mpsc::sync_channel::<Vec<Vec<u8>>>(8);
    let mut found: Option<(usize, [usize; 4])> = None;
    let (read, sha256) = std::thread::scope(|scope| {
        let reader = scope.spawn(|| read_blocks(file, path, send, recycled));
        let read = (|| -> Result<(), Reread> {
            for block in blocks.iter() {
                let block = block?;
                let mut pieces: Vec<Piece> = block.pieces.clone();
                if found.is_none() {
                    match take_header(&block) {
                        Header::Quoted => return Err(Reread::Quoted),
                        Header::None => continue,
                        Header::Found { cells, line, after } => {
                            let cells =
                                header_cells(encoding, cells).map_err(|e| LedgerError::Row {
                                    path: path.into(),
                                    line,
                                    message: e.to_string(),
                                })?;
                            let at = header(&cells).map_err(|message| LedgerError::Header {
                                path: path.into(),
                                message,
                            })?;
                            found = Some((cells.len(), at));
                            pieces = after;
                        }
                    }
                }
                let Some((columns, at)) = &found else {
                    continue;
                };
                let read: Vec<PieceRead> = pieces
                    .par_iter()
                    .map(|p| {
                        let bytes = block.bytes(p);
                        read_piece(
                            bytes, p.line, encoding, beside, *columns, at, key_type, &places,
                        )
                    })
                    .collect();
                let mut rows: Vec<&[PaymentRow]> = Vec::with_capacity(read.len());
                for r in &read {
                    match r {
                        PieceRead::Quoted => return Err(Reread::Quoted),
                        PieceRead::NotUtf8 => return Err(Reread::NotUtf8),
                        PieceRead::Rows(r) => {
                            rows.push(r);
                            if matches!(r.last(), Some(PaymentRow::Bad(..))) {
                                break;
                            }
                        }
                    }
                }
                ledger.file_rows(path, &rows, &mut filing)?;
                drop(rows);
                drop(read);
                let _ = give_back.try_send(block.chunks);
            }
            Ok(())
        })();
        // a row refused: the reader stops at its next block
        drop(blocks);
        let sha256 = reader.join().unwrap_or_else(|_| {
            Err(unreadable(std::io::Error::other(
                "the ledger reader failed",
            )))
        });
        (read, sha256)
    });
    match read {
        // a file checked beside the reading decides first, as it would
        // have been checked before it: one that is not UTF-8 throughout is
        // read again (what stopped the reading may be a cell that reads
        // in GB18030)
        Err(Reread::Error(e)) if beside => {
            let whole = std::fs::File::open(path).and_then(is_utf8);
            return match whole {
                Err(io) => Err(unreadable(io).into()),
                Ok(false) => Err(Reread::NotUtf8),
                Ok(true) => Err(Reread::Error(e)),
            };
        }
        Err(e) => return Err(e),
        Ok(()) => {}
    }
    let sha256 = sha256?;
    if found.is_none() {
        return Err(LedgerError::Empty { path: path.into() }.into());
    }
    ledger.finish(path, sha256)?;
    Ok(ledger)
}

/// Where a file's header is.
enum Header<I> {
    /// Not in this block (blank lines only).
    None,
    /// A quote or a lone `\r` before it, or in it.
    Quoted,
    Found {
        cells: I,
        line: u64,
        /// The pieces after it: what is left of its own, and the rest.
        after: Vec<Piece>,
    },
}

/// The block's first line that is not empty (the CSV reader skips empty
/// lines), split into cells.
fn take_header(block: &Block) -> Header<impl Iterator<Item = &[u8]>> {
    for (p, piece) in block.pieces.iter().enumerate() {
        let bytes = block.bytes(piece);
        let mut at = 0;
        let mut line = piece.line;
        while at < bytes.len() {
            let rest = bytes.get(at..).unwrap_or_default();
            let (text, next) = match memchr::memchr(b'\n', rest) {
                Some(i) => (rest.get(..i).unwrap_or_default(), at + i + 1),
                None => (rest, bytes.len()),
            };
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            if memchr::memchr2(b'"', b'\r', text).is_some() {
                return Header::Quoted;
            }
            if !text.is_empty() {
                let rest = (next < bytes.len()).then_some(Piece {
                    chunk: piece.chunk,
                    start: piece.start + next,
                    line: line + 1,
                });
                let later = block.pieces.get(p + 1..).unwrap_or_default();
                return Header::Found {
                    cells: text.split(|&b| b == b','),
                    line,
                    after: rest.into_iter().chain(later.iter().copied()).collect(),
                };
            }
            at = next;
            line += 1;
        }
    }
    // blank lines only: the header is in a later block
    Header::None
}

/// Reads a piece's lines as payments, up to and with the first that cannot
/// be read.
#[allow(clippy::too_many_arguments)]
fn read_piece(
    bytes: &[u8],
    first_line: u64,
    encoding: Encoding,
    check_utf8: bool,
    columns: usize,
    at: &[usize; 4],
    key_type: &FieldType,
    places: &Places<'_>,
) -> PieceRead {
    if memchr::memchr(b'"', bytes).is_some() {
        return PieceRead::Quoted;
    }
    // a `\r` ends a record in CSV: only one before a `\n` is read here
    if memchr::memchr_iter(b'\r', bytes).any(|i| bytes.get(i + 1) != Some(&b'\n')) {
        return PieceRead::Quoted;
    }
    // a piece that is UTF-8 throughout (or ASCII, read as GB18030) is
    // split into text cells at once, each cell not decoded again
    let text = match encoding {
        Encoding::Gb18030 if !bytes.is_ascii() => None,
        _ => std::str::from_utf8(bytes).ok(),
    };
    if check_utf8 && text.is_none() {
        return PieceRead::NotUtf8;
    }
    let mut rows = Vec::with_capacity(bytes.len() / 48);
    let mut line = first_line;
    let mut start = 0;
    while start < bytes.len() {
        let rest = bytes.get(start..).unwrap_or_default();
        let end = memchr::memchr(b'\n', rest).map_or(bytes.len(), |i| start + i);
        let next = end + 1;
        // (`\r` only before `\n`, as checked above)
        let end = match bytes.get(end.wrapping_sub(1)) {
            Some(b'\r') if end > start => end - 1,
            _ => end,
        };
        if end > start {
            let parsed = match text.and_then(|t| t.get(start..end)) {
                Some(cells) => parse_cells(
                    cells.split(',').map(|c| Ok(Cow::Borrowed(c))),
                    columns,
                    at,
                    false,
                ),
                None => {
                    let raw = bytes.get(start..end).unwrap_or_default();
                    let decoded = raw.split(|&b| b == b',').map(|c| decode(encoding, c));
                    parse_cells(decoded, columns, at, false)
                }
            };
            let row = payment_of(parsed, line, key_type, places);
            let bad = matches!(row, PaymentRow::Bad(..));
            rows.push(row);
            if bad {
                break;
            }
        }
        line += 1;
        start = next;
    }
    PieceRead::Rows(rows)
}

/// Reads the file a block at a time into `send`, hashing it; the SHA-256
/// of the whole file when it was read to the end.
fn read_blocks(
    mut file: std::fs::File,
    path: &Path,
    send: SyncSender<Result<Block, LedgerError>>,
    recycled: Receiver<Vec<Vec<u8>>>,
) -> Result<String, LedgerError> {
    let unreadable = |source| LedgerError::Unreadable {
        path: path.into(),
        source,
    };
    let mut hasher = Sha256::new();
    let mut carry: Vec<u8> = Vec::new();
    let mut line = 1u64;
    let mut spare: Vec<Vec<u8>> = Vec::new();
    let mut end = false;
    let mut first = true;
    while !end {
        if let Ok(given) = recycled.try_recv() {
            spare.extend(given);
        }
        let mut block = Block {
            chunks: Vec::with_capacity(PIECES),
            pieces: Vec::with_capacity(PIECES),
        };
        while block.chunks.len() < PIECES && !end {
            let mut bytes = spare.pop().unwrap_or_default();
            bytes.clear();
            bytes.reserve(PIECE.max(carry.len() * 2));
            bytes.append(&mut carry);
            let before = bytes.len();
            let want = PIECE.saturating_sub(before).max(PIECE / 4);
            if let Err(e) = (&mut file).take(want as u64).read_to_end(&mut bytes) {
                let _ = send.send(Err(unreadable(e)));
                return Ok(String::new());
            }
            hasher.update(bytes.get(before..).unwrap_or_default());
            end = bytes.len() < before + want;
            // the CSV reader drops a byte-order mark at the start: a line
            // of it alone is an empty line
            if first && bytes.starts_with(b"\xEF\xBB\xBF") {
                bytes.drain(..3);
            }
            first = false;
            // whole lines: what follows the last line break waits for the
            // next piece
            let whole = if end {
                bytes.len()
            } else {
                match memchr::memrchr(b'\n', &bytes) {
                    Some(i) => i + 1,
                    // a line longer than a piece: read on
                    None => {
                        carry = bytes;
                        continue;
                    }
                }
            };
            carry.extend_from_slice(bytes.get(whole..).unwrap_or_default());
            bytes.truncate(whole);
            if bytes.is_empty() {
                spare.push(bytes);
                continue;
            }
            block.pieces.push(Piece {
                chunk: block.chunks.len(),
                start: 0,
                line,
            });
            line += memchr::memchr_iter(b'\n', &bytes).count() as u64;
            block.chunks.push(bytes);
        }
        if !block.chunks.is_empty() && send.send(Ok(block)).is_err() {
            return Ok(String::new());
        }
    }
    drop(send);
    Ok(format!("{:x}", hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a read gave, to compare: the error's text, or the counts, the
    /// hash, the rows' digest and every firm's payments.
    fn outcome(read: Result<Ledger, Reread>, keys: &[String]) -> String {
        match read {
            Err(Reread::Error(e)) => format!("error: {e}"),
            Err(Reread::NotUtf8) => "not UTF-8".into(),
            Err(Reread::Quoted) => "quoted".into(),
            Ok(l) => {
                let mut out = format!(
                    "rows {} kept {} ids {:?} firms {} sha {:?} rows digest {}\n",
                    l.rows,
                    l.kept,
                    l.ids_found,
                    l.firms(),
                    l.sha256,
                    l.rows_digest.hex()
                );
                for k in keys {
                    out.push_str(&format!("{k}: {:?}\n", l.payments(k)));
                }
                out
            }
        }
    }

    /// Read by lines and by the CSV reader, a file gives the same ledger or
    /// the same error, whatever its line endings, blank lines, bad rows and
    /// where its blocks and pieces fall; one with a quote or a lone `\r` is
    /// left to the CSV reader.
    #[test]
    fn lines_read_as_the_csv_reader_reads_them() {
        let ids: Vec<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
        let keys: Vec<String> = (0..12).map(|k| format!("K{k}")).collect();
        let rows: [&[u8]; 16] = [
            "K1,a,10.5,2024-01-01".as_bytes(),
            "K2,b,-3,2023-12-31".as_bytes(),
            "K3,c,7,2022-05-05".as_bytes(),
            "K4,a,1,200.00,2021-01-01".as_bytes(),
            "K5,a,x,2024-01-01".as_bytes(),
            "K6,a,5,2024-02-30".as_bytes(),
            ",a,5,2024-01-01".as_bytes(),
            "K7,,5,2024-01-01".as_bytes(),
            "   ".as_bytes(),
            "".as_bytes(),
            " K8 ,a,2万,2024/1/5".as_bytes(),
            "K9,b,1,234.5,2024-01-01".as_bytes(),
            "K10,\"a\",3,2024-01-01".as_bytes(),
            "K11,a,3,2024-01-01\rK1,a,1,2024-01-01".as_bytes(),
            b"K1,a,\xff,2024-01-01",
            b"K2,b,\xd5\xc5,2024-01-01",
        ];
        let path =
            std::env::temp_dir().join(format!("mianshen-ledger-lines-{}.csv", std::process::id()));
        let text = FieldType::Text;
        let mut x: u64 = 7;
        let mut next = |n: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % n
        };
        for case in 0..400 {
            let mut file: Vec<u8> = Vec::new();
            if next(4) == 0 {
                file.extend_from_slice(b"\xEF\xBB\xBF");
            }
            for _ in 0..next(3) {
                file.extend_from_slice(b"\r\n");
            }
            file.extend_from_slice(b"key,policy,amount,paid_on");
            let crlf = next(2) == 0;
            let n = next(if case % 5 == 0 { 2 } else { 300 });
            for _ in 0..n {
                file.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
                // mostly good rows, now and then one of the others
                let row = if next(40) == 0 {
                    rows[next(rows.len() as u64) as usize].to_vec()
                } else {
                    format!(
                        "K{},{},{}.{:02},2024-0{}-1{}",
                        next(12),
                        ["a", "b", "c"][next(3) as usize],
                        next(1000),
                        next(100),
                        1 + next(9),
                        next(9)
                    )
                    .into_bytes()
                };
                file.extend_from_slice(&row);
            }
            if next(2) == 0 {
                file.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
            }
            std::fs::write(&path, &file).unwrap();
            for check in [Check::Beside, Check::NotUtf8] {
                let by_lines = read(&path, &ids, &text, check);
                if matches!(by_lines, Err(Reread::Quoted)) {
                    assert!(
                        file.contains(&b'"') || file.contains(&b'\r'),
                        "case {case}: not quoted"
                    );
                    continue;
                }
                let by_csv = Ledger::read_checked(&path, &ids, &text, check);
                assert_eq!(
                    outcome(by_lines, &keys),
                    outcome(by_csv, &keys),
                    "case {case} ({check:?}):\n{}",
                    String::from_utf8_lossy(&file)
                );
            }
        }
        std::fs::remove_file(&path).unwrap();
    }
}
