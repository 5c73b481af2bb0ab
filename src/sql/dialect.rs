//! The SQL dialect a script is written in: what differs between
//! PostgreSQL and Spark SQL in the few places the compiler spells a type,
//! a literal, an identifier or an array.
//!
//! The PostgreSQL output is the reference (byte-identical to the engine
//! and tested in a real PostgreSQL); Spark differs in spelling, and in its
//! arithmetic, which [`mod@super::spark`] admits only where it is exact.

use rust_decimal::Decimal;

/// `postgres` or `spark`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Spark,
}

impl Dialect {
    pub fn is_spark(self) -> bool {
        self == Dialect::Spark
    }

    /// An identifier, quoted.
    pub fn ident(self, s: &str) -> String {
        match self {
            Dialect::Postgres => super::expr::ident(s),
            Dialect::Spark => format!("`{}`", s.replace('`', "``")),
        }
    }

    /// A number written in the policy. Spark: an exact `DECIMAL` literal
    /// (`BD`), normalised, of the type [`mod@super::spark`] gives it.
    pub fn number(self, d: &Decimal) -> String {
        match self {
            Dialect::Postgres => super::expr::number(d),
            Dialect::Spark => format!("{}BD", d.normalize()),
        }
    }

    /// The number [`Dialect::number`] wrote, read back (`None` for any
    /// other SQL).
    pub fn read_number(self, sql: &str) -> Option<Decimal> {
        let digits = match self {
            Dialect::Postgres => sql.strip_suffix("::numeric"),
            Dialect::Spark => sql.strip_suffix("BD"),
        };
        digits?.parse().ok()
    }

    /// A text as an SQL literal. Spark reads backslash escapes in its
    /// literals: a backslash and a quote are escaped with one.
    pub fn text(self, s: &str) -> String {
        match self {
            Dialect::Postgres => super::expr::text(s),
            Dialect::Spark => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        }
    }

    /// An array of SQL texts.
    pub fn texts(self, items: &[String]) -> String {
        match self {
            Dialect::Postgres => format!("ARRAY[{}]::text[]", items.join(", ")),
            Dialect::Spark if items.is_empty() => self.no_texts().into(),
            Dialect::Spark => format!("array({})", items.join(", ")),
        }
    }

    /// The empty array of texts.
    pub fn no_texts(self) -> &'static str {
        match self {
            Dialect::Postgres => "'{}'::text[]",
            Dialect::Spark => "CAST(array() AS ARRAY<STRING>)",
        }
    }

    /// An array of integers (field numbers).
    pub fn ints(self, items: &[String]) -> String {
        match self {
            Dialect::Postgres => format!("ARRAY[{}]::integer[]", items.join(", ")),
            Dialect::Spark if items.is_empty() => self.no_ints().into(),
            Dialect::Spark => format!("array({})", items.join(", ")),
        }
    }

    /// The empty array of integers.
    pub fn no_ints(self) -> &'static str {
        match self {
            Dialect::Postgres => "'{}'::integer[]",
            Dialect::Spark => "CAST(array() AS ARRAY<INT>)",
        }
    }

    /// An array without its `NULL` elements.
    pub fn without_nulls(self, array: &str) -> String {
        match self {
            Dialect::Postgres => format!("array_remove({array}, NULL)"),
            Dialect::Spark => format!("filter({array}, e -> e IS NOT NULL)"),
        }
    }

    /// An array's texts joined by `sep` (an SQL text), `NULL`s left out.
    pub fn join(self, array: &str, sep: &str) -> String {
        match self {
            Dialect::Postgres => format!("array_to_string({array}, {sep})"),
            Dialect::Spark => format!("array_join({array}, {sep})"),
        }
    }

    /// `x` as a `bigint`.
    pub fn bigint(self, x: &str) -> String {
        match self {
            Dialect::Postgres => format!("{x}::bigint"),
            Dialect::Spark => format!("CAST({x} AS BIGINT)"),
        }
    }

    /// A decimal shown as the engine shows a value: no trailing zeros,
    /// never in E-notation.
    pub fn trimmed(self, x: &str) -> String {
        match self {
            Dialect::Postgres => format!("trim_scale({x})::text"),
            Dialect::Spark => {
                format!("regexp_replace(CAST({x} AS STRING), '([.][0-9]*[1-9])0+$|[.]0+$', '$1')")
            }
        }
    }
}
