//! Transfer: from network units to int8 tables (DESIGN §1-2).
//!
//! Every unit is evaluated at every node of its grid (17^4 rows for a spatial unit, 17^3 for a
//! channel unit; node `n` is the normalised input `n / 16`), in chunks of [`CHUNK_ROWS`] rows in
//! parallel with rayon, and each raw output is turned into a table entry by the unit's
//! [`Transfer::quantise`] (clipped entries are counted). Spatial tables are built on the regular
//! grid; nodes whose layout is DFC are compacted from it with [`DfcGeometry::compact`]. The
//! tables are written into a LUT container with [`ContainerWriter`], whose tensor naming is the
//! container's (`lut_filter::plan::required_tensors`).
//!
//! The transfer only sees `(&ContainerDescription, &dyn UnitEvaluator)`: native networks
//! ([`super::NetFile`]) and any other unit source (ONNX) go through the same code. The result
//! does not depend on the number of threads.

use std::collections::HashMap;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use lut_filter::plan::RequiredTensor;
use lut_filter::tables::{CHANNEL_ROWS, DfcGeometry, NODES, REGULAR_ROWS};
use lut_filter::{Component, ContainerDescription, ContainerWriter, Node, TableLayout};
use rayon::prelude::*;
use serde::Serialize;

use super::{NetError, Transfer, UnitEvaluator, UnitSlot, unit_slots};

/// Rows evaluated per call of the unit evaluator.
pub const CHUNK_ROWS: usize = 4096;

