//! `lut-filter bench`: time a container's models on a synthetic picture (smooth content with
//! noise, like a decoded picture) at a chosen size, 1 thread and all threads, at the SIMD level
//! `LUT_FILTER_SIMD` selects (or the one given to [`run_with`]).
//!
//! Besides wall-clock time it reports the on-CPU time of the process's threads (Linux:
//! `/proc/self/task/*/schedstat`), which stays meaningful on a machine shared with other work.

use std::time::Instant;

use anyhow::{Context, Result};
use lut_filter::description::Grid;
use lut_filter::simd::{Choice, Level};
use lut_filter::{ChromaFormat, Component, Model, Node, Picture, Plane, PlaneMut, Region};

use crate::{lib_err, open_container};

/// Options of `bench`.
#[derive(Debug)]
pub struct BenchArgs {
    pub lut: Option<std::path::PathBuf>,
    pub width: usize,
    pub height: usize,
    pub bit_depth: u8,
    pub qp: i32,
    /// The pictures' kind (`--slice-type`); `None`: unknown.
    pub kind: Option<lut_filter::PictureKind>,
    pub runs: usize,
    pub threads: Vec<usize>,
    /// Luma CTU size: filter region by region (`None`: one call per plane).
    pub ctu: Option<usize>,
}

/// Look-ups per sample of a model's component, 4:2:0: simplex (spatial nodes) and trilinear
/// (channel nodes).
#[derive(Clone, Copy, Default)]
struct LookUps {
    simplex: f64,
    trilinear: f64,
}

/// Table rows a simplex look-up reads (its 5 vertices), and a trilinear one (8 corners).
const SIMPLEX_ROWS: f64 = 5.0;
const TRILINEAR_ROWS: f64 = 8.0;

/// Table loads per cycle that bound the look-ups (two load ports).
const LOADS_PER_CYCLE: f64 = 2.0;

fn lookups_per_sample(m: &Model<'_>) -> LookUps {
    let d = m.description();
    let target = d.component.grid();
    // Grid of each node's outputs, to weigh luma-grid nodes of chroma models by 4.
    let mut grids: Vec<(String, Grid)> = Vec::new();
    let grid_of = |name: &str, grids: &[(String, Grid)]| -> Grid {
        match name.split_once('.') {
            Some(("in", c)) => c.parse::<Component>().map_or(Grid::Luma, |c| c.grid()),
            Some((n, _)) => grids
                .iter()
                .find(|(g, _)| g == n)
                .map_or(Grid::Luma, |(_, g)| *g),
            None => Grid::Luma,
        }
    };
    let mut total = LookUps::default();
    for node in &d.nodes {
        let (grid, count) = match node {
            Node::Spatial(s) => {
                let g = match s.sampling {
                    lut_filter::Sampling::Same => grid_of(&s.input, &grids),
                    lut_filter::Sampling::ChromaFromLuma { .. } => Grid::Chroma,
                };
                (g, (s.patterns.len() * usize::from(s.rotations)) as f64)
            }
            Node::Channel(c) => (grid_of(&c.inputs[0], &grids), 1.0),
        };
        grids.push((node.name().to_string(), grid));
        let per_sample = if grid == Grid::Luma && target == Grid::Chroma {
            4.0 * count
        } else {
            count
        };
        match node {
            Node::Spatial(_) => total.simplex += per_sample,
            Node::Channel(_) => total.trilinear += per_sample,
        }
    }
    total
}

/// This core's clock in GHz, estimated from a chain of dependent one-cycle integer operations
/// (shift, add, xor: 3 cycles per step), the fastest of five runs of 20 million steps.
fn clock_ghz() -> f64 {
    let steps = 20_000_000u64;
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        let mut x = std::hint::black_box(0x9e37_79b9_7f4a_7c15_u64);
        for _ in 0..steps {
            x = x.wrapping_add(x >> 1) ^ 0x5bd1_e995;
        }
        std::hint::black_box(x);
        best = best.min(t.elapsed().as_secs_f64());
    }
    3.0 * steps as f64 / best / 1e9
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// On-CPU nanoseconds of every thread of this process so far (Linux), if readable.
fn cpu_ns() -> Option<u64> {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path().join("schedstat");
        // Threads may end between listing and reading: skip those.
        if let Ok(text) = std::fs::read_to_string(path) {
            total += text.split_whitespace().next()?.parse::<u64>().ok()?;
        }
    }
    Some(total)
}

/// Runs the benchmark at the level `LUT_FILTER_SIMD` selects; returns the report.
pub fn run(args: &BenchArgs) -> Result<String> {
    run_with(args, Choice::Level(Level::active()))
}

