//! `lut-build export`: one corpus reconstruction as a 10-bit 4:2:0 Y4M file (decoded through
//! the cache), for `lut-filter filter` / `look` or any other tool.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use lut_build::corpus::{Config, Corpus};

use super::cache;

/// Options of `lut-build export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Clip name (see `../shared/data/manifest.tsv`).
    #[arg(long)]
    clip: String,
    /// Coding configuration: ai or ra.
    #[arg(long)]
    config: Config,
    /// Nominal QP (22, 27, 32, 37 or 42).
    #[arg(long)]
    qp: u32,
    /// Output Y4M file (10 bit, `C420p10`; written atomically).
    #[arg(long)]
    out: PathBuf,
    /// The corpus folder.
    #[arg(long, default_value = "../shared/data")]
    data: PathBuf,
    /// Cache folder [default: $LUT_CACHE, else target/lut-cache].
    #[arg(long)]
    cache: Option<PathBuf>,
}

/// Runs the command; prints the slice QP of every picture.
pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let corpus = Corpus::open(&args.data)
        .with_context(|| format!("opening the corpus in {}", args.data.display()))?;
    let e = corpus.encode(&args.clip, args.config, args.qp)?;
    let clip = corpus.clip(&args.clip)?;
    let (pics, _) = corpus.reconstruction(e, &cache(args.cache.clone()), -1)?;
    let first = pics.first().context("no picture")?;
    // Frame rate as a fraction with a millisecond denominator (29.97 -> 29970:1000).
    let (num, den) = ((clip.fps * 1000.0).round() as u64, 1000);
    lut_filter::io::write_atomic_with(&args.out, |w| {
        writeln!(
            w,
            "YUV4MPEG2 W{} H{} F{num}:{den} Ip A1:1 C420p10",
            first.width, first.height
        )?;
        for p in &pics {
            w.write_all(b"FRAME\n")?;
            for s in p.y.iter().chain(&p.u).chain(&p.v) {
                w.write_all(&s.to_le_bytes())?;
            }
        }
        Ok(())
    })
    .with_context(|| format!("writing {}", args.out.display()))?;
    let qps: Vec<String> = pics
        .iter()
        .map(|p| p.slice_qp.map_or("?".into(), |q| q.to_string()))
        .collect();
    println!(
        "{}: {} pictures, slice QPs {}",
        args.out.display(),
        pics.len(),
        qps.join(" ")
    );
    Ok(())
}
