//! VTM and VVenC encoder logs: the sequence summary and the per-picture lines.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::points::ParseError;

/// Which frames a summary row covers (the tag after the frame count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SummaryScope {
    /// Tag `a`: all frames (the row a BD computation uses).
    All,
    /// Tag `i`: intra slices only.
    I,
    /// Tag `p`: P slices only.
    P,
    /// Tag `b`: B slices only.
    B,
}

/// One row of a `Total Frames | Bitrate ...` table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LogSummary {
    /// Which frames the row covers.
    pub scope: SummaryScope,
    /// Number of frames.
    pub frames: u32,
    /// Bitrate in kbps.
    pub kbps: f64,
    /// Mean luma PSNR in dB.
    pub psnr_y: f64,
    /// Mean Cb PSNR in dB.
    pub psnr_u: f64,
    /// Mean Cr PSNR in dB.
    pub psnr_v: f64,
    /// The log's `YUV-PSNR` (sample-count weighted MSE, *not* JVET's `(6Y+U+V)/8`), for
    /// information only; `None` when the column is absent.
    pub psnr_yuv_log: Option<f64>,
}

/// A picture's slice type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SliceType {
    /// `I-SLICE`.
    I,
    /// `P-SLICE`.
    P,
    /// `B-SLICE`.
    B,
}

/// One `POC ...` line of an encoder log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PictureStats {
    /// Picture order count.
    pub poc: i64,
    /// NAL unit type as printed (`IDR_N_LP`, `CRA`, `TRAIL`, ...).
    pub nal_type: String,
    /// Slice type.
    pub slice_type: SliceType,
    /// Slice QP.
    pub qp: i32,
    /// Coded size in bits.
    pub bits: u64,
    /// Luma PSNR in dB.
    pub psnr_y: f64,
    /// Cb PSNR in dB (`None` for 4:0:0).
    pub psnr_u: Option<f64>,
    /// Cr PSNR in dB (`None` for 4:0:0).
    pub psnr_v: Option<f64>,
}

/// What an encoder log says about one encoding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncoderLog {
    /// The first all-frames (`a`) summary row.
    pub summary: LogSummary,
    /// Every summary row, in log order (repeats of `a`, then `i`/`p`/`b` with high verbosity).
    pub summaries: Vec<LogSummary>,
    /// The per-picture lines, in log (coding) order; empty when the log has none.
    pub pictures: Vec<PictureStats>,
}

/// Parses a VTM or VVenC encoder log.
///
/// The summary is a header line followed by one data row (VVenC prefixes both with
/// `vvenc [info]:`, VTM prints them bare; both indent them with a tab, shown as spaces here):
///
/// ```text
///     Total Frames |  Bitrate      Y-PSNR   U-PSNR   V-PSNR   YUV-PSNR
///     8            a  553.7700     31.6507  40.0797  40.3356  33.1183
/// ```
///
/// The row starts with the frame count and a tag (`a` all frames; with `--Verbosity=6` VTM adds
/// `SUMMARY`/I/P/B blocks tagged `a`, `i`, `p`, `b`); the other values are matched to the
/// header's column names, so extra columns (MSE, WPSNR, hexadecimal PSNR) are ignored. The
/// bitrate is in kbps, the PSNRs are means of per-frame PSNRs.
///
/// Per picture (both encoders):
///
/// ```text
/// POC    0 LId:  0 TId: 0 ( IDR_N_LP, I-SLICE, QP 34 )      26536 bits [Y 32.2166 dB    U 40.3274 dB    V 40.8178 dB] ...
/// ```
///
/// A line is read as a picture line when it starts with `POC <number>` and contains ` bits`;
/// such a line that does not parse is an error. Other lines are ignored.
pub fn parse_encoder_log(text: &str) -> Result<EncoderLog, ParseError> {
    let mut summaries = Vec::new();
    let mut pictures = Vec::new();
    let mut columns: Option<(usize, Vec<String>)> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = strip_prefix(raw).trim();
        if let Some((header_index, names)) = columns.take() {
            if line.is_empty() {
                columns = Some((header_index, names));
                continue;
            }
            summaries.push(parse_summary_row(line, &names).map_err(|reason| {
                ParseError::line(
                    index,
                    format!(
                        "{reason} (summary row after the header on line {})",
                        header_index + 1
                    ),
                )
            })?);
            continue;
        }
        if let Some(rest) = line.strip_prefix("Total Frames") {
            let rest = rest.trim_start();
            let Some(rest) = rest.strip_prefix('|') else {
                return Err(ParseError::line(index, "'Total Frames' header without '|'"));
            };
            let names = rest
                .split_whitespace()
                .map(str::to_ascii_uppercase)
                .collect();
            columns = Some((index, names));
            continue;
        }
        if is_picture_line(line) {
            pictures.push(parse_picture(line).map_err(|reason| ParseError::line(index, reason))?);
        }
    }
    if let Some((header_index, _)) = columns {
        return Err(ParseError::line(
            header_index,
            "summary header without a data row",
        ));
    }
    let summary = *summaries
        .iter()
        .find(|s| s.scope == SummaryScope::All)
        .ok_or(ParseError::NoSummary)?;
    Ok(EncoderLog {
        summary,
        summaries,
        pictures,
    })
}

