//! One cell of a data file to a typed [`Cell`] (LANGUAGE.md section 10).
//!
//! Every accepted form is written out below as a nom parser; whatever none of
//! them accepts is a reject with a reason a policy officer can act on, never a
//! guess. Numbers are read exactly from their digits (no floating point).

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while_m_n};
use nom::character::complete::{char, digit1};
use nom::combinator::{all_consuming, map_res, opt, recognize};
use nom::multi::many0_count;
use nom::sequence::{pair, preceded, tuple};
use nom::IResult;
use rust_decimal::Decimal;

use crate::date::Date;
use crate::record::Cell;
use crate::schema::FieldType;

/// nom results without error values: a failed form is reported by the caller,
/// who knows which field type was expected.
type Parsed<'a, T> = IResult<&'a str, T, ()>;

/// The most significant digits an exact decimal holds.
const MAX_DIGITS: usize = 28;

/// Reads one cell of a field of type `ty`.
///
/// Surrounding whitespace (ASCII and the ideographic space U+3000) is trimmed
/// except in `text` fields, which are kept verbatim. An empty or blank cell is
/// missing, and in a `list` field the empty list. The error is the reason,
/// e.g. "`12,34` is not a number: thousands separators group by three".
pub fn parse_cell(ty: &FieldType, text: &str) -> Result<Cell, String> {
    let t = trim(text);
    if t.is_empty() {
        return Ok(match ty {
            FieldType::List => Cell::List(Box::new([])),
            _ => Cell::Missing,
        });
    }
    match ty {
        FieldType::Text => Ok(Cell::Text(text.into())),
        FieldType::Number | FieldType::Money => number(t, false).map(Cell::Num),
        FieldType::Integer => {
            let n = number(t, false)?;
            // digits without a point: whole, and already as `normalize` writes them
            if n.scale() == 0 && !n.is_zero() {
                return Ok(Cell::Num(n));
            }
            if n.fract().is_zero() {
                Ok(Cell::Num(n.normalize()))
            } else {
                Err(format!("`{}` is not a whole number", shown(t)))
            }
        }
        FieldType::Percent => number(t, true).map(Cell::Num),
        FieldType::Date => date(t).map(Cell::Date),
        FieldType::Bool => boolean(t).map(Cell::Bool),
        FieldType::Enum(values) => match values.iter().find(|v| v.as_str() == t) {
            Some(v) => Ok(Cell::Text(v.as_str().into())),
            None => Err(format!(
                "`{}` is not one of {}",
                shown(t),
                values.join(", ")
            )),
        },
        FieldType::List => Ok(list(t.split([';', '、', '|']))),
    }
}

/// Reads one value of a JSON Lines object (LANGUAGE.md section 8).
///
/// A string is read as a cell, a number exactly from its text, a boolean only
/// into a `bool` field, an array of strings only into a `list` field; null is
/// missing (the empty list in a `list` field). Objects are rejected.
pub fn parse_json(ty: &FieldType, v: &serde_json::Value) -> Result<Cell, String> {
    use serde_json::Value;
    match v {
        Value::Null => parse_cell(ty, ""),
        Value::String(s) => parse_cell(ty, s),
        // With `arbitrary_precision` this is the number exactly as written.
        Value::Number(n) => parse_cell(ty, &n.to_string()),
        // as an Excel boolean cell: the cell `true`/`false`
        Value::Bool(b) => parse_cell(ty, if *b { "true" } else { "false" }),
        Value::Array(items) => {
            if *ty != FieldType::List {
                return Err(format!("a list is not {}", a_type(ty)));
            }
            let mut texts = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) => texts.push(s.as_str()),
                    other => {
                        return Err(format!(
                            "list items must be texts, found `{}`",
                            shown(&other.to_string())
                        ))
                    }
                }
            }
            Ok(list(texts.into_iter()))
        }
        Value::Object(_) => Err(format!("an object is not {}", a_type(ty))),
    }
}

/// "a number", "an integer", … for reasons.
fn a_type(ty: &FieldType) -> String {
    let name = ty.name();
    match name.as_bytes().first() {
        Some(b'a' | b'e' | b'i' | b'o' | b'u') => format!("an {name} value"),
        _ => format!("a {name} value"),
    }
}

fn is_blank(c: char) -> bool {
    c.is_ascii_whitespace() || c == '\u{3000}'
}

