//! `lut-build merge`: one container's models for some components, another's for the others.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use lut_build::compact::Source;
use lut_filter::Component;

/// Options of `lut-build merge`.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Container whose models are kept, except for --components.
    #[arg(long, value_name = "LUT")]
    base: PathBuf,
    /// Container whose models of --components replace the base's.
    #[arg(long, value_name = "LUT")]
    take: PathBuf,
    /// Components taken from --take (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "y")]
    components: Vec<Component>,
    /// Add --take's models of --components beside all of the base's instead of replacing
    /// them (e.g. inter-picture models beside intra ones: `lut-build fit --pictures`). Model
    /// names must differ.
    #[arg(long)]
    add: bool,
    /// Only the models of --components meant for these pictures are replaced (or added) and
    /// taken: `all` (models for every picture), `intra` or `inter`. E.g. `--pictures inter`
    /// swaps a container's inter luma models and keeps its luma models for every picture.
    /// Default: every model of --components.
    #[arg(long, value_enum)]
    pictures: Option<super::fit::PicturesArg>,
    /// Only the models of --components with these slice-QP ranges `lo-hi` (comma-separated)
    /// are replaced (or added) and taken, e.g. `--qp-ranges 33-37` puts one range's model of
    /// --take in place of the base's and keeps the base's other ranges. Default: every range.
    #[arg(long, value_delimiter = ',')]
    qp_ranges: Vec<String>,
    /// Container to write (atomically).
    #[arg(long, value_name = "LUT")]
    out: PathBuf,
}

/// Runs the command.
pub fn run(args: MergeArgs) -> anyhow::Result<()> {
    let base =
        Source::read(&args.base).with_context(|| format!("opening {}", args.base.display()))?;
    let take =
        Source::read(&args.take).with_context(|| format!("opening {}", args.take.display()))?;
    let qp_ranges = args
        .qp_ranges
        .iter()
        .map(|s| super::finetune::parse_range(s))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let writer = lut_build::merge::merge_selected(
        &base,
        &take,
        &args.components,
        args.pictures.map(Into::into),
        &qp_ranges,
        args.add,
    )
    .context("merging")?;
    let bytes = writer.to_bytes().context("validating the result")?;
    lut_filter::io::write_atomic(&args.out, &bytes)
        .with_context(|| format!("writing {}", args.out.display()))?;
    for m in &writer.description().models {
        println!("{:<22} {} {}", m.name, m.component, m.pictures.name());
    }
    println!("wrote {} ({} bytes)", args.out.display(), bytes.len());
    Ok(())
}
