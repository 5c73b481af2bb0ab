//! The bytes of a data file to text: UTF-8 (with or without a byte-order
//! mark) or GB18030/GBK, as Chinese office software exports it.
//!
//! The file is decoded once, whole; UTF-8 bytes are used in place (no copy),
//! GB18030 is decoded into a new buffer and the original bytes are dropped.
//! Rows are split on ASCII bytes (`,`, `"`, `\n`), which never occur inside a
//! multi-byte character of either encoding, so each cell can be checked alone.

use std::borrow::Cow;

use super::Encoding;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A decoded data file.
pub(super) struct Decoded {
    data: Vec<u8>,
    /// Where the text starts (after a byte-order mark).
    start: usize,
    /// Decoding replaced malformed GB18030 sequences with U+FFFD.
    replaced: bool,
}

impl Decoded {
    /// The text, as bytes that are UTF-8 except where a forced or declared
    /// UTF-8 file is not.
    pub(super) fn bytes(&self) -> &[u8] {
        self.data.get(self.start..).unwrap_or_default()
    }

    /// One cell as text, or the reason it is unreadable.
    pub(super) fn cell<'a>(&self, raw: &'a [u8]) -> Result<&'a str, &'static str> {
        let s = std::str::from_utf8(raw).map_err(|_| "not valid UTF-8; try --encoding gb18030")?;
        if self.replaced && s.contains('\u{FFFD}') {
            return Err("not valid GB18030 text; try --encoding utf8");
        }
        Ok(s)
    }
}

/// Decodes the whole file. With [`Encoding::Auto`], a file that is valid
/// UTF-8 is UTF-8; one that starts with a UTF-8 byte-order mark is UTF-8
/// too, its bad rows rejected; any other is GB18030.
pub(super) fn decode(bytes: Vec<u8>, encoding: Encoding) -> Decoded {
    let bom = bytes.starts_with(BOM);
    let start = if bom { BOM.len() } else { 0 };
    let as_utf8 = |data| Decoded {
        data,
        start,
        replaced: false,
    };
    match encoding {
        Encoding::Utf8 => as_utf8(bytes),
        Encoding::Auto if bom => as_utf8(bytes),
        Encoding::Auto if std::str::from_utf8(&bytes).is_ok() => as_utf8(bytes),
        Encoding::Auto | Encoding::Gb18030 => gb18030(bytes),
    }
}

fn gb18030(bytes: Vec<u8>) -> Decoded {
    // `decode` honours a byte-order mark, the one unambiguous signal a file carries.
    let (text, _, replaced) = encoding_rs::GB18030.decode(&bytes);
    match text {
        // ASCII (or UTF-8 with a mark): the text is the tail of the bytes.
        Cow::Borrowed(s) => {
            let start = bytes.len().saturating_sub(s.len());
            Decoded {
                data: bytes,
                start,
                replaced,
            }
        }
        Cow::Owned(s) => {
            drop(bytes);
            Decoded {
                data: s.into_bytes(),
                start: 0,
                replaced,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chooses_the_encoding() {
        let (gbk, _, _) = encoding_rs::GB18030.encode("企业,规模\n");
        let d = decode(gbk.to_vec(), Encoding::Auto);
        assert_eq!(d.bytes(), "企业,规模\n".as_bytes());
        let d = decode(b"\xEF\xBB\xBFa,b".to_vec(), Encoding::Auto);
        assert_eq!(d.bytes(), b"a,b");
        let d = decode(b"\xEF\xBB\xBFa,\xB9\xFA".to_vec(), Encoding::Auto);
        assert_eq!(d.bytes(), b"a,\xB9\xFA");
        assert!(d.cell(b"\xB9\xFA").is_err());
        let d = decode(b"a,b".to_vec(), Encoding::Gb18030);
        assert_eq!(d.bytes(), b"a,b");
        let d = decode(gbk.to_vec(), Encoding::Utf8);
        assert!(d.cell(&gbk[..4]).is_err());
    }
}