/// Trims ASCII whitespace and the ideographic space.
pub(crate) fn trim(s: &str) -> &str {
    // most cells start and end with a printable ASCII character: nothing to trim
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(a), Some(b)) if a.is_ascii_graphic() && b.is_ascii_graphic() => s,
        _ => s.trim_matches(is_blank),
    }
}

/// The user's text for a reason: cut to 200 characters.
pub(crate) fn shown(s: &str) -> std::borrow::Cow<'_, str> {
    const MAX: usize = 200;
    match s.char_indices().nth(MAX) {
        None => s.into(),
        Some(_) => {
            let cut: String = s.chars().take(MAX - 1).collect();
            (cut + "…").into()
        }
    }
}

/// A list: items trimmed, empty items dropped, each item once (a list is a set).
pub fn list<'a>(items: impl Iterator<Item = &'a str>) -> Cell {
    let mut out: Vec<Box<str>> = Vec::new();
    for item in items.map(trim).filter(|i| !i.is_empty()) {
        if !out.iter().any(|o| &**o == item) {
            out.push(item.into());
        }
    }
    Cell::List(out.into_boxed_slice())
}

fn boolean(t: &str) -> Result<bool, String> {
    match t {
        "true" | "是" | "1" | "Y" => Ok(true),
        "false" | "否" | "0" | "N" => Ok(false),
        _ => Err(format!(
            "`{}` is not a yes/no value: write true/false, 是/否, 1/0 or Y/N",
            shown(t)
        )),
    }
}

/// A number as written: `-1,234.5万`.
struct NumberText<'a> {
    negative: bool,
    /// Integer digits, thousands separators included.
    int: &'a str,
    frac: &'a str,
    /// `元`, `万`, `万元`, `亿`, `亿元`, `%` or empty.
    suffix: &'a str,
}

fn number_text(i: &str) -> Parsed<'_, NumberText<'_>> {
    let (i, negative) = opt(char('-'))(i)?;
    let (i, int) = recognize(pair(digit1, many0_count(pair(char(','), digit1))))(i)?;
    let (i, frac) = opt(preceded(char('.'), digit1))(i)?;
    let (i, suffix) = alt((
        tag("万元"),
        tag("亿元"),
        tag("万"),
        tag("亿"),
        tag("元"),
        tag("%"),
        tag(""),
    ))(i)?;
    let n = NumberText {
        negative: negative.is_some(),
        int,
        frac: frac.unwrap_or(""),
        suffix,
    };
    Ok((i, n))
}

/// [`number_text`] read directly, without the parser combinators: the
/// same parts for every text it accepts whole, `None` for any other (which
/// the parser then rejects). Messy files write most numbers with separators
/// or units (`2,954.88`, `12.5万`), which [`plain_decimal`] leaves.
fn number_text_direct(t: &str) -> Option<NumberText<'_>> {
    let b = t.as_bytes();
    let digits_at = |i: usize| {
        b.get(i..)
            .map_or(0, |r| r.iter().take_while(|c| c.is_ascii_digit()).count())
    };
    let negative = b.first() == Some(&b'-');
    let start = usize::from(negative);
    let mut i = start + digits_at(start);
    if i == start {
        return None;
    }
    // `,` and digits, as many as follow
    while b.get(i) == Some(&b',') {
        let n = digits_at(i + 1);
        if n == 0 {
            break;
        }
        i += 1 + n;
    }
    let int = t.get(start..i)?;
    let mut frac = "";
    if b.get(i) == Some(&b'.') {
        let n = digits_at(i + 1);
        if n > 0 {
            frac = t.get(i + 1..i + 1 + n)?;
            i += 1 + n;
        }
    }
    let suffix = t.get(i..)?;
    matches!(suffix, "万元" | "亿元" | "万" | "亿" | "元" | "%" | "").then_some(NumberText {
        negative,
        int,
        frac,
        suffix,
    })
}