/// Errors of the transfer.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// A unit could not be evaluated.
    #[error(transparent)]
    Net(#[from] NetError),
    /// The container could not be built (invalid description, inconsistent tables).
    #[error("building the container: {0}")]
    Container(#[from] lut_filter::Error),
}

/// Transfer options.
#[derive(Clone, Debug, Default)]
pub struct TransferOptions {
    /// Table layout for every spatial node, overriding the description's (`None`: keep it).
    pub layout: Option<TableLayout>,
    /// Draw a progress bar (over all units) on stderr.
    pub progress: bool,
}

/// What the transfer did for one unit.
#[derive(Clone, Debug, Serialize)]
pub struct UnitReport {
    /// Unit name (`<model>/<node>/<pattern>` or `<model>/<node>`).
    pub unit: String,
    /// Grid rows evaluated (83,521 or 4,913).
    pub rows: usize,
    /// Outputs per row.
    pub outputs: usize,
    /// Entries clipped by the transfer (of `rows * outputs`).
    pub clipped: usize,
    /// Wall time of its evaluation and quantisation, seconds.
    pub seconds: f64,
}

/// What the transfer did for one model.
#[derive(Clone, Debug, Serialize)]
pub struct ModelReport {
    /// Model name.
    pub model: String,
    /// Component filtered.
    pub component: Component,
    /// Slice-QP range.
    pub qp_range: [i32; 2],
    /// Bytes of its tables in the container (int8 tables and index tables).
    pub table_bytes: usize,
    /// Bytes its tables would take with regular 17^4 spatial tables.
    pub regular_bytes: usize,
    /// Per unit.
    pub units: Vec<UnitReport>,
}

impl ModelReport {
    /// Clipped entries over all units.
    pub fn clipped(&self) -> usize {
        self.units.iter().map(|u| u.clipped).sum()
    }

    /// Table entries over all units (regular grids).
    pub fn entries(&self) -> usize {
        self.units.iter().map(|u| u.rows * u.outputs).sum()
    }
}

/// What the transfer did.
#[derive(Clone, Debug, Serialize)]
pub struct TransferReport {
    /// Per model, in description order.
    pub models: Vec<ModelReport>,
    /// Wall time of the whole transfer (evaluation, compaction, serialisation), seconds.
    pub seconds: f64,
    /// Size of the container, bytes.
    pub container_bytes: usize,
}

impl TransferReport {
    /// Units evaluated.
    pub fn units(&self) -> usize {
        self.models.iter().map(|m| m.units.len()).sum()
    }

    /// Grid rows evaluated.
    pub fn rows(&self) -> usize {
        self.models
            .iter()
            .flat_map(|m| &m.units)
            .map(|u| u.rows)
            .sum()
    }
}

/// The normalised input of grid row `row` of a unit with `inputs` inputs (4 or 3): its node
/// coordinates in row-major order (last coordinate fastest), each `n / 16`.
pub fn grid_input(row: usize, inputs: usize) -> [f32; 4] {
    let mut v = [0f32; 4];
    let mut r = row;
    for i in (0..inputs).rev() {
        v[i] = (r % NODES) as f32 / 16.0;
        r /= NODES;
    }
    v
}

/// Evaluates one unit on its whole grid and quantises it: the regular table (`[rows, outputs]`,
/// row-major) and the number of clipped entries.
pub fn unit_table(eval: &dyn UnitEvaluator, slot: &UnitSlot) -> Result<(Vec<i8>, usize), NetError> {
    let rows = if slot.inputs == 4 {
        REGULAR_ROWS
    } else {
        CHANNEL_ROWS
    };
    let k = slot.outputs;
    let transfer: Transfer = eval.transfer(&slot.name)?;
    let mut table = vec![0i8; rows * k];
    let clipped = table
        .par_chunks_mut(CHUNK_ROWS * k)
        .enumerate()
        .map(|(c, chunk)| -> Result<usize, NetError> {
            let first = c * CHUNK_ROWS;
            let n = chunk.len() / k;
            let mut x = Vec::with_capacity(n * slot.inputs);
            for row in first..first + n {
                x.extend_from_slice(&grid_input(row, slot.inputs)[..slot.inputs]);
            }
            let mut y = vec![0f32; n * k];
            eval.eval(&slot.name, &x, &mut y)?;
            if let Some(i) = y.iter().position(|v| v.is_nan()) {
                return Err(NetError::Unit {
                    unit: slot.name.clone(),
                    what: format!("output is NaN at grid row {}", first + i / k),
                });
            }
            let mut clipped = 0;
            for (t, &v) in chunk.iter_mut().zip(&y) {
                let (q, c) = transfer.quantise(v);
                *t = q;
                clipped += usize::from(c);
            }
            Ok(clipped)
        })
        .try_reduce(|| 0, |a, b| Ok(a + b))?;
    Ok((table, clipped))
}

fn progress_bar(units: usize, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    ProgressBar::new(units as u64).with_style(
        ProgressStyle::with_template(
            "transfer [{elapsed_precise}] {wide_bar} {pos}/{len} units (eta {eta}) {msg}",
        )
        .expect("valid template"),
    )
}

/// Applies a layout override to every spatial node of `desc`.
pub fn with_layout(
    desc: &ContainerDescription,
    layout: Option<TableLayout>,
) -> ContainerDescription {
    let mut desc = desc.clone();
    if let Some(layout) = layout {
        for node in desc.models.iter_mut().flat_map(|m| &mut m.nodes) {
            if let Node::Spatial(s) = node {
                s.table = layout;
            }
        }
    }
    desc
}

/// Transfers every unit of every model of `desc` into tables and serialises the container
/// (validated by opening it). Returns the container bytes and the report.
pub fn transfer(
    desc: &ContainerDescription,
    eval: &dyn UnitEvaluator,
    opts: &TransferOptions,
) -> Result<(Vec<u8>, TransferReport), TransferError> {
    let start = Instant::now();
    let desc = with_layout(desc, opts.layout);
    for m in &desc.models {
        lut_filter::plan::check_description(m)?;
    }
    let bar = progress_bar(
        desc.models.iter().map(|m| unit_slots(m).len()).sum(),
        opts.progress,
    );
    let mut writer = ContainerWriter::new();
    let mut models = Vec::new();
    for m in &desc.models {
        let mut tables: HashMap<String, Vec<i8>> = HashMap::new();
        let mut units = Vec::new();
        for slot in unit_slots(m) {
            bar.set_message(slot.name.clone());
            let t0 = Instant::now();
            let (table, clipped) = unit_table(eval, &slot)?;
            units.push(UnitReport {
                unit: slot.name.clone(),
                rows: table.len() / slot.outputs,
                outputs: slot.outputs,
                clipped,
                seconds: t0.elapsed().as_secs_f64(),
            });
            tables.insert(slot.name, table);
            bar.inc(1);
        }
        let tensors = compact_tables(m, &tables);
        writer.add_model(m.clone(), |req: &RequiredTensor| {
            tensors.get(&req.name).cloned().unwrap_or_default()
        })?;
        let regular_bytes = units.iter().map(|u| u.rows * u.outputs).sum();
        models.push(ModelReport {
            model: m.name.clone(),
            component: m.component,
            qp_range: m.qp_range,
            table_bytes: 0,
            regular_bytes,
            units,
        });
    }
    bar.finish_and_clear();
    let bytes = writer.to_bytes()?;
    let container = lut_filter::Container::from_bytes(bytes.clone())?;
    for (report, model) in models.iter_mut().zip(container.models()) {
        report.table_bytes = model.table_bytes();
    }
    let report = TransferReport {
        models,
        seconds: start.elapsed().as_secs_f64(),
        container_bytes: bytes.len(),
    };
    Ok((bytes, report))
}

/// The container tensors of model `m` (by required-tensor name) from its units' regular tables:
/// regular spatial tables as they are, DFC ones compacted (fine and coarse rows; the writer adds
/// the canonical index), channel tables as they are.
fn compact_tables(
    m: &lut_filter::ModelDescription,
    tables: &HashMap<String, Vec<i8>>,
) -> HashMap<String, Vec<i8>> {
    let mut out = HashMap::new();
    for node in &m.nodes {
        match node {
            Node::Spatial(s) => {
                let k = usize::from(s.outputs);
                let geometry = match s.table {
                    TableLayout::Regular => None,
                    TableLayout::Dfc { dims, dw, si } => Some(DfcGeometry {
                        dims: dims.into(),
                        dw: dw.into(),
                        si: si.into(),
                    }),
                };
                let pieces: Vec<Vec<(String, Vec<i8>)>> = s
                    .patterns
                    .par_iter()
                    .map(|p| {
                        let prefix = format!("{}/{}/{}", m.name, s.name, p.name());
                        let regular = &tables[&prefix];
                        match geometry {
                            None => vec![(prefix.clone(), regular.clone())],
                            Some(g) => {
                                let (fine, _, coarse) = g.compact(regular, k);
                                vec![
                                    (format!("{prefix}/fine"), fine),
                                    (format!("{prefix}/coarse"), coarse),
                                ]
                            }
                        }
                    })
                    .collect();
                out.extend(pieces.into_iter().flatten());
            }
            Node::Channel(c) => {
                let name = format!("{}/{}", m.name, c.name);
                out.insert(name.clone(), tables[&name].clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_inputs_follow_the_row_order() {
        assert_eq!(grid_input(0, 4), [0.0; 4]);
        let row = lut_filter::tables::regular_row(1, 2, 3, 16);
        assert_eq!(
            grid_input(row, 4),
            [1.0 / 16.0, 2.0 / 16.0, 3.0 / 16.0, 1.0]
        );
        let row = (5 * NODES + 16) * NODES + 7;
        assert_eq!(grid_input(row, 3), [5.0 / 16.0, 1.0, 7.0 / 16.0, 0.0]);
        assert_eq!(grid_input(REGULAR_ROWS - 1, 4), [1.0; 4]);
    }
}
