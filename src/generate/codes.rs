//! Credit codes: valid, unique unified social credit codes for the firms.

use super::*;

/// The check character of a 9-character organization code (GB 11714-1997).
pub(super) fn org_check(body: &[u8]) -> u8 {
    const W: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let value = |c: u8| {
        if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            u32::from(c - b'A') + 10
        }
    };
    let sum: u32 = body.iter().zip(W).map(|(c, w)| w * value(*c)).sum();
    match 11 - sum % 11 {
        10 => b'X',
        11 => b'0',
        n => b'0' + n as u8,
    }
}

/// `91` (an enterprise registered with market regulation), the region, an
/// organization code (new style `MA…` or an old all-digit one) with its own
/// check character, then the code's check character.
pub(super) fn uscc_for(rng: &mut Rng, region: &str) -> String {
    let mut code: Vec<u8> = b"91".to_vec();
    code.extend(region.bytes().take(6));
    while code.len() < 8 {
        code.push(b'0');
    }
    let mut body: Vec<u8> = Vec::with_capacity(8);
    if rng.chance(0.8) {
        body.extend(b"MA");
        for _ in 0..6 {
            body.push(*rng.pick(mianshen::schema::USCC_ALPHABET));
        }
    } else {
        for _ in 0..8 {
            body.push(b'0' + rng.below(10) as u8);
        }
    }
    let check = org_check(&body);
    code.extend(&body);
    code.push(check);
    let mut code = String::from_utf8(code).unwrap_or_default();
    code.extend(mianshen::schema::uscc_check_char(&code));
    code
}

/// A key for a schema whose key is not a credit code: the row number.
pub(super) fn generic_key(field: &Field, row: u64) -> String {
    let n = u128::from(row) + 1;
    match field.ty {
        FieldType::Integer | FieldType::Number | FieldType::Money => n.to_string(),
        _ => format!("F{n:09}"),
    }
}