/// Reads a number, or a percent when `percent` (`5.5%` or `0.055`).
fn number(t: &str, percent: bool) -> Result<Decimal, String> {
    if let Some(d) = plain_decimal(t) {
        return Ok(d);
    }
    let what = if percent { "a percent" } else { "a number" };
    let parsed = match number_text_direct(t) {
        Some(n) => Ok(n),
        None => all_consuming(number_text)(t).map(|(_, n)| n),
    };
    let n = match parsed {
        Ok(n) => n,
        Err(_) if percent => {
            return Err(format!(
                "`{}` is not a percent: write `5.5%` or `0.055`",
                shown(t)
            ))
        }
        Err(_) => {
            return Err(format!(
                "`{}` is not a number: write digits like `1,234.5`, `-3` or `12.5万`",
                shown(t)
            ))
        }
    };
    if !grouped_by_three(n.int) {
        return Err(format!(
            "`{}` is not {what}: thousands separators group by three",
            shown(t)
        ));
    }
    let exponent: i64 = match (n.suffix, percent) {
        ("", _) | ("元", false) => 0,
        ("万" | "万元", false) => 4,
        ("亿" | "亿元", false) => 8,
        ("%", true) => -2,
        ("%", false) => {
            return Err(format!(
                "`{}` is not a number: `%` is for percent fields",
                shown(t)
            ))
        }
        (_, true) => {
            return Err(format!(
                "`{}` is not a percent: units are not allowed on percents",
                shown(t)
            ))
        }
        _ => return Err(format!("`{}` is not a number", shown(t))),
    };
    exact(&n, exponent).map_err(|why| format!("`{}` {why}", shown(t)))
}

/// The common case, read without the general parser: `-?digits(.digits)?`
/// with at most 18 digits and no separators or units. Anything else is left
/// to [`number_text`], which gives the same value or the reason.
pub(crate) fn plain_decimal(t: &str) -> Option<Decimal> {
    let b = t.as_bytes();
    let (negative, digits) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    // a point needs digits on both sides; a second one is not a digit
    let (int, frac) = match digits.iter().position(|&c| c == b'.') {
        Some(0) => return None,
        Some(p) => (digits.get(..p)?, digits.get(p + 1..)?),
        None => (digits, &[][..]),
    };
    if int.len() + frac.len() > 18 || (frac.is_empty() && int.len() < digits.len()) {
        return None;
    }
    // at most 18 digits: below 10^18, an i64
    let shift = 10u64.pow(u32::try_from(frac.len()).ok()?);
    let mantissa = digits_value(int)? * shift + digits_value(frac)?;
    let lo = mantissa as u32;
    let mid = (mantissa >> 32) as u32;
    // as `Decimal::new` then a negative sign for any but zero
    Some(Decimal::from_parts(
        lo,
        mid,
        0,
        negative && mantissa != 0,
        frac.len() as u32,
    ))
}

/// The value of up to 18 ASCII digits (none: 0), eight at a time (the
/// first `len % 8` as a word padded with `0`s in front); `None` when any
/// byte is not a digit.
#[inline]
fn digits_value(digits: &[u8]) -> Option<u64> {
    let (head, eights) = digits.split_at(digits.len() % 8);
    let mut value = 0u64;
    if !head.is_empty() {
        // the bytes in reading order, the last one highest: `713` is
        // `00000713`
        let mut word = u64::from_le_bytes([b'0'; 8]);
        for &c in head {
            word = (word >> 8) | (u64::from(c) << 56);
        }
        value = u64::from(eight_digits(word.to_le_bytes())?);
    }
    for eight in eights.chunks_exact(8) {
        value = value * 100_000_000 + u64::from(eight_digits(eight.try_into().ok()?)?);
    }
    Some(value)
}

/// Eight ASCII digits read as one word (the first the most significant);
/// `None` when any byte is not a digit.
#[inline]
fn eight_digits(bytes: [u8; 8]) -> Option<u32> {
    let x = u64::from_le_bytes(bytes);
    // each byte's high half is 3 and, 6 added, still 3: `0` to `9` (a
    // byte that carries into the next, 0xFA and above, fails itself)
    let high = 0xF0F0_F0F0_F0F0_F0F0u64;
    let sixes = 0x0606_0606_0606_0606u64;
    if (x & high) | ((x.wrapping_add(sixes) & high) >> 4) != 0x3333_3333_3333_3333 {
        return None;
    }
    // pairs, then fours, then the eight: each step a multiply and a shift
    let x = ((x & 0x0F0F_0F0F_0F0F_0F0F).wrapping_mul(2561)) >> 8;
    let x = ((x & 0x00FF_00FF_00FF_00FF).wrapping_mul(6_553_601)) >> 16;
    Some((((x & 0x0000_FFFF_0000_FFFF).wrapping_mul(42_949_672_960_001)) >> 32) as u32)
}

/// `1,234,567`: the first group has one to three digits, every other three.
fn grouped_by_three(int: &str) -> bool {
    if !int.contains(',') {
        return true;
    }
    let mut groups = int.split(',');
    groups.next().is_some_and(|g| (1..=3).contains(&g.len())) && groups.all(|g| g.len() == 3)
}

