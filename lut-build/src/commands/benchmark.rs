//! `lut-build benchmark`: the offline post-filter benchmark. Decodes (or loads from the cache)
//! the bitstreams, filters every reconstruction with a container (model chosen per picture by
//! its slice QP), and reports PSNR as VTM measures it and BD-rate as JVET computes it (PCHIP).
//! In all-intra coding the loop filters do not feed prediction, so this post-loop measurement
//! equals the in-loop result; in random access it is an approximation (a filtered reference
//! would also change later pictures' prediction).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use lut_build::corpus::list::{read_list, scan_folder};
use lut_build::corpus::{Corpus, progress_bar};
use lut_build::evaluate::{CtuSwitch, Evaluator, PointSource};
use lut_build::report::{Report, maps, plot};
use lut_filter::Container;

use super::{CorpusArgs, SplitArg, cache, selection};

/// Options of `lut-build benchmark`.
#[derive(Args, Debug)]
pub struct BenchmarkArgs {
    /// Container to measure [default: the one embedded in lut-filter].
    #[arg(long)]
    lut: Option<PathBuf>,
    /// Clips to measure on (corpus mode).
    #[arg(long, value_enum, default_value_t = SplitArg::Val)]
    split: SplitArg,
    /// Measure the RD points of a benchmark list (TSV: sequence, config, qp, original,
    /// reconstruction as bitstream / Y4M / raw YUV, optional class, kbps, bitstream, fps, log,
    /// yuv_bit_depth; see docs/benchmark.md) instead of the corpus.
    #[arg(long, value_name = "TSV", conflicts_with = "folder")]
    list: Option<PathBuf>,
    /// Measure the RD points found in a folder: `DIR/<config>/<sequence>_qp<QP>.<266|vvc|bin|
    /// y4m|yuv>` (logs `<same stem>.log` beside them are used for slice QPs), originals in
    /// `DIR/orig/<sequence>.y4m` or `DIR/../orig/`.
    #[arg(long, value_name = "DIR")]
    folder: Option<PathBuf>,
    /// Nominal QPs of the BD-rate (JVET: 22,27,32,37); every QP is measured and tabled.
    #[arg(long, value_delimiter = ',', default_value = "22,27,32,37")]
    bd_qps: Vec<u32>,
    /// Folder for report.md, report.json, points.csv, bd.csv, the RD plots
    /// (rd_<config>.svg / .png) and the best / worst frame maps (maps/, maps.json).
    #[arg(long)]
    report: Option<PathBuf>,
    /// Measure every point again instead of using stored results (stored results are keyed by
    /// the container's checksum and the inputs' identity, so they are never stale).
    #[arg(long)]
    fresh: bool,
    /// CTU on/off emulation: factor of VTM's lambda `factor * 2^(sliceQP/3)`.
    #[arg(long, default_value_t = 0.57)]
    lambda_factor: f64,
    /// CTU on/off emulation: bits counted per coded flag.
    #[arg(long, default_value_t = 1.0)]
    flag_bits: f64,
    /// CTU on/off emulation among several models: the encoder may filter each picture, or
    /// each CTU, with the model selected at `slice QP + offset` for any of these offsets, and
    /// codes the choice (`ceil(log2 K)` bits per index). E.g. `0,-5,5,10` (2 index bits): the slice's
    /// model and those of the QP ranges around it. The first offset is the always-on filter's.
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true, default_values_t = [0])]
    qp_offsets: Vec<i32>,
    /// CTU on/off emulation: the encoder may also scale each filtered component's correction
    /// by a factor k/16 (k = 0..31) fitted by least squares on the CTUs it keeps, where that
    /// pays for its bits (1 flag per filtered component, 5 bits per factor); the decoder applies
    /// it with `lutf_scale_residual_*` (NNVC's residual scaling).
    #[arg(long)]
    residual_scale: bool,
    /// Do not render the per-sequence best / worst frame maps into the report folder.
    #[arg(long)]
    no_maps: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    corpus: CorpusArgs,
}

