//! Decoding VVC bitstreams with `vvdec` into 10-bit pictures.

use std::collections::HashMap;
use std::path::Path;

use vvdec::{Decoder, Frame, PlaneComponent};

use super::annexb::split_nal_units;
use super::error::{CorpusError, Result};
use super::log::{LogPicture, read_encoder_log};
use super::picture::{BIT_DEPTH, Picture10};

/// Decodes a bitstream file and attaches the slice QPs of its encoder log.
///
/// Pictures come in output order with their POC. When the log (`<bitstream>` with extension
/// `.log`) exists, each picture's `slice_qp` is set from it (see [`attach_slice_qps`]); without a
/// log `slice_qp` stays `None`. Uses vvdec's default (automatic) thread count.
pub fn decode(bitstream: &Path) -> Result<Vec<Picture10>> {
    decode_with_threads(bitstream, -1)
}

/// [`decode`] with an explicit vvdec thread count (`-1` automatic, `1` for one thread, which is
/// what the corpus uses when it decodes several bitstreams in parallel).
pub fn decode_with_threads(bitstream: &Path, threads: i32) -> Result<Vec<Picture10>> {
    let data = std::fs::read(bitstream).map_err(|e| CorpusError::io(bitstream, e))?;
    let mut pictures = decode_bytes(&data, threads, bitstream)?;
    let log = bitstream.with_extension("log");
    if log.is_file() {
        let entries = read_encoder_log(&log)?;
        attach_slice_qps(&mut pictures, &entries, &log)?;
    }
    Ok(pictures)
}

/// Decodes an Annex-B VVC byte stream held in memory: it is split at start codes, fed to vvdec
/// one NAL unit at a time, then the decoder is flushed. Pictures are returned in output order
/// with `poc` set (when vvdec reports picture attributes) and `slice_qp` unset.
/// `path` is for messages.
pub fn decode_bytes(data: &[u8], threads: i32, path: &Path) -> Result<Vec<Picture10>> {
    let vv = |source| CorpusError::Vvdec {
        path: path.to_owned(),
        source,
    };
    let mut dec = Decoder::builder()
        .num_threads(threads)
        .build()
        .map_err(vv)?;
    let mut out = Vec::new();
    let units = split_nal_units(data);
    if units.is_empty() {
        return Err(CorpusError::Picture {
            path: path.to_owned(),
            msg: "no Annex-B start code: not a VVC byte stream".into(),
        });
    }
    for unit in units {
        match dec.decode(unit) {
            Ok(Some(frame)) => out.push(convert(&frame, path)?),
            Ok(None) | Err(vvdec::Error::TryAgain) => {}
            Err(e) => return Err(vv(e)),
        }
    }
    loop {
        match dec.flush() {
            Ok(Some(frame)) => out.push(convert(&frame, path)?),
            Ok(None) | Err(vvdec::Error::Eof) => break,
            // Flushing a decoder that never produced anything: nothing to flush.
            Err(vvdec::Error::RestartRequired) if out.is_empty() => break,
            Err(e) => return Err(vv(e)),
        }
    }
    if let Some(first) = out.first() {
        let size = (first.width, first.height);
        if let Some((i, p)) = out
            .iter()
            .enumerate()
            .find(|(_, p)| (p.width, p.height) != size)
        {
            return Err(CorpusError::Picture {
                path: path.to_owned(),
                msg: format!(
                    "picture {i} is {}x{}, the first is {}x{}",
                    p.width, p.height, size.0, size.1
                ),
            });
        }
    }
    Ok(out)
}

