//! The bytes of a data file as they stream by: hashed for the manifest, with
//! line breaks noted so rows can be numbered by line, and decoded cell by cell.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Read;

use sha2::{Digest, Sha256};

use super::Encoding;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// How much of a file is looked at to choose between UTF-8 and GB18030.
pub(super) const SNIFF: usize = 4 << 20;

/// Where CSV quoting stands after the bytes read so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Quote {
    /// Not in a quoted cell.
    Out,
    /// In a quoted cell.
    In,
    /// Just after a quote in a quoted cell: closed, unless a quote follows.
    Closing,
}

/// A reader that hashes what passes through and notes where lines end.
pub(super) struct Tracked<R> {
    inner: R,
    /// Bytes passed so far (after a skipped byte-order mark).
    pos: u64,
    /// Where the bytes passed so far leave CSV quoting ([`Quote`]).
    quote: Quote,
    /// The last byte passed, and where the last double quote was.
    last_byte: Option<u8>,
    last_quote: u64,
    skip_bom: bool,
    /// The end of the input was reached.
    eof: bool,
    /// Whether the bytes are hashed (not when a file is read a second time).
    hashing: bool,
    hasher: Sha256,
    /// Whether CSV's line breaks and quotes are noted for [`Lines`] (not
    /// for JSON Lines, which counts its lines itself: nothing would take
    /// the notes, and they would grow with the file).
    csv: bool,
    /// Offsets and bytes of `\r` and `\n` not yet consumed by [`Lines`].
    breaks: RefCell<VecDeque<(u64, u8)>>,
    /// Offsets, not yet consumed by [`Lines`], of the double quotes that
    /// open a quoted cell at the start of a line: a record whose only cell
    /// is quoted (`""`) is a row, not a blank line.
    line_quotes: RefCell<VecDeque<u64>>,
}

impl<R: Read> Tracked<R> {
    pub(super) fn new(inner: R, skip_bom: bool) -> Self {
        Tracked {
            inner,
            pos: 0,
            quote: Quote::Out,
            last_byte: None,
            last_quote: u64::MAX,
            skip_bom,
            eof: false,
            hashing: true,
            hasher: Sha256::new(),
            csv: true,
            breaks: RefCell::new(VecDeque::new()),
            line_quotes: RefCell::new(VecDeque::new()),
        }
    }

    /// The same reader, noting no line breaks or quotes: for a format that
    /// is not CSV.
    pub(super) fn not_csv(mut self) -> Self {
        self.csv = false;
        self
    }

    /// The same reader, hashing what passes through only if `hashing` (a
    /// second read of a file, whose hash is known, need not).
    pub(super) fn hashing(mut self, hashing: bool) -> Self {
        self.hashing = hashing;
        self
    }

    /// Whether the end of the input was reached inside a quoted cell. Asked
    /// after each record: the record read when this first holds ran to the
    /// end of the file, and its quote was never closed.
    pub(super) fn ended_in_open_quote(&self) -> bool {
        self.eof && self.quote == Quote::In
    }

    /// Follows CSV quoting over the double quotes of `kept` (which starts at
    /// `self.pos`), as the csv reader reads them: a quote opens a quoted cell
    /// only at the start of a cell; inside one, a quote closes it unless
    /// another follows at once (`""`, a quote in the cell); elsewhere it is
    /// a plain character.
    fn follow_quotes(&mut self, kept: &[u8]) {
        for i in memchr::memchr_iter(b'"', kept) {
            let at = self.pos + i as u64;
            let before = match i.checked_sub(1) {
                Some(j) => kept.get(j).copied(),
                None => self.last_byte,
            };
            let line_start = matches!(before, None | Some(b'\n' | b'\r'));
            let cell_start = line_start || before == Some(b',');
            self.quote = match self.quote {
                Quote::In => Quote::Closing,
                Quote::Closing if self.last_quote.wrapping_add(1) == at => Quote::In,
                Quote::Closing | Quote::Out if cell_start => {
                    if line_start {
                        self.line_quotes.get_mut().push_back(at);
                    }
                    Quote::In
                }
                Quote::Closing | Quote::Out => Quote::Out,
            };
            self.last_quote = at;
        }
        if let Some(&b) = kept.last() {
            self.last_byte = Some(b);
        }
    }

    /// Bytes read so far (for progress).
    pub(super) fn position(&self) -> u64 {
        self.pos
    }