/// Runs the command.
pub fn run(args: BenchmarkArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    let container = match &args.lut {
        Some(p) => Container::open(p).with_context(|| format!("opening {}", p.display()))?,
        None => lut_filter::default_model::open()?,
    };
    let cache = cache(args.corpus.cache.clone());
    let listed = match (&args.list, &args.folder) {
        (Some(list), _) => {
            Some(read_list(list).with_context(|| format!("reading {}", list.display()))?)
        }
        (None, Some(dir)) => {
            Some(scan_folder(dir).with_context(|| format!("scanning {}", dir.display()))?)
        }
        (None, None) => None,
    };
    let (points, corpus) = match listed {
        Some(entries) => (entries.into_iter().map(PointSource::List).collect(), None),
        None => {
            let corpus = Corpus::open(&args.corpus.data)
                .with_context(|| format!("opening the corpus in {}", args.corpus.data.display()))?;
            let sel = selection(args.split, args.corpus.config, Vec::new());
            let encodes: Vec<PointSource> = corpus
                .select(&sel)
                .into_iter()
                .filter(|e| args.corpus.keeps(&e.name))
                .cloned()
                .map(PointSource::Corpus)
                .collect();
            args.corpus.check_clips(&corpus)?;
            anyhow::ensure!(!encodes.is_empty(), "no bitstream is selected");
            (encodes, Some(corpus))
        }
    };
    anyhow::ensure!(
        args.lambda_factor.is_finite() && args.lambda_factor >= 0.0,
        "--lambda-factor must be finite and >= 0"
    );
    anyhow::ensure!(
        args.flag_bits.is_finite() && args.flag_bits >= 0.0,
        "--flag-bits must be finite and >= 0"
    );
    anyhow::ensure!(
        (1..=255).contains(&args.qp_offsets.len()),
        "--qp-offsets takes 1 to 255 offsets"
    );
    let switch = CtuSwitch {
        lambda_factor: args.lambda_factor,
        flag_bits: args.flag_bits,
        qp_offsets: args.qp_offsets.clone(),
        residual_scale: args.residual_scale,
        ..CtuSwitch::default()
    };
    let evaluator = Evaluator::new(&container, &cache, corpus.as_ref())
        .with_result_cache(!args.fresh)
        .with_ctu_switch(switch.clone());
    let bar = progress_bar(points.len(), !args.quiet, "measure");
    let rows = evaluator
        .run(&points, &|_| bar.inc(1))
        .context("measuring the RD points")?;
    bar.finish_and_clear();
    let reused = rows.iter().filter(|r| r.cached).count();
    let name = args
        .lut
        .as_ref()
        .map_or("embedded default".to_string(), |p| p.display().to_string());
    let mut report = Report::new(
        name,
        container.checksum(),
        container.size(),
        rows,
        &args.bd_qps,
        switch,
    );
    report.wall_s = start.elapsed().as_secs_f64();
    let mut md = report.markdown();
    if let Some(dir) = &args.report {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let put = |file: &str, bytes: &[u8]| -> anyhow::Result<()> {
            let p = dir.join(file);
            lut_filter::io::write_atomic(&p, bytes)
                .with_context(|| format!("writing {}", p.display()))
        };
        put(
            "report.json",
            serde_json::to_string_pretty(&report)?.as_bytes(),
        )?;
        put("points.csv", report.points_csv().as_bytes())?;
        put("bd.csv", report.bd_csv().as_bytes())?;
        let plots = match plot::write_rd_plots(&report, dir) {
            Ok(_) => true,
            Err(e) => {
                eprintln!("warning: no RD plots: {e}");
                false
            }
        };
        if !args.no_maps {
            let maps = maps::write_frame_maps(&report, &evaluator, &points, &container, dir)
                .context("rendering the best / worst frame maps")?;
            put("maps.json", serde_json::to_string_pretty(&maps)?.as_bytes())?;
            md.push_str(&maps::markdown(&maps, plots));
        }
        put("report.md", md.as_bytes())?;
        eprintln!("report written to {}", dir.display());
    }
    println!("{md}");
    eprintln!(
        "{} points ({} measured, {} from stored results) in {:.1} s",
        report.rows.len(),
        report.rows.len() - reused,
        reused,
        report.wall_s
    );
    Ok(())
}
