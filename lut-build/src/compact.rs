//! Compaction of LUT containers: regular spatial tables -> DFC (fine band + coarse grid,
//! DESIGN §2), and the re-sampling of tables into another DFC geometry that pruning uses.
//!
//! * A regular table compacts exactly: inside the band every look-up equals the regular one
//!   ([`lut_filter::tables::DfcGeometry::compact`]).
//! * A DFC table cannot be re-expanded exactly (the regular grid outside the band is gone), so
//!   compacting it into another geometry is *lossy* and must be asked for. [`resample`] takes each
//!   node of the new geometry from the source where the source stores that node (exact for
//!   `dw' <= dw`, `si' >= si`, same `dims`: the new nodes are a subset of the old ones) and
//!   interpolates the source elsewhere.
//!
//! [`Source`] reads a container's raw tensors (the runtime only exposes validated views to
//! itself); [`rewrite`] writes a container again with some nodes' layouts changed. Canonical DFC
//! fine indexes are omitted (format 1.1); explicit non-canonical ones are kept.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use lut_filter::description::SpatialNode;
use lut_filter::interp::PreparedTable;
use lut_filter::plan::{RequiredKind, required_tensors};
use lut_filter::tables::{
    DfcGeometry, NODES, ONE, REGULAR_ROWS, SpatialTable, for_each_tuple, regular_row,
};
use lut_filter::{Container, ContainerWriter, ModelDescription, Node, Pattern, TableLayout};

/// Errors of compaction and of reading containers' tables.
#[derive(Debug, thiserror::Error)]
pub enum CompactError {
    /// Reading a file.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The container is invalid, or writing it failed validation.
    #[error(transparent)]
    Container(#[from] lut_filter::Error),
    /// A tensor the (validated) description names cannot be read.
    #[error("tensor '{name}': {msg}")]
    Tensor {
        /// Tensor name.
        name: String,
        /// What is wrong.
        msg: String,
    },
    /// A DFC table would have to be re-sampled and the lossy flag was not given.
    #[error(
        "model '{model}' node '{node}' is already DFC(dims {from_dims}, dw {from_dw}, si {from_si}); \
         a DFC table cannot be re-expanded exactly, so compacting it to DFC(dims {dims}, dw {dw}, \
         si {si}) is lossy (pass --lossy to re-sample it)"
    )]
    Lossy {
        /// Model name.
        model: String,
        /// Node name.
        node: String,
        /// Source dims.
        from_dims: u8,
        /// Source dw.
        from_dw: u8,
        /// Source si.
        from_si: u8,
        /// Target dims.
        dims: u8,
        /// Target dw.
        dw: u8,
        /// Target si.
        si: u8,
    },
    /// The model name pattern matches no model.
    #[error("no model name matches '{0}'")]
    NoMatch(String),
}

/// The DFC geometry of a layout (`None` for a regular table).
pub fn geometry_of(layout: TableLayout) -> Option<DfcGeometry> {
    match layout {
        TableLayout::Regular => None,
        TableLayout::Dfc { dims, dw, si } => Some(DfcGeometry {
            dims: dims.into(),
            dw: dw.into(),
            si: si.into(),
        }),
    }
}

/// The layout of a DFC geometry.
pub fn layout_of(g: DfcGeometry) -> TableLayout {
    TableLayout::Dfc {
        dims: g.dims as u8,
        dw: g.dw as u8,
        si: g.si as u8,
    }
}

/// Table bytes of one pattern's table of `outputs` outputs in `layout`, as written by this
/// crate (DFC: fine + coarse rows; the canonical index is omitted).
pub fn table_bytes(layout: TableLayout, outputs: usize) -> usize {
    match geometry_of(layout) {
        None => REGULAR_ROWS * outputs,
        Some(g) => (g.fine_index().1 + g.coarse_rows()) * outputs,
    }
}

/// One 4-D table's values, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TableData {
    /// Full grid, `[83521, outputs]`.
    Regular(Vec<i8>),
    /// DFC-compacted.
    Dfc {
        /// Geometry.
        geometry: DfcGeometry,
        /// Fine rows.
        fine: Vec<i8>,
        /// Fine index (position -> row).
        index: Vec<i32>,
        /// Coarse rows.
        coarse: Vec<i8>,
    },
}