/// Copies a decoded frame into a [`Picture10`], checking it is 10-bit 4:2:0.
fn convert(frame: &Frame, path: &Path) -> Result<Picture10> {
    let bad = |msg: String| CorpusError::Picture {
        path: path.to_owned(),
        msg,
    };
    if frame.bit_depth() != BIT_DEPTH {
        return Err(bad(format!(
            "decoded bit depth {}, expected {BIT_DEPTH}",
            frame.bit_depth()
        )));
    }
    if frame.num_planes() != 3 {
        return Err(bad(format!(
            "{} planes (expected 3, 4:2:0)",
            frame.num_planes()
        )));
    }
    let (width, height) = (frame.width() as usize, frame.height() as usize);
    let mut pic = Picture10::zeroed(width, height);
    pic.poc = frame.picture_attributes().map(|a| a.poc);
    for (c, comp) in [PlaneComponent::Y, PlaneComponent::U, PlaneComponent::V]
        .into_iter()
        .enumerate()
    {
        let plane = frame
            .plane(comp)
            .ok_or_else(|| bad(format!("plane {c} missing")))?;
        let (w, h) = pic.plane_size(c);
        if (plane.width() as usize, plane.height() as usize) != (w, h) {
            return Err(bad(format!(
                "plane {c} is {}x{}, expected {w}x{h} (4:2:0 of {width}x{height})",
                plane.width(),
                plane.height()
            )));
        }
        if plane.bytes_per_sample() != 2 {
            return Err(bad(format!(
                "plane {c}: {} bytes per sample, expected 2",
                plane.bytes_per_sample()
            )));
        }
        let stride = plane.stride() as usize;
        let bytes: &[u8] = &plane;
        if stride < 2 * w || bytes.len() < stride * (h - 1) + 2 * w {
            return Err(bad(format!(
                "plane {c}: stride {stride} bytes too small for width {w}"
            )));
        }
        let dst = pic.plane_mut(c);
        for r in 0..h {
            let row = &bytes[r * stride..r * stride + 2 * w];
            for (d, s) in dst[r * w..(r + 1) * w].iter_mut().zip(row.chunks_exact(2)) {
                // vvdec's planes are native-endian 16-bit samples.
                *d = u16::from_ne_bytes([s[0], s[1]]);
            }
        }
        if let Some(v) = dst.iter().find(|&&v| v > 1023) {
            return Err(bad(format!("plane {c}: sample {v} exceeds 10 bits")));
        }
    }
    Ok(pic)
}

/// Sets `slice_qp` and `kind` (intra / inter) of decoded pictures (in output order) from the encoder log's picture lines
/// (in coding order).
///
/// Matching: the log must have exactly one line per picture and no POC twice. When every picture
/// carries a POC (vvdec reports it), picture and log line are matched by POC, and a POC missing
/// from the log is an error. Otherwise the `i`-th output picture gets the log line with the
/// `i`-th smallest POC (output order is POC order within a coded video sequence, and VVenC's
/// POCs run from 0 to frames-1 across the whole stream).
pub fn attach_slice_qps(
    pictures: &mut [Picture10],
    log: &[LogPicture],
    log_path: &Path,
) -> Result<()> {
    let err = |msg: String| CorpusError::Log {
        path: log_path.to_owned(),
        msg,
    };
    if log.len() != pictures.len() {
        return Err(err(format!(
            "{} picture lines for {} decoded pictures",
            log.len(),
            pictures.len()
        )));
    }
    let by_poc: HashMap<i64, &LogPicture> = log.iter().map(|l| (l.poc, l)).collect();
    if by_poc.len() != log.len() {
        return Err(err("a POC appears twice".into()));
    }
    if pictures.iter().all(|p| p.poc.is_some()) {
        for (i, p) in pictures.iter_mut().enumerate() {
            let poc = p.poc.unwrap_or_default();
            let l = by_poc
                .get(&poc)
                .ok_or_else(|| err(format!("output picture {i} has POC {poc}, not in the log")))?;
            p.slice_qp = Some(l.qp);
            p.kind = Some(l.kind());
        }
    } else {
        let mut sorted: Vec<&LogPicture> = log.iter().collect();
        sorted.sort_by_key(|l| l.poc);
        for (p, l) in pictures.iter_mut().zip(sorted) {
            p.slice_qp = Some(l.qp);
            p.kind = Some(l.kind());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_pic(poc: i64, qp: i32) -> LogPicture {
        LogPicture {
            poc,
            slice_type: "B-SLICE".into(),
            qp,
            bits: 0,
            psnr: [0.0; 3],
        }
    }

    #[test]
    fn qps_by_poc_and_by_order() {
        let log = [log_pic(2, 30), log_pic(0, 32), log_pic(1, 35)];
        let mut pics = vec![Picture10::zeroed(2, 2); 3];
        for (i, p) in pics.iter_mut().enumerate() {
            p.poc = Some(i as i64);
        }
        attach_slice_qps(&mut pics, &log, Path::new("l")).unwrap();
        assert_eq!(
            pics.iter().map(|p| p.slice_qp).collect::<Vec<_>>(),
            [Some(32), Some(35), Some(30)]
        );
        pics[0].poc = None;
        pics[1].slice_qp = None;
        attach_slice_qps(&mut pics, &log, Path::new("l")).unwrap();
        assert_eq!(pics[1].slice_qp, Some(35));
        pics[0].poc = Some(7);
        pics[1].poc = Some(8);
        pics[2].poc = Some(9);
        assert!(attach_slice_qps(&mut pics, &log, Path::new("l")).is_err());
        assert!(attach_slice_qps(&mut pics[..2], &log, Path::new("l")).is_err());
    }

    #[test]
    fn garbage_is_not_a_bitstream() {
        assert!(decode_bytes(&[1, 2, 3, 4, 5], 1, Path::new("x.266")).is_err());
    }
}
