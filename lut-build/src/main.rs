//! `lut-build`: the offline tool that turns a trained network into a LUT container.
//!
//! Today it has one command, `identity`, which writes the zero-residual placeholder container the
//! runtime embeds until the trained default exists. Transfer, compaction, pruning and
//! fine-tuning are the lut-build issue's work.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use lut_filter::description::presets;
use lut_filter::{Component, ContainerWriter, TableLayout};

#[derive(Parser)]
#[command(version, about = "Build LUT containers for the lut-filter runtime")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write the identity (zero-residual) placeholder container: one single-stage DFC model per
    /// component whose tables are all zero. For plumbing and tests only; it filters nothing.
    Identity {
        /// Output file.
        #[arg(long, default_value = "data/default.lut")]
        out: PathBuf,
    },
}

/// The placeholder container's bytes (deterministic).
fn identity_container() -> anyhow::Result<ContainerWriter> {
    let mut w = ContainerWriter::new();
    let table = TableLayout::Dfc {
        dims: 4,
        dw: 3,
        si: 5,
    };
    for c in Component::ALL {
        let mut m = presets::cascade(
            &format!("identity-{c}"),
            c,
            [0, 63],
            1,
            table,
            0,
            0,
        );
        m.notes = "identity placeholder: all-zero tables, scale 0 (filters nothing)".into();
        w.add_model(m, |req| vec![0i8; req.shape.iter().product()])?;
    }
    Ok(w)
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Identity { out } => {
            identity_container()?
                .write(&out)
                .with_context(|| format!("writing {}", out.display()))?;
            eprintln!("wrote {}", out.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// `data/default.lut` is produced by `lut-build identity`: the committed file must be
    /// exactly what the command writes today.
    #[test]
    fn committed_default_is_the_identity_container() {
        let bytes = super::identity_container().unwrap().to_bytes().unwrap();
        assert!(
            bytes == lut_filter::default_model::bytes(),
            "data/default.lut is stale: run `cargo run -p lut-build -- identity`"
        );
    }
}
