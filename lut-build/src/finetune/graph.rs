//! A model's LUT graph in floating point: forward pass mirroring the integer runtime
//! (`lut_filter::reference`), backward pass with straight-through estimators.
//!
//! The graph works on *table values* `T` (one f64 per table entry, in int8 units); the trainer's
//! parameters are `p = T / 127` ([`Graph::values`], [`Graph::parameter_gradient`]).
//!
//! Forward ([`Mode::Exact`]): `T = clamp(round(127 p), -127, 127)`; every look-up reads the
//! runtime's rows and weights; node outputs are sums over patterns and rotations; features are
//! `clamp(round(S / terms) + 127, 0, 255)` (half up, as the runtime); the residual is the runtime's
//! rounded `S * scale / 2^scale_shift` at 10 bits and the sample is clipped to 0..=1023. The
//! result equals the runtime's output bit for bit.
//!
//! Backward: roundings pass gradients unchanged (straight-through), clamps pass none where they
//! clamp. Table gradients are the look-up weights; input gradients are the differences of
//! consecutive simplex vertices divided by the grid interval (trilinear: derivatives of the
//! corner weights), so earlier stages of a cascade are trained through the requantisation.
//!
//! [`Mode::Smooth`] drops every rounding from the forward (real table values, real features,
//! real residual): the loss is then piecewise linear-quadratic in the parameters and its
//! gradient is exactly what the backward computes, which finite differences can check.

use lut_filter::description::{Grid, Node, Pattern, Sampling, TableLayout};
use lut_filter::plan::{RequiredKind, check_description, required_tensors};
use lut_filter::reference::{requantise, residual, round_div};
use lut_filter::tables::DfcGeometry;
use lut_filter::{Component, ModelDescription};

use super::FinetuneError;
use super::crop::{Crop, Window};
use super::lookup::{
    Simplex, TableGeom, locate_exact, locate_smooth, trilinear_exact, trilinear_smooth,
};

/// Fraction bits of codec planes at 10 bits.
const PLANE_FB: u32 = 6;
/// Fraction bits of 8-bit features.
const FEATURE_FB: u32 = 4;
/// Largest 10-bit sample.
const MAX_SAMPLE: f64 = 1023.0;

/// How the forward pass treats roundings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// As the runtime: rounded table values, features and residual (bit-exact output).
    #[default]
    Exact,
    /// No rounding anywhere (clamps kept): for finite-difference gradient checks.
    Smooth,
}

/// One int8 table tensor's parameters: a contiguous block of the parameter vector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamBlock {
    /// Tensor name (`<model>/<node>/<pattern>[/fine|/coarse]` or `<model>/<node>`).
    pub name: String,
    /// First parameter.
    pub offset: usize,
    /// Number of entries (rows x outputs).
    pub len: usize,
    /// Tensor shape `[rows, outputs]`.
    pub shape: Vec<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MapRef {
    Input(Component),
    Node(usize, usize),
}

#[derive(Clone, Debug)]
struct GTable {
    geom: TableGeom,
    /// Parameters of the regular (or DFC fine) rows.
    offset: usize,
    /// Parameters of the DFC coarse rows.
    coarse_offset: usize,
    pattern: Pattern,
}

#[derive(Clone, Debug)]
enum GKind {
    Spatial {
        input: MapRef,
        tables: Vec<GTable>,
        rotations: usize,
        phases: Option<[[u8; 2]; 4]>,
    },
    Channel {
        inputs: [MapRef; 3],
        offset: usize,
    },
}

#[derive(Clone, Debug)]
struct GNode {
    kind: GKind,
    outputs: usize,
    terms: u32,
    luma: bool,
    /// Receptive radius of the outputs, in samples of the node's grid.
    radius: usize,
}

/// A compiled model: nodes, parameter layout, margin.
#[derive(Clone, Debug)]
pub struct Graph {
    desc: ModelDescription,
    nodes: Vec<GNode>,
    terms: Vec<(usize, usize)>,
    blocks: Vec<ParamBlock>,
    params: usize,
    margin: usize,
    reads: [bool; 3],
}

/// What one crop's forward pass gave.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Sum of squared errors over the box (10-bit codes^2).
    pub sse: f64,
    /// Samples in the box.
    pub count: usize,
    /// Filtered samples of the box, row-major.
    pub output: Vec<f64>,
}

