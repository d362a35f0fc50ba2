//! Network commands: `from-net` (transfer a trained network into a LUT container), `init-net`
//! (a random network of a preset architecture) and `inspect` (what a `.net` or `.lut` holds).
//! `verify` is in [`super::verify`].

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, ValueEnum};
use lut_build::net::traverse::{TransferOptions, TransferReport, transfer};
use lut_build::net::{NetFile, Transfer, UnitEvaluator, unit_slots};
use lut_filter::description::presets;
use lut_filter::{Component, Container, ContainerDescription, ModelDescription, Node, TableLayout};

/// Table layout choice on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LayoutArg {
    /// Full 17^4 tables.
    Regular,
    /// Diagonal-first compaction (`--dims`, `--dw`, `--si`).
    Dfc,
}

/// `--layout` with its DFC parameters.
#[derive(Args, Debug, Clone)]
pub struct LayoutArgs {
    /// Table layout of every spatial node [default: the one the network's description names].
    #[arg(long, value_enum)]
    pub layout: Option<LayoutArg>,
    /// DFC: diagonal coordinates (2, 3 or 4, counting the anchor).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u8).range(2..=4))]
    pub dims: u8,
    /// DFC: half-width of the diagonal band in grid nodes.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=8))]
    pub dw: u8,
    /// DFC: coarse interval exponent on the 8-bit scale (5 gives 9 nodes per dimension).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u8).range(4..=7))]
    pub si: u8,
}

impl LayoutArgs {
    /// The layout, if one was asked for.
    pub fn layout(&self) -> Option<TableLayout> {
        self.layout.map(|l| match l {
            LayoutArg::Regular => TableLayout::Regular,
            LayoutArg::Dfc => TableLayout::Dfc {
                dims: self.dims,
                dw: self.dw,
                si: self.si,
            },
        })
    }
}

/// Options of `lut-build from-net`.
#[derive(Args, Debug)]
pub struct FromNetArgs {
    /// The trained network: a `.net` file (the native format of `docs/network.md`), or (also
    /// spelt `--onnx`) a directory of ONNX units with `description.json` (`docs/onnx.md`).
    #[arg(long, visible_alias = "onnx")]
    net: PathBuf,
    /// Output container (`.lut`, written atomically).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    layout: LayoutArgs,
    /// Also write the transfer report (per unit: rows, clipped entries, time) as JSON here.
    #[arg(long)]
    report: Option<PathBuf>,
}

/// A network's description and units, whatever file they came from.
pub struct LoadedNetwork {
    /// The models.
    pub description: ContainerDescription,
    /// The units.
    pub units: Box<dyn UnitEvaluator>,
}

/// Loads a network: a native `.net` file, or a directory of ONNX units (`docs/onnx.md`).
pub fn load_network(path: &Path) -> anyhow::Result<LoadedNetwork> {
    if path.is_dir() {
        let net = lut_build::net::onnx::OnnxNet::load(path)
            .with_context(|| format!("loading ONNX network {}", path.display()))?;
        return Ok(LoadedNetwork {
            description: net.description().clone(),
            units: Box::new(net),
        });
    }
    let net = NetFile::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(LoadedNetwork {
        description: net.description.clone(),
        units: Box::new(net),
    })
}

/// Runs `from-net`.
pub fn from_net(args: FromNetArgs) -> anyhow::Result<()> {
    let net = load_network(&args.net)?;
    let opts = TransferOptions {
        layout: args.layout.layout(),
        progress: true,
    };
    let (bytes, report) = transfer(&net.description, net.units.as_ref(), &opts)
        .with_context(|| format!("transferring {}", args.net.display()))?;
    lut_filter::io::write_atomic(&args.out, &bytes)
        .with_context(|| format!("writing {}", args.out.display()))?;
    if let Some(path) = &args.report {
        lut_filter::io::write_atomic(path, serde_json::to_string_pretty(&report)?.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    print_report(&report);
    println!("wrote {} ({} bytes)", args.out.display(), bytes.len());
    Ok(())
}

/// Prints the per-model lines and the totals of a transfer.
pub fn print_report(r: &TransferReport) {
    println!(
        "{:<16} {:>4} {:>7} {:>6} {:>12} {:>12} {:>7} {:>14} {:>8}",
        "model", "comp", "QP", "units", "regular B", "tables B", "ratio", "clipped", "time s"
    );
    for m in &r.models {
        let secs: f64 = m.units.iter().map(|u| u.seconds).sum();
        println!(
            "{:<16} {:>4} {:>3}-{:<3} {:>6} {:>12} {:>12} {:>6.2}x {:>7} {:>5.2}% {:>8.2}",
            m.model,
            m.component.name(),
            m.qp_range[0],
            m.qp_range[1],
            m.units.len(),
            m.regular_bytes,
            m.table_bytes,
            m.regular_bytes as f64 / m.table_bytes.max(1) as f64,
            m.clipped(),
            100.0 * m.clipped() as f64 / m.entries().max(1) as f64,
            secs
        );
    }
    println!(
        "{} units, {} grid rows in {:.2} s wall ({:.1} units/s, {:.2} M rows/s); container {} bytes",
        r.units(),
        r.rows(),
        r.seconds,
        r.units() as f64 / r.seconds,
        r.rows() as f64 / r.seconds / 1e6,
        r.container_bytes
    );
}

/// Preset architectures of `init-net`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Arch {
    /// One spatial stage (patterns s, d, y) on the `--component` plane.
    Cascade1,
    /// Two cascaded stages.
    Cascade2,
    /// Three cascaded stages.
    Cascade3,
    /// The luma reference architecture (RF-1: 3 stages, channel fusion, 3 final stages).
    LumaRef,
    /// The cross-component chroma architecture, one model for U and one for V.
    ChromaCc,
}

/// Hidden-unit transfer choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TransferArg {
    /// `127 tanh(y)`.
    Tanh,
    /// `clamp(127 y, -127, 127)`.
    Clamp,
}

