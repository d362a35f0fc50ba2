//! `lut-filter filter`: filters every frame of a Y4M file with a container's models, or a
//! PNG/JPEG still converted to Y'CbCr 4:2:0 (`still`), written back as PNG or Y4M.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use lut_filter::look::YCbCr;
use lut_filter::{Component, Container, Model, Picture, PictureKind, PlaneMut, Sample};

use crate::still::{self, ColorArgs, Kind, OutputKind};
use crate::y4m_io::{self, FileSample, Frame, Reader};
use crate::{Usage, lib_err, open_container};

/// Options of the `filter` subcommand (parsed by `main`).
#[derive(Debug)]
pub struct FilterArgs {
    pub input: PathBuf,
    pub output: PathBuf,
    pub lut: Option<PathBuf>,
    pub read_into_memory: bool,
    pub qp: i32,
    /// The pictures' kind (`--slice-type`); `None`: unknown.
    pub kind: Option<PictureKind>,
    pub components: Vec<Component>,
    pub quiet: bool,
    /// Bit depth of a converted still (PNG/JPEG input only).
    pub bit_depth: Option<u8>,
    /// Matrix and range of a converted still (PNG/JPEG input only).
    pub color: ColorArgs,
}

/// What a run did, for the summary line.
struct Stats {
    frames: usize,
    samples: u64,
    filtering: Duration,
}

/// Runs the command; returns the summary line (empty with `--quiet`).
pub fn run(args: &FilterArgs) -> Result<String> {
    let start = Instant::now();
    let (container, source) = open_container(args.lut.as_deref(), args.read_into_memory)?;
    let output_kind = still::output_kind(&args.output);
    if still::kind(&args.input) == Kind::Still {
        let kind = output_kind.ok_or_else(|| {
            Usage(format!(
                "{}: the output of a PNG/JPEG input must end in .png or .y4m",
                args.output.display()
            ))
        })?;
        let depth = args.bit_depth.unwrap_or(still::DEFAULT_STILL_BIT_DEPTH);
        let yuv = still::read(&args.input, depth, args.color.spec())
            .with_context(|| format!("reading {}", args.input.display()))?;
        return run_single(args, &container, &source, yuv, kind, start);
    }
    if args.bit_depth.is_some() {
        return Err(Usage(
            "--bit-depth applies to PNG/JPEG input only (a Y4M file states its own bit depth)"
                .into(),
        )
        .into());
    }
    if output_kind == Some(OutputKind::Png) {
        let yuv = still::y4m_frame(&args.input, 0, true)?;
        return run_single(args, &container, &source, yuv, OutputKind::Png, start);
    }
    if args.color.given() {
        return Err(
            Usage("--matrix and --range apply to PNG/JPEG input or output only".into()).into(),
        );
    }
    let mut reader =
        Reader::open(&args.input).with_context(|| format!("reading {}", args.input.display()))?;
    let info = reader.info().clone();
    let (models, plan) = resolve_models(
        &container,
        &source,
        &args.components,
        args.qp,
        args.kind,
        y4m_io::has_plane(&info, Component::U),
        info.bit_depth,
        &args.input,
    )?;

    let bar = progress_bar(args.quiet, reader.estimated_frames());
    // Everything goes through a temporary file renamed at the end: a failure at any point
    // leaves no output (and no temporary file) behind.
    let written = lut_filter::io::write_atomic_try(&args.output, |w| {
        if info.bit_depth > 8 {
            filter_frames::<u16, _>(&args.input, &mut reader, &models, w, &bar)
        } else {
            filter_frames::<u8, _>(&args.input, &mut reader, &models, w, &bar)
        }
    });
    bar.finish_and_clear();
    let stats = match written {
        Ok(stats) => stats,
        Err(e) if e.downcast_ref::<lut_filter::Error>().is_some() => {
            return Err(lib_err(e.downcast::<lut_filter::Error>().expect("checked")))
                .with_context(|| format!("writing {}", args.output.display()));
        }
        Err(e) => return Err(e),
    };

    if args.quiet {
        return Ok(String::new());
    }
    let total = start.elapsed();
    let ns = |d: Duration| d.as_secs_f64() * 1e9 / stats.samples.max(1) as f64;
    Ok(format!(
        "{} -> {}: {} frames {} ({}), QP {}, threads {}: {:.3} s, filter {:.2} ns/sample \
             ({:.2} ns/sample total; Y+U+V samples)\n",
        args.input.display(),
        args.output.display(),
        stats.frames,
        info.summary(),
        plan.join(", "),
        args.qp,
        rayon::current_num_threads(),
        total.as_secs_f64(),
        ns(stats.filtering),
        ns(total),
    ))
}

fn progress_bar(quiet: bool, estimate: u64) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    // Drawn on stderr only when it is a terminal.
    ProgressBar::new(estimate).with_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} frames ({per_sec}, eta {eta})",
        )
        .expect("valid template"),
    )
}

