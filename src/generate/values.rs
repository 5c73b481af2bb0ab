//! Values of fields the generator knows nothing about, and how every value is written (clean or messy).

use super::*;

pub(super) fn generic(field: &Field, rng: &mut Rng) -> Val {
    match &field.ty {
        FieldType::Bool => Val::Bool(rng.chance(0.3)),
        FieldType::Integer => Val::Int(rng.skewed(0, 1000, 3)),
        FieldType::Number => Val::Cents(rng.skewed(0, 10_000 * YUAN, 3)),
        FieldType::Money => Val::Cents(rng.skewed(0, 10_000 * WAN, 3) * YUAN),
        FieldType::Percent => Val::Pct(rng.range(0, 10_000)),
        FieldType::Date => {
            let today = reference_day();
            Val::Day(rng_day(rng, add_years(today, -25), today))
        }
        FieldType::Text => Val::Text(format!(
            "{}{}",
            field.title.as_deref().unwrap_or(&field.name),
            rng.range(1, 999)
        )),
        FieldType::Enum(values) if values.is_empty() => Val::Text(String::new()),
        FieldType::Enum(values) => Val::Text(rng.pick(values).clone()),
        FieldType::List => {
            let n = rng.skewed(0, 3, 2) as usize;
            let mut items: Vec<&'static str> = Vec::new();
            for _ in 0..n {
                let t = *rng.pick(&TAGS);
                if !items.contains(&t) {
                    items.push(t);
                }
            }
            Val::List(items)
        }
    }
}

pub(super) fn render_generic(field: &Field, messy: bool, rng: &mut Rng) -> String {
    let v = generic(field, rng);
    render(&v, field, messy, rng).unwrap_or_default()
}

// ---- formatting ------------------------------------------------------------

/// The cell text of a value for a field, or `None` when the value does not
/// suit the field's type (the caller then makes a generic one).
pub(super) fn render(v: &Val, field: &Field, messy: bool, rng: &mut Rng) -> Option<String> {
    use FieldType as T;
    Some(match (v, &field.ty) {
        (Val::Int(n), T::Integer | T::Number) => int_text(*n, messy, rng),
        (Val::Int(n), T::Money) => money_text(*n * YUAN, messy, rng),
        (Val::Cents(c), T::Money) => money_text(*c, messy, rng),
        (Val::Cents(c), T::Number) => plain_cents(*c),
        (Val::Cents(c), T::Integer) => int_text(*c / YUAN, messy, rng),
        (Val::Pct(p), T::Percent) => pct_text(*p, messy, rng),
        (Val::Pct(p), T::Number) => fraction(i128::from(*p), 4),
        (Val::Bool(b), T::Bool) => bool_text(*b, messy, rng),
        (Val::Day(d), T::Date) => date_text(*d, messy, rng),
        (Val::Text(t), T::Text) => t.clone(),
        (Val::Text(t), T::Enum(values)) if values.iter().any(|v| v == t) => t.clone(),
        (Val::List(items), T::List) => {
            let sep = if messy {
                *rng.weighted(&[(";", 70), ("、", 20), ("|", 10)])
            } else {
                ";"
            };
            items.join(sep)
        }
        (Val::List(items), T::Text) => items.join(";"),
        _ => return None,
    })
}

pub(super) fn int_text(n: i64, messy: bool, rng: &mut Rng) -> String {
    if messy && n.abs() >= 1000 && rng.chance(0.3) {
        grouped(n)
    } else {
        n.to_string()
    }
}

/// `1,234,567`
pub(super) fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    if n < 0 {
        out.push('-');
    }
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// `1234567.89`, or `1234567` for whole yuan.
pub(super) fn plain_cents(c: i64) -> String {
    if c % YUAN == 0 {
        (c / YUAN).to_string()
    } else {
        fraction(i128::from(c), 2)
    }
}

/// `n / 10^places` written exactly, trailing zeros dropped.
pub(super) fn fraction(n: i128, places: u32) -> String {
    let scale = 10i128.pow(places);
    let sign = if n < 0 { "-" } else { "" };
    let (int, frac) = (n.abs() / scale, n.abs() % scale);
    if frac == 0 {
        return format!("{sign}{int}");
    }
    let frac = format!("{frac:0width$}", width = places as usize);
    format!("{sign}{int}.{}", frac.trim_end_matches('0'))
}

pub(super) fn money_text(c: i64, messy: bool, rng: &mut Rng) -> String {
    if !messy {
        return plain_cents(c);
    }
    let yuan_cents = |c: i64| {
        if c % YUAN == 0 {
            grouped(c / YUAN)
        } else {
            format!("{}.{:02}", grouped(c / YUAN), (c % YUAN).abs())
        }
    };
    match rng.weighted(&[(0u8, 40), (1, 22), (2, 15), (3, 10), (4, 5), (5, 8)]) {
        1 => yuan_cents(c),
        2 if c.abs() >= WAN * YUAN => format!("{}万", fraction(i128::from(c), 6)),
        3 if c.abs() >= WAN * YUAN => format!("{}万元", fraction(i128::from(c), 6)),
        4 => format!("{}元", plain_cents(c)),
        5 if c.abs() >= 10_000 * WAN * YUAN => {
            let unit = if rng.chance(0.5) { "亿" } else { "亿元" };
            format!("{}{unit}", fraction(i128::from(c), 10))
        }
        _ => plain_cents(c),
    }
}

/// `5.5%`, or `0.055` now and then when messy.
pub(super) fn pct_text(p: i64, messy: bool, rng: &mut Rng) -> String {
    if messy && rng.chance(0.3) {
        fraction(i128::from(p), 4)
    } else {
        format!("{}%", fraction(i128::from(p), 2))
    }
}

pub(super) fn bool_text(b: bool, messy: bool, rng: &mut Rng) -> String {
    let pair = if messy {
        *rng.weighted(&[
            (("是", "否"), 40),
            (("true", "false"), 40),
            (("1", "0"), 10),
            (("Y", "N"), 10),
        ])
    } else {
        ("true", "false")
    };
    if b { pair.0 } else { pair.1 }.to_string()
}

pub(super) fn date_text(d: Date, messy: bool, rng: &mut Rng) -> String {
    let (y, m, day) = (d.year(), d.month(), d.day());
    match if messy {
        *rng.weighted(&[(0u8, 55), (1, 18), (2, 10), (3, 17)])
    } else {
        0
    } {
        1 => format!("{y}/{m}/{day}"),
        2 => format!("{y:04}{m:02}{day:02}"),
        3 => format!("{y}年{m}月{day}日"),
        _ => d.to_string(),
    }
}