/// Options of `lut-build init-net`.
#[derive(Args, Debug)]
pub struct InitNetArgs {
    /// Output network file (`.net`).
    #[arg(long)]
    out: PathBuf,
    /// Architectures (comma-separated), one model each (`chroma-cc`: a U and a V model).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "luma-ref")]
    arch: Vec<Arch>,
    /// Component filtered by the cascade architectures.
    #[arg(long, default_value = "y")]
    component: Component,
    /// Hidden widths of every unit (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "64,64")]
    hidden: Vec<usize>,
    /// Output transfer of every unit.
    #[arg(long, value_enum, default_value_t = TransferArg::Tanh)]
    transfer: TransferArg,
    /// Gain of the last layer's initialisation (larger: larger table values, more clipping).
    #[arg(long, default_value_t = 1.0)]
    gain: f32,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Inclusive slice-QP range of the models (`LO,HI`).
    #[arg(long, value_delimiter = ',', num_args = 2, default_values_t = [0, 63])]
    qp_range: Vec<i32>,
    /// Residual scale numerator (10-bit codes per table unit = scale / 2^scale-shift).
    #[arg(long, default_value_t = 1)]
    scale: i32,
    /// Residual scale shift.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u8).range(0..=24))]
    scale_shift: u8,
    /// The description's table layout (what `from-net` builds without `--layout`).
    #[command(flatten)]
    layout: LayoutArgs,
}

/// The description of `init-net`'s architectures.
pub fn preset_description(
    archs: &[Arch],
    component: Component,
    qp_range: [i32; 2],
    layout: TableLayout,
    scale: i32,
    scale_shift: u8,
) -> anyhow::Result<ContainerDescription> {
    let mut models: Vec<ModelDescription> = Vec::new();
    for &a in archs {
        let c = component;
        match a {
            Arch::Cascade1 | Arch::Cascade2 | Arch::Cascade3 => {
                let stages = match a {
                    Arch::Cascade1 => 1,
                    Arch::Cascade2 => 2,
                    _ => 3,
                };
                models.push(presets::cascade(
                    &format!("{c}-cascade{stages}"),
                    c,
                    qp_range,
                    stages,
                    layout,
                    scale,
                    scale_shift,
                ));
            }
            Arch::LumaRef => models.push(presets::luma_reference(
                "y-ref",
                qp_range,
                layout,
                scale,
                scale_shift,
            )),
            Arch::ChromaCc => {
                for c in [Component::U, Component::V] {
                    models.push(presets::chroma_cross_component(
                        &format!("{c}-cc"),
                        c,
                        qp_range,
                        layout,
                        scale,
                        scale_shift,
                    ));
                }
            }
        }
    }
    for (i, m) in models.iter().enumerate() {
        anyhow::ensure!(
            !models[..i].iter().any(|o| o.name == m.name),
            "architecture '{}' is named twice",
            m.name
        );
    }
    Ok(ContainerDescription { models })
}

/// Runs `init-net`.
pub fn init_net(args: InitNetArgs) -> anyhow::Result<()> {
    let layout = args.layout.layout().unwrap_or(TableLayout::Dfc {
        dims: args.layout.dims,
        dw: args.layout.dw,
        si: args.layout.si,
    });
    let qp = [args.qp_range[0], args.qp_range[1]];
    anyhow::ensure!(qp[0] <= qp[1], "--qp-range {}-{} is empty", qp[0], qp[1]);
    let desc = preset_description(
        &args.arch,
        args.component,
        qp,
        layout,
        args.scale,
        args.scale_shift,
    )?;
    let transfer = match args.transfer {
        TransferArg::Tanh => Transfer::Tanh,
        TransferArg::Clamp => Transfer::Clamp,
    };
    let net = NetFile::random(desc, &args.hidden, transfer, args.gain, args.seed);
    net.write(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let params: usize = net
        .units
        .values()
        .flat_map(|u| &u.layers)
        .map(|l| l.weight.len() + l.bias.len())
        .sum();
    println!(
        "wrote {}: {} models, {} units, {params} parameters",
        args.out.display(),
        net.description.models.len(),
        net.units.len()
    );
    Ok(())
}

/// Options of `lut-build inspect`.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// A network (`.net`) or a LUT container (`.lut`); the kind is read from the file.
    file: PathBuf,
    /// Print the description JSON (pretty) after the summary.
    #[arg(long)]
    json: bool,
}

