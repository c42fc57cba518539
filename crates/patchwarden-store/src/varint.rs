//! LEB128 numbers, the building block of the compact columns (inventory sets, open
//! findings): unsigned, and zig-zag for signed differences.

/// Appends `value` as unsigned LEB128.
pub fn put(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

/// Appends a signed number zig-zag encoded (small magnitudes take few bytes whatever
/// their sign).
pub fn put_signed(out: &mut Vec<u8>, value: i64) {
    put(out, ((value << 1) ^ (value >> 63)) as u64);
}

/// One unsigned LEB128 number at `pos`, which moves past it.
pub fn get(bytes: &[u8], pos: &mut usize) -> Result<u64, &'static str> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let Some(b) = bytes.get(*pos) else {
            return Err("a truncated number");
        };
        *pos += 1;
        let bits = u64::from(b & 0x7f);
        if shift == 63 && bits > 1 {
            return Err("a number too large");
        }
        value |= bits << shift;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("a number too large")
}

/// One zig-zag encoded signed number at `pos`.
pub fn get_signed(bytes: &[u8], pos: &mut usize) -> Result<i64, &'static str> {
    let v = get(bytes, pos)?;
    Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip(u in any::<u64>(), s in any::<i64>()) {
            let mut buf = Vec::new();
            put(&mut buf, u);
            put_signed(&mut buf, s);
            let mut pos = 0;
            prop_assert_eq!(get(&buf, &mut pos), Ok(u));
            prop_assert_eq!(get_signed(&buf, &mut pos), Ok(s));
            prop_assert_eq!(pos, buf.len());
        }
    }

    #[test]
    fn small_values_are_short_and_bad_input_is_refused() {
        let mut buf = Vec::new();
        put_signed(&mut buf, -1);
        put_signed(&mut buf, 1);
        put(&mut buf, 127);
        assert_eq!(buf, [1, 2, 127]);
        assert_eq!(get(&[0x80], &mut 0), Err("a truncated number"));
        let too_big = [0xff; 10];
        assert_eq!(get(&too_big, &mut 0), Err("a number too large"));
    }
}