/// Reads and parses an encoder log file (see [`parse_encoder_log`]).
pub fn read_encoder_log(path: impl AsRef<Path>) -> Result<EncoderLog, ParseError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| ParseError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_encoder_log(&text)
}

/// Removes a leading `name [level]:` (as VVenC's `vvenc [info]:`) if present.
fn strip_prefix(line: &str) -> &str {
    let trimmed = line.trim_start();
    let Some(open) = trimmed.find('[') else {
        return line;
    };
    let name = trimmed[..open].trim_end();
    let word = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !word {
        return line;
    }
    let after = &trimmed[open + 1..];
    match after.find(']') {
        Some(close)
            if after[..close]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == ' ')
                && after[close + 1..].starts_with(':') =>
        {
            &after[close + 2..]
        }
        _ => line,
    }
}

/// A number as the encoders print it (`nan`, `-nan`, `inf` included).
fn number(token: &str) -> Option<f64> {
    let lower = token.to_ascii_lowercase();
    if lower.trim_start_matches(['-', '+']) == "nan" {
        return Some(f64::NAN);
    }
    lower.parse().ok()
}

/// One data row of a summary table, its values matched to the header `names`.
fn parse_summary_row(line: &str, names: &[String]) -> Result<LogSummary, String> {
    let tokens: Vec<&str> = line.split_whitespace().collect();
    if tokens.len() < 2 + names.len() {
        return Err(format!(
            "{} values, the header has {} columns",
            tokens.len().saturating_sub(2),
            names.len()
        ));
    }
    let frames = tokens[0]
        .parse()
        .map_err(|_| format!("frame count '{}' is not a number", tokens[0]))?;
    let scope = match tokens[1] {
        "a" | "A" => SummaryScope::All,
        "i" | "I" => SummaryScope::I,
        "p" | "P" => SummaryScope::P,
        "b" | "B" => SummaryScope::B,
        other => {
            return Err(format!(
                "unknown summary tag '{other}' (expected a, i, p or b)"
            ));
        }
    };
    let value = |name: &str| -> Result<Option<f64>, String> {
        match names.iter().position(|n| n == name) {
            None => Ok(None),
            Some(i) => number(tokens[2 + i])
                .map(Some)
                .ok_or_else(|| format!("{name} '{}' is not a number", tokens[2 + i])),
        }
    };
    let required =
        |name: &str| value(name)?.ok_or_else(|| format!("no {name} column in the header"));
    Ok(LogSummary {
        scope,
        frames,
        kbps: required("BITRATE")?,
        psnr_y: required("Y-PSNR")?,
        psnr_u: required("U-PSNR")?,
        psnr_v: required("V-PSNR")?,
        psnr_yuv_log: value("YUV-PSNR")?,
    })
}

/// `POC <integer> ... bits ...`.
fn is_picture_line(line: &str) -> bool {
    let mut t = line.split_whitespace();
    t.next() == Some("POC")
        && t.next().is_some_and(|p| p.parse::<i64>().is_ok())
        && line.contains(" bits")
}

