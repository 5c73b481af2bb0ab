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

/// A row whose key is on other rows too, to be read again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DupRow {
    pub line: u64,
    pub key: Box<str>,
    pub repeated: Repeated,
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
