//! `lut-build compact`: regular spatial tables -> DFC (`lut_build::compact`).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use lut_build::compact::{CompactOptions, Source, compact};
use lut_build::prune::layout_text;
use lut_filter::tables::DfcGeometry;

/// Options of `lut-build compact`.
#[derive(Args, Debug)]
pub struct CompactArgs {
    /// Container to read.
    #[arg(long = "in", value_name = "LUT")]
    input: PathBuf,
    /// Container to write (atomically; may equal --in).
    #[arg(long, value_name = "LUT")]
    out: PathBuf,
    /// Diagonal coordinates counting the anchor: 2 (xy), 3 (xyz) or 4 (xyzt).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u8).range(2..=4))]
    dims: u8,
    /// Band half-width in grid nodes (1..=8): look-ups whose taps differ from the anchor by at
    /// most dw intervals use the fine rows, exactly as the regular table.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=8))]
    dw: u8,
    /// Coarse interval exponent on the 8-bit scale (4..=7; 5 gives 9 nodes per dimension).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u8).range(4..=7))]
    si: u8,
    /// Only models whose name matches this glob (`*`, `?`), e.g. `y-*`.
    #[arg(long, value_name = "PATTERN")]
    models: Option<String>,
    /// Also re-sample DFC tables of another geometry (lossy: a DFC table cannot be re-expanded;
    /// new nodes the source stores are copied, others interpolated).
    #[arg(long)]
    lossy: bool,
}

/// Runs the command.
pub fn run(args: CompactArgs) -> anyhow::Result<()> {
    let source =
        Source::read(&args.input).with_context(|| format!("opening {}", args.input.display()))?;
    let opts = CompactOptions {
        geometry: DfcGeometry {
            dims: args.dims.into(),
            dw: args.dw.into(),
            si: args.si.into(),
        },
        models: args.models.clone(),
        lossy: args.lossy,
    };
    let (writer, changes) = compact(&source, &opts).context("compacting")?;
    let bytes = writer.to_bytes().context("validating the result")?;
    lut_filter::io::write_atomic(&args.out, &bytes)
        .with_context(|| format!("writing {}", args.out.display()))?;
    for c in &changes {
        println!(
            "{}/{}: {} -> {}",
            c.model,
            c.node,
            layout_text(c.from),
            layout_text(c.to)
        );
    }
    println!(
        "{} node(s) compacted; {} -> {} bytes; wrote {}",
        changes.len(),
        source.size(),
        bytes.len(),
        args.out.display()
    );
    Ok(())
}