/// The exact decimal `±int.frac × 10^exponent`.
fn exact(n: &NumberText<'_>, exponent: i64) -> Result<Decimal, &'static str> {
    let int = || n.int.bytes().filter(u8::is_ascii_digit);
    let mut frac = n.frac;
    if significant(int(), frac) > MAX_DIGITS {
        // Trailing zeros after the point change nothing; drop them only when needed.
        frac = frac.trim_end_matches('0');
        if significant(int(), frac) > MAX_DIGITS {
            return Err("has more than 28 significant digits");
        }
    }
    let mut mantissa: u128 = 0;
    for d in int().chain(frac.bytes()) {
        // At most 28 significant digits: this cannot overflow a u128.
        mantissa = mantissa
            .saturating_mul(10)
            .saturating_add(u128::from(d - b'0'));
    }
    let mut scale = frac.len() as i64 - exponent;
    if scale < 0 {
        let factor = 10u128.pow(scale.unsigned_abs().min(38) as u32);
        mantissa = mantissa.checked_mul(factor).ok_or("is too large")?;
        scale = 0;
    }
    while scale > MAX_DIGITS as i64 && mantissa.is_multiple_of(10) && mantissa != 0 {
        mantissa /= 10;
        scale -= 1;
    }
    if mantissa == 0 {
        scale = scale.min(MAX_DIGITS as i64);
    }
    if scale > MAX_DIGITS as i64 {
        return Err("has more than 28 decimal places");
    }
    let signed = i128::try_from(mantissa).map_err(|_| "is too large")?;
    let mut d =
        Decimal::try_from_i128_with_scale(signed, scale as u32).map_err(|_| "is too large")?;
    // `-0` is zero, not a negative zero.
    d.set_sign_negative(n.negative && !d.is_zero());
    Ok(d)
}

/// How many digits are significant (leading zeros are not).
fn significant(int: impl Iterator<Item = u8>, frac: &str) -> usize {
    int.chain(frac.bytes()).skip_while(|&d| d == b'0').count()
}

/// `n` to `m` ASCII digits as a number.
fn digits<'a>(n: usize, m: usize) -> impl FnMut(&'a str) -> Parsed<'a, u32> {
    map_res(
        take_while_m_n(n, m, |c: char| c.is_ascii_digit()),
        |s: &str| s.parse::<u32>(),
    )
}

/// `2024-01-05`, `2024/1/5`, `20240105` or `2024年1月5日`.
fn date_text(i: &str) -> Parsed<'_, (u32, u32, u32)> {
    let ymd = |(y, _, m, _, d)| (y, m, d);
    let ymd_cjk = |(y, _, m, _, d, _)| (y, m, d);
    alt((
        nom::combinator::map(
            tuple((
                digits(4, 4),
                char('-'),
                digits(2, 2),
                char('-'),
                digits(2, 2),
            )),
            ymd,
        ),
        nom::combinator::map(
            tuple((
                digits(4, 4),
                char('/'),
                digits(1, 2),
                char('/'),
                digits(1, 2),
            )),
            ymd,
        ),
        tuple((digits(4, 4), digits(2, 2), digits(2, 2))),
        nom::combinator::map(
            tuple((
                digits(4, 4),
                char('年'),
                digits(1, 2),
                char('月'),
                digits(1, 2),
                char('日'),
            )),
            ymd_cjk,
        ),
    ))(i)
}

/// [`date_text`] read directly for `20240105` and `2024/1/5`, what it
/// gives for them; `None` for any other text (left to the parser).
fn date_text_direct(t: &str) -> Option<(u32, u32, u32)> {
    let b = t.as_bytes();
    let num = |s: &[u8]| -> Option<u32> {
        if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(s.iter().fold(0, |n, &c| n * 10 + u32::from(c - b'0')))
    };
    if b.len() == 8 && b.iter().all(u8::is_ascii_digit) {
        return Some((num(b.get(..4)?)?, num(b.get(4..6)?)?, num(b.get(6..)?)?));
    }
    let mut parts = b.split(|&c| c == b'/');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    let short = |p: &[u8]| (1..=2).contains(&p.len());
    if parts.next().is_some() || y.len() != 4 || !short(m) || !short(d) {
        return None;
    }
    Some((num(y)?, num(m)?, num(d)?))
}