/// The rotated taps of one look-up and, for `chroma_from_luma`, its anchor phase.
#[derive(Clone, Copy, Debug)]
struct Tap {
    taps: [(i64, i64); 4],
    phase: Option<(usize, usize)>,
}

impl Tap {
    /// Input positions (in the input window `win`) and values of the taps at output (y, x).
    #[inline(always)]
    fn gather(&self, (y, x): (usize, usize), win: &Window, m: &[f64]) -> ([usize; 4], [f64; 4]) {
        let (ay, ax) = match self.phase {
            None => (y as i64, x as i64),
            // 4:2:0: anchor (2y + py, 2x + px); the luma window starts at twice the chroma one.
            Some((py, px)) => ((2 * y + py) as i64, (2 * x + px) as i64),
        };
        let mut idx = [0usize; 4];
        let mut v = [0.0; 4];
        for c in 0..4 {
            let j = win.clamped(ay + self.taps[c].0, ax + self.taps[c].1);
            idx[c] = j;
            v[c] = m[j];
        }
        (idx, v)
    }
}

/// Per node: per output: per sample of the node's window.
type NodeMaps = Vec<Vec<Vec<f64>>>;

fn pattern_radius(p: Pattern) -> usize {
    p.taps()
        .iter()
        .map(|&(a, b)| a.unsigned_abs().max(b.unsigned_abs()) as usize)
        .max()
        .unwrap_or(0)
}

impl Graph {
    /// Compiles `desc` (validated with the runtime's own checks); DFC tables use the canonical
    /// fine index until [`Graph::set_fine_index`] says otherwise. Codec planes are taken as
    /// 10-bit 4:2:0.
    pub fn new(desc: &ModelDescription) -> Result<Graph, FinetuneError> {
        check_description(desc)?;
        let [lo, hi] = desc.bit_depths;
        if !(lo..=hi).contains(&10) {
            return Err(FinetuneError::Model {
                model: desc.name.clone(),
                what: format!("bit depths {lo}..={hi} exclude the corpus's 10 bits"),
            });
        }
        let mut blocks = Vec::new();
        let mut params = 0usize;
        for req in required_tensors(desc) {
            if req.kind == RequiredKind::Table {
                let len = req.shape.iter().product();
                blocks.push(ParamBlock {
                    name: req.name,
                    offset: params,
                    len,
                    shape: req.shape,
                });
                params += len;
            }
        }
        let offset_of = |name: &str| -> usize {
            blocks
                .iter()
                .find(|b| b.name == name)
                .map(|b| b.offset)
                .expect("required_tensors lists every table of a valid description")
        };
        let mut nodes: Vec<GNode> = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        let mut reads = [false; 3];
        let resolve = |r: &str, names: &[&str], reads: &mut [bool; 3]| -> MapRef {
            let (head, tail) = r.split_once('.').expect("validated map reference");
            if head == "in" {
                let c: Component = tail.parse().expect("validated component");
                reads[c.index()] = true;
                MapRef::Input(c)
            } else {
                let n = names.iter().position(|&s| s == head).expect("validated");
                MapRef::Node(n, tail.parse().expect("validated"))
            }
        };
        let grid_of = |m: MapRef, nodes: &[GNode]| -> (bool, usize) {
            match m {
                MapRef::Input(c) => (c.grid() == Grid::Luma, 0),
                MapRef::Node(n, _) => (nodes[n].luma, nodes[n].radius),
            }
        };
        for node in &desc.nodes {
            let g = match node {
                Node::Spatial(s) => {
                    let input = resolve(&s.input, &names, &mut reads);
                    let (in_luma, r_in) = grid_of(input, &nodes);
                    let reach = s
                        .patterns
                        .iter()
                        .map(|&p| pattern_radius(p))
                        .max()
                        .unwrap_or(0);
                    let (luma, radius, phases) = match &s.sampling {
                        Sampling::Same => (in_luma, r_in + reach, None),
                        // Luma reads at 2y + phase + tap: reach + 1 luma samples, plus the
                        // input's own radius, in chroma samples (rounded up).
                        Sampling::ChromaFromLuma { phases } => {
                            (false, (r_in + reach + 2) / 2, Some(*phases))
                        }
                    };
                    let prefix = format!("{}/{}", desc.name, s.name);
                    let tables = s
                        .patterns
                        .iter()
                        .map(|&p| {
                            let name = format!("{prefix}/{}", p.name());
                            match s.table {
                                TableLayout::Regular => GTable {
                                    geom: TableGeom::Regular,
                                    offset: offset_of(&name),
                                    coarse_offset: 0,
                                    pattern: p,
                                },
                                TableLayout::Dfc { dims, dw, si } => {
                                    let geometry = DfcGeometry {
                                        dims: dims.into(),
                                        dw: dw.into(),
                                        si: si.into(),
                                    };
                                    GTable {
                                        geom: TableGeom::Dfc {
                                            geometry,
                                            index: geometry.fine_index().0,
                                        },
                                        offset: offset_of(&format!("{name}/fine")),
                                        coarse_offset: offset_of(&format!("{name}/coarse")),
                                        pattern: p,
                                    }
                                }
                            }
                        })
                        .collect();
                    GNode {
                        kind: GKind::Spatial {
                            input,
                            tables,
                            rotations: usize::from(s.rotations),
                            phases,
                        },
                        outputs: usize::from(s.outputs),
                        terms: node.terms(),
                        luma,
                        radius,
                    }
                }
                Node::Channel(c) => {
                    let inputs = [0, 1, 2].map(|i| resolve(&c.inputs[i], &names, &mut reads));
                    let luma = grid_of(inputs[0], &nodes).0;
                    let radius = inputs
                        .iter()
                        .map(|&m| grid_of(m, &nodes).1)
                        .max()
                        .unwrap_or(0);
                    GNode {
                        kind: GKind::Channel {
                            inputs,
                            offset: offset_of(&format!("{}/{}", desc.name, c.name)),
                        },
                        outputs: usize::from(c.outputs),
                        terms: 1,
                        luma,
                        radius,
                    }
                }
            };
            nodes.push(g);
            names.push(node.name());
        }
        let terms: Vec<(usize, usize)> = desc
            .output
            .terms
            .iter()
            .map(|t| match resolve(t, &names, &mut [false; 3]) {
                MapRef::Node(n, k) => (n, k),
                MapRef::Input(_) => unreachable!("validated: output terms are node outputs"),
            })
            .collect();
        // The target plane is always read (the residual is added to it).
        reads[desc.component.index()] = true;
        let margin = terms
            .iter()
            .map(|&(n, _)| nodes[n].radius)
            .max()
            .unwrap_or(0);
        Ok(Graph {
            desc: desc.clone(),
            nodes,
            terms,
            blocks,
            params,
            margin,
            reads,
        })
    }

