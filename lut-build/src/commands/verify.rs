//! `lut-build verify`: a network against its LUT container on real reconstructions.
//!
//! Filters corpus reconstructions both ways, the network evaluated directly
//! (`lut_build::net::forward`) and the container through the runtime, and prints per component
//! the PSNR (VTM convention) of the unfiltered, network-filtered and LUT-filtered pictures
//! against the original, the gap network - LUT, the PSNR of the LUT output against the network
//! output, and the single-thread cost of each in ns per sample with their ratio. Evaluating the
//! network is slow (hundreds of kMAC per sample), so by default only a few centred crops are
//! used.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use lut_build::corpus::picture::{PSNR_LOSSLESS, PSNR_PEAK, plane_psnr, ssd};
use lut_build::corpus::{Corpus, Picture10};
use lut_build::net::forward::forward_plane;
use lut_filter::{Component, Container, PlaneMut};

use super::net::load_network;
use super::{ConfigArg, SplitArg, cache, selection};

/// Options of `lut-build verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The network: a `.net` file or a directory of ONNX units (`docs/onnx.md`).
    #[arg(long, visible_alias = "onnx")]
    net: PathBuf,
    /// The LUT container built from it (model names must match the network's).
    #[arg(long)]
    lut: PathBuf,
    /// The corpus folder (manifest.tsv, orig/, vvc/).
    #[arg(long, default_value = "../shared/data")]
    data: PathBuf,
    /// Which clips.
    #[arg(long, value_enum, default_value_t = SplitArg::Val)]
    split: SplitArg,
    /// Coding configurations.
    #[arg(long, value_enum, default_value_t = ConfigArg::Ai)]
    config: ConfigArg,
    /// Nominal QPs (comma-separated); all when omitted.
    #[arg(long, value_delimiter = ',')]
    qp: Vec<u32>,
    /// Pictures to use: the first picture of this many bitstreams, spread evenly over the
    /// selection.
    #[arg(long, default_value_t = 4)]
    frames: usize,
    /// Filter a centred crop of at most this many luma samples per side (0: whole pictures).
    #[arg(long, default_value_t = 128)]
    crop: usize,
    /// Repetitions of the LUT timing (the median is reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Components compared (comma-separated); the others are skipped, e.g. to compare a luma
    /// network with the luma models of a container that also holds chroma models.
    #[arg(long, value_delimiter = ',', default_value = "y,u,v")]
    components: Vec<Component>,
    /// Cache folder [default: $LUT_CACHE, else target/lut-cache].
    #[arg(long)]
    cache: Option<PathBuf>,
}

/// A centred crop of at most `side` x `side` luma samples (origin and size even; whole picture
/// for `side == 0`).
pub fn crop(p: &Picture10, side: usize) -> Picture10 {
    if side == 0 || (p.width <= side && p.height <= side) {
        return p.clone();
    }
    let side = (side & !1).max(2);
    let (w, h) = (p.width.min(side), p.height.min(side));
    let (x0, y0) = (((p.width - w) / 2) & !1, ((p.height - h) / 2) & !1);
    let mut out = Picture10::zeroed(w, h);
    for c in 0..3 {
        let (pw, _) = p.plane_size(c);
        let (ow, oh) = out.plane_size(c);
        let (cx, cy) = if c == 0 { (x0, y0) } else { (x0 / 2, y0 / 2) };
        let dst = out.plane_mut(c);
        for y in 0..oh {
            let s = (cy + y) * pw + cx;
            dst[y * ow..(y + 1) * ow].copy_from_slice(&p.plane(c)[s..s + ow]);
        }
    }
    out.poc = p.poc;
    out.slice_qp = p.slice_qp;
    out
}

