//! `lut-filter`: the LUT in-loop filter on Y4M files and PNG/JPEG stills, PSNR as VTM reports
//! it, pictures of what the filter does, and container inspection.
//!
//! Every error ends the program with one line on stderr (`error: <what>: <why>`) and a non-zero
//! exit status: 2 for a bad command line, 1 for everything else. Output files are written
//! through a temporary file renamed at the end, so a failed run leaves none behind.

mod bdrate;
mod bench;
mod filter;
mod inspect;
mod look;
mod psnr;
mod still;
mod y4m_io;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::builder::TypedValueParser as _;
use clap::{Parser, Subcommand};
use lut_filter::default_model::IS_IDENTITY_PLACEHOLDER;
use lut_filter::{Component, Container};

/// What `--help` says about the embedded default container; switches by itself once the
/// trained model replaces the placeholder.
const DEFAULT_NOTE: &str = if IS_IDENTITY_PLACEHOLDER {
    "NOTE: the default container embedded in this binary is currently an IDENTITY PLACEHOLDER \
     (zero residual; it filters nothing: output = input) until the trained model lands. \
     Pass --lut FILE to filter with a real container."
} else {
    "The default container embedded in this binary holds the trained models \
     (see `lut-filter inspect`); --lut FILE selects another container."
};