    /// Uses `index` as the fine index of the DFC table tensor `<prefix>/fine_index` (a
    /// container's explicit, possibly non-canonical index).
    pub fn set_fine_index(&mut self, tensor: &str, index: Vec<i32>) -> Result<(), FinetuneError> {
        let prefix = tensor.strip_suffix("/fine_index").unwrap_or(tensor);
        for node in &mut self.nodes {
            if let GKind::Spatial { tables, .. } = &mut node.kind {
                for t in tables.iter_mut() {
                    let name = self
                        .blocks
                        .iter()
                        .find(|b| b.offset == t.offset)
                        .map(|b| b.name.as_str());
                    if name.and_then(|n| n.strip_suffix("/fine")) == Some(prefix)
                        && let TableGeom::Dfc {
                            geometry,
                            index: old,
                        } = &mut t.geom
                    {
                        if index.len() != geometry.index_len() {
                            return Err(FinetuneError::Tensor {
                                tensor: tensor.into(),
                                what: format!(
                                    "{} entries, the geometry needs {}",
                                    index.len(),
                                    geometry.index_len()
                                ),
                            });
                        }
                        *old = index;
                        return Ok(());
                    }
                }
            }
        }
        Err(FinetuneError::Tensor {
            tensor: tensor.into(),
            what: "names no DFC table of the model".into(),
        })
    }

    /// The model description.
    pub fn description(&self) -> &ModelDescription {
        &self.desc
    }

    /// Number of parameters (table entries).
    pub fn parameters(&self) -> usize {
        self.params
    }

    /// The parameter blocks, one per int8 tensor, in `required_tensors` order.
    pub fn blocks(&self) -> &[ParamBlock] {
        &self.blocks
    }

    /// Margin (target-grid samples) a crop needs around its box: the receptive radius.
    pub fn margin(&self) -> usize {
        self.margin
    }

    /// Which reconstructed planes (Y, U, V) the model reads.
    pub fn reads(&self) -> [bool; 3] {
        self.reads
    }

