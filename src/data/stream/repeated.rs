//! Keys on several rows: the rows of each, as rejects name them, and the
//! second read of those rows for their rejects.

use super::*;

/// The rows of a key found on more than one row, as its rejects name them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repeated {
    /// The first rows, in order (at most [`Repeated::NAMED`] + 1).
    pub first: Vec<u64>,
    /// How many rows in all.
    pub count: u64,
}

impl Repeated {
    /// Rows named in a reason; one more is kept, so that a row's others can
    /// be named whichever it is.
    pub const NAMED: usize = 10;

    /// From all the rows, in order.
    pub fn of(rows: &[u64]) -> Repeated {
        Repeated {
            first: rows.iter().take(Repeated::NAMED + 1).copied().collect(),
            count: rows.len() as u64,
        }
    }

    /// Adds a row (rows come in order).
    pub fn add(&mut self, row: u64) {
        if self.first.len() <= Repeated::NAMED {
            self.first.push(row);
        }
        self.count += 1;
    }
}

/// Where a row's reject for its key being on other rows goes among the
/// rejects it had when first read: known then, so that the row need not be
/// read again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyReject {
    /// Before its rejects from this index on (a row that was read into a
    /// record had none: 0).
    At(u32),
    /// Nowhere: the row's rejects never name its key (a quote never closed).
    None,
    /// Not known without reading the row again (a JSON line names its key
    /// its own way, or the row had more than `u32::MAX` rejects).
    Reread,
}

impl KeyReject {
    /// As a number (of a rejected row's entry in the key index).
    pub fn to_u64(self) -> u64 {
        match self {
            KeyReject::At(i) => u64::from(i),
            KeyReject::None => u64::MAX,
            KeyReject::Reread => u64::MAX - 1,
        }
    }

    /// From [`KeyReject::to_u64`].
    pub fn from_u64(n: u64) -> KeyReject {
        match n {
            u64::MAX => KeyReject::None,
            n => u32::try_from(n).map_or(KeyReject::Reread, KeyReject::At),
        }
    }
}

/// A row whose key is on other rows too: it is rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DupRow {
    pub line: u64,
    pub key: Box<str>,
    pub repeated: Repeated,
    /// Where its reject for the key goes among its other rejects.
    pub at: KeyReject,
}
/// "the key is also on rows 3, 7": the other rows of a duplicated key, at most ten named.
pub(crate) fn also_on(rows: &Repeated, this: u64) -> String {
    let others = rows.count.saturating_sub(1);
    let named: Vec<String> = rows
        .first
        .iter()
        .filter(|&&r| r != this)
        .take(Repeated::NAMED)
        .map(u64::to_string)
        .collect();
    let plural = if others == 1 { "row" } else { "rows" };
    let mut reason = format!("the key is also on {plural} {}", named.join(", "));
    if others > Repeated::NAMED as u64 {
        reason += &format!(" and {} more", others - Repeated::NAMED as u64);
    }
    reason
}

