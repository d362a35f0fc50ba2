//! `lut-filter look`: pictures of what the filter does to one frame (the library's
//! `lut_filter::look` renders them; this reads the inputs and writes the files).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use lut_filter::Component;
use lut_filter::look::{self, ColorSpec, Options, PlanePsnr, YCbCr};

use crate::filter::{filter_planes, resolve_models};
use crate::still::{self, Kind};
use crate::{Usage, lib_err, open_container};

/// Options of the `look` subcommand (parsed by `main`).
#[derive(Debug)]
pub struct LookArgs {
    pub original: PathBuf,
    pub reconstruction: PathBuf,
    pub filtered: Option<PathBuf>,
    pub lut: Option<PathBuf>,
    pub qp: Option<i32>,
    pub frame: usize,
    pub out: PathBuf,
    pub options: Options,
    pub still_bit_depth: u8,
    pub json: bool,
}

/// Frame `index` of a Y4M file or a PNG/JPEG still (frame 0 only), as 16-bit samples.
fn load(path: &Path, index: usize, depth: u8, spec: ColorSpec) -> Result<YCbCr> {
    let context = || format!("reading {}", path.display());
    if still::kind(path) == Kind::Still {
        if index != 0 {
            return Err(Usage(format!(
                "--frame {index} is out of range: {} is a still picture (frame 0 only)",
                path.display()
            ))
            .into());
        }
        return still::read(path, depth, spec).with_context(context);
    }
    still::y4m_frame(path, index, false)
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Runs the command; returns the summary for stdout.
pub fn run(args: &LookArgs) -> Result<String> {
    let spec = args.options.color;
    let depth = args.still_bit_depth;
    let original = load(&args.original, args.frame, depth, spec)?;
    let recon = load(&args.reconstruction, args.frame, depth, spec)?;
    let (filtered, how) = match &args.filtered {
        Some(path) => (
            load(path, args.frame, depth, spec)?,
            format!("filtered: {}", file_name(path)),
        ),
        None => {
            let qp = args.qp.ok_or_else(|| {
                Usage(
                    "give --filtered FILE, or --qp N (the slice QP of the reconstruction) to \
                     filter it here with --lut FILE or the embedded default"
                        .into(),
                )
            })?;
            let (container, source) = open_container(args.lut.as_deref(), false)?;
            let (models, plan) = resolve_models(
                &container,
                &source,
                &Component::ALL,
                qp,
                None,
                recon.chroma_format != lut_filter::ChromaFormat::Yuv400,
                recon.bit_depth,
                &args.reconstruction,
            )?;
            let mut out: [Vec<u16>; 3] = Default::default();
            filter_planes(&recon.picture()?, &models, &mut out)
                .with_context(|| format!("frame {}", args.frame))?;
            for (i, plane) in out.iter_mut().enumerate() {
                if models[i].is_none() {
                    plane.clone_from(&recon.planes[i]);
                }
            }
            let name = args.lut.as_deref().map_or("default".into(), file_name);
            (
                YCbCr {
                    planes: out,
                    ..recon.clone()
                },
                format!("filtered at QP {qp} with {name} ({})", plan.join(", ")),
            )
        }
    };
    let mut options = args.options.clone();
    if options.title.is_none() {
        let short = how.split(" (").next().unwrap_or(&how).to_string();
        options.title = Some(format!(
            "{}, frame {}; {short}",
            file_name(&args.reconstruction),
            args.frame
        ));
    }
    let pictures = look::render(
        &original.picture()?,
        &recon.picture()?,
        &filtered.picture()?,
        &options,
    )
    .map_err(|e| match e {
        look::LookError::Lut(inner) => lib_err(inner),
        other => anyhow!(other),
    })
    .with_context(|| {
        format!(
            "comparing {} with {}",
            args.original.display(),
            args.reconstruction.display()
        )
    })?;
    let written = pictures
        .write(&args.out)
        .with_context(|| format!("writing pictures into {}", args.out.display()))?;
    report(args, &how, &pictures.summary, &written)
}

fn report(args: &LookArgs, how: &str, s: &look::Summary, written: &[PathBuf]) -> Result<String> {
    if args.json {
        let doc = serde_json::json!({
            "original": args.original.display().to_string(),
            "reconstruction": args.reconstruction.display().to_string(),
            "frame": args.frame,
            "filter": how,
            "files": written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "summary": s,
        });
        return Ok(format!("{}\n", serde_json::to_string_pretty(&doc)?));
    }
    let cell = |v: Option<f64>, signed: bool| match v {
        None => format!("{:>10}", "-"),
        Some(v) if signed => format!("{v:>+10.4}"),
        Some(v) => format!("{v:>10.4}"),
    };
    let row = |name: &str, p: &PlanePsnr, signed: bool| {
        format!(
            "{name:<16}{}{}{}",
            cell(Some(p.y), signed),
            cell(p.u, signed),
            cell(p.v, signed)
        )
    };
    let mut out = String::new();
    writeln!(
        out,
        "frame {} of {}: {}x{}, compared at {} bit; {how}",
        args.frame,
        args.reconstruction.display(),
        s.width,
        s.height,
        s.bit_depth
    )?;
    writeln!(out, "{:<16}{:>10}{:>10}{:>10}", "PSNR dB", "Y", "U", "V")?;
    writeln!(
        out,
        "{}",
        row("reconstruction", &s.psnr_reconstruction, false)
    )?;
    writeln!(out, "{}", row("filtered", &s.psnr_filtered, false))?;
    writeln!(out, "{}", row("delta", &s.psnr_delta, true))?;
    writeln!(
        out,
        "luma: {} of {} samples changed, max |change| {}; zoom window {}x{} at ({},{}), \
         sum |F-R| {}; difference gain {}",
        s.changed_luma_samples,
        s.width * s.height,
        s.max_luma_change,
        s.crop.width,
        s.crop.height,
        s.crop.x,
        s.crop.y,
        s.crop.change,
        s.difference_gain
    )?;
    writeln!(
        out,
        "blocks {b}x{b}: {} better, {} worse, {} unchanged; luma SSE change {:+}",
        s.blocks_better,
        s.blocks_worse,
        s.blocks_unchanged,
        s.luma_sse_delta,
        b = s.block
    )?;
    for p in written {
        writeln!(out, "wrote {}", p.display())?;
    }
    Ok(out)
}