    /// SHA-256 of every byte read (byte-order mark included), lowercase hex.
    pub(super) fn sha256(&self) -> String {
        crate::load::hex(&self.hasher.clone().finalize())
    }
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.eof = true;
        }
        let got = buf.get(..n).unwrap_or_default();
        if self.hashing {
            self.hasher.update(got);
        }
        let mut start = 0;
        if self.skip_bom && self.pos == 0 && n > 0 {
            // The first read of a file is at least a few bytes; the mark is 3.
            if got.starts_with(BOM) {
                start = BOM.len();
            }
            self.skip_bom = false;
        }
        let kept = got.get(start..).unwrap_or_default();
        if self.csv {
            let mut breaks = self.breaks.borrow_mut();
            for i in memchr::memchr2_iter(b'\n', b'\r', kept) {
                if let Some(&b) = kept.get(i) {
                    breaks.push_back((self.pos + i as u64, b));
                }
            }
            drop(breaks);
            self.follow_quotes(kept);
        }
        let len = kept.len();
        buf.copy_within(start..n, 0);
        self.pos += len as u64;
        Ok(len)
    }
}

/// Numbers rows by the line they start on. The csv crate's own count goes
/// wrong after a blank line or a CRLF ending (it counts from the end of the
/// previous record), so lines are counted here from the byte offset of each
/// record, which may point at the line ending before it.
#[derive(Default)]
pub(super) struct Lines {
    /// Line breaks passed.
    passed: u64,
}

impl Lines {
    /// The 1-based line of the record that starts at byte `at`; records come
    /// in order, and the reader has read past `at`.
    pub(super) fn line_at<R>(&mut self, source: &Tracked<R>, at: u64) -> u64 {
        self.line_and_quoted(source, at).0
    }

    /// [`Lines::line_at`], and whether the record opens with a quoted cell
    /// (`""` is a row with an empty cell, not a blank line).
    pub(super) fn line_and_quoted<R>(&mut self, source: &Tracked<R>, at: u64) -> (u64, bool) {
        let mut breaks = source.breaks.borrow_mut();
        let mut at = at;
        while let Some(&(offset, byte)) = breaks.front() {
            if offset > at {
                break;
            }
            breaks.pop_front();
            let next = breaks.front().copied();
            // `\r\n` is one break, counted at its `\n`; a `\r` alone (old Mac files) is one too.
            let counts =
                byte == b'\n' || next.is_none_or(|(o, b)| !(o == offset + 1 && b == b'\n'));
            if counts {
                self.passed += 1;
            }
            if offset == at {
                // the record's offset points at a line ending: it starts after it
                at += 1;
            }
        }
        let mut quotes = source.line_quotes.borrow_mut();
        while quotes.front().is_some_and(|&q| q < at) {
            quotes.pop_front();
        }
        (self.passed + 1, quotes.front() == Some(&at))
    }
}

/// Which encoding a file uses, chosen from its first bytes when asked to.
pub(super) fn choose(encoding: Encoding, head: &[u8]) -> Encoding {
    match encoding {
        Encoding::Auto if head.starts_with(BOM) => Encoding::Utf8,
        Encoding::Auto => match std::str::from_utf8(head) {
            Ok(_) => Encoding::Utf8,
            // cut in the middle of a character at the end of the sample: still UTF-8
            Err(e) if e.error_len().is_none() => Encoding::Utf8,
            Err(_) => Encoding::Gb18030,
        },
        other => other,
    }
}

