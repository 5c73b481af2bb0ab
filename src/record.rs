//! Typed values of an enterprise record (its cells), parsed once from the
//! data file. (Evaluation's own values are [`crate::eval::value`].)

use std::borrow::Cow;

use rust_decimal::Decimal;

use crate::date::Date;

/// One cell of a record, typed by its schema field.
///
/// Integer, number, money and percent fields all hold an exact [`Decimal`]
/// (`5.5%` is held as 0.055). An empty `list` cell is the empty list, never
/// missing (LANGUAGE.md section 6).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Cell {
    #[default]
    Missing,
    Bool(bool),
    Num(Decimal),
    Date(Date),
    Text(compact_str::CompactString),
    List(Box<[Box<str>]>),
}

/// One firm: its cells, indexed like the schema's fields, and the 1-based
/// line of the data file it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub row: u64,
    pub cells: Vec<Cell>,
}

impl Record {
    /// The key as text (the key field is always a text field in practice; other
    /// types are rendered).
    pub fn key(&self, key_field: usize) -> String {
        self.key_text(key_field).into_owned()
    }

    /// [`Record::key`], borrowed where it can be.
    pub fn key_text(&self, key_field: usize) -> Cow<'_, str> {
        self.cells
            .get(key_field)
            .and_then(Cell::as_key)
            .unwrap_or_default()
    }
}

impl Cell {
    /// The cell as a firm's key: text as it is, other values rendered, a
    /// list as its items joined by `;` (whatever separators the data used);
    /// `None` when missing or an empty list.
    pub fn as_key(&self) -> Option<Cow<'_, str>> {
        match self {
            Cell::Missing => None,
            Cell::Text(t) => Some(Cow::Borrowed(t)),
            Cell::Num(n) => Some(n.normalize().to_string().into()),
            Cell::Date(d) => Some(d.to_string().into()),
            Cell::Bool(b) => Some(b.to_string().into()),
            Cell::List(items) if items.is_empty() => None,
            Cell::List(items) => Some(items.join(";").into()),
        }
    }
}
