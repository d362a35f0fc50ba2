//! Validation of a model description against the container's tensors, producing the executable
//! plan the engine and the reference run. Done once at open; nothing is re-checked per picture.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::OnceLock;

use crate::Error;
use crate::description::{Component, Grid, ModelDescription, Node, Pattern, Sampling, TableLayout};
use crate::tables::{CHANNEL_ROWS, DfcGeometry, REGULAR_ROWS};

/// Element type of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TensorType {
    /// int8 table values.
    I8,
    /// int16 index.
    I16,
    /// int32 index.
    I32,
    /// Anything else (never valid in a container's tables).
    Other,
}

/// A tensor found in the container: type, shape and absolute byte range.
#[derive(Clone, Debug)]
pub struct TensorEntry {
    /// Element type.
    pub dtype: TensorType,
    /// Shape.
    pub shape: Vec<usize>,
    /// Absolute byte range in the container.
    pub range: Range<usize>,
}

/// One tensor a description requires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequiredTensor {
    /// Name.
    pub name: String,
    /// What it holds.
    pub kind: RequiredKind,
    /// Shape.
    pub shape: Vec<usize>,
}

/// What a required tensor holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequiredKind {
    /// int8 table values.
    Table,
    /// DFC fine index (int16, or int32 where rows exceed int16). Optional since format 1.1:
    /// when the tensor is absent, the index is the canonical one,
    /// [`DfcGeometry::fine_index`](crate::tables::DfcGeometry::fine_index).
    FineIndex,
}

/// A map reference resolved to its producer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum MapId {
    /// Codec plane.
    Input(Component),
    /// Output `k` of node `n`.
    Node(usize, usize),
}

/// Table location in the container bytes (int8 tables zero-copy; the index decoded at open).
#[derive(Clone, Debug)]
pub(crate) enum TableLoc {
    Regular(Range<usize>),
    Dfc {
        geometry: DfcGeometry,
        fine: Range<usize>,
        index: Vec<i32>,
        coarse: Range<usize>,
    },
}