    /// Table values used by the forward pass for parameters `p`.
    pub fn values(&self, p: &[f64], mode: Mode) -> Vec<f64> {
        p.iter()
            .map(|&x| {
                let t = 127.0 * x;
                match mode {
                    Mode::Exact => t.round(),
                    Mode::Smooth => t,
                }
                .clamp(-127.0, 127.0)
            })
            .collect()
    }

    /// Gradient with respect to parameters `p` from the gradient with respect to table values
    /// (straight-through: identity inside the clamp range, zero outside).
    pub fn parameter_gradient(&self, p: &[f64], grad_values: &[f64]) -> Vec<f64> {
        p.iter()
            .zip(grad_values)
            .map(|(&x, &g)| if x.abs() <= 1.0 { 127.0 * g } else { 0.0 })
            .collect()
    }

    /// Runs the model on `crop` with table `values`; if `grad` is given, adds the gradient of
    /// the crop's sum of squared errors with respect to every table value to it.
    pub fn run(
        &self,
        values: &[f64],
        crop: &Crop,
        mode: Mode,
        grad: Option<&mut [f64]>,
    ) -> Outcome {
        assert_eq!(values.len(), self.params, "one value per table entry");
        assert_eq!(
            crop.component, self.desc.component,
            "crop of the model's component"
        );
        let mut raw: NodeMaps = Vec::with_capacity(self.nodes.len());
        let mut feat: NodeMaps = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            let sums = self.forward_node(node, values, crop, &feat, mode);
            let f = sums
                .iter()
                .map(|s| {
                    s.iter()
                        .map(|&v| Self::requantise(v, node.terms, mode).0)
                        .collect()
                })
                .collect();
            raw.push(sums);
            feat.push(f);
        }
        // Output on the box.
        let target = crop.window(self.desc.component == Component::Y);
        let plane = &crop.planes[self.desc.component.index()];
        let factor =
            f64::from(self.desc.output.scale) / f64::from(1u32 << self.desc.output.scale_shift);
        let b = crop.local;
        let mut output = Vec::with_capacity(b.len());
        let mut d_sum = vec![0.0; target.len()];
        let mut sse = 0.0;
        for y in b.y0..b.y0 + b.h {
            for x in b.x0..b.x0 + b.w {
                let i = y * target.w + x;
                let s: f64 = self.terms.iter().map(|&(n, k)| raw[n][k][i]).sum();
                let r = match mode {
                    Mode::Exact => residual(
                        (s * 256.0).round() as i64,
                        self.desc.output.scale,
                        self.desc.output.scale_shift,
                        10,
                    ) as f64,
                    Mode::Smooth => s * factor,
                };
                let pre = plane[i] + r;
                let out = pre.clamp(0.0, MAX_SAMPLE);
                let e = out - crop.original[output.len()];
                sse += e * e;
                output.push(out);
                if (0.0..=MAX_SAMPLE).contains(&pre) {
                    d_sum[i] = 2.0 * e * factor;
                }
            }
        }
        if let Some(grad) = grad {
            self.backward(values, crop, mode, &raw, &feat, d_sum, grad);
        }
        Outcome {
            sse,
            count: b.len(),
            output,
        }
    }

    /// The feature of raw sum `s` (table units) and whether the clamp passes gradients.
    #[inline]
    fn requantise(s: f64, terms: u32, mode: Mode) -> (f64, bool) {
        let pre = match mode {
            Mode::Exact => {
                let s256 = (s * 256.0).round() as i64;
                // Same as `requantise` before its clamp.
                debug_assert_eq!(
                    (round_div(s256, 256 * i64::from(terms)) + 127).clamp(0, 255),
                    i64::from(requantise(s256, terms))
                );
                (round_div(s256, 256 * i64::from(terms)) + 127) as f64
            }
            Mode::Smooth => s / f64::from(terms) + 127.0,
        };
        (pre.clamp(0.0, 255.0), (0.0..=255.0).contains(&pre))
    }

    /// A map, its window and fraction bits.
    fn map<'a>(&self, m: MapRef, crop: &'a Crop, feat: &'a NodeMaps) -> (&'a [f64], Window, u32) {
        match m {
            MapRef::Input(c) => (
                &crop.planes[c.index()],
                crop.window(c == Component::Y),
                PLANE_FB,
            ),
            MapRef::Node(n, k) => (&feat[n][k], crop.window(self.nodes[n].luma), FEATURE_FB),
        }
    }

    /// The rotated taps and anchor phase of every (table, rotation) of a spatial node.
    fn tap_sets(
        tables: &[GTable],
        rotations: usize,
        phases: Option<&[[u8; 2]; 4]>,
    ) -> Vec<Vec<Tap>> {
        tables
            .iter()
            .map(|t| {
                (0..rotations)
                    .map(|r| Tap {
                        taps: t
                            .pattern
                            .rotated_taps(r)
                            .map(|(a, b)| (i64::from(a), i64::from(b))),
                        phase: phases.map(|ph| (usize::from(ph[r][0]), usize::from(ph[r][1]))),
                    })
                    .collect()
            })
            .collect()
    }

    #[inline]
    fn simplex(
        table: &GTable,
        prepared: &lut_filter::interp::PreparedTable<'_>,
        v: [f64; 4],
        fb: u32,
        mode: Mode,
        want_order: bool,
    ) -> Simplex {
        match mode {
            Mode::Exact => {
                let mut u = [0u32; 4];
                for c in 0..4 {
                    u[c] = v[c] as u32;
                }
                locate_exact(prepared, &table.geom, u, fb, want_order)
            }
            Mode::Smooth => locate_smooth(&table.geom, v, fb),
        }
    }

    fn forward_node(
        &self,
        node: &GNode,
        values: &[f64],
        crop: &Crop,
        feat: &NodeMaps,
        mode: Mode,
    ) -> Vec<Vec<f64>> {
        let out = crop.window(node.luma);
        let k_out = node.outputs;
        let mut sums = vec![vec![0.0; out.len()]; k_out];
        match &node.kind {
            GKind::Spatial {
                input,
                tables,
                rotations,
                phases,
            } => {
                let (m, win, fb) = self.map(*input, crop, feat);
                let prepared: Vec<_> = tables.iter().map(|t| t.geom.prepared()).collect();
                let taps = Self::tap_sets(tables, *rotations, phases.as_ref());
                for y in 0..out.h {
                    for x in 0..out.w {
                        let i = y * out.w + x;
                        for ((t, p), taps) in tables.iter().zip(&prepared).zip(&taps) {
                            for tap in taps {
                                let (_, v) = tap.gather((y, x), &win, m);
                                let s = Self::simplex(t, p, v, fb, mode, false);
                                let base = if s.coarse { t.coarse_offset } else { t.offset };
                                for (k, sum) in sums.iter_mut().enumerate() {
                                    let mut acc = 0.0;
                                    for v in 0..5 {
                                        acc += s.w[v] * values[base + s.rows[v] * k_out + k];
                                    }
                                    sum[i] += acc;
                                }
                            }
                        }
                    }
                }
            }
            GKind::Channel { inputs, offset } => {
                let maps = inputs.map(|m| self.map(m, crop, feat));
                for i in 0..out.len() {
                    let tri = Self::trilinear(&maps, i, mode);
                    for (k, sum) in sums.iter_mut().enumerate() {
                        let mut acc = 0.0;
                        for c in 0..8 {
                            acc += tri.weight(c) * values[offset + tri.rows[c] * k_out + k];
                        }
                        sum[i] = match mode {
                            // The runtime rounds the 2^24-scaled sum to 1/256 units, half up.
                            Mode::Exact => {
                                ((acc * 16_777_216.0 + 32768.0) / 65536.0).floor() / 256.0
                            }
                            Mode::Smooth => acc,
                        };
                    }
                }
            }
        }
        sums
    }

    #[inline]
    fn trilinear(
        maps: &[(&[f64], Window, u32); 3],
        i: usize,
        mode: Mode,
    ) -> super::lookup::Trilinear {
        let fb = maps.map(|m| m.2);
        match mode {
            Mode::Exact => trilinear_exact(maps.map(|m| m.0[i] as u32), fb),
            Mode::Smooth => trilinear_smooth(maps.map(|m| m.0[i]), fb),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn backward(
        &self,
        values: &[f64],
        crop: &Crop,
        mode: Mode,
        raw: &NodeMaps,
        feat: &NodeMaps,
        d_sum: Vec<f64>,
        grad: &mut [f64],
    ) {
        // Gradients with respect to raw sums (table units) and features, per node and output.
        let mut g_raw: NodeMaps = self
            .nodes
            .iter()
            .map(|n| vec![vec![0.0; crop.window(n.luma).len()]; n.outputs])
            .collect();
        let mut g_feat: NodeMaps = self
            .nodes
            .iter()
            .map(|n| vec![vec![0.0; crop.window(n.luma).len()]; n.outputs])
            .collect();
        for &(n, k) in &self.terms {
            for (g, d) in g_raw[n][k].iter_mut().zip(&d_sum) {
                *g += d;
            }
        }
        for (n, node) in self.nodes.iter().enumerate().rev() {
            // Requantisation: straight-through for the round, zero where clamped.
            for k in 0..node.outputs {
                for (i, gf) in g_feat[n][k].iter().enumerate() {
                    if *gf != 0.0 && Self::requantise(raw[n][k][i], node.terms, mode).1 {
                        g_raw[n][k][i] += gf / f64::from(node.terms);
                    }
                }
            }
            let g_out = &g_raw[n];
            let out = crop.window(node.luma);
            let k_out = node.outputs;
            match &node.kind {
                GKind::Spatial {
                    input,
                    tables,
                    rotations,
                    phases,
                } => {
                    let (m, win, fb) = self.map(*input, crop, feat);
                    let mut g_in = matches!(input, MapRef::Node(..)).then(|| vec![0.0; win.len()]);
                    let prepared: Vec<_> = tables.iter().map(|t| t.geom.prepared()).collect();
                    let taps = Self::tap_sets(tables, *rotations, phases.as_ref());
                    let mut g = vec![0.0; k_out];
                    for y in 0..out.h {
                        for x in 0..out.w {
                            let i = y * out.w + x;
                            for (k, gk) in g.iter_mut().enumerate() {
                                *gk = g_out[k][i];
                            }
                            if g.iter().all(|&v| v == 0.0) {
                                continue;
                            }
                            for ((t, p), taps) in tables.iter().zip(&prepared).zip(&taps) {
                                for tap in taps {
                                    let (idx, v) = tap.gather((y, x), &win, m);
                                    let s = Self::simplex(t, p, v, fb, mode, g_in.is_some());
                                    let base = if s.coarse { t.coarse_offset } else { t.offset };
                                    for v in 0..5 {
                                        let row = base + s.rows[v] * k_out;
                                        for (k, gk) in g.iter().enumerate() {
                                            grad[row + k] += gk * s.w[v];
                                        }
                                    }
                                    if let Some(g_in) = g_in.as_mut() {
                                        for j in 0..4 {
                                            let (a, b) = (
                                                base + s.rows[j] * k_out,
                                                base + s.rows[j + 1] * k_out,
                                            );
                                            let d: f64 = g
                                                .iter()
                                                .enumerate()
                                                .map(|(k, gk)| gk * (values[b + k] - values[a + k]))
                                                .sum();
                                            g_in[idx[s.order[j]]] += d / s.q;
                                        }
                                    }
                                }
                            }
                        }
                    }
                    if let (Some(g_in), MapRef::Node(src, kk)) = (g_in, input) {
                        for (a, b) in g_feat[*src][*kk].iter_mut().zip(g_in) {
                            *a += b;
                        }
                    }
                }
                GKind::Channel { inputs, offset } => {
                    let maps = inputs.map(|m| self.map(m, crop, feat));
                    let mut g_in: Vec<Vec<f64>> = inputs
                        .iter()
                        .map(|m| match m {
                            MapRef::Node(..) => vec![0.0; out.len()],
                            MapRef::Input(_) => Vec::new(),
                        })
                        .collect();
                    for i in 0..out.len() {
                        if (0..k_out).all(|k| g_out[k][i] == 0.0) {
                            continue;
                        }
                        let tri = Self::trilinear(&maps, i, mode);
                        for c in 0..8 {
                            let w = tri.weight(c);
                            let row = offset + tri.rows[c] * k_out;
                            for k in 0..k_out {
                                grad[row + k] += g_out[k][i] * w;
                            }
                        }
                        for (d, gi) in g_in.iter_mut().enumerate() {
                            if gi.is_empty() {
                                continue;
                            }
                            let mut s = 0.0;
                            for c in 0..8 {
                                let dw = tri.weight_derivative(c, d);
                                let row = offset + tri.rows[c] * k_out;
                                for k in 0..k_out {
                                    s += g_out[k][i] * dw * values[row + k];
                                }
                            }
                            gi[i] += s / tri.q[d];
                        }
                    }
                    for (m, gi) in inputs.iter().zip(g_in) {
                        if let MapRef::Node(src, kk) = m {
                            for (a, b) in g_feat[*src][*kk].iter_mut().zip(gi) {
                                *a += b;
                            }
                        }
                    }
                }
            }
        }
    }
}
