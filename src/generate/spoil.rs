//! Bad rows: cells no reader should accept, bad, empty or repeated keys.

use super::*;

/// Gives a row one fault the reader must reject.
pub(super) fn spoil(
    schema: &Schema,
    cells: &mut [String],
    keys: &[String],
    key_is_uscc: bool,
    rng: &mut Rng,
) {
    #[derive(Clone, Copy)]
    enum Fault {
        KeyCheck,
        KeyEmpty,
        KeyDuplicate,
        Cell(usize),
    }
    let mut faults = vec![Fault::KeyEmpty];
    if key_is_uscc {
        faults.push(Fault::KeyCheck);
    }
    if !keys.is_empty() {
        faults.push(Fault::KeyDuplicate);
        faults.push(Fault::KeyDuplicate);
    }
    let typed: Vec<usize> = schema
        .fields
        .iter()
        .enumerate()
        .filter(|(i, f)| *i != schema.key && !matches!(f.ty, FieldType::Text | FieldType::List))
        .map(|(i, _)| i)
        .collect();
    for _ in 0..4 {
        if let Some(i) = (!typed.is_empty()).then(|| *rng.pick(&typed)) {
            faults.push(Fault::Cell(i));
        }
    }
    let k = schema.key;
    match *rng.pick(&faults) {
        Fault::KeyEmpty => cells[k].clear(),
        Fault::KeyDuplicate => cells[k] = rng.pick(keys).clone(),
        Fault::KeyCheck => {
            let mut code = cells[k].clone().into_bytes();
            if let Some(last) = code.last_mut() {
                let alphabet = mianshen::schema::USCC_ALPHABET;
                let at = alphabet.iter().position(|c| c == last).unwrap_or(0);
                *last = alphabet[(at + 1 + rng.below(30) as usize) % 31];
            }
            cells[k] = String::from_utf8(code).unwrap_or_default();
        }
        Fault::Cell(i) => {
            let bad: &[&str] = match &schema.fields[i].ty {
                FieldType::Integer => &["12,34", "3.5", "约100", "N/A"],
                FieldType::Number | FieldType::Money => {
                    &["12,34", "约100万", "1.2.3", "N/A", "一百万"]
                }
                FieldType::Percent => &["5.5%%", "5.5万", "百分之五", "--"],
                FieldType::Date => &["2024-13-45", "2023年2月29日", "2024.01.05", "去年"],
                FieldType::Bool => &["不详", "yes", "--"],
                FieldType::Enum(_) => &["特大型", "未知", "-"],
                FieldType::Text | FieldType::List => &[""],
            };
            let allowed = |v: &str| matches!(&schema.fields[i].ty, FieldType::Enum(vs) if vs.iter().any(|x| x == v));
            let bad: Vec<&str> = bad.iter().copied().filter(|v| !allowed(v)).collect();
            if !bad.is_empty() {
                cells[i] = rng.pick(&bad).to_string();
            }
        }
    }
}
