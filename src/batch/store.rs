//! Decisions kept compactly while a run goes on: each firm's block of encoded
//! pairs, in memory up to a limit and in a temporary file beyond it, so the
//! memory a run needs does not grow with its data.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use rust_decimal::Decimal;

use crate::eval::Outcome;

/// A pair as stored: what the report needs to write its line.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    pub policy: u16,
    pub outcome: Outcome,
    pub amount: Option<Decimal>,
    /// Settled across firms: its funded amount (or cut) comes from settlement.
    pub settled: bool,
    /// Reasons joined by `; `.
    pub reasons: Option<Box<str>>,
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
        let len = u32::try_from(reasons.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(reasons.as_bytes().get(..len as usize).unwrap_or_default());
    }
}

fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, rest) = bytes.split_at_checked(n)?;
    *bytes = rest;
    Some(head)
}

/// Decodes one firm's block.
pub fn decode(mut bytes: &[u8]) -> Vec<Stored> {
    let mut out = Vec::new();
    while let Some(&tag) = bytes.first() {
        bytes = bytes.get(1..).unwrap_or_default();
        let Some(policy) = take(&mut bytes, 2)
            .and_then(|b| b.try_into().ok())
            .map(u16::from_le_bytes)
        else {
            break;
        };
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
            reasons: None,
        };
        if tag & HAS_AMOUNT != 0 {
            let Some(b) = take(&mut bytes, 16).and_then(|b| <[u8; 16]>::try_from(b).ok()) else {
                break;
            };
            s.amount = Some(Decimal::deserialize(b));
        }
        if tag & HAS_REASONS != 0 {
            let Some(len) = take(&mut bytes, 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_le_bytes)
            else {
                break;
            };
            let Some(text) = take(&mut bytes, len as usize) else {
                break;
            };
            s.reasons = Some(String::from_utf8_lossy(text).into());
        }
        out.push(s);
    }
    out
}

/// Where the blocks live.
pub struct Store {
    mem: Vec<u8>,
    /// Bytes moved to the spill file so far; blocks below this offset are there.
    spilled: u64,
    spill: Option<(PathBuf, File)>,
    spill_dir: Option<PathBuf>,
    limit: usize,
}

impl Store {
    /// Keeps up to `limit` bytes in memory; beyond that, spills into a file
    /// in `spill_dir` (or keeps everything in memory without one).
    pub fn new(spill_dir: Option<PathBuf>, limit: usize) -> Store {
        Store {
            mem: Vec::new(),
            spilled: 0,
            spill: None,
            spill_dir,
            limit,
        }
    }

    /// Appends whole blocks; returns the offset where they start.
    pub fn append(&mut self, bytes: &[u8]) -> std::io::Result<u64> {
        let at = self.spilled + self.mem.len() as u64;
        self.mem.extend_from_slice(bytes);
        if self.mem.len() > self.limit {
            if let Some(dir) = &self.spill_dir {
                if self.spill.is_none() {
                    let path = dir.join(format!(".decisions-{}.spill", std::process::id()));
                    let file = std::fs::OpenOptions::new()
                        .create(true)
                        .truncate(true)
                        .read(true)
                        .write(true)
                        .open(&path)?;
                    self.spill = Some((path, file));
                }
                if let Some((_, file)) = &mut self.spill {
                    file.write_all(&self.mem)?;
                    self.spilled += self.mem.len() as u64;
                    self.mem.clear();
                }
            }
        }
        Ok(at)
    }

    /// Reads the block at `[start, start + len)` into `buf`.
    pub fn read<'b>(
        &self,
        start: u64,
        len: u32,
        buf: &'b mut Vec<u8>,
    ) -> std::io::Result<&'b [u8]> {
        buf.clear();
        if start >= self.spilled {
            let from = usize::try_from(start - self.spilled).unwrap_or(usize::MAX);
            let block = self
                .mem
                .get(from..from.saturating_add(len as usize))
                .unwrap_or_default();
            buf.extend_from_slice(block);
        } else if let Some((_, file)) = &self.spill {
            buf.resize(len as usize, 0);
            read_at(file, buf, start)?;
        }
        Ok(buf)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Some((path, _)) = self.spill.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, at)
}

#[cfg(not(unix))]
fn read_at(file: &File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
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
            "标签; missing: size",
        );
        encode(&mut b, 9, Outcome::Eligible, None, true, "");
        let d = decode(&b);
        assert_eq!(d.len(), 3);
        assert_eq!(d[0].amount, Some(Decimal::new(600000, 2)));
        assert_eq!(d[1].reasons.as_deref(), Some("标签; missing: size"));
        assert_eq!((d[2].policy, d[2].settled), (9, true));
    }

    #[test]
    fn spills_beyond_the_limit() {
        let dir = std::env::temp_dir().join(format!("mianshen-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut s = Store::new(Some(dir.clone()), 8);
        let a = s.append(b"0123456789").unwrap();
        let b = s.append(b"abc").unwrap();
        let mut buf = Vec::new();
        assert_eq!(s.read(a, 10, &mut buf).unwrap(), b"0123456789");
        assert_eq!(s.read(b, 3, &mut buf).unwrap(), b"abc");
        drop(s);
        let _ = std::fs::remove_dir_all(dir);
    }
}