/// Per-component totals.
#[derive(Default, Clone, Copy)]
struct Acc {
    pictures: usize,
    samples: usize,
    /// Sums of per-picture PSNRs: unfiltered, network, LUT (against the original).
    psnr: [f64; 3],
    /// LUT against network: squared-error sum, differing samples, largest difference.
    ssd: u64,
    differ: usize,
    max_diff: u16,
    net_s: f64,
    lut_s: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs `verify`.
pub fn run(args: VerifyArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    let net = load_network(&args.net)?;
    let container =
        Container::open(&args.lut).with_context(|| format!("opening {}", args.lut.display()))?;
    let corpus = Corpus::open(&args.data)
        .with_context(|| format!("opening the corpus in {}", args.data.display()))?;
    let cache = cache(args.cache.clone());
    let encodes = corpus.select(&selection(args.split, args.config, args.qp.clone()));
    anyhow::ensure!(!encodes.is_empty(), "the corpus selection is empty");
    let n = args.frames.clamp(1, encodes.len());
    let chosen: Vec<_> = (0..n).map(|i| encodes[i * encodes.len() / n]).collect();
    let originals = corpus.read_originals(chosen.iter().map(|e| e.name.as_str()))?;
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .context("building a one-thread pool")?;
    let mut acc = [Acc::default(); 3];
    for e in &chosen {
        let (pairs, _) = corpus
            .pair(e, &originals[&e.name], &cache, 1)
            .with_context(|| e.label())?;
        let f = pairs
            .frames
            .first()
            .context("a bitstream without pictures")?;
        let recon = crop(&f.reconstruction, args.crop);
        let orig = crop(&f.original, args.crop);
        let pic = recon.view()?;
        for c in Component::ALL {
            if !args.components.contains(&c) {
                continue;
            }
            let Some(model) = container.select_for(c, f.slice_qp, f.kind) else {
                continue;
            };
            let name = &model.description().name;
            let desc = net
                .description
                .models
                .iter()
                .find(|m| &m.name == name)
                .with_context(|| format!("the network has no model '{name}' (from the LUT)"))?;
            let i = c.index();
            let (w, h) = recon.plane_size(i);
            let t0 = Instant::now();
            let direct = one.install(|| forward_plane(net.units.as_ref(), desc, &pic))?;
            let net_s = t0.elapsed().as_secs_f64();
            let mut lut = vec![0u16; w * h];
            let mut times = Vec::new();
            for _ in 0..args.runs.max(1) {
                let t0 = Instant::now();
                one.install(|| model.filter_plane(&pic, &mut PlaneMut::new(&mut lut, w, w, h)?))?;
                times.push(t0.elapsed().as_secs_f64());
            }
            let direct: Vec<u16> = direct.iter().map(|&v| v as u16).collect();
            let o = orig.plane(i);
            let a = &mut acc[i];
            a.pictures += 1;
            a.samples += w * h;
            a.psnr[0] += plane_psnr(o, recon.plane(i));
            a.psnr[1] += plane_psnr(o, &direct);
            a.psnr[2] += plane_psnr(o, &lut);
            a.ssd += ssd(&direct, &lut);
            a.differ += direct.iter().zip(&lut).filter(|(x, y)| x != y).count();
            a.max_diff = a.max_diff.max(
                direct
                    .iter()
                    .zip(&lut)
                    .map(|(x, y)| x.abs_diff(*y))
                    .max()
                    .unwrap_or(0),
            );
            a.net_s += net_s;
            a.lut_s += median(times);
        }
        eprintln!(
            "{} picture 0 (slice QP {}), {}x{} crop",
            e.label(),
            f.slice_qp,
            recon.width,
            recon.height
        );
    }
    println!(
        "{:<4} {:>4} {:>8} {:>11} {:>9} {:>9} {:>9} {:>11} {:>8} {:>4} {:>12} {:>11} {:>9}",
        "comp",
        "pics",
        "samples",
        "unfiltered",
        "network",
        "LUT",
        "gap dB",
        "LUT-vs-net",
        "differ",
        "max",
        "net ns/smp",
        "LUT ns/smp",
        "speed-up"
    );
    for c in Component::ALL {
        let a = acc[c.index()];
        if a.pictures == 0 {
            println!("{:<4} (no model in the container)", c.name());
            continue;
        }
        let p = a.psnr.map(|v| v / a.pictures as f64);
        let agree = if a.ssd == 0 {
            PSNR_LOSSLESS
        } else {
            10.0 * (PSNR_PEAK * PSNR_PEAK * a.samples as f64 / a.ssd as f64).log10()
        };
        let ns = |s: f64| s * 1e9 / a.samples as f64;
        println!(
            "{:<4} {:>4} {:>8} {:>11.4} {:>9.4} {:>9.4} {:>+9.4} {:>11.2} {:>7.2}% {:>4} {:>12.1} {:>11.2} {:>8.0}x",
            c.name(),
            a.pictures,
            a.samples,
            p[0],
            p[1],
            p[2],
            p[1] - p[2],
            agree,
            100.0 * a.differ as f64 / a.samples as f64,
            a.max_diff,
            ns(a.net_s),
            ns(a.lut_s),
            a.net_s / a.lut_s.max(1e-12)
        );
    }
    println!(
        "PSNR in dB (10 bit, peak 1020, mean over pictures; LUT-vs-net over all samples); gap = \
         network - LUT; times on one thread; wall time {:.1} s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
