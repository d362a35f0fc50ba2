//! `lut-build benchmark`: the offline post-filter benchmark. Decodes (or loads from the cache)
//! the corpus bitstreams, filters every reconstruction with a container (model chosen per
//! picture by its slice QP), and reports PSNR as VTM measures it and BD-rate as JVET computes it
//! (PCHIP). In all-intra coding the loop filters do not feed prediction, so this post-loop
//! measurement equals the in-loop result; in random access it is an approximation (a filtered
//! reference would also change later pictures' prediction).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use lut_build::pipeline;
use lut_filter::Container;

use super::{CorpusArgs, SplitArg};

/// Options of `lut-build benchmark`.
#[derive(Args, Debug)]
pub struct BenchmarkArgs {
    /// Container to measure [default: the one embedded in lut-filter].
    #[arg(long)]
    lut: Option<PathBuf>,
    /// Clips to measure on.
    #[arg(long, value_enum, default_value_t = SplitArg::Val)]
    split: SplitArg,
    /// Nominal QPs of the BD-rate (JVET: 22,27,32,37); every QP is measured and tabled.
    #[arg(long, value_delimiter = ',', default_value = "22,27,32,37")]
    bd_qps: Vec<u32>,
    /// Folder for report.md, report.json and report.csv.
    #[arg(long)]
    report: Option<PathBuf>,
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
    let encodes = args.corpus.load(args.split)?;
    let rows = pipeline::evaluate(&container, &encodes);
    let mut md = format!(
        "# LUT filter benchmark\n\ncontainer: {} (crc32 {:08x}, {} bytes)\n\n",
        args.lut
            .as_ref()
            .map_or("embedded default".to_string(), |p| p.display().to_string()),
        container.checksum(),
        container.size()
    );
    md.push_str(&pipeline::markdown(&rows, &args.bd_qps));
    md.push_str(&format!(
        "\nwall time {:.1} s (threads: {})\n",
        start.elapsed().as_secs_f64(),
        rayon::current_num_threads()
    ));
    if let Some(dir) = &args.report {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        lut_filter::io::write_atomic(&dir.join("report.md"), md.as_bytes())?;
        lut_filter::io::write_atomic(
            &dir.join("report.json"),
            serde_json::to_string_pretty(&rows)?.as_bytes(),
        )?;
        let csv = pipeline::csv(&rows);
        lut_filter::io::write_atomic(&dir.join("report.csv"), csv.as_bytes())?;
    }
    println!("{md}");
    Ok(())
}