/// Runs the benchmark with the row kernels of `simd` (`--simd portable|avx2|avx512|auto`).
pub fn run_with(args: &BenchArgs, simd: Choice) -> Result<String> {
    let level = simd.level();
    let (container, source) = open_container(args.lut.as_deref(), false)?;
    let (w, h) = (args.width, args.height);
    let (cw, ch) = ChromaFormat::Yuv420.chroma_size(w, h);
    let max = (1u32 << args.bit_depth) - 1;
    let mut seed = 12345u32;
    let mut plane = |pw: usize, ph: usize| -> Vec<u16> {
        (0..pw * ph)
            .map(|i| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let (x, y) = (i % pw, i / pw);
                let base = ((x * 3 + y * 2) % 600) as u32 * (max + 1) / 1024 + (max + 1) / 5;
                (base + (seed >> 24) % 25).min(max) as u16
            })
            .collect()
    };
    let planes = [plane(w, h), plane(cw, ch), plane(cw, ch)];
    let pic = Picture::new(
        Plane::new(&planes[0], w, w, h).map_err(lib_err)?,
        Some(Plane::new(&planes[1], cw, cw, ch).map_err(lib_err)?),
        Some(Plane::new(&planes[2], cw, cw, ch).map_err(lib_err)?),
        ChromaFormat::Yuv420,
        args.bit_depth,
    )
    .map_err(lib_err)?;
    let models: Vec<Model<'_>> = Component::ALL
        .iter()
        .filter_map(|&c| container.select_for(c, args.qp, args.kind))
        .collect();
    let samples = (w * h + 2 * cw * ch) as f64;
    let per_picture = models.iter().fold(LookUps::default(), |acc, m| {
        let n = if m.description().component == Component::Y {
            w * h
        } else {
            cw * ch
        } as f64;
        let l = lookups_per_sample(m);
        LookUps {
            simplex: acc.simplex + l.simplex * n,
            trilinear: acc.trilinear + l.trilinear * n,
        }
    });
    let lookups = per_picture.simplex + per_picture.trilinear;
    // The load-throughput bound: every table row a look-up reads is one load.
    let rows = SIMPLEX_ROWS * per_picture.simplex + TRILINEAR_ROWS * per_picture.trilinear;
    let ghz = clock_ghz();
    let bound = rows / LOADS_PER_CYCLE / (ghz * 1e9);
    let mut out = format!(
        "{source}, {w}x{h} 4:2:0 {}-bit, QP {}, SIMD {level} (detected: {}), {}: models {}; \
         {:.1} look-ups per sample (Y+Cb+Cr)\n",
        args.bit_depth,
        args.qp,
        Level::detected(),
        match args.ctu {
            None => "one call per plane".to_string(),
            Some(c) => format!("one call per {c}x{c} CTU"),
        },
        models
            .iter()
            .map(|m| m.description().name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        lookups / samples
    );
    out.push_str(&format!(
        "bound: {:.0} table rows per sample ({SIMPLEX_ROWS} per simplex look-up, \
         {TRILINEAR_ROWS} per trilinear), {LOADS_PER_CYCLE} loads per cycle at {ghz:.2} GHz \
         (this core, measured): {:.1} ms/picture on 1 thread\n",
        rows / samples,
        bound * 1e3
    ));
    let mut outputs: Vec<Vec<u16>> = planes.to_vec();
    for &threads in &args.threads {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .context("starting the worker threads")?;
        let mut times = Vec::with_capacity(args.runs);
        let mut cpu_times = Vec::with_capacity(args.runs);
        for _ in 0..args.runs.max(1) {
            let cpu = cpu_ns();
            let t = Instant::now();
            pool.install(|| -> Result<()> {
                for m in &models {
                    let c = m.description().component.index();
                    let (pw, ph) = if c == 0 { (w, h) } else { (cw, ch) };
                    let mut dst = PlaneMut::new(&mut outputs[c], pw, pw, ph).map_err(lib_err)?;
                    match args.ctu {
                        None => m
                            .filter_plane_with(level, &pic, &mut dst)
                            .map_err(lib_err)?,
                        Some(size) => {
                            let size = if c == 0 { size } else { size / 2 };
                            for y in (0..ph).step_by(size) {
                                for x in (0..pw).step_by(size) {
                                    let r = Region::new(x, y, size.min(pw - x), size.min(ph - y));
                                    m.filter_region_with(level, &pic, r, &mut dst)
                                        .map_err(lib_err)?;
                                }
                            }
                        }
                    }
                }
                Ok(())
            })?;
            times.push(t.elapsed().as_secs_f64());
            if let (Some(a), Some(b)) = (cpu, cpu_ns()) {
                cpu_times.push(b.saturating_sub(a) as f64 * 1e-9);
            }
        }
        let t = median(times);
        out.push_str(&format!(
            "{threads} thread(s): median {:.1} ms/picture, {:.2} ns/sample, {:.2} fps, {:.0} M look-ups/s, {:.2}x the bound",
            t * 1e3,
            t * 1e9 / samples,
            1.0 / t,
            lookups / t / 1e6,
            t / (bound / threads as f64)
        ));
        if cpu_times.len() == args.runs.max(1) {
            let c = median(cpu_times);
            out.push_str(&format!(
                "; on-CPU {:.1} ms/picture ({:.2} ns/sample, {:.1} ns/look-up)",
                c * 1e3,
                c * 1e9 / samples,
                c * 1e9 / lookups
            ));
        }
        out.push('\n');
    }
    Ok(out)
}