/// Runs `inspect`.
pub fn inspect(args: InspectArgs) -> anyhow::Result<()> {
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: not a safetensors file: {e}", args.file.display()))?;
    let format = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get("format"))
        .cloned()
        .unwrap_or_default();
    let description = match format.as_str() {
        lut_build::net::file::FORMAT => inspect_net(&bytes)?,
        lut_filter::container::FORMAT_NAME => inspect_lut(bytes)?,
        other => anyhow::bail!(
            "{}: format '{other}' is neither a network ('{}') nor a LUT container ('{}')",
            args.file.display(),
            lut_build::net::file::FORMAT,
            lut_filter::container::FORMAT_NAME
        ),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&description)?);
    }
    Ok(())
}

fn layout_name(l: &TableLayout) -> String {
    match l {
        TableLayout::Regular => "regular".into(),
        TableLayout::Dfc { dims, dw, si } => format!("dfc(dims {dims}, dw {dw}, si {si})"),
    }
}

fn node_line(n: &Node) -> String {
    match n {
        Node::Spatial(s) => {
            let patterns: Vec<&str> = s.patterns.iter().map(|p| p.name()).collect();
            let sampling = match s.sampling {
                lut_filter::Sampling::Same => "",
                lut_filter::Sampling::ChromaFromLuma { .. } => ", chroma from luma",
            };
            format!(
                "spatial {:<4} <- {:<6} patterns {} x{} rot, {} out, {}{sampling}",
                s.name,
                s.input,
                patterns.join(","),
                s.rotations,
                s.outputs,
                layout_name(&s.table)
            )
        }
        Node::Channel(c) => format!(
            "channel {:<4} <- ({}), {} out",
            c.name,
            c.inputs.join(", "),
            c.outputs
        ),
    }
}

fn model_header(m: &ModelDescription) {
    println!(
        "model {} ({}, QP {}-{}, bit depths {}-{}), output = ({}) x {}/2^{}",
        m.name,
        m.component,
        m.qp_range[0],
        m.qp_range[1],
        m.bit_depths[0],
        m.bit_depths[1],
        m.output.terms.join(" + "),
        m.output.scale,
        m.output.scale_shift
    );
    if !m.notes.is_empty() {
        println!("  notes: {}", m.notes);
    }
}

fn inspect_net(bytes: &[u8]) -> anyhow::Result<ContainerDescription> {
    let net = NetFile::from_bytes(bytes)?;
    println!(
        "network ({} {}), {} bytes, {} models, {} units",
        lut_build::net::file::FORMAT,
        lut_build::net::file::VERSION,
        bytes.len(),
        net.description.models.len(),
        net.units.len()
    );
    let mut total_params = 0;
    for m in &net.description.models {
        model_header(m);
        for n in &m.nodes {
            println!("  {}", node_line(n));
        }
        let mut macs_per_sample = 0usize;
        for slot in unit_slots(m) {
            let u = net.unit(&slot.name)?;
            let params: usize = u.layers.iter().map(|l| l.weight.len() + l.bias.len()).sum();
            total_params += params;
            let mut dims = vec![u.spec.inputs.to_string()];
            dims.extend(u.spec.hidden.iter().map(usize::to_string));
            dims.push(u.spec.outputs.to_string());
            // Evaluations per output sample: rotations for spatial units, 1 for channel units.
            let evals = m
                .nodes
                .iter()
                .find_map(|n| match n {
                    Node::Spatial(s)
                        if slot.name.starts_with(&format!("{}/{}/", m.name, s.name)) =>
                    {
                        Some(usize::from(s.rotations))
                    }
                    _ => None,
                })
                .unwrap_or(1);
            macs_per_sample += evals * u.macs();
            println!(
                "    unit {:<16} {:<16} {:>6} MACs {:>7} params  {:?}",
                slot.name,
                dims.join("-"),
                u.macs(),
                params,
                u.spec.transfer
            );
        }
        println!(
            "  {:.1} kMAC per output sample",
            macs_per_sample as f64 / 1e3
        );
    }
    println!("{total_params} parameters");
    Ok(net.description)
}

fn inspect_lut(bytes: Vec<u8>) -> anyhow::Result<ContainerDescription> {
    let size = bytes.len();
    let c = Container::from_bytes(bytes)?;
    println!(
        "LUT container ({} {}), {} bytes, checksum crc32:{:08x}, {} models",
        lut_filter::container::FORMAT_NAME,
        c.version(),
        size,
        c.checksum(),
        c.models().count()
    );
    for m in c.models() {
        let d = m.description();
        model_header(d);
        for n in &d.nodes {
            println!("  {}", node_line(n));
        }
        println!("  tables: {} bytes", m.table_bytes());
    }
    println!("tensors:");
    for (name, dtype, shape, bytes) in c.tensors() {
        println!("  {name:<28} {dtype:?} {shape:?} {bytes} bytes");
    }
    Ok(c.description().clone())
}
