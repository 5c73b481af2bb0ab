//! Typed values of an enterprise record, parsed once from the data file.

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
    Text(Box<str>),
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
        match self.cells.get(key_field) {
            Some(Cell::Text(t)) => t.to_string(),
            Some(Cell::Num(n)) => n.normalize().to_string(),
            Some(Cell::Date(d)) => d.to_string(),
            Some(Cell::Bool(b)) => b.to_string(),
            Some(Cell::List(items)) => items.join(";"),
            _ => String::new(),
        }
    }
}