fn date(t: &str) -> Result<Date, String> {
    // the common `2024-01-05`, `20240105` and `2024/1/5` read directly;
    // anything else goes to the parser
    if let Some(d) = Date::parse_iso(t) {
        return Ok(d);
    }
    let parsed = match date_text_direct(t) {
        Some(ymd) => Ok(ymd),
        None => all_consuming(date_text)(t).map(|(_, ymd)| ymd),
    };
    match parsed {
        Ok((y, m, d)) => Date::new(y as i32, m, d).ok_or_else(|| {
            format!(
                "`{}` is not a date: there is no such day in the calendar",
                shown(t)
            )
        }),
        Err(_) => Err(format!(
            "`{}` is not a date: write `2024-01-05`, `2024/1/5`, `20240105` or `2024年1月5日`",
            shown(t)
        )),
    }
}

#[cfg(test)]
mod fast_path_tests {
    use super::*;

    /// Random texts over the characters numbers and dates are written
    /// with, and some that no form takes; many of them well formed.
    fn texts(seed: u64, n: usize) -> Vec<String> {
        const PARTS: [&str; 24] = [
            "0", "1", "2", "5", "9", "12", "345", "2024", ",", ",", ".", "-", "万", "元", "亿",
            "%", "/", "年", "月", "日", " ", "a", "１", "万元",
        ];
        let mut x = seed | 1;
        let mut next = move |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        let mut out = Vec::with_capacity(2 * n);
        for _ in 0..n {
            let len = next(9);
            out.push(
                (0..len)
                    .map(|_| *PARTS.get(next(PARTS.len() as u64) as usize).unwrap_or(&""))
                    .collect::<String>(),
            );
            // digits with separators, a fraction and a unit; a date
            let int: Vec<String> = (0..1 + next(4))
                .map(|g| format!("{:0w$}", next(1000), w = if g == 0 { 1 } else { 3 }))
                .collect();
            let unit = ["", "万", "万元", "亿", "亿元", "元", "%", "千"][next(8) as usize];
            out.push(match next(4) {
                0 => format!(
                    "{}{}.{}{unit}",
                    ["", "-"][next(2) as usize],
                    int.join(","),
                    next(100_000)
                ),
                1 => format!("{}{unit}", int.join(",")),
                2 => format!("{}/{}/{}", 1990 + next(40), next(14), next(33)),
                _ => format!("{}{:02}{:02}", 1990 + next(40), next(14), next(33)),
            });
        }
        out
    }

    /// The direct reading of numbers takes exactly the texts the parser
    /// takes whole, and gives the same parts; so does the direct reading of
    /// dates for the forms it reads (what follows is the same code).
    #[test]
    fn direct_readings_agree_with_the_parsers() {
        let (mut numbers, mut dates) = (0, 0);
        for t in texts(0x5eed_f0ce, 20_000) {
            let direct = number_text_direct(&t);
            let parsed = all_consuming(number_text)(t.as_str()).ok().map(|(_, n)| n);
            match (&direct, &parsed) {
                (Some(a), Some(b)) => {
                    numbers += 1;
                    assert_eq!(
                        (a.negative, a.int, a.frac, a.suffix),
                        (b.negative, b.int, b.frac, b.suffix),
                        "{t}"
                    );
                }
                (None, None) => {}
                _ => panic!(
                    "`{t}`: direct {} parser {}",
                    direct.is_some(),
                    parsed.is_some()
                ),
            }
            let parsed = all_consuming(date_text)(t.as_str()).ok().map(|(_, d)| d);
            if let Some(d) = date_text_direct(&t) {
                dates += 1;
                assert_eq!(Some(d), parsed, "{t}");
            } else if t.len() == 8 || t.contains('/') {
                assert!(parsed.is_none(), "`{t}` read by the parser only");
            }
        }
        // both paths were really taken
        assert!(
            numbers > 5_000 && dates > 1_000,
            "{numbers} numbers, {dates} dates"
        );
    }