/// One per-picture line.
fn parse_picture(line: &str) -> Result<PictureStats, String> {
    let poc = line["POC".len()..]
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or("POC is not a number")?;
    let open = line.find('(').ok_or("no '(' after the POC")?;
    let close = open + line[open..].find(')').ok_or("no ')' after the POC")?;
    let fields: Vec<&str> = line[open + 1..close].split(',').map(str::trim).collect();
    let nal_type = fields.first().copied().unwrap_or_default().to_owned();
    let slice_type = match fields.get(1).copied() {
        Some("I-SLICE") => SliceType::I,
        Some("P-SLICE") => SliceType::P,
        Some("B-SLICE") => SliceType::B,
        other => return Err(format!("unknown slice type {other:?}")),
    };
    let qp = fields
        .iter()
        .find_map(|f| f.strip_prefix("QP "))
        .and_then(|q| q.trim().parse().ok())
        .ok_or("no 'QP <n>' in the parentheses")?;
    let after = &line[close + 1..];
    let bits_at = after.find(" bits").ok_or("no '<n> bits'")?;
    let bits = after[..bits_at]
        .split_whitespace()
        .next_back()
        .and_then(|b| b.parse().ok())
        .ok_or("bit count is not a number")?;
    let rest = &after[bits_at..];
    let psnr_open = rest.find('[').ok_or("no '[Y ... dB ...]' PSNR block")?;
    let psnr_close = psnr_open
        + rest[psnr_open..]
            .find(']')
            .ok_or("unterminated PSNR block")?;
    let tokens: Vec<&str> = rest[psnr_open + 1..psnr_close].split_whitespace().collect();
    let component = |name: &str| -> Result<Option<f64>, String> {
        match tokens.iter().position(|&t| t == name) {
            None => Ok(None),
            Some(i) => tokens
                .get(i + 1)
                .and_then(|v| number(v))
                .map(Some)
                .ok_or_else(|| format!("{name} PSNR is not a number")),
        }
    };
    Ok(PictureStats {
        poc,
        nal_type,
        slice_type,
        qp,
        bits,
        psnr_y: component("Y")?.ok_or("no Y PSNR in the PSNR block")?,
        psnr_u: component("U")?,
        psnr_v: component("V")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_only_level_prefixes() {
        assert_eq!(strip_prefix("vvenc [info]:\tTotal"), "\tTotal");
        assert_eq!(strip_prefix("vvencFFapp [info]: x"), " x");
        let poc = "POC 1 TId: 0 ( CRA, I-SLICE, QP 17, TF 0) 1 bits [Y 1 dB] [ET 0 ]";
        assert_eq!(strip_prefix(poc), poc);
        assert_eq!(strip_prefix("[Y 1 dB]: odd"), "[Y 1 dB]: odd");
    }

    #[test]
    fn summary_with_extra_columns_and_nan() {
        let log = "\tTotal Frames |  Bitrate Y-PSNR U-PSNR V-PSNR YUV-PSNR Y-MSE\n\
                   \t 0 p nan -nan nan nan nan nan\n\
                   \tTotal Frames |  Bitrate Y-PSNR U-PSNR V-PSNR\n\t 4 a 10.5 30 40 41\n";
        let l = parse_encoder_log(log).unwrap();
        assert_eq!(l.summaries.len(), 2);
        assert!(l.summaries[0].kbps.is_nan());
        assert_eq!(l.summary.frames, 4);
        assert_eq!(l.summary.psnr_yuv_log, None);
        assert!(l.pictures.is_empty());
    }

    #[test]
    fn malformed_logs_are_errors() {
        assert!(matches!(
            parse_encoder_log("hello\n"),
            Err(ParseError::NoSummary)
        ));
        let e = parse_encoder_log("Total Frames | Bitrate Y-PSNR U-PSNR V-PSNR\n 8 a 1 2\n");
        assert!(matches!(e, Err(ParseError::Line { line: 2, .. })));
        let e = parse_encoder_log("Total Frames | Bitrate Y-PSNR U-PSNR V-PSNR\n");
        assert!(matches!(e, Err(ParseError::Line { line: 1, .. })));
        let e = parse_encoder_log("Total Frames | Bitrate Y-PSNR U-PSNR\n 8 a 1 2 3\n");
        assert!(e.unwrap_err().to_string().contains("V-PSNR"));
        let e = parse_encoder_log("POC 3 ( CRA, X-SLICE, QP 3 ) 10 bits [Y 1 dB]\n");
        assert!(e.unwrap_err().to_string().contains("slice type"));
        let e = parse_encoder_log("POC 3 ( CRA, B-SLICE, QP 3 ) 10 bits [U 1 dB]\n");
        assert!(e.unwrap_err().to_string().contains("no Y"));
        // A POC line without bits (e.g. a decoder line) is not a picture line.
        let ok = "POC 3 TId: 0 ( CRA, B-SLICE, QP 3 ) [DT 0.1]\nTotal Frames | Bitrate Y-PSNR \
                  U-PSNR V-PSNR\n 1 a 1 2 3 4\n";
        assert!(parse_encoder_log(ok).unwrap().pictures.is_empty());
    }

    #[test]
    fn monochrome_picture_line() {
        let p = parse_picture("POC 7 LId: 0 TId: 2 ( TRAIL, B-SLICE, QP 40 ) 96 bits [Y 30.5 dB]")
            .unwrap();
        assert_eq!(
            (p.poc, p.slice_type, p.qp, p.bits),
            (7, SliceType::B, 40, 96)
        );
        assert_eq!((p.psnr_y, p.psnr_u), (30.5, None));
    }
}