fn filter_frames<T: FileSample, W: std::io::Write>(
    input: &Path,
    reader: &mut Reader,
    models: &[Option<Model<'_>>; 3],
    out: W,
    bar: &ProgressBar,
) -> Result<Stats> {
    let info = reader.info().clone();
    let mut writer = y4m_io::Writer::new(out, &info).context("writing the output header")?;
    let mut frame = Frame::<T>::default();
    let mut filtered: [Vec<T>; 3] = Default::default();
    let mut filtering = Duration::ZERO;
    let mut frames = 0usize;
    while reader
        .read_into(&mut frame)
        .with_context(|| format!("reading {}", input.display()))?
    {
        let pic = y4m_io::picture(&info, &frame).with_context(|| format!("frame {frames}"))?;
        let t = Instant::now();
        filter_planes(&pic, models, &mut filtered).with_context(|| format!("frame {frames}"))?;
        filtering += t.elapsed();
        let planes: [&[T]; 3] = std::array::from_fn(|i| {
            if models[i].is_some() {
                filtered[i].as_slice()
            } else {
                frame.planes[i].as_slice()
            }
        });
        writer
            .write_frame(planes, frame.params.as_deref())
            .with_context(|| format!("writing frame {frames}"))?;
        frames += 1;
        bar.inc(1);
    }
    if frames == 0 {
        bail!("reading {}: the file holds no frame", input.display());
    }
    Ok(Stats {
        frames,
        samples: frames as u64 * info.samples_per_frame() as u64,
        filtering,
    })
}

/// Resolves the model of each component in `components` at `qp`, refusing a model that cannot
/// run at `bit_depth` (before any output exists). Returns the models and a description of the
/// plan for the summary line.
#[allow(clippy::too_many_arguments)] // the selection (QP, kind), the picture's format, and two names for messages
pub(crate) fn resolve_models<'c>(
    container: &'c Container,
    source: &str,
    components: &[Component],
    qp: i32,
    kind: Option<PictureKind>,
    has_chroma: bool,
    bit_depth: u8,
    input: &Path,
) -> Result<([Option<Model<'c>>; 3], Vec<String>)> {
    let mut models: [Option<Model<'c>>; 3] = [None; 3];
    let mut plan = Vec::new();
    for &c in components {
        if c != Component::Y && !has_chroma {
            plan.push(format!("{c}: absent"));
            continue;
        }
        match container.select_for(c, qp, kind) {
            None => plan.push(format!("{c}: copied (no model)")),
            Some(m) => {
                let d = m.description();
                let [lo, hi] = d.bit_depths;
                if !(lo..=hi).contains(&bit_depth) {
                    bail!(
                        "model '{}' ({c}, {source}) supports bit depths {lo}..={hi}, but {} is \
                         {bit_depth}-bit",
                        d.name,
                        input.display(),
                    );
                }
                plan.push(format!("{c}: {}", d.name));
                models[c.index()] = Some(m);
            }
        }
    }
    Ok((models, plan))
}

/// Filters the planes of `pic` that have a model into `filtered` (others are left empty).
pub(crate) fn filter_planes<T: Sample>(
    pic: &Picture<'_, T>,
    models: &[Option<Model<'_>>; 3],
    filtered: &mut [Vec<T>; 3],
) -> Result<()> {
    for (i, model) in models.iter().enumerate() {
        let dst = &mut filtered[i];
        dst.clear();
        let (Some(model), Some(src)) = (model, pic.planes[i]) else {
            continue;
        };
        let (w, h) = (src.width(), src.height());
        for y in 0..h {
            dst.extend_from_slice(src.row(y));
        }
        let mut plane = PlaneMut::new(dst, w, w, h).map_err(lib_err)?;
        model
            .filter_plane(pic, &mut plane)
            .map_err(lib_err)
            .with_context(|| format!("filtering {}", model.description().component))?;
    }
    Ok(())
}

/// `filter` on one picture (a converted still, or a one-frame Y4M file for PNG output):
/// filter, write PNG or Y4M.
fn run_single(
    args: &FilterArgs,
    container: &Container,
    source: &str,
    yuv: YCbCr,
    kind: OutputKind,
    start: Instant,
) -> Result<String> {
    let spec = args.color.spec();
    let depth = yuv.bit_depth;
    let (models, plan) = resolve_models(
        container,
        source,
        &args.components,
        args.qp,
        args.kind,
        yuv.chroma_format != lut_filter::ChromaFormat::Yuv400,
        depth,
        &args.input,
    )?;
    let mut filtered: [Vec<u16>; 3] = Default::default();
    let t = Instant::now();
    filter_planes(&yuv.picture()?, &models, &mut filtered)?;
    let filtering = t.elapsed();
    let planes = std::array::from_fn(|i| {
        if models[i].is_some() {
            std::mem::take(&mut filtered[i])
        } else {
            yuv.planes[i].clone()
        }
    });
    let out = YCbCr { planes, ..yuv };
    still::write(&args.output, kind, &out, spec)
        .with_context(|| format!("writing {}", args.output.display()))?;
    if args.quiet {
        return Ok(String::new());
    }
    let samples = out.planes.iter().map(Vec::len).sum::<usize>().max(1) as f64;
    Ok(format!(
        "{} -> {}: one picture {}x{} {:?} {}-bit ({:?}, {:?} range) ({}), QP {}: {:.3} s, \
         filter {:.2} ns/sample\n",
        args.input.display(),
        args.output.display(),
        out.width,
        out.height,
        out.chroma_format,
        depth,
        spec.matrix,
        spec.range,
        plan.join(", "),
        args.qp,
        start.elapsed().as_secs_f64(),
        filtering.as_secs_f64() * 1e9 / samples,
    ))
}
