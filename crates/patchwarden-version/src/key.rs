//! Helpers shared by the per-scheme sort-key encoders.
//!
//! Every encoder writes a sequence of *tokens*; each token is prefix-free, so
//! `memcmp` on two concatenations compares token by token, exactly like the
//! native algorithms walk their strings.

/// Appends an order-preserving, prefix-free encoding of a length.
///
/// Lengths below 255 take one byte; longer ones take `0xFF` followed by the
/// length as a big-endian `u64`, which still sorts after every short length.
pub(crate) fn push_len(out: &mut Vec<u8>, len: usize) {
    match u8::try_from(len) {
        Ok(b) if b < u8::MAX => out.push(b),
        _ => {
            out.push(u8::MAX);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
}

/// Appends a decimal digit run so that memcmp order equals numeric order:
/// leading zeros are dropped, then the length is written before the digits
/// (a longer number is a bigger number).
pub(crate) fn push_decimal(out: &mut Vec<u8>, digits: &[u8]) {
    let start = digits
        .iter()
        .position(|&d| d != b'0')
        .unwrap_or(digits.len());
    let significant = &digits[start..];
    push_len(out, significant.len());
    out.extend_from_slice(significant);
}

/// Compares two decimal digit runs numerically, without any size limit.
pub(crate) fn cmp_decimal(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let a = &a[a.iter().position(|&d| d != b'0').unwrap_or(a.len())..];
    let b = &b[b.iter().position(|&d| d != b'0').unwrap_or(b.len())..];
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Vec<u8> {
        let mut v = Vec::new();
        push_decimal(&mut v, s.as_bytes());
        v
    }

    #[test]
    fn decimal_keys_sort_numerically() {
        let nums = [
            "",
            "0",
            "00",
            "1",
            "01",
            "9",
            "10",
            "099",
            "100",
            "12345678901234567890123",
        ];
        for a in nums {
            for b in nums {
                assert_eq!(
                    dec(a).cmp(&dec(b)),
                    cmp_decimal(a.as_bytes(), b.as_bytes()),
                    "{a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn long_lengths_sort_after_short_ones() {
        let mut short = Vec::new();
        push_len(&mut short, 254);
        let mut long = Vec::new();
        push_len(&mut long, 255);
        let mut longer = Vec::new();
        push_len(&mut longer, 70_000);
        assert!(short < long && long < longer);
    }
}