impl TableData {
    /// A look-up view (portable kernels).
    pub fn prepared(&self) -> PreparedTable<'_> {
        PreparedTable::new(match self {
            TableData::Regular(t) => SpatialTable::Regular(t),
            TableData::Dfc {
                geometry,
                fine,
                index,
                coarse,
            } => SpatialTable::Dfc {
                geometry: *geometry,
                fine,
                index,
                coarse,
            },
        })
    }

    /// The layout.
    pub fn layout(&self) -> TableLayout {
        match self {
            TableData::Regular(_) => TableLayout::Regular,
            TableData::Dfc { geometry, .. } => layout_of(*geometry),
        }
    }

    /// The stored values of node tuple `n` (regular-grid coordinates), if the table stores that
    /// node: DFC tables store band tuples (fine) and coarse-grid tuples (coarse). Where both
    /// hold it, `prefer_coarse` picks the coarse row (tables fitted per part may differ).
    fn stored(&self, n: [usize; 4], k: usize, prefer_coarse: bool) -> Option<&[i8]> {
        match self {
            TableData::Regular(t) => {
                let r = regular_row(n[0], n[1], n[2], n[3]);
                Some(&t[r * k..(r + 1) * k])
            }
            TableData::Dfc {
                geometry: g,
                fine,
                index,
                coarse,
            } => {
                let step = g.coarse_step();
                let fine_row = g.in_band(n).then(|| index[g.index_pos(n)] as usize);
                let coarse_row = n.iter().all(|&v| v % step == 0).then(|| {
                    let cn = g.coarse_nodes();
                    let c = n.map(|v| v / step);
                    ((c[0] * cn + c[1]) * cn + c[2]) * cn + c[3]
                });
                let f = fine_row.map(|r| &fine[r * k..(r + 1) * k]);
                let c = coarse_row.map(|r| &coarse[r * k..(r + 1) * k]);
                if prefer_coarse { c.or(f) } else { f.or(c) }
            }
        }
    }

    /// The value of node tuple `n`: stored, else the source's look-up there (8-bit scale, the
    /// 1/256 units rounded half up; within int8 since the look-up is a convex combination).
    /// Node 16 lies at 256, beyond the 8-bit range: it is looked up at 255 (approximate; only
    /// reached when the new geometry's nodes are not a subset of the source's).
    fn node_value(&self, n: [usize; 4], k: usize, prefer_coarse: bool, out: &mut Vec<i8>) {
        if let Some(v) = self.stored(n, k, prefer_coarse) {
            out.extend_from_slice(v);
            return;
        }
        let mut acc = vec![0i32; k];
        let v = n.map(|x| (x as u32 * 16).min(255));
        self.prepared().lookup(v, 4, k, &mut acc);
        out.extend(
            acc.iter()
                .map(|&a| (a + ONE / 2).div_euclid(ONE).clamp(-127, 127) as i8),
        );
    }
}

/// Re-samples a table of `k` outputs into DFC geometry `g`. From a regular table this is the
/// exact compaction; from a DFC table every new node the source stores is copied (fine rows
/// preferring the source's fine rows, coarse rows its coarse rows) and the others are the
/// source's interpolated value there. The index is canonical.
pub fn resample(src: &TableData, k: usize, g: DfcGeometry) -> TableData {
    if let TableData::Regular(t) = src {
        let (fine, index, coarse) = g.compact(t, k);
        return TableData::Dfc {
            geometry: g,
            fine,
            index,
            coarse,
        };
    }
    let (index, rows) = g.fine_index();
    let mut fine = Vec::with_capacity(rows * k);
    for_each_tuple(NODES, |n| {
        if g.in_band(n) {
            src.node_value(n, k, false, &mut fine);
        }
    });
    let step = g.coarse_step();
    let mut coarse = Vec::with_capacity(g.coarse_rows() * k);
    for_each_tuple(g.coarse_nodes(), |c| {
        src.node_value(c.map(|v| v * step), k, true, &mut coarse);
    });
    TableData::Dfc {
        geometry: g,
        fine,
        index,
        coarse,
    }
}

/// A container's bytes and its validated view, for reading raw tensors.
pub struct Source {
    bytes: Vec<u8>,
    container: Container,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("container", &self.container)
            .finish()
    }
}

