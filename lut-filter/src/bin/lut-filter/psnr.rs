//! `lut-filter psnr`: PSNR as VTM reports it (DESIGN §4).
//!
//! Both files are brought to the computation bit depth `B` (8-bit samples shifted left), the
//! peak is `255 << (B - 8)` (1020 at 10 bit, not 1023), PSNR is computed per frame and plane,
//! `10 log10(peak^2 N / SSE)`, or 999.99 dB where SSE is 0 (VTM's convention), and the sequence
//! value is the mean of the per-frame values. "YUV" is `(6 Y + U + V) / 8`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};
use lut_filter::ChromaFormat;

use crate::Usage;
use crate::y4m_io::{FileSample, Frame, Info, Reader};

/// PSNR of a plane without error (VTM).
pub const ZERO_ERROR_PSNR: f64 = 999.99;

/// PSNR from a sum of squared errors over `n` samples.
pub fn psnr(sse: u64, n: usize, peak: f64) -> f64 {
    if sse == 0 {
        ZERO_ERROR_PSNR
    } else {
        10.0 * (peak * peak * n as f64 / sse as f64).log10()
    }
}

/// One file, read as samples at the computation bit depth.
struct Input<'p> {
    path: &'p Path,
    reader: Reader,
    shift: u32,
    f8: Frame<u8>,
    f16: Frame<u16>,
    planes: [Vec<u16>; 3],
}

impl<'p> Input<'p> {
    fn open(path: &'p Path) -> Result<Self> {
        let reader = Reader::open(path).with_context(|| format!("reading {}", path.display()))?;
        Ok(Input {
            path,
            reader,
            shift: 0,
            f8: Frame::default(),
            f16: Frame::default(),
            planes: Default::default(),
        })
    }

    fn info(&self) -> &Info {
        self.reader.info()
    }

    /// Reads the next frame into `planes` (scaled); `false` at the end.
    fn next(&mut self) -> Result<bool> {
        let more = if self.info().bit_depth > 8 {
            self.reader.read_into(&mut self.f16)
        } else {
            self.reader.read_into(&mut self.f8)
        }
        .with_context(|| format!("reading {}", self.path.display()))?;
        if more {
            if self.info().bit_depth > 8 {
                scale(&self.f16, self.shift, &mut self.planes);
            } else {
                scale(&self.f8, self.shift, &mut self.planes);
            }
        }
        Ok(more)
    }
}

fn scale<T: FileSample>(frame: &Frame<T>, shift: u32, out: &mut [Vec<u16>; 3]) {
    for (dst, src) in out.iter_mut().zip(&frame.planes) {
        dst.clear();
        dst.extend(src.iter().map(|&s| (s.to_i32() << shift) as u16));
    }
}

fn format_name(f: ChromaFormat) -> &'static str {
    match f {
        ChromaFormat::Yuv400 => "4:0:0",
        ChromaFormat::Yuv420 => "4:2:0",
        ChromaFormat::Yuv422 => "4:2:2",
        ChromaFormat::Yuv444 => "4:4:4",
    }
}

/// Per-frame PSNR of Y, U, V (`None` for absent chroma) and the YUV combination.
#[derive(Clone, Copy, Debug)]
struct Row {
    y: f64,
    u: Option<f64>,
    v: Option<f64>,
}

impl Row {
    fn yuv(&self) -> f64 {
        match (self.u, self.v) {
            (Some(u), Some(v)) => (6.0 * self.y + u + v) / 8.0,
            _ => self.y,
        }
    }
}