    /// The direct reading of plain decimals gives, on random texts of
    /// digits, points, signs and other bytes (long runs of digits, eight at
    /// a time and not), exactly the general parser's number (value, scale,
    /// sign, the same bits), and takes every plain form of at most 18
    /// digits.
    #[test]
    fn plain_decimals_agree_with_the_general_parser_on_random_texts() {
        const BYTES: &[u8] = b"0123456789012345678901234567890123456789..-+, e:/\x7f\xb9";
        let mut rng = crate::test_rng::Rng(0x0dec_1a5e);
        let (mut taken, mut plain) = (0, 0);
        for _ in 0..200_000 {
            let len = rng.below(24) as usize;
            let mut t: String = (0..len)
                .map(|_| {
                    char::from(
                        *BYTES
                            .get(rng.below(BYTES.len() as u64) as usize)
                            .unwrap_or(&b'0'),
                    )
                })
                .collect();
            if rng.below(3) == 0 {
                // a plain form: -?digits(.digits)?
                let int = 1 + rng.below(19) as usize;
                let frac = rng.below(10) as usize;
                let digit = |rng: &mut crate::test_rng::Rng| char::from(b'0' + rng.below(10) as u8);
                t = String::new();
                if rng.below(4) == 0 {
                    t.push('-');
                }
                t.extend((0..int).map(|_| digit(&mut rng)));
                if frac > 0 {
                    t.push('.');
                    t.extend((0..frac).map(|_| digit(&mut rng)));
                }
                if int + frac <= 18 {
                    plain += 1;
                    assert!(plain_decimal(&t).is_some(), "`{t}` is plain");
                }
            }
            let slow = all_consuming(number_text)(t.as_str())
                .ok()
                .and_then(|(_, n)| exact(&n, 0).ok());
            if let Some(fast) = plain_decimal(&t) {
                taken += 1;
                assert_eq!(Some(fast.serialize()), slow.map(|s| s.serialize()), "`{t}`");
            }
        }
        assert!(
            taken > 50_000 && plain > 40_000,
            "{taken} taken, {plain} plain"
        );
    }