impl Source {
    /// Reads and validates a container file.
    pub fn read(path: impl AsRef<Path>) -> Result<Self, CompactError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| CompactError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(bytes)
    }

    /// Validates a container held in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, CompactError> {
        let container = Container::from_bytes(bytes.clone())?;
        Ok(Source { bytes, container })
    }

    /// The validated container.
    pub fn container(&self) -> &Container {
        &self.container
    }

    /// Size of the file in bytes.
    pub fn size(&self) -> usize {
        self.bytes.len()
    }

    fn raw(&self, name: &str) -> Result<Option<(safetensors::Dtype, &[u8])>, CompactError> {
        let st = safetensors::SafeTensors::deserialize(&self.bytes).map_err(|e| {
            CompactError::Tensor {
                name: name.into(),
                msg: e.to_string(),
            }
        })?;
        match st.tensor(name) {
            Ok(t) => Ok(Some((t.dtype(), t.data()))),
            Err(_) => Ok(None),
        }
    }

    /// An int8 tensor.
    pub fn i8_tensor(&self, name: &str) -> Result<&[i8], CompactError> {
        match self.raw(name)? {
            Some((safetensors::Dtype::I8, data)) => Ok(bytemuck::cast_slice(data)),
            Some((d, _)) => Err(CompactError::Tensor {
                name: name.into(),
                msg: format!("has type {d}, expected I8"),
            }),
            None => Err(CompactError::Tensor {
                name: name.into(),
                msg: "missing".into(),
            }),
        }
    }

    /// A stored fine index (`None` when absent, i.e. canonical).
    pub fn index_tensor(&self, name: &str) -> Result<Option<Vec<i32>>, CompactError> {
        Ok(match self.raw(name)? {
            None => None,
            Some((safetensors::Dtype::I16, d)) => Some(
                d.chunks_exact(2)
                    .map(|b| i32::from(i16::from_le_bytes([b[0], b[1]])))
                    .collect(),
            ),
            Some((safetensors::Dtype::I32, d)) => Some(
                d.chunks_exact(4)
                    .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
            ),
            Some((d, _)) => {
                return Err(CompactError::Tensor {
                    name: name.into(),
                    msg: format!("has type {d}, expected I16 or I32"),
                });
            }
        })
    }

    /// The table of one pattern of a spatial node of model `model`.
    pub fn spatial_table(
        &self,
        model: &str,
        node: &SpatialNode,
        pattern: Pattern,
    ) -> Result<TableData, CompactError> {
        let prefix = format!("{model}/{}/{}", node.name, pattern.name());
        Ok(match geometry_of(node.table) {
            None => TableData::Regular(self.i8_tensor(&prefix)?.to_vec()),
            Some(geometry) => TableData::Dfc {
                geometry,
                fine: self.i8_tensor(&format!("{prefix}/fine"))?.to_vec(),
                index: self
                    .index_tensor(&format!("{prefix}/fine_index"))?
                    .unwrap_or_else(|| geometry.fine_index().0),
                coarse: self.i8_tensor(&format!("{prefix}/coarse"))?.to_vec(),
            },
        })
    }
}

/// Whether `name` matches a glob `pattern` (`*`: any run of characters, `?`: one character).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some((b'*', rest)) => (0..=n.len()).any(|i| go(rest, &n[i..])),
            Some((&c, rest)) => n
                .split_first()
                .is_some_and(|(&m, nrest)| (c == b'?' || c == m) && go(rest, nrest)),
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