/// Runs the command; returns the report.
pub fn run(a: &Path, b: &Path, bit_depth: Option<u8>, json: bool) -> Result<String> {
    let mut ia = Input::open(a)?;
    let mut ib = Input::open(b)?;
    let (fa, fb) = (ia.info().clone(), ib.info().clone());
    if (fa.width, fa.height) != (fb.width, fb.height) {
        bail!(
            "picture sizes differ: {} is {}x{}, {} is {}x{}",
            a.display(),
            fa.width,
            fa.height,
            b.display(),
            fb.width,
            fb.height
        );
    }
    if fa.chroma_format != fb.chroma_format {
        bail!(
            "chroma formats differ: {} is {} ({:?}), {} is {} ({:?})",
            a.display(),
            format_name(fa.chroma_format),
            fa.colorspace,
            b.display(),
            format_name(fb.chroma_format),
            fb.colorspace
        );
    }
    let depth = bit_depth.unwrap_or(fa.bit_depth.max(fb.bit_depth));
    for (p, f) in [(a, &fa), (b, &fb)] {
        if depth < f.bit_depth {
            return Err(Usage(format!(
                "--bit-depth {depth} is below the bit depth of {} ({}-bit); use at least {}",
                p.display(),
                f.bit_depth,
                f.bit_depth
            ))
            .into());
        }
    }
    ia.shift = u32::from(depth - fa.bit_depth);
    ib.shift = u32::from(depth - fb.bit_depth);
    let peak = f64::from(255u32 << (depth - 8));
    let sizes = fa.plane_sizes();
    let planes = fa.plane_count();

    let mut rows = Vec::new();
    loop {
        let (more_a, more_b) = (ia.next()?, ib.next()?);
        match (more_a, more_b) {
            (true, true) => {}
            (false, false) => break,
            (more_a, _) => {
                let n = rows.len();
                let (longer, rest) = if more_a {
                    (a, 1 + ia.reader.count_remaining()?)
                } else {
                    (b, 1 + ib.reader.count_remaining()?)
                };
                let shorter = if more_a { b } else { a };
                bail!(
                    "frame counts differ: {} has {n} frames, {} has {}",
                    shorter.display(),
                    longer.display(),
                    n + rest
                );
            }
        }
        let mut values = [None; 3];
        for (i, value) in values.iter_mut().enumerate().take(planes) {
            let sse: u64 = ia.planes[i]
                .iter()
                .zip(&ib.planes[i])
                .map(|(&x, &y)| {
                    let d = i64::from(x) - i64::from(y);
                    (d * d) as u64
                })
                .sum();
            *value = Some(psnr(sse, sizes[i].0 * sizes[i].1, peak));
        }
        rows.push(Row {
            y: values[0].expect("luma"),
            u: values[1],
            v: values[2],
        });
    }
    if rows.is_empty() {
        bail!("{} and {} hold no frame", a.display(), b.display());
    }
    let n = rows.len() as f64;
    let mean_of = |f: &dyn Fn(&Row) -> Option<f64>| -> Option<f64> {
        rows.iter().map(f).sum::<Option<f64>>().map(|s| s / n)
    };
    let mean = Row {
        y: mean_of(&|r| Some(r.y)).expect("luma"),
        u: mean_of(&|r| r.u),
        v: mean_of(&|r| r.v),
    };
    let mean_yuv = rows.iter().map(Row::yuv).sum::<f64>() / n;

    if json {
        let frames: Vec<_> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                serde_json::json!({"frame": i, "y": r.y, "u": r.u, "v": r.v, "yuv": r.yuv()})
            })
            .collect();
        let doc = serde_json::json!({
            "a": a.display().to_string(),
            "b": b.display().to_string(),
            "width": fa.width,
            "height": fa.height,
            "chroma_format": format_name(fa.chroma_format),
            "bit_depth": depth,
            "peak": peak,
            "frames": frames,
            "mean": {"y": mean.y, "u": mean.u, "v": mean.v, "yuv": mean_yuv},
        });
        return Ok(format!("{}\n", serde_json::to_string_pretty(&doc)?));
    }

    let cell = |v: Option<f64>| v.map_or_else(|| format!("{:>10}", "-"), |v| format!("{v:>10.4}"));
    let mut out = String::new();
    writeln!(
        out,
        "{} vs {}: {}x{} {}, {} frames, PSNR at {depth} bit (peak {peak})",
        a.display(),
        b.display(),
        fa.width,
        fa.height,
        format_name(fa.chroma_format),
        rows.len()
    )?;
    writeln!(
        out,
        "{:>6} {:>10} {:>10} {:>10} {:>10}",
        "frame", "Y-PSNR", "U-PSNR", "V-PSNR", "YUV-PSNR"
    )?;
    for (i, r) in rows.iter().enumerate() {
        writeln!(
            out,
            "{i:>6} {} {} {} {}",
            cell(Some(r.y)),
            cell(r.u),
            cell(r.v),
            cell(Some(r.yuv()))
        )?;
    }
    writeln!(
        out,
        "{:>6} {} {} {} {}",
        "mean",
        cell(Some(mean.y)),
        cell(mean.u),
        cell(mean.v),
        cell(Some(mean_yuv))
    )?;
    Ok(out)
}