/// Decodes one cell (or JSON line) in the file's encoding.
pub(super) fn decode(encoding: Encoding, raw: &[u8]) -> Result<Cow<'_, str>, &'static str> {
    match encoding {
        Encoding::Gb18030 if raw.is_ascii() => {
            // ASCII reads the same in both encodings
            Ok(Cow::Borrowed(std::str::from_utf8(raw).unwrap_or_default()))
        }
        Encoding::Gb18030 => {
            let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(raw);
            if had_errors {
                Err("not valid GB18030 text; try --encoding utf8")
            } else {
                Ok(text)
            }
        }
        _ => std::str::from_utf8(raw)
            .map(Cow::Borrowed)
            .map_err(|_| "not valid UTF-8; try --encoding gb18030"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out a few bytes at a time, so quotes fall across reads.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            let (head, rest) = self.0.split_at(n);
            buf.get_mut(..n).unwrap_or_default().copy_from_slice(head);
            self.0 = rest;
            Ok(n)
        }
    }

    /// Whether the csv reader ends `text` inside a quoted cell: if it does,
    /// a line break and more text after it land in the last cell.
    fn csv_ends_quoted(text: &[u8]) -> bool {
        let mut more = text.to_vec();
        more.extend_from_slice(b"\nZZ");
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(&more[..]);
        let records: Vec<csv::ByteRecord> = r.byte_records().map(|x| x.unwrap()).collect();
        let last = records
            .last()
            .and_then(|r| r.iter().next_back())
            .unwrap_or_default();
        last.ends_with(b"\nZZ")
    }

    #[test]
    fn quotes_are_followed_as_the_csv_reader_reads_them() {
        let alphabet = [b'a', b'"', b',', b'\n', b'\r', b' '];
        let mut state = 0x853c_49e6_748f_ea9bu64;
        let mut open = 0;
        for case in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 24) as usize;
            let text: Vec<u8> = (0..len)
                .map(|i| alphabet[((state >> (i * 2 % 60)) as usize + i) % alphabet.len()])
                .collect();
            let mut t = Tracked::new(Trickle(&text, 1 + case % 3), false);
            std::io::copy(&mut t, &mut std::io::sink()).unwrap();
            open += u32::from(t.ended_in_open_quote());
            assert_eq!(
                t.ended_in_open_quote(),
                csv_ends_quoted(&text),
                "{:?}",
                String::from_utf8_lossy(&text)
            );
        }
        assert!(
            (2_000..18_000).contains(&open),
            "both ends seen: {open} open"
        );
    }

    #[test]
    fn chooses_the_encoding() {
        let (gbk, _, _) = encoding_rs::GB18030.encode("企业,规模\n");
        assert_eq!(choose(Encoding::Auto, &gbk), Encoding::Gb18030);
        assert_eq!(choose(Encoding::Auto, "企业".as_bytes()), Encoding::Utf8);
        assert_eq!(
            choose(Encoding::Auto, &"企业".as_bytes()[..4]),
            Encoding::Utf8
        );
        assert_eq!(
            choose(Encoding::Auto, b"\xEF\xBB\xBFa,\xB9\xFA"),
            Encoding::Utf8
        );
        assert_eq!(decode(Encoding::Gb18030, &gbk[..4]).as_deref(), Ok("企业"));
        assert!(decode(Encoding::Utf8, &gbk[..4]).is_err());
        assert!(decode(Encoding::Gb18030, b"\xB9").is_err());
    }

    /// JSON Lines counts its own lines: a reader of it keeps no notes of
    /// line breaks or quotes, which would grow with the file (16 bytes a
    /// line) since nothing takes them.
    #[test]
    fn a_reader_of_another_format_keeps_no_notes() {
        let text = "\"a\",{\"id\":1}\r\n".repeat(1000);
        for (csv, notes) in [(true, 2000), (false, 0)] {
            let t = Tracked::new(text.as_bytes(), true);
            let mut t = if csv { t } else { t.not_csv() };
            let mut sink = Vec::new();
            t.read_to_end(&mut sink).unwrap();
            assert_eq!(sink, text.as_bytes());
            assert_eq!(t.breaks.borrow().len(), notes);
            assert_eq!(t.line_quotes.borrow().len(), notes / 2);
        }
    }

    #[test]
    fn a_line_that_opens_with_a_quoted_cell_is_noted() {
        // header, `""`, a line of blanks (CRLF), `" "`, a quote inside a
        // cell, a quoted quote, a quoted cell after a comma
        let text = b"h\n\"\"\n  \r\n\" \"\na\"b\n\"\"\"\"\nc,\"d\"\n";
        let mut t = Tracked::new(&text[..], true);
        let mut sink = Vec::new();
        t.read_to_end(&mut sink).unwrap();
        let mut lines = Lines::default();
        assert_eq!(lines.line_and_quoted(&t, 0), (1, false));
        assert_eq!(lines.line_and_quoted(&t, 1), (2, true)); // points at the `\n` before `""`
        assert_eq!(lines.line_and_quoted(&t, 5), (3, false));
        assert_eq!(lines.line_and_quoted(&t, 9), (4, true));
        assert_eq!(lines.line_and_quoted(&t, 13), (5, false));
        assert_eq!(lines.line_and_quoted(&t, 17), (6, true));
        assert_eq!(lines.line_and_quoted(&t, 22), (7, false));
    }

    #[test]
    fn numbers_lines_after_crlf_and_blank_lines() {
        let text = b"h\r\na\r\n\r\nb\nc\rd\n";
        let mut t = Tracked::new(&text[..], true);
        let mut sink = Vec::new();
        t.read_to_end(&mut sink).unwrap();
        let mut lines = Lines::default();
        assert_eq!(lines.line_at(&t, 0), 1);
        assert_eq!(lines.line_at(&t, 2), 2); // points at the `\n` of line 1
        assert_eq!(lines.line_at(&t, 5), 4); // after a blank line
        assert_eq!(lines.line_at(&t, 10), 5);
        assert_eq!(lines.line_at(&t, 12), 6); // after a lone `\r`
    }
}