#[derive(Debug, Parser)]
#[command(
    name = "lut-filter",
    version,
    about = "LUT-based in-loop filter for VVC: filter Y4M files and PNG/JPEG stills, measure \
             PSNR as VTM does, look at what the filter does, inspect .lut containers",
    after_help = DEFAULT_NOTE
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Filter every frame of a Y4M file (8, 10 or 12 bit; 4:2:0, 4:2:2, 4:4:4 or mono), or a
    /// PNG/JPEG still.
    ///
    /// Each selected component is filtered by the container's model for it at the given QP;
    /// chroma models read the unfiltered luma. Components without a model are copied. The
    /// output has the input's header, byte for byte.
    ///
    /// A PNG or JPEG input (recognised by its magic bytes, or its .png/.jpg/.jpeg extension) is
    /// converted to Y'CbCr 4:2:0 at --bit-depth with --matrix and --range (chroma: the average
    /// of each 2x2 block; formulas in docs/pictures.md), filtered, and written as PNG (8-bit
    /// R'G'B' at 8 bit, 16-bit R'G'B' above) when OUTPUT ends in .png, or as Y4M when it ends
    /// in .y4m.
    #[command(after_help = DEFAULT_NOTE)]
    Filter {
        /// Input Y4M file, or PNG/JPEG still.
        input: PathBuf,
        /// Output Y4M file; for a still input, .png or .y4m (written atomically: nothing is left
        /// behind on failure).
        output: PathBuf,
        /// Container (.lut) to use instead of the embedded default (memory-mapped).
        #[arg(long, value_name = "FILE")]
        lut: Option<PathBuf>,
        /// Read the --lut container into memory instead of memory-mapping it (the embedded
        /// default is in memory already).
        #[arg(long)]
        read_into_memory: bool,
        /// Slice QP used to select the models.
        #[arg(long, default_value_t = 32, allow_negative_numbers = true,
              value_parser = clap::value_parser!(i32).range(-24..=63))]
        qp: i32,
        /// Slice type of the pictures, for containers with separate intra and inter models:
        /// `i` (intra), `p` or `b` (inter). Default: unknown, which selects like intra.
        #[arg(long, value_enum, value_name = "TYPE")]
        slice_type: Option<SliceTypeArg>,
        /// Components to filter, comma-separated: y, u, v (or `all`); the others are copied.
        #[arg(long, value_name = "LIST", default_value = "y,u,v")]
        components: String,
        /// Worker threads (default: all cores, or RAYON_NUM_THREADS).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        threads: Option<u16>,
        /// No progress bar and no summary line.
        #[arg(long, short)]
        quiet: bool,
        /// Bit depth a PNG/JPEG input is converted to (8..=12; PNG/JPEG input only) [default:
        /// 10, the depth the corpus is coded at and the models were fitted on]
        #[arg(long, value_name = "B", value_parser = clap::value_parser!(u8).range(8..=12))]
        bit_depth: Option<u8>,
        #[command(flatten)]
        color: still::ColorArgs,
    },
    /// Pictures of what the filter does to one frame: side_by_side.png, difference.png and
    /// error_map.png in --out, and a summary on stdout.
    ///
    /// side_by_side.png: original | reconstruction | filtered, and a zoom of the window where
    /// the filter changed the luma most. difference.png: filtered - reconstruction (Y, U, V),
    /// mid-grey = 0, amplified by the gain its legend states. error_map.png: per luma block,
    /// SSE(filtered) - SSE(reconstruction) against the original, green where the filter helps,
    /// red where it hurts (log scale), over the dimmed original, with the frame's PSNR.
    ///
    /// Inputs are Y4M files (any bit depths: they are compared at the largest, as VTM does)
    /// or PNG/JPEG stills (converted with --matrix, --range and --bit-depth). The filtered
    /// picture is --filtered FILE, or the reconstruction filtered here with --lut FILE (or the
    /// embedded default) at --qp N.
    #[command(after_help = DEFAULT_NOTE)]
    Look {
        /// The original (Y4M, PNG or JPEG).
        #[arg(long, value_name = "FILE")]
        original: PathBuf,
        /// The reconstruction (decoded pictures) of the same size and chroma format.
        #[arg(long, value_name = "FILE")]
        reconstruction: PathBuf,
        /// The filtered reconstruction; without it the reconstruction is filtered here.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["lut", "qp"])]
        filtered: Option<PathBuf>,
        /// Container (.lut) filtering the reconstruction (default: the embedded one).
        #[arg(long, value_name = "FILE")]
        lut: Option<PathBuf>,
        /// Slice QP of the reconstruction, selecting the models (needed without --filtered).
        #[arg(long, allow_negative_numbers = true,
              value_parser = clap::value_parser!(i32).range(-24..=63))]
        qp: Option<i32>,
        /// Frame to show (0 = the first; stills have frame 0 only).
        #[arg(long, value_name = "K", default_value_t = 0)]
        frame: usize,
        /// Folder for the three PNGs (created if missing; existing files are replaced).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Block size of the error map, in luma samples.
        #[arg(long, value_name = "N", default_value_t = 8,
              value_parser = clap::builder::PossibleValuesParser::new(["8", "16", "32", "64", "128"])
                  .map(|s| s.parse::<usize>().expect("listed values are numbers")))]
        block: usize,
        /// Side of the zoomed window in luma samples (8..=512).
        #[arg(long, value_name = "N", default_value_t = 96,
              value_parser = clap::value_parser!(u16).range(8..=512).map(usize::from))]
        crop: usize,
        /// Magnification of the zoomed window (nearest neighbour, 1..=16).
        #[arg(long, value_name = "F", default_value_t = 4,
              value_parser = clap::value_parser!(u8).range(1..=16).map(usize::from))]
        zoom: usize,
        /// Down-scale the full-frame views by F (box average, 1..=8) to keep the files small.
        #[arg(long, value_name = "F", default_value_t = 1,
              value_parser = clap::value_parser!(u8).range(1..=8).map(usize::from))]
        downscale: usize,
        /// Show luma only (grey) in side_by_side.png.
        #[arg(long)]
        luma_only: bool,
        /// Gain of difference.png in grey levels per code value (default: automatic, a power
        /// of two).
        #[arg(long, value_name = "G", value_parser = clap::value_parser!(u32).range(1..=4096))]
        gain: Option<u32>,
        /// Title written on the pictures (default: file, frame and filter).
        #[arg(long, value_name = "TEXT")]
        title: Option<String>,
        /// Bit depth PNG/JPEG inputs are converted to (8..=12).
        #[arg(long, value_name = "B", default_value_t = still::DEFAULT_STILL_BIT_DEPTH,
              value_parser = clap::value_parser!(u8).range(8..=12))]
        bit_depth: u8,
        #[command(flatten)]
        color: still::ColorArgs,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// PSNR of B against A as VTM reports it (per frame, per plane, and the mean).
    ///
    /// Both files are brought to the computation bit depth (8-bit samples shifted left); the
    /// peak is 255 << (B-8) (1020 at 10 bit); the sequence value is the mean of the per-frame
    /// values; a plane without error gets 999.99 dB. YUV = (6 Y + U + V) / 8.
    Psnr {
        /// Reference Y4M (e.g. the original).
        a: PathBuf,
        /// Y4M to measure (e.g. the reconstruction).
        b: PathBuf,
        /// Bit depth of the computation (default: the larger of the two files'); samples of
        /// lower-depth files are shifted left.
        #[arg(long, value_name = "B", value_parser = clap::value_parser!(u8).range(8..=16))]
        bit_depth: Option<u8>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// BD-rate of a test against an anchor (JVET: PCHIP, Y/U/V and YUV 6:1:1, class and
    /// overall averages) from encoder logs (VTM or VVenC, named `<sequence>_qp<QP>.log`) or
    /// CSV points. For a container measured on decoded video, see `lut-build benchmark`.
    Bdrate(bdrate::BdrateArgs),
    /// Time the container's models on a synthetic 4:2:0 picture (smooth content with noise):
    /// median time per picture (Y+Cb+Cr), ns per sample, frames and look-ups per second, for
    /// each thread count, and the time against the load-throughput bound (every table row a
    /// look-up reads is a load, 2 loads per cycle at this core's clock, measured).
    #[command(after_help = DEFAULT_NOTE)]
    Bench {
        /// Container file (default: the embedded one).
        #[arg(long, value_name = "FILE")]
        lut: Option<PathBuf>,
        /// Picture size.
        #[arg(long, default_value = "1920x1080")]
        size: String,
        /// Bit depth of the samples.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u8).range(8..=12))]
        bit_depth: u8,
        /// Slice QP selecting the models.
        #[arg(long, default_value_t = 32, allow_negative_numbers = true)]
        qp: i32,
        /// Slice type selecting the models (`i`, `p`, `b`), for containers with separate
        /// intra and inter models. Default: unknown, which selects like intra.
        #[arg(long, value_enum, value_name = "TYPE")]
        slice_type: Option<SliceTypeArg>,
        /// Timed runs per thread count (the median is reported).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Thread counts, comma-separated (default: 1 and all cores).
        #[arg(long, value_delimiter = ',')]
        threads: Vec<usize>,
        /// Row kernels: auto (the best this CPU has), portable, avx2 or avx512 [default: the
        /// LUT_FILTER_SIMD environment variable, else auto].
        #[arg(long, value_name = "LEVEL")]
        simd: Option<lut_filter::simd::Choice>,
        /// Filter CTU by CTU, as a codec integration does (one `filter_region` call per CTU of
        /// SIZE luma samples, SIZE/2 chroma, raster order), instead of one call per plane.
        #[arg(long, value_name = "SIZE", value_parser = clap::value_parser!(u32).range(8..=1024))]
        ctu: Option<u32>,
    },
    /// Describe a container: version, checksum, models, nodes, tables.
    #[command(after_help = DEFAULT_NOTE)]
    Inspect {
        /// Container file (default: the embedded one).
        file: Option<PathBuf>,
        /// Also list every tensor.
        #[arg(long)]
        tensors: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// A command-line mistake found after parsing (exit status 2, like clap's own).
#[derive(Debug)]
pub(crate) struct Usage(pub(crate) String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind as K;
            if matches!(e.kind(), K::InvalidValue | K::ValueValidation) {
                // One line is enough for a bad value.
                let text = e.to_string();
                eprintln!("{}", text.lines().next().unwrap_or("error: invalid value"));
                return ExitCode::from(2);
            }
            e.exit();
        }
    };
    match run(cli) {
        Ok(text) => {
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: writing to stdout: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            let line = format!("{e:#}").replace('\n', " ");
            eprintln!("error: {line}");
            if e.root_cause().downcast_ref::<Usage>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Runs a command; returns what goes to stdout.
fn run(cli: Cli) -> Result<String> {
    match cli.command {
        Command::Filter {
            input,
            output,
            lut,
            read_into_memory,
            qp,
            slice_type,
            components,
            threads,
            quiet,
            bit_depth,
            color,
        } => {
            let components = parse_components(&components)?;
            if let Some(n) = threads {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n.into())
                    .build_global()
                    .with_context(|| format!("starting {n} worker threads"))?;
            }
            filter::run(&filter::FilterArgs {
                input,
                output,
                lut,
                read_into_memory,
                qp,
                kind: slice_type.map(SliceTypeArg::kind),
                components,
                quiet,
                bit_depth,
                color,
            })
        }
        Command::Look {
            original,
            reconstruction,
            filtered,
            lut,
            qp,
            frame,
            out,
            block,
            crop,
            zoom,
            downscale,
            luma_only,
            gain,
            title,
            bit_depth,
            color,
            json,
        } => look::run(&look::LookArgs {
            original,
            reconstruction,
            filtered,
            lut,
            qp,
            frame,
            out,
            options: lut_filter::look::Options {
                block,
                crop,
                zoom,
                downscale,
                color: color.spec(),
                luma_only,
                gain,
                title,
            },
            still_bit_depth: bit_depth,
            json,
        }),
        Command::Psnr {
            a,
            b,
            bit_depth,
            json,
        } => psnr::run(&a, &b, bit_depth, json),
        Command::Bdrate(args) => bdrate::run(args),
        Command::Inspect {
            file,
            tensors,
            json,
        } => inspect::run(file.as_deref(), tensors, json),
        Command::Bench {
            lut,
            size,
            bit_depth,
            qp,
            slice_type,
            runs,
            threads,
            simd,
            ctu,
        } => {
            let (width, height) = size
                .split_once('x')
                .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
                .filter(|&(a, b): &(usize, usize)| a > 0 && b > 0)
                .ok_or_else(|| Usage(format!("--size '{size}': expected WIDTHxHEIGHT")))?;
            let threads = if threads.is_empty() {
                let all = std::thread::available_parallelism().map_or(1, usize::from);
                if all > 1 { vec![1, all] } else { vec![1] }
            } else {
                threads
            };
            if threads.contains(&0) {
                return Err(Usage("--threads: thread counts start at 1".into()).into());
            }
            let args = bench::BenchArgs {
                lut,
                width,
                height,
                bit_depth,
                qp,
                kind: slice_type.map(SliceTypeArg::kind),
                runs,
                threads,
                ctu: ctu.map(|c| c as usize),
            };
            match simd {
                Some(choice) => bench::run_with(&args, choice),
                None => bench::run(&args),
            }
        }
    }
}

/// Parses `--components`: `y,u,v`, any subset in any order, or `all`.
fn parse_components(list: &str) -> Result<Vec<Component>> {
    if list.trim().eq_ignore_ascii_case("all") {
        return Ok(Component::ALL.to_vec());
    }
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(Usage(format!(
                "--components '{list}': empty item (expected e.g. y,u,v)"
            ))
            .into());
        }
        let c: Component = item
            .parse()
            .map_err(|e: String| Usage(format!("--components '{list}': {e}")))?;
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out.sort();
    Ok(out)
}

/// Opens `--lut FILE` (mapped, or read with `read_into_memory`) or the embedded default.
/// Also returns how to name it in messages.
pub(crate) fn open_container(
    path: Option<&Path>,
    read_into_memory: bool,
) -> Result<(Container, String)> {
    match path {
        None => {
            let c = lut_filter::default_model::open()
                .map_err(lib_err)
                .context("opening the embedded default container")?;
            Ok((c, "the embedded default container".into()))
        }
        Some(p) => {
            let opened = if read_into_memory {
                Container::read(p)
            } else {
                Container::open(p)
            };
            let c = opened
                .map_err(lib_err)
                .with_context(|| format!("opening container {}", p.display()))?;
            Ok((c, format!("container {}", p.display())))
        }
    }
}

/// Converts a library error for the anyhow chain. I/O errors name their path, which the
/// caller's context already names: keep only the cause.
pub(crate) fn lib_err(e: lut_filter::Error) -> anyhow::Error {
    match e {
        lut_filter::Error::Io { source, .. } => anyhow::Error::new(source),
        other => anyhow::Error::new(other),
    }
}

/// `--slice-type` of `lut-filter filter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum SliceTypeArg {
    /// Intra (I slices).
    I,
    /// Inter, P slices.
    P,
    /// Inter, B slices.
    B,
}

impl SliceTypeArg {
    fn kind(self) -> lut_filter::PictureKind {
        match self {
            SliceTypeArg::I => lut_filter::PictureKind::Intra,
            SliceTypeArg::P | SliceTypeArg::B => lut_filter::PictureKind::Inter,
        }
    }
}
