//! `lut-filter filter`: filters every frame of a Y4M file with a container's models.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use lut_filter::{Component, Model, PlaneMut};

use crate::y4m_io::{self, FileSample, Frame, Reader};
use crate::{lib_err, open_container};

/// Options of the `filter` subcommand (parsed by `main`).
#[derive(Debug)]
pub struct FilterArgs {
    pub input: PathBuf,
    pub output: PathBuf,
    pub lut: Option<PathBuf>,
    pub read_into_memory: bool,
    pub qp: i32,
    pub components: Vec<Component>,
    pub quiet: bool,
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
    let mut reader =
        Reader::open(&args.input).with_context(|| format!("reading {}", args.input.display()))?;
    let info = reader.info().clone();

    // Resolve the models once, and refuse a model that cannot run on this file before any
    // output exists.
    let mut models: [Option<Model<'_>>; 3] = [None; 3];
    let mut plan = Vec::new();
    for &c in &args.components {
        if !y4m_io::has_plane(&info, c) {
            plan.push(format!("{c}: absent"));
            continue;
        }
        match container.select(c, args.qp) {
            None => plan.push(format!("{c}: copied (no model)")),
            Some(m) => {
                let d = m.description();
                let [lo, hi] = d.bit_depths;
                if !(lo..=hi).contains(&info.bit_depth) {
                    bail!(
                        "model '{}' ({c}, {source}) supports bit depths {lo}..={hi}, but {} is \
                         {}-bit",
                        d.name,
                        args.input.display(),
                        info.bit_depth
                    );
                }
                plan.push(format!("{c}: {}", d.name));
                models[c.index()] = Some(m);
            }
        }
    }

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
    let sizes = info.plane_sizes();
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
        for (i, model) in models.iter().enumerate() {
            let Some(model) = model else { continue };
            let (w, h) = sizes[i];
            let dst = &mut filtered[i];
            dst.clear();
            dst.extend_from_slice(&frame.planes[i]);
            let mut plane = PlaneMut::new(dst, w, w, h).map_err(lib_err)?;
            model
                .filter_plane(&pic, &mut plane)
                .map_err(lib_err)
                .with_context(|| {
                    format!(
                        "frame {frames}: filtering {}",
                        model.description().component
                    )
                })?;
        }
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
