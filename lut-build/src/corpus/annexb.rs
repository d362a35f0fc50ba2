//! Annex-B byte-stream splitting (ITU-T H.266 Annex B).
//!
//! A byte stream is a sequence of NAL units, each preceded by a start code `00 00 01`, optionally
//! with a leading `zero_byte` (`00 00 00 01`), and possibly followed by `trailing_zero_8bits`.
//! The decoder (`vvdec`) wants Annex-B input, so the units returned here keep their start code.

/// Splits an Annex-B byte stream into NAL units.
///
/// Each returned slice starts with its start code (4 bytes when a `zero_byte` precedes
/// `00 00 01`, else 3) and ends at the last non-zero byte before the next start code: a NAL unit
/// never ends in `00` (its RBSP ends with the stop bit, and `cabac_zero_words` are `00 00 03`),
/// so trailing zeros are `trailing_zero_8bits` and are dropped. Bytes before the first start code
/// are ignored, and so are start codes with nothing after them.
pub fn split_nal_units(data: &[u8]) -> Vec<&[u8]> {
    // Positions of every `00 00 01`.
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i + 2] > 1 {
            i += 3;
        } else if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut units = Vec::with_capacity(starts.len());
    for (k, &s) in starts.iter().enumerate() {
        let payload_end = starts.get(k + 1).copied().unwrap_or(data.len());
        let mut end = payload_end;
        while end > s + 3 && data[end - 1] == 0 {
            end -= 1;
        }
        if end == s + 3 {
            continue; // an empty unit (start code followed by zeros or by the next start code)
        }
        let begin = if s > 0 && data[s - 1] == 0 { s - 1 } else { s };
        units.push(&data[begin..end]);
    }
    units
}

/// Length of the start code at the beginning of `unit` (3 or 4), or 0 if there is none.
pub fn start_code_len(unit: &[u8]) -> usize {
    if unit.starts_with(&[0, 0, 0, 1]) {
        4
    } else if unit.starts_with(&[0, 0, 1]) {
        3
    } else {
        0
    }
}

/// The VVC `nal_unit_type` (H.266 table 5) of a unit as returned by [`split_nal_units`]:
/// the 5 high bits of the second NAL header byte. `None` if the unit is too short.
pub fn nal_unit_type(unit: &[u8]) -> Option<u8> {
    unit.get(start_code_len(unit) + 1).map(|b| b >> 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_and_four_byte_start_codes() {
        let data = [
            0xAA, // junk before the first start code
            0, 0, 0, 1, 0x00, 0x79, 0x11, // 4-byte start code, VPS-like header
            0, 0, 1, 0x00, 0x81, 0x22, 0x00, 0x00, 0x03, // 3-byte, ends with cabac_zero_word
            0, 0, 0, 1, 0x00, 0x41, 0x33, 0x00, 0x00, // 4-byte, 2 trailing zero bytes
            0, 0, 1, 0x00, 0x0A, // a zero before 00 00 01 makes it a 4-byte code
        ];
        let units = split_nal_units(&data);
        assert_eq!(
            units,
            vec![
                &[0u8, 0, 0, 1, 0x00, 0x79, 0x11][..],
                &[0, 0, 1, 0x00, 0x81, 0x22, 0x00, 0x00, 0x03][..],
                &[0, 0, 0, 1, 0x00, 0x41, 0x33][..],
                &[0, 0, 0, 1, 0x00, 0x0A][..],
            ]
        );
        assert_eq!(
            units.iter().map(|u| start_code_len(u)).collect::<Vec<_>>(),
            [4, 3, 4, 4]
        );
        assert_eq!(nal_unit_type(units[0]), Some(15));
        assert_eq!(nal_unit_type(units[1]), Some(16));
        assert_eq!(nal_unit_type(units[2]), Some(8));
        assert_eq!(nal_unit_type(units[3]), Some(1));
    }

    #[test]
    fn degenerate_inputs() {
        assert!(split_nal_units(&[]).is_empty());
        assert!(split_nal_units(&[1, 2, 3, 4]).is_empty());
        assert!(split_nal_units(&[0, 0, 1]).is_empty());
        assert!(split_nal_units(&[0, 0, 0, 1, 0, 0, 0, 1]).is_empty());
        assert_eq!(split_nal_units(&[0, 0, 1, 5]), vec![&[0u8, 0, 1, 5][..]]);
        // Leading zero_bytes beyond one belong to nobody.
        assert_eq!(
            split_nal_units(&[0, 0, 0, 0, 0, 1, 7, 8]),
            vec![&[0u8, 0, 0, 1, 7, 8][..]]
        );
    }
}