/// Writes `source` again, with the spatial nodes for which `choose` returns a layout re-laid
/// out ([`resample`]); everything else is copied. Canonical fine indexes are omitted, explicit
/// non-canonical ones of unchanged nodes kept.
pub fn rewrite(
    source: &Source,
    mut choose: impl FnMut(&ModelDescription, &SpatialNode) -> Result<Option<TableLayout>, CompactError>,
) -> Result<ContainerWriter, CompactError> {
    let mut writer = ContainerWriter::new();
    for model in &source.container().description().models {
        let mut desc = model.clone();
        let mut tables: HashMap<String, Vec<i8>> = HashMap::new();
        let mut indexes: Vec<(String, Vec<i32>)> = Vec::new();
        for node in &mut desc.nodes {
            let Node::Spatial(s) = node else { continue };
            let k = usize::from(s.outputs);
            let target = choose(model, s)?.filter(|&l| l != s.table);
            for &p in &s.patterns {
                let src = source.spatial_table(&model.name, s, p)?;
                let prefix = format!("{}/{}/{}", model.name, s.name, p.name());
                let out = match target.and_then(geometry_of) {
                    Some(g) => resample(&src, k, g),
                    None => src,
                };
                match out {
                    TableData::Regular(t) => {
                        tables.insert(prefix, t);
                    }
                    TableData::Dfc {
                        geometry,
                        fine,
                        index,
                        coarse,
                    } => {
                        if index != geometry.fine_index().0 {
                            indexes.push((format!("{prefix}/fine_index"), index));
                        }
                        tables.insert(format!("{prefix}/fine"), fine);
                        tables.insert(format!("{prefix}/coarse"), coarse);
                    }
                }
            }
            if let Some(l) = target {
                s.table = l;
            }
        }
        for req in required_tensors(&desc) {
            if req.kind == RequiredKind::Table && !tables.contains_key(&req.name) {
                tables.insert(req.name.clone(), source.i8_tensor(&req.name)?.to_vec());
            }
        }
        writer.add_model(desc, |req| tables.remove(&req.name).unwrap_or_default())?;
        for (name, index) in indexes {
            writer.add_index(&name, &index);
        }
    }
    Ok(writer)
}

/// Options of [`compact`].
#[derive(Clone, Debug)]
pub struct CompactOptions {
    /// Target geometry.
    pub geometry: DfcGeometry,
    /// Glob on model names (`None`: every model).
    pub models: Option<String>,
    /// Re-sample DFC tables of another geometry instead of refusing.
    pub lossy: bool,
}

/// What [`compact`] did to one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeChange {
    /// Model name.
    pub model: String,
    /// Node name.
    pub node: String,
    /// Layout before.
    pub from: TableLayout,
    /// Layout after.
    pub to: TableLayout,
}

/// Compacts every regular spatial table of the selected models to `opts.geometry`. DFC tables
/// of that geometry are kept; DFC tables of another geometry are refused unless `opts.lossy`.
pub fn compact(
    source: &Source,
    opts: &CompactOptions,
) -> Result<(ContainerWriter, Vec<NodeChange>), CompactError> {
    if let Some(p) = &opts.models
        && !source
            .container()
            .description()
            .models
            .iter()
            .any(|m| glob_match(p, &m.name))
    {
        return Err(CompactError::NoMatch(p.clone()));
    }
    let target = layout_of(opts.geometry);
    let mut changes = Vec::new();
    let writer = rewrite(source, |m, s| {
        if opts
            .models
            .as_ref()
            .is_some_and(|p| !glob_match(p, &m.name))
            || s.table == target
        {
            return Ok(None);
        }
        if let TableLayout::Dfc { dims, dw, si } = s.table
            && !opts.lossy
        {
            let g = opts.geometry;
            return Err(CompactError::Lossy {
                model: m.name.clone(),
                node: s.name.clone(),
                from_dims: dims,
                from_dw: dw,
                from_si: si,
                dims: g.dims as u8,
                dw: g.dw as u8,
                si: g.si as u8,
            });
        }
        changes.push(NodeChange {
            model: m.name.clone(),
            node: s.name.clone(),
            from: s.table,
            to: target,
        });
        Ok(Some(target))
    })?;
    Ok((writer, changes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob() {
        assert!(glob_match("y-*", "y-qp0-22"));
        assert!(glob_match("*", ""));
        assert!(glob_match("?-qp*-37", "u-qp33-37"));
        assert!(!glob_match("y-*", "u-qp0-22"));
        assert!(!glob_match("y", "y-qp"));
    }

    #[test]
    fn table_bytes_of_the_default_geometry() {
        let l = TableLayout::Dfc {
            dims: 4,
            dw: 3,
            si: 5,
        };
        assert_eq!(table_bytes(l, 1), 4583 + 6561);
        assert_eq!(table_bytes(TableLayout::Regular, 2), 2 * 83521);
    }
}
