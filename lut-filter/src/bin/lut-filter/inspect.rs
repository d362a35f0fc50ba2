//! `lut-filter inspect`: what a container holds.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use lut_filter::container::FORMAT_NAME;
use lut_filter::default_model::IS_IDENTITY_PLACEHOLDER;
use lut_filter::{Model, Node, Sampling, TableLayout};

use crate::open_container;

fn sampling(s: &Sampling) -> String {
    match s {
        Sampling::Same => "same".into(),
        Sampling::ChromaFromLuma { phases } => format!("chroma_from_luma phases {phases:?}"),
    }
}

fn layout(t: &TableLayout) -> String {
    match t {
        TableLayout::Regular => "regular (17^4 rows)".into(),
        TableLayout::Dfc { dims, dw, si } => format!("dfc (dims {dims}, dw {dw}, si {si})"),
    }
}

fn node_line(node: &Node) -> String {
    match node {
        Node::Spatial(s) => format!(
            "{}: spatial, input {}, patterns {}, rotations {}, outputs {}, sampling {}, table {}",
            s.name,
            s.input,
            s.patterns
                .iter()
                .map(|p| p.name())
                .collect::<Vec<_>>()
                .join(","),
            s.rotations,
            s.outputs,
            sampling(&s.sampling),
            layout(&s.table)
        ),
        Node::Channel(c) => format!(
            "{}: channel (trilinear 17^3), inputs {}, outputs {}",
            c.name,
            c.inputs.join(","),
            c.outputs
        ),
    }
}

fn is_identity(m: &Model<'_>) -> bool {
    m.description().output.scale == 0
}

/// Runs the command; returns the report.
pub fn run(file: Option<&Path>, tensors: bool, json: bool) -> Result<String> {
    let (container, _) = open_container(file, false)?;
    let embedded = file.is_none();
    let placeholder = embedded && IS_IDENTITY_PLACEHOLDER;
    let all_identity = container.models().all(|m| is_identity(&m));

    if json {
        let models: Vec<_> = container
            .models()
            .map(|m| {
                serde_json::json!({
                    "description": m.description(),
                    "table_bytes": m.table_bytes(),
                    "margin": m.margin(),
                    "identity": is_identity(&m),
                })
            })
            .collect();
        let mut doc = serde_json::json!({
            "container": file.map_or_else(|| "<embedded default>".to_string(), |p| p.display().to_string()),
            "embedded": embedded,
            "identity_placeholder": placeholder,
            "format": FORMAT_NAME,
            "format_version": container.version(),
            "checksum": format!("crc32:{:08x}", container.checksum()),
            "size": container.size(),
            "models": models,
        });
        if tensors {
            doc["tensors"] = container
                .tensors()
                .map(|(name, dtype, shape, bytes)| {
                    serde_json::json!({
                        "name": name, "dtype": format!("{dtype:?}"), "shape": shape, "bytes": bytes
                    })
                })
                .collect();
        }
        return Ok(format!("{}\n", serde_json::to_string_pretty(&doc)?));
    }

    let mut out = String::new();
    let name = file.map_or_else(
        || "<embedded default>".to_string(),
        |p| p.display().to_string(),
    );
    writeln!(out, "container: {name}")?;
    if placeholder {
        writeln!(
            out,
            "  NOTE: this is the IDENTITY PLACEHOLDER (zero residual; filters nothing) until the \
             trained model lands"
        )?;
    } else if all_identity {
        writeln!(
            out,
            "  NOTE: every model has output scale 0: identity (zero residual; filters nothing)"
        )?;
    }
    writeln!(out, "format: {FORMAT_NAME} {}", container.version())?;
    writeln!(
        out,
        "checksum: crc32:{:08x} (verified)",
        container.checksum()
    )?;
    writeln!(out, "size: {} bytes", container.size())?;
    let count = container.models().count();
    writeln!(out, "models: {count}")?;
    for m in container.models() {
        let d = m.description();
        writeln!(out)?;
        writeln!(out, "model '{}'", d.name)?;
        writeln!(out, "  component: {}", d.component)?;
        writeln!(out, "  QP range: {}..={}", d.qp_range[0], d.qp_range[1])?;
        writeln!(out, "  pictures: {}", d.pictures.name())?;
        writeln!(
            out,
            "  bit depths: {}..={}",
            d.bit_depths[0], d.bit_depths[1]
        )?;
        writeln!(out, "  nodes ({}):", d.nodes.len())?;
        for n in &d.nodes {
            writeln!(out, "    {}", node_line(n))?;
        }
        writeln!(
            out,
            "  output: terms {}, scale {} / 2^{} (10-bit code values per table unit){}",
            d.output.terms.join(" + "),
            d.output.scale,
            d.output.scale_shift,
            if is_identity(&m) {
                " -> identity (zero residual)"
            } else {
                ""
            }
        )?;
        writeln!(out, "  table bytes: {}", m.table_bytes())?;
        writeln!(out, "  margin: {} samples", m.margin())?;
        if !d.notes.is_empty() {
            writeln!(out, "  notes: {}", d.notes)?;
        }
    }
    if tensors {
        writeln!(out)?;
        let list: Vec<_> = container.tensors().collect();
        writeln!(out, "tensors ({}):", list.len())?;
        for (name, dtype, shape, bytes) in list {
            writeln!(out, "  {name}  {dtype:?}  {shape:?}  {bytes} bytes")?;
        }
    }
    Ok(out)
}
