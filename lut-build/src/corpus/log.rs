//! VVenC encoder logs: the per-picture lines with the slice QP.
//!
//! A picture line looks like
//! `POC    31 TId: 0 (IDR_W_RADL, I-SLICE, QP 32, TF 2)      10312 bits [Y 35.8252 dB    U 40.5573 dB    V 40.1195 dB] ...`
//! in coding order. Only `POC`, the slice type, `QP`, `bits` and the three PSNRs are read.

use std::path::Path;

use super::error::{CorpusError, Result};

/// One picture line of an encoder log.
#[derive(Clone, Debug, PartialEq)]
pub struct LogPicture {
    /// Picture order count.
    pub poc: i64,
    /// Slice type as written (`I-SLICE`, `B-SLICE`, `P-SLICE`).
    pub slice_type: String,
    /// Slice QP.
    pub qp: i32,
    /// Coded size in bits.
    pub bits: u64,
    /// PSNR Y, Cb, Cr of the picture (dB).
    pub psnr: [f64; 3],
}

impl LogPicture {
    /// Intra for I slices, inter for P and B slices.
    pub fn kind(&self) -> lut_filter::PictureKind {
        if self.slice_type.starts_with('I') {
            lut_filter::PictureKind::Intra
        } else {
            lut_filter::PictureKind::Inter
        }
    }
}

/// Parses the picture lines of a VVenC log, in the order they appear (coding order).
/// `path` is for messages. A line starting with `POC` that does not parse is an error.
pub fn parse_encoder_log(path: &Path, text: &str) -> Result<Vec<LogPicture>> {
    let mut pics = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if !line.starts_with("POC ") {
            continue;
        }
        let pic = parse_picture_line(line).ok_or_else(|| CorpusError::Log {
            path: path.to_owned(),
            msg: format!("line {}: cannot parse picture line {line:?}", i + 1),
        })?;
        pics.push(pic);
    }
    Ok(pics)
}

/// Reads and parses an encoder log (see [`parse_encoder_log`]).
pub fn read_encoder_log(path: &Path) -> Result<Vec<LogPicture>> {
    let text = std::fs::read_to_string(path).map_err(|e| CorpusError::io(path, e))?;
    parse_encoder_log(path, &text)
}

fn parse_picture_line(line: &str) -> Option<LogPicture> {
    // Split on whitespace and the punctuation around the fields.
    let toks: Vec<&str> = line
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '(' | ')' | '[' | ']'))
        .filter(|t| !t.is_empty())
        .collect();
    let after = |key: &str| -> Option<&str> {
        let i = toks.iter().position(|&t| t == key)?;
        toks.get(i + 1).copied()
    };
    let poc = after("POC")?.parse().ok()?;
    let qp = after("QP")?.parse().ok()?;
    let slice_type = toks.iter().find(|t| t.ends_with("-SLICE"))?.to_string();
    let bits_at = toks.iter().position(|&t| t == "bits")?;
    let bits = toks.get(bits_at.checked_sub(1)?)?.parse().ok()?;
    let psnr = [
        after("Y")?.parse().ok()?,
        after("U")?.parse().ok()?,
        after("V")?.parse().ok()?,
    ];
    Some(LogPicture {
        poc,
        slice_type,
        qp,
        bits,
        psnr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vvenc_lines() {
        let text = "\
vvenc [verbose]: QP                                     : 37
POC    31 TId: 0 (IDR_W_RADL, I-SLICE, QP 32, TF 2)      10312 bits [Y 35.8252 dB    U 40.5573 dB    V 40.1195 dB] [ET     0 ] [L0 ] [L1 ]
POC     3 TId: 3 (      RADL, B-SLICE, QP 42)              608 bits [Y 31.5025 dB    U 39.5629 dB    V 40.1731 dB] [ET     0 ] [L0 7 15 ] [L1 7 15 ]
vvenc [info]: stats summary: frame I:   3, kbps: 302.34, AvgQP: 32.00
";
        let p = parse_encoder_log(Path::new("x.log"), text).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(
            p[0],
            LogPicture {
                poc: 31,
                slice_type: "I-SLICE".into(),
                qp: 32,
                bits: 10312,
                psnr: [35.8252, 40.5573, 40.1195],
            }
        );
        assert_eq!((p[1].poc, p[1].qp, p[1].bits), (3, 42, 608));
        assert!(parse_encoder_log(Path::new("x.log"), "POC 1 garbage\n").is_err());
    }
}