    /// The fast path gives exactly what the general parser gives.
    #[test]
    fn plain_decimals_agree_with_the_general_parser() {
        for t in [
            "0",
            "-0",
            "007",
            "12",
            "12.50",
            "-3.25",
            "999999999999999999",
            "0.055",
            "1.",
            ".5",
            "1.2.3",
            "-",
            "1-2",
        ] {
            let fast = plain_decimal(t);
            let slow = all_consuming(number_text)(t)
                .ok()
                .and_then(|(_, n)| exact(&n, 0).ok());
            if let Some(f) = fast {
                assert_eq!(Some(f), slow, "{t}");
                assert_eq!(f.scale(), slow.map(|s| s.scale()).unwrap_or(99), "{t}");
                assert_eq!(
                    f.is_sign_negative(),
                    slow.is_some_and(|s| s.is_sign_negative()),
                    "{t}"
                );
            } else {
                assert!(slow.is_none() || t.len() > 19, "{t}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn num(ty: &FieldType, s: &str) -> Decimal {
        match parse_cell(ty, s) {
            Ok(Cell::Num(n)) => n,
            other => panic!("{s}: {other:?}"),
        }
    }
    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }
    fn reason(ty: &FieldType, s: &str) -> String {
        match parse_cell(ty, s) {
            Err(r) => r,
            Ok(c) => panic!("{s} was accepted as {c:?}"),
        }
    }
    fn day(s: &str) -> Date {
        match parse_cell(&FieldType::Date, s) {
            Ok(Cell::Date(d)) => d,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn numbers() {
        let ty = FieldType::Number;
        assert_eq!(num(&ty, "1,234.5"), dec("1234.5"));
        assert_eq!(num(&ty, "  12.5万 "), dec("125000"));
        assert_eq!(num(&ty, "1.2亿元"), dec("120000000"));
        assert_eq!(num(&ty, "1,234,567.89万元"), dec("12345678900"));
        assert_eq!(num(&ty, "3元"), dec("3"));
        assert_eq!(num(&ty, "7亿"), dec("700000000"));
        assert_eq!(num(&ty, "-3"), dec("-3"));
        assert_eq!(num(&ty, "\u{3000}42\u{3000}"), dec("42"));
        assert_eq!(num(&ty, "0.000001万"), dec("0.01"));
        let zero = num(&ty, "-0");
        assert!(zero.is_zero() && zero.is_sign_positive());
        assert_eq!(num(&ty, "007"), dec("7"));
        assert_eq!(num(&FieldType::Money, "1.50"), dec("1.50"));
        // 28 significant digits are fine, with trailing zeros after the point too
        assert_eq!(
            num(&ty, "1234567890123456789012345678"),
            dec("1234567890123456789012345678")
        );
        assert_eq!(num(&ty, "1.0000000000000000000000000000000"), dec("1"));
    }

    #[test]
    fn numbers_rejected() {
        let ty = FieldType::Number;
        assert_eq!(
            reason(&ty, "12,34"),
            "`12,34` is not a number: thousands separators group by three"
        );
        assert!(reason(&ty, "1,2345").contains("group by three"));
        assert!(reason(&ty, "1234,567").contains("group by three"));
        assert!(reason(&ty, "1e5").starts_with("`1e5` is not a number"));
        for bad in [
            "+5", ".5", "5.", "1..2", "--1", "1 万", "1万万", "12千", "１２", "1,", ",1", "1.2.3",
            "abc", "-",
        ] {
            assert!(reason(&ty, bad).contains("is not a number"), "{bad}");
        }
        assert!(reason(&ty, "5%").contains("`%` is for percent fields"));
        let forty = "1234567890123456789012345678901234567890";
        assert!(reason(&ty, forty).contains("more than 28 significant digits"));
        assert!(reason(&ty, "9999999999999999999999999999亿").contains("is too large"));
        let tiny = format!("0.{}1", "0".repeat(30));
        assert!(reason(&ty, &tiny).contains("more than 28 decimal places"));
    }

    #[test]
    fn integers() {
        let ty = FieldType::Integer;
        assert_eq!(num(&ty, "1.2万"), dec("12000"));
        assert_eq!(num(&ty, "1,000"), dec("1000"));
        assert_eq!(num(&ty, "12.0"), dec("12"));
        assert_eq!(num(&ty, "12.0").scale(), 0);
        assert_eq!(reason(&ty, "12.5"), "`12.5` is not a whole number");
        assert!(reason(&ty, "1.23456万").contains("not a whole number"));
    }

    /// An integer read from plain digits is kept as read, which is what
    /// `normalize` gives it: the same decimal, scale and sign as the
    /// general way (whole, normalized) on random texts, `-0` and `000`
    /// included; and `trim` cuts what `trim_matches` cuts.
    #[test]
    fn integers_read_directly_as_normalized() {
        let mut rng = crate::test_rng::Rng(0x1234_5678_9abc_def1);
        let pieces = [
            "0", "1", "7", "-", ".", "0", "9", ",", "万", " ", "\u{3000}",
        ];
        for _ in 0..50_000 {
            let t: String = (0..1 + rng.below(8))
                .map(|_| pieces[rng.below(pieces.len() as u64) as usize])
                .collect();
            let general = number(trim(&t), false).and_then(|n| {
                if n.fract().is_zero() {
                    Ok(n.normalize())
                } else {
                    Err(String::new())
                }
            });
            match (parse_cell(&FieldType::Integer, &t), general) {
                (Ok(Cell::Num(a)), Ok(b)) => {
                    assert_eq!(
                        (a, a.scale(), a.is_sign_negative()),
                        (b, b.scale(), b.is_sign_negative()),
                        "{t:?}"
                    )
                }
                (Ok(Cell::Missing), _) => assert!(trim(&t).is_empty(), "{t:?}"),
                (Err(_), Err(_)) => {}
                (a, b) => panic!("{t:?}: {a:?} against {b:?}"),
            }
            assert_eq!(trim(&t), t.trim_matches(is_blank), "{t:?}");
        }
    }

    #[test]
    fn percents() {
        let ty = FieldType::Percent;
        assert_eq!(num(&ty, "5.5%"), dec("0.055"));
        assert_eq!(num(&ty, "0.055"), dec("0.055"));
        assert_eq!(num(&ty, "100%"), dec("1"));
        assert_eq!(num(&ty, "-2%"), dec("-0.02"));
        assert!(reason(&ty, "5万").contains("units are not allowed on percents"));
        assert!(reason(&ty, "5元").contains("units are not allowed"));
        assert!(reason(&ty, "5 %").contains("is not a percent"));
        assert!(reason(&ty, "5%%").contains("is not a percent"));
        assert!(reason(&ty, "12,34%").contains("group by three"));
    }

    #[test]
    fn dates() {
        let want = Date::new(2024, 1, 5).unwrap();
        for ok in [
            "2024-01-05",
            "2024/1/5",
            "2024/01/05",
            "20240105",
            "2024年1月5日",
            "2024年01月05日",
            " 2024-01-05 ",
        ] {
            assert_eq!(day(ok), want, "{ok}");
        }
        assert_eq!(day("2024-02-29"), Date::new(2024, 2, 29).unwrap());
        for bad in [
            "2024-1-5",
            "2024-01-5",
            "24-01-05",
            "2024/001/5",
            "2024.01.05",
            "202415",
            "2024年1月5",
            "2024-01-05T00:00",
        ] {
            assert!(
                reason(&FieldType::Date, bad).contains("is not a date: write"),
                "{bad}"
            );
        }
        for bad in [
            "2023-02-29",
            "20240230",
            "2024/13/1",
            "2024年0月1日",
            "0000-01-01",
        ] {
            assert!(
                reason(&FieldType::Date, bad).contains("no such day"),
                "{bad}"
            );
        }
    }

    #[test]
    fn booleans() {
        for (s, b) in [
            ("true", true),
            ("是", true),
            ("1", true),
            ("Y", true),
            ("false", false),
            ("否", false),
            ("0", false),
            (" N ", false),
        ] {
            assert_eq!(parse_cell(&FieldType::Bool, s), Ok(Cell::Bool(b)), "{s}");
        }
        for bad in ["TRUE", "yes", "y", "对", "2", "1.0"] {
            assert!(
                reason(&FieldType::Bool, bad).contains("is not a yes/no value"),
                "{bad}"
            );
        }
    }

    #[test]
    fn enums_lists_texts() {
        let size = FieldType::Enum(vec!["大型".into(), "小型".into()]);
        assert_eq!(parse_cell(&size, " 小型 "), Ok(Cell::Text("小型".into())));
        assert_eq!(reason(&size, "中型"), "`中型` is not one of 大型, 小型");
        let l = |s: &str| parse_cell(&FieldType::List, s).unwrap();
        let items = |v: &[&str]| Cell::List(v.iter().map(|s| Box::<str>::from(*s)).collect());
        assert_eq!(l("a; b、c |d"), items(&["a", "b", "c", "d"]));
        assert_eq!(l("a;;b;a; "), items(&["a", "b"]));
        assert_eq!(l(""), items(&[]));
        assert_eq!(l("   "), items(&[]));
        assert_eq!(
            parse_cell(&FieldType::Text, "  a b "),
            Ok(Cell::Text("  a b ".into()))
        );
    }

    #[test]
    fn blank_is_missing() {
        for ty in [
            FieldType::Text,
            FieldType::Number,
            FieldType::Date,
            FieldType::Bool,
            FieldType::Integer,
        ] {
            assert_eq!(parse_cell(&ty, ""), Ok(Cell::Missing));
            assert_eq!(parse_cell(&ty, " \t\u{3000}"), Ok(Cell::Missing));
        }
    }

    #[test]
    fn json_values() {
        use serde_json::Value;
        let v = |s: &str| -> Value { serde_json::from_str(s).unwrap() };
        assert_eq!(
            parse_json(&FieldType::Money, &v("12345678901234567890.12")),
            Ok(Cell::Num(dec("12345678901234567890.12")))
        );
        assert_eq!(
            parse_json(&FieldType::Money, &v("\"12.5万\"")),
            Ok(Cell::Num(dec("125000")))
        );
        assert!(parse_json(&FieldType::Money, &v("1e5")).is_err());
        assert_eq!(
            parse_json(&FieldType::Bool, &v("true")),
            Ok(Cell::Bool(true))
        );
        assert_eq!(parse_json(&FieldType::Bool, &v("0")), Ok(Cell::Bool(false)));
        // read as the cell `true`, as an Excel boolean cell is
        assert_eq!(
            parse_json(&FieldType::Text, &v("true")),
            Ok(Cell::Text("true".into()))
        );
        assert!(parse_json(&FieldType::Money, &v("true")).is_err());
        assert_eq!(
            parse_json(&FieldType::Text, &v("420102")),
            Ok(Cell::Text("420102".into()))
        );
        assert_eq!(
            parse_json(&FieldType::List, &v("[\"a\", \" b \", \"\"]")),
            parse_cell(&FieldType::List, "a;b")
        );
        assert!(parse_json(&FieldType::List, &v("[\"a\", 1]")).is_err());
        assert!(parse_json(&FieldType::Text, &v("[\"a\"]")).is_err());
        assert_eq!(
            parse_json(&FieldType::List, &v("null")),
            Ok(Cell::List(Box::new([])))
        );
        assert_eq!(parse_json(&FieldType::Date, &v("null")), Ok(Cell::Missing));
        assert_eq!(parse_json(&FieldType::Date, &v("\"\"")), Ok(Cell::Missing));
        assert!(parse_json(&FieldType::Text, &v("{}")).is_err());
    }

    #[test]
    fn reasons_are_cut() {
        let long = "x".repeat(1000);
        let r = reason(&FieldType::Number, &long);
        assert!(r.chars().count() < 300);
    }
}