#[derive(Clone, Debug)]
pub(crate) enum PlanKind {
    Spatial {
        input: MapId,
        tables: Vec<(Pattern, TableLoc)>,
        rotations: usize,
        /// `None`: same grid; `Some(phases)`: chroma from luma.
        phases: Option<[[u8; 2]; 4]>,
    },
    Channel {
        inputs: [MapId; 3],
        table: Range<usize>,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct PlanNode {
    pub kind: PlanKind,
    pub outputs: usize,
    /// Look-ups summed per output (requantisation divisor).
    pub terms: u32,
    /// Grid of the outputs.
    pub grid: Grid,
}

/// A validated model.
#[derive(Clone, Debug)]
pub(crate) struct ModelPlan {
    pub desc: ModelDescription,
    pub nodes: Vec<PlanNode>,
    pub terms: Vec<(usize, usize)>,
    /// Layouts of its DFC tables for the SIMD kernels, built on first use.
    pub layouts: SimdLayouts,
}

/// Layouts of a model's DFC tables that the SIMD kernels read, one per DFC table in plan order
/// (nodes, then patterns), built by the first filter call that needs them and kept as long as
/// the container: rows by position ([`DfcGeometry::dense`], every SIMD level) and, for
/// 1- and 2-output tables, cubes ([`DfcGeometry::cubes`], AVX-512).
#[derive(Clone, Debug, Default)]
pub(crate) struct SimdLayouts {
    pub dense: OnceLock<Vec<Vec<i8>>>,
    pub cubes: OnceLock<Vec<Option<Vec<i8>>>>,
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Resolves `in.y` / `<node>.<k>` against the nodes seen so far.
fn resolve(
    model: &str,
    r: &str,
    names: &HashMap<&str, usize>,
    nodes: &[PlanNode],
) -> Result<MapId, Error> {
    let (head, tail) = r.split_once('.').ok_or_else(|| {
        Error::model(
            model,
            format!("map '{r}' is not 'in.<y|u|v>' or '<node>.<k>'"),
        )
    })?;
    if head == "in" {
        let c: Component = tail
            .parse()
            .map_err(|e: String| Error::model(model, format!("map '{r}': {e}")))?;
        return Ok(MapId::Input(c));
    }
    let &n = names
        .get(head)
        .ok_or_else(|| Error::model(model, format!("map '{r}' names no earlier node")))?;
    let k: usize = tail
        .parse()
        .map_err(|_| Error::model(model, format!("map '{r}': output index is not a number")))?;
    if k >= nodes[n].outputs {
        return Err(Error::model(
            model,
            format!("map '{r}': node '{head}' has {} outputs", nodes[n].outputs),
        ));
    }
    Ok(MapId::Node(n, k))
}

/// The tensors a model description requires, in a fixed order (writers fill these).
pub fn required_tensors(desc: &ModelDescription) -> Vec<RequiredTensor> {
    let mut out = Vec::new();
    for node in &desc.nodes {
        match node {
            Node::Spatial(s) => {
                let k = usize::from(s.outputs);
                for p in &s.patterns {
                    let prefix = format!("{}/{}/{}", desc.name, s.name, p.name());
                    match s.table {
                        TableLayout::Regular => out.push(RequiredTensor {
                            name: prefix,
                            kind: RequiredKind::Table,
                            shape: vec![REGULAR_ROWS, k],
                        }),
                        TableLayout::Dfc { dims, dw, si } => {
                            let g = DfcGeometry {
                                dims: dims.into(),
                                dw: dw.into(),
                                si: si.into(),
                            };
                            let rows = g.fine_index().1;
                            out.push(RequiredTensor {
                                name: format!("{prefix}/fine"),
                                kind: RequiredKind::Table,
                                shape: vec![rows, k],
                            });
                            out.push(RequiredTensor {
                                name: format!("{prefix}/fine_index"),
                                kind: RequiredKind::FineIndex,
                                shape: vec![g.index_len()],
                            });
                            out.push(RequiredTensor {
                                name: format!("{prefix}/coarse"),
                                kind: RequiredKind::Table,
                                shape: vec![g.coarse_rows(), k],
                            });
                        }
                    }
                }
            }
            Node::Channel(c) => out.push(RequiredTensor {
                name: format!("{}/{}", desc.name, c.name),
                kind: RequiredKind::Table,
                shape: vec![CHANNEL_ROWS, usize::from(c.outputs)],
            }),
        }
    }
    out
}

/// Checks a description on its own (no tensors): names, ranges, references and grids.
pub fn check_description(desc: &ModelDescription) -> Result<(), Error> {
    build_plan(desc, &|_| Ok(TableLoc::Regular(0..0)), &|_| Ok(0..0)).map(|_| ())
}

/// Validates `desc` against `tensors` and builds its plan. `bytes` is the container.
pub(crate) fn plan_model(
    desc: &ModelDescription,
    tensors: &BTreeMap<String, TensorEntry>,
    bytes: &[u8],
) -> Result<ModelPlan, Error> {
    let fetch = |req: &RequiredTensor| -> Result<&TensorEntry, Error> {
        let t = tensors
            .get(&req.name)
            .ok_or_else(|| Error::tensor(&req.name, "missing (the description needs it)"))?;
        let ok_type = match req.kind {
            RequiredKind::Table => t.dtype == TensorType::I8,
            RequiredKind::FineIndex => matches!(t.dtype, TensorType::I16 | TensorType::I32),
        };
        if !ok_type {
            return Err(Error::tensor(
                &req.name,
                format!("has type {:?}, expected {:?} elements", t.dtype, req.kind),
            ));
        }
        if t.shape != req.shape {
            return Err(Error::tensor(
                &req.name,
                format!(
                    "has shape {:?}, the description needs {:?}",
                    t.shape, req.shape
                ),
            ));
        }
        Ok(t)
    };
    let spatial = |layout: &(String, usize, TableLayout)| -> Result<TableLoc, Error> {
        let (prefix, k, table) = layout;
        match *table {
            TableLayout::Regular => Ok(TableLoc::Regular(
                fetch(&RequiredTensor {
                    name: prefix.clone(),
                    kind: RequiredKind::Table,
                    shape: vec![REGULAR_ROWS, *k],
                })?
                .range
                .clone(),
            )),
            TableLayout::Dfc { dims, dw, si } => {
                let geometry = DfcGeometry {
                    dims: dims.into(),
                    dw: dw.into(),
                    si: si.into(),
                };
                let (canonical, rows) = geometry.fine_index();
                let fine = fetch(&RequiredTensor {
                    name: format!("{prefix}/fine"),
                    kind: RequiredKind::Table,
                    shape: vec![rows, *k],
                })?;
                let coarse = fetch(&RequiredTensor {
                    name: format!("{prefix}/coarse"),
                    kind: RequiredKind::Table,
                    shape: vec![geometry.coarse_rows(), *k],
                })?;
                let index_name = format!("{prefix}/fine_index");
                // Format 1.1: an absent index is the canonical one (derived from the geometry).
                let index = if tensors.contains_key(&index_name) {
                    let it = fetch(&RequiredTensor {
                        name: index_name.clone(),
                        kind: RequiredKind::FineIndex,
                        shape: vec![geometry.index_len()],
                    })?;
                    let raw = &bytes[it.range.clone()];
                    let index: Vec<i32> = match it.dtype {
                        TensorType::I16 => raw
                            .chunks_exact(2)
                            .map(|b| i32::from(i16::from_le_bytes([b[0], b[1]])))
                            .collect(),
                        _ => raw
                            .chunks_exact(4)
                            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                            .collect(),
                    };
                    // Positions on the grid must name a fine row (several may name the same
                    // one); the others are never read.
                    for (pos, (&v, &c)) in index.iter().zip(&canonical).enumerate() {
                        let ok = if c >= 0 {
                            (0..rows as i32).contains(&v)
                        } else {
                            (-1..rows as i32).contains(&v)
                        };
                        if !ok {
                            return Err(Error::tensor(
                                &index_name,
                                format!("entry {pos} is {v}, outside the {rows} fine rows"),
                            ));
                        }
                    }
                    index
                } else {
                    canonical
                };
                Ok(TableLoc::Dfc {
                    geometry,
                    fine: fine.range.clone(),
                    index,
                    coarse: coarse.range.clone(),
                })
            }
        }
    };
    let channel = |name: &(String, usize)| -> Result<Range<usize>, Error> {
        Ok(fetch(&RequiredTensor {
            name: name.0.clone(),
            kind: RequiredKind::Table,
            shape: vec![CHANNEL_ROWS, name.1],
        })?
        .range
        .clone())
    };
    build_plan(desc, &spatial, &channel)
}

type SpatialFetch<'f> = dyn Fn(&(String, usize, TableLayout)) -> Result<TableLoc, Error> + 'f;
type ChannelFetch<'f> = dyn Fn(&(String, usize)) -> Result<Range<usize>, Error> + 'f;

fn build_plan(
    desc: &ModelDescription,
    spatial: &SpatialFetch<'_>,
    channel: &ChannelFetch<'_>,
) -> Result<ModelPlan, Error> {
    let m = desc.name.as_str();
    if !valid_name(m) {
        return Err(Error::model(
            m,
            "name must be 1-64 characters of [A-Za-z0-9_-]",
        ));
    }
    if desc.qp_range[0] > desc.qp_range[1] {
        return Err(Error::model(
            m,
            format!("empty QP range {:?}", desc.qp_range),
        ));
    }
    let [b0, b1] = desc.bit_depths;
    if !(8..=12).contains(&b0) || !(8..=12).contains(&b1) || b0 > b1 {
        return Err(Error::model(
            m,
            format!("bit depth range {b0}..={b1} is not within 8..=12"),
        ));
    }
    if desc.nodes.is_empty() || desc.nodes.len() > 64 {
        return Err(Error::model(m, "a model has 1 to 64 nodes"));
    }
    let target_grid = desc.component.grid();
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut nodes: Vec<PlanNode> = Vec::with_capacity(desc.nodes.len());
    for node in &desc.nodes {
        let name = node.name();
        if !valid_name(name) || name == "in" {
            return Err(Error::model(
                m,
                format!("node name '{name}' must be 1-64 characters of [A-Za-z0-9_-], not 'in'"),
            ));
        }
        if names.contains_key(name) {
            return Err(Error::model(m, format!("node name '{name}' is used twice")));
        }
        if !(1..=8).contains(&node.outputs()) {
            return Err(Error::model(
                m,
                format!("node '{name}' must have 1 to 8 outputs"),
            ));
        }
        let grid_of = |id: MapId, nodes: &[PlanNode]| match id {
            MapId::Input(c) => c.grid(),
            MapId::Node(n, _) => nodes[n].grid,
        };
        let plan = match node {
            Node::Spatial(s) => {
                let input = resolve(m, &s.input, &names, &nodes)?;
                if s.patterns.is_empty() || s.patterns.len() > 3 {
                    return Err(Error::model(
                        m,
                        format!("node '{name}' needs 1 to 3 patterns"),
                    ));
                }
                for (i, p) in s.patterns.iter().enumerate() {
                    if s.patterns[..i].contains(p) {
                        return Err(Error::model(
                            m,
                            format!("node '{name}' lists pattern '{}' twice", p.name()),
                        ));
                    }
                }
                if !(1..=4).contains(&s.rotations) {
                    return Err(Error::model(
                        m,
                        format!("node '{name}' needs 1 to 4 rotations"),
                    ));
                }
                if let TableLayout::Dfc { dims, dw, si } = s.table
                    && (!(2..=4).contains(&dims)
                        || !(1..=8).contains(&dw)
                        || !(4..=7).contains(&si))
                {
                    return Err(Error::model(
                        m,
                        format!(
                            "node '{name}': DFC needs dims 2..=4, dw 1..=8, si 4..=7 \
                             (got {dims}, {dw}, {si})"
                        ),
                    ));
                }
                let in_grid = grid_of(input, &nodes);
                let (grid, phases) = match &s.sampling {
                    Sampling::Same => (in_grid, None),
                    Sampling::ChromaFromLuma { phases } => {
                        if in_grid != Grid::Luma {
                            return Err(Error::model(
                                m,
                                format!("node '{name}': chroma_from_luma reads a luma-grid map"),
                            ));
                        }
                        if phases.iter().flatten().any(|&p| p > 1) {
                            return Err(Error::model(
                                m,
                                format!("node '{name}': phases are 0 or 1"),
                            ));
                        }
                        (Grid::Chroma, Some(*phases))
                    }
                };
                let k = usize::from(s.outputs);
                let mut tables = Vec::new();
                for &p in &s.patterns {
                    let prefix = format!("{m}/{name}/{}", p.name());
                    tables.push((p, spatial(&(prefix, k, s.table))?));
                }
                PlanNode {
                    kind: PlanKind::Spatial {
                        input,
                        tables,
                        rotations: s.rotations.into(),
                        phases,
                    },
                    outputs: k,
                    terms: node.terms(),
                    grid,
                }
            }
            Node::Channel(c) => {
                let mut inputs = [MapId::Input(Component::Y); 3];
                for (slot, r) in inputs.iter_mut().zip(&c.inputs) {
                    *slot = resolve(m, r, &names, &nodes)?;
                }
                let grid = grid_of(inputs[0], &nodes);
                if inputs.iter().any(|&i| grid_of(i, &nodes) != grid) {
                    return Err(Error::model(
                        m,
                        format!("node '{name}': its three inputs must lie on one grid"),
                    ));
                }
                let k = usize::from(c.outputs);
                PlanNode {
                    kind: PlanKind::Channel {
                        inputs,
                        table: channel(&(format!("{m}/{name}"), k))?,
                    },
                    outputs: k,
                    terms: 1,
                    grid,
                }
            }
        };
        if target_grid == Grid::Luma && plan.grid != Grid::Luma {
            return Err(Error::model(
                m,
                format!("node '{name}' produces chroma-grid maps, which a luma model cannot use"),
            ));
        }
        names.insert(name, nodes.len());
        nodes.push(plan);
    }
    let out = &desc.output;
    if out.terms.is_empty() || out.terms.len() > 64 {
        return Err(Error::model(m, "output needs 1 to 64 terms"));
    }
    if out.scale_shift > 24 {
        return Err(Error::model(m, "output scale_shift must be at most 24"));
    }
    let mut terms = Vec::new();
    for t in &out.terms {
        match resolve(m, t, &names, &nodes)? {
            MapId::Input(_) => {
                return Err(Error::model(
                    m,
                    format!("output term '{t}' must be a node output"),
                ));
            }
            MapId::Node(n, k) => {
                if nodes[n].grid != target_grid {
                    return Err(Error::model(
                        m,
                        format!("output term '{t}' is not on the {} grid", desc.component),
                    ));
                }
                terms.push((n, k));
            }
        }
    }
    Ok(ModelPlan {
        desc: desc.clone(),
        nodes,
        terms,
        layouts: SimdLayouts::default(),
    })
}