impl Stream {
    /// Whether the rejects of these rows of repeated keys (in line order)
    /// can be had without reading the file again
    /// ([`Stream::repeated_rejects`]): the file has a key column, and each
    /// row knows where its reject goes.
    pub fn knows_repeated(
        &self,
        rows: impl Iterator<Item = std::io::Result<DupRow>>,
    ) -> std::io::Result<bool> {
        if self.key_header().is_none() {
            return Ok(false);
        }
        for r in rows {
            if r?.at == KeyReject::Reread {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The header of the key's column: `None` for JSON Lines, whose lines
    /// name their own keys.
    fn key_header(&self) -> Option<&str> {
        let parser = &self.parser;
        if parser.format == Format::JsonLines {
            return None;
        }
        let key = parser.schema.key;
        parser
            .columns
            .iter()
            .find(|c| c.field == Some(key))
            .map(|c| c.header.as_str())
    }

    /// The reject of each row of a repeated key (in line order) for its key,
    /// and where it goes among the row's other rejects, in line order,
    /// without reading the file again: what [`Stream::reparse_each`] adds to
    /// them. For rows that [`Stream::knows_repeated`] accepts.
    pub fn repeated_rejects<'a>(
        &'a self,
        rows: impl Iterator<Item = std::io::Result<DupRow>> + 'a,
    ) -> impl Iterator<Item = std::io::Result<(Reject, u32)>> + 'a {
        let column = self.key_header().unwrap_or_default();
        rows.filter_map(move |r| match r {
            Err(e) => Some(Err(e)),
            Ok(r) => match r.at {
                KeyReject::At(at) => Some(Ok((
                    row::repeated_key(r.line, column, &r.key, &r.repeated),
                    at,
                ))),
                KeyReject::None | KeyReject::Reread => None,
            },
        })
    }

    /// Reads the file again for the rows of keys found on several rows,
    /// given one at a time in line order (as many as there are, in bounded
    /// memory), and gives each its rejects (its duplicate key among them)
    /// to `emit`, in file order.
    pub fn reparse_each(
        &self,
        rows: impl Iterator<Item = std::io::Result<DupRow>>,
        mut emit: impl FnMut(u64, Vec<Reject>) -> std::io::Result<()>,
    ) -> Result<(), DataError> {
        let mut rows = rows.peekable();
        let failed = |e: std::io::Error| DataError::Unreadable {
            path: self.path.clone(),
            source: e,
        };
        let again = |why: String| DataError::Unreadable {
            path: self.path.clone(),
            source: std::io::Error::other(format!(
                "it was read a second time for the rows of keys found on several rows, and {why}; \
                 read it from a file that does not change during the run"
            )),
        };
        if rows.peek().is_none() {
            return Ok(());
        }
        let mut parser = RowParser::clone(&self.parser);
        let opts = ReadOptions {
            encoding: parser.encoding,
        };
        let (mut reader, _, _) = Reader::open(
            &*self.open,
            &self.path,
            &parser.schema,
            &opts,
            &mut Unknown::default(),
            // hashed the first time
            false,
        )
        .map_err(|e| again(format!("that failed ({e})")))?;
        let mut batch = RawBatch::default();
        let (mut wanted, mut found) = (0u64, 0u64);
        // the rows wanted in this batch, by line
        let mut here: Vec<DupRow> = Vec::new();
        loop {
            reader.next_batch(&self.path, 4096, &mut batch)?;
            let batch_rows = batch.rows();
            let Some(last) = batch_rows.last().map(|r| r.line) else {
                break;
            };
            here.clear();
            while let Some(next) = rows.next_if(|r| r.as_ref().map_or(true, |r| r.line <= last)) {
                here.push(next.map_err(failed)?);
            }
            if here.is_empty() {
                if rows.peek().is_none() {
                    break;
                }
                continue;
            }
            wanted += here.len() as u64;
            parser.duplicates = here
                .iter()
                .map(|r| (r.key.clone(), r.repeated.clone()))
                .collect();
            let mut at = here.iter().peekable();
            // what parsing notices was noticed the first time
            let mut seen = Seen::default();
            for raw in batch_rows {
                while at.next_if(|r| r.line < raw.line).is_some() {}
                if at.next_if(|r| r.line == raw.line).is_some() {
                    if let Err(rejects) = parser.parse(raw, &mut seen) {
                        found += 1;
                        emit(raw.line, rejects).map_err(failed)?;
                    }
                }
            }
            if rows.peek().is_none() {
                break;
            }
        }
        // what is left was not found: the file ended early
        wanted += rows.count() as u64;
        // every such row is rejected (its key is repeated): anything else
        // means the file is not what was read the first time
        if found != wanted {
            return Err(again(format!(
                "{} of its {} rows were not found as before",
                wanted - found,
                wanted
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_other_rows() {
        assert_eq!(
            also_on(&Repeated::of(&[2, 5]), 2),
            "the key is also on row 5"
        );
        assert_eq!(
            also_on(&Repeated::of(&[2, 5, 9]), 5),
            "the key is also on rows 2, 9"
        );
        let many: Vec<u64> = (1..=13).collect();
        assert_eq!(
            also_on(&Repeated::of(&many), 1),
            "the key is also on rows 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 and 2 more"
        );
    }
}
