//! The payment rows a run read, as one digest: what lets `verify` tell a
//! ledger that only gained rows since the run (as `ledger add` leaves it)
//! from one whose earlier rows were edited, even rows the run did not count
//! (paid after `as_of`, or under ids the set does not read).
//!
//! Each payment row (blank rows are not rows) is printed as the first 16
//! bytes of the SHA-256 of its four cells (`key`, `policy`, `amount`,
//! `paid_on`) as decoded, each followed by a unit separator (0x1F); the
//! digest is the SHA-256 of the prints in the file's order. A run takes the
//! prints where the rows are read, on all cores, and hashes 16 bytes a row
//! in order; `verify` prints the rows it compares as it walks them
//! ([`super::rows_digest`]), and other readers of the ledger print nothing. The cells' texts do not depend on the file's encoding,
//! quoting or other columns, which `ledger add` may change when it writes
//! the ledger again.

use sha2::{Digest, Sha256};

/// One payment row's print.
pub type RowPrint = [u8; 16];

/// The print of a row whose four cells read `four` (key, policy, amount,
/// paid_on, as decoded, untrimmed).
pub fn row_print<S: AsRef<str>>(four: &[S; 4]) -> RowPrint {
    let mut h = Sha256::new();
    for cell in four {
        h.update(cell.as_ref().as_bytes());
        h.update([0x1f]);
    }
    let full = h.finalize();
    let mut print = [0; 16];
    print.copy_from_slice(full.get(..16).unwrap_or(&[0; 16]));
    print
}

/// The digest of rows' prints, taken in the file's order.
#[derive(Clone, Default)]
pub struct RowsDigest {
    hasher: Sha256,
    rows: u64,
}

impl std::fmt::Debug for RowsDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RowsDigest({} rows)", self.rows)
    }
}

impl RowsDigest {
    pub fn add(&mut self, print: &RowPrint) {
        self.hasher.update(print);
        self.rows += 1;
    }

    /// Rows added.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The digest, in hexadecimal.
    pub fn hex(&self) -> String {
        crate::load::hex(&self.hasher.clone().finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_print_sees_every_cell_and_where_it_ends() {
        let a = row_print(&["F", "p", "80万", "2025-01-15"]);
        assert_eq!(a, row_print(&["F", "p", "80万", "2025-01-15"]));
        assert_ne!(a, row_print(&["F", "p", "90万", "2025-01-15"]));
        // a cell's text moved into its neighbour is another row
        assert_ne!(
            row_print(&["ab", "c", "1", "2"]),
            row_print(&["a", "bc", "1", "2"])
        );
        // untrimmed: a space is a change
        assert_ne!(a, row_print(&["F ", "p", "80万", "2025-01-15"]));
    }

    #[test]
    fn the_digest_follows_the_rows_order() {
        let (x, y) = (
            row_print(&["a", "p", "1", "2"]),
            row_print(&["b", "p", "1", "2"]),
        );
        let mut one = RowsDigest::default();
        one.add(&x);
        one.add(&y);
        let mut other = RowsDigest::default();
        other.add(&y);
        other.add(&x);
        assert_ne!(one.hex(), other.hex());
        assert_eq!(one.rows(), 2);
        assert_eq!(one.hex().len(), 64);
    }
}
