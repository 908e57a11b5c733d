//! A JSON string's text scanned eight bytes at a time: the bytes that end
//! or escape it found by bit arithmetic on a little-endian word.

const ONES: u64 = 0x0101_0101_0101_0101;

/// The high bit of every byte of a word.
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of the first byte of `w` equal to `b` is set, and none
/// below it (bits above it may be).
fn has_byte(w: u64, b: u8) -> u64 {
    let x = w ^ (ONES * u64::from(b));
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// The same for the first byte below `n` (`n` ≤ 0x80).
fn has_less(w: u64, n: u8) -> u64 {
    w.wrapping_sub(ONES * u64::from(n)) & !w & HIGHS
}

/// The high bit of the first quote, backslash or control byte of `w` is
/// set, and none below it; 0 when there is none.
pub(crate) fn special(w: u64) -> u64 {
    has_byte(w, b'"') | has_byte(w, b'\\') | has_less(w, 0x20)
}
