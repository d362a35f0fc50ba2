//! Direct least-squares fit of single spatial stages (no network needed).
//!
//! A spatial stage's output is linear in its table entries: each look-up reads 5 rows with
//! weights `w/256` (exactly those the runtime reads: [`PreparedTable::locate`]). So the entries
//! that make `sum of look-ups * c` closest to `original - reconstruction` (in 10-bit codes) solve
//! a sparse ridge regression, `(A^T A + lambda I) x = A^T t`, which conjugate gradients with a
//! Jacobi preconditioner solve in a few dozen passes over the samples. The solution is then
//! quantised to int8 with the scale `c = max |x| / 127` (robust maximum: a high percentile), and
//! `c` becomes the model's fixed-point residual scale.
//!
//! Set `LUT_FIT_DEBUG` to print the conjugate-gradient residual of every iteration.
//!
//! Cascades are fitted greedily: stage k reads stage k-1's requantised output (as the runtime
//! computes it from the quantised tables) and is fitted to what the stages before it left of the
//! residual; every stage's raw output is a term of the model output.

use lut_filter::description::{OutputDescription, SpatialNode};
use lut_filter::interp::{Part, PreparedTable};
use lut_filter::reference::requantise;
use lut_filter::tables::{DfcGeometry, NODES, REGULAR_ROWS, SpatialTable, for_each_tuple};
use lut_filter::{Component, ModelDescription, Node, Pattern, Pictures, Sampling, TableLayout};
use rayon::prelude::*;

mod colour_gain;

/// A training pair: one plane of a reconstruction and of its original, at the same bit depth.
#[derive(Clone, Copy, Debug)]
pub struct PlanePair<'a> {
    /// Reconstructed (decoded) samples, row-major, no padding.
    pub recon: &'a [u16],
    /// Original samples at the same bit depth.
    pub orig: &'a [u16],
    /// Width.
    pub width: usize,
    /// Height.
    pub height: usize,
    /// Cross-component inputs of a chroma pair (reconstructed planes of the same picture);
    /// needed when [`FitOptions::cross`] is not empty.
    pub cross: CrossPlanes<'a>,
}

/// The other reconstructed planes of a chroma pair's picture (4:2:0).
#[derive(Clone, Copy, Debug, Default)]
pub struct CrossPlanes<'a> {
    /// Luma samples, width and height.
    pub luma: Option<(&'a [u16], usize, usize)>,
    /// The other chroma plane (same size as the pair's).
    pub other_chroma: Option<&'a [u16]>,
}

/// An extra input of a chroma model's first stage, fitted jointly with its own-plane tables
/// (every look-up is linear in its table, so the joint fit is still least squares).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrossSource {
    /// Node `l1`: the luma plane read at each chroma sample's luma anchor
    /// ([`Sampling::ChromaFromLuma`] with the default phases), same patterns and rotations.
    Luma,
    /// Node `o1`: the other chroma plane at the same position.
    OtherChroma,
}

impl CrossSource {
    fn node_name(self) -> &'static str {
        match self {
            CrossSource::Luma => "l1",
            CrossSource::OtherChroma => "o1",
        }
    }
}

/// Settings of a fit.
#[derive(Clone, Debug)]
pub struct FitOptions {
    /// Table layout of every stage.
    pub layout: TableLayout,
    /// Patterns of every stage.
    pub patterns: Vec<Pattern>,
    /// Number of cascaded stages (fitted greedily).
    pub stages: usize,
    /// Ridge weight (in units of squared look-up weights).
    pub lambda: f64,
    /// Ridge weight of the level-specific part. Every entry is fitted as a level-invariant part
    /// shared by all entries with the same tap offsets (`y-x, z-x, t-x`) plus a level-specific
    /// deviation under this (strong) ridge: the tables stay nearly invariant to the absolute
    /// level and do not learn clip-specific level biases.
    pub level_lambda: f64,
    /// Conjugate-gradient iterations per stage.
    pub iterations: usize,
    /// Use every `step`-th row and column of each plane.
    pub step: usize,
    /// Bit depth of the pairs (the fit's residual scale is expressed at 10 bits).
    pub bit_depth: u8,
    /// Fraction of the largest |entry| mapped to 127 (robust maximum, e.g. 0.999).
    pub quantile: f64,
    /// Cross-component inputs of chroma models' first stage (ignored for luma).
    pub cross: Vec<CrossSource>,
    /// The pictures the models are fitted on and meant for (all, intra or inter).
    pub pictures: Pictures,
    /// How the squared errors of different pictures are weighed against each other.
    pub weighting: Weighting,
    /// Chroma models reading luma: add the colour-gain channel node `c1`, which scales the luma
    /// node's correction by a gain that depends on the local colour (U, V).
    pub colour_gain: bool,
    /// Chroma models: fit one model per QP range on the samples of both chroma planes (U with V
    /// as its other plane, and V with U) and use it for U and V alike
    /// ([`FittedModel::mirrored_chroma`]): twice the training samples for each.
    pub shared_chroma: bool,
}

/// Weight of each picture's squared errors in the least-squares objective.
///
/// BD-rate averages per-picture PSNRs, and to first order a picture's PSNR gain is
/// `-10 / ln 10 * dSSE / SSE`: a picture whose reconstruction is already good counts as much as
/// a poor one. Plain least squares ([`Weighting::Samples`]) lets the pictures with the largest
/// errors (high QP, large pictures, difficult content) dominate the fit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Weighting {
    /// Every sampled position weighs the same (plain mean squared error).
    #[default]
    Samples,
    /// Each picture's squared errors are divided by its unfiltered sum of squared errors: to
    /// first order, the fit maximises the sum of the pictures' PSNR gains.
    Picture,
    /// Divided by its unfiltered mean squared error: the PSNR gains weighted by picture area.
    Area,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            layout: TableLayout::Dfc {
                dims: 4,
                dw: 3,
                si: 5,
            },
            patterns: vec![Pattern::S, Pattern::D, Pattern::Y],
            stages: 1,
            lambda: 100.0,
            level_lambda: 5000.0,
            iterations: 40,
            step: 2,
            bit_depth: 10,
            quantile: 0.999,
            cross: Vec::new(),
            pictures: Pictures::All,
            weighting: Weighting::Samples,
            colour_gain: false,
            shared_chroma: false,
        }
    }
}

/// What a fit produced: the model description and its int8 tables by tensor name.
#[derive(Debug)]
pub struct FittedModel {
    /// Description (one stage per `FitOptions::stages`).
    pub description: ModelDescription,
    /// Tables by tensor name (DFC fine/coarse or regular).
    pub tables: std::collections::HashMap<String, Vec<i8>>,
    /// Training MSE (10-bit codes^2) before and after each stage, as the fit saw it.
    pub train_mse: Vec<(f64, f64)>,
}

impl FittedModel {
    /// The same chroma model for the other chroma component, named `name`: every read of
    /// `in.u` becomes `in.v` and the reverse, the tables are the same. A model fitted on
    /// (own plane, other plane) pairs of both components ([`FitOptions::shared_chroma`]) serves
    /// U and V alike this way. `None` for a luma model.
    pub fn mirrored_chroma(&self, name: &str) -> Option<FittedModel> {
        let component = match self.description.component {
            Component::Y => return None,
            Component::U => Component::V,
            Component::V => Component::U,
        };
        let swap = |input: &mut String| {
            *input = match input.as_str() {
                "in.u" => "in.v".into(),
                "in.v" => "in.u".into(),
                _ => std::mem::take(input),
            }
        };
        let mut description = self.description.clone();
        description.component = component;
        description.name = name.into();
        for node in &mut description.nodes {
            match node {
                Node::Spatial(n) => swap(&mut n.input),
                Node::Channel(n) => n.inputs.iter_mut().for_each(swap),
            }
        }
        let old = format!("{}/", self.description.name);
        let tables = self
            .tables
            .iter()
            .map(|(k, v)| {
                let rest = k.strip_prefix(&old).unwrap_or(k);
                (format!("{name}/{rest}"), v.clone())
            })
            .collect();
        Some(FittedModel {
            description,
            tables,
            train_mse: self.train_mse.clone(),
        })
    }
}

/// The entries of one pattern's table as a block of the unknown vector.
struct Block {
    pattern: Pattern,
    offset: usize,
    /// Rows of the fine (or regular) part; coarse rows follow.
    fine_rows: usize,
    rows: usize,
}

/// Geometry-only view of a stage's tables, to locate look-ups.
struct StageGeometry {
    index: Vec<i32>,
    geometry: Option<DfcGeometry>,
    blocks: Vec<Block>,
    /// Unknowns `0..levels` are the level-specific parts (one per table row); the shared
    /// offset-group parts follow, `2 * GROUPS_PER_PART` per pattern.
    levels: usize,
    unknowns: usize,
    /// Offset group of each row of one pattern's table.
    row_groups: Vec<usize>,
}

/// Offsets `-16..=16` per coordinate cover every table (regular, fine band, coarse grid).
const GROUP_RADIUS: usize = 16;
const GROUP_SIDE: usize = 2 * GROUP_RADIUS + 1;
const GROUPS_PER_PART: usize = GROUP_SIDE * GROUP_SIDE * GROUP_SIDE;

impl StageGeometry {
    /// The table value of every row from the unknowns: level part + its group's shared part.
    fn entries(&self, x: &[f64]) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.levels);
        for (p, b) in self.blocks.iter().enumerate() {
            for r in 0..b.rows {
                let shared = self.levels + p * 2 * GROUPS_PER_PART + self.row_groups[r];
                out.push(x[b.offset + r] + x[shared]);
            }
        }
        out
    }
}

impl StageGeometry {
    fn new(layout: TableLayout, patterns: &[Pattern]) -> Self {
        let (geometry, index, fine_rows, coarse_rows) = match layout {
            TableLayout::Regular => (None, Vec::new(), REGULAR_ROWS, 0),
            TableLayout::Dfc { dims, dw, si } => {
                let g = DfcGeometry {
                    dims: dims.into(),
                    dw: dw.into(),
                    si: si.into(),
                };
                let (index, rows) = g.fine_index();
                (Some(g), index, rows, g.coarse_rows())
            }
        };
        let rows = fine_rows + coarse_rows;
        // Offset group of every row of one pattern's table (fine/regular part and coarse part
        // have separate group spaces).
        let key = |n: [usize; 4]| {
            let d = |k: usize| (n[k] as i64 - n[0] as i64 + GROUP_RADIUS as i64) as usize;
            (d(1) * GROUP_SIDE + d(2)) * GROUP_SIDE + d(3)
        };
        let mut row_groups = Vec::with_capacity(rows);
        match geometry {
            None => for_each_tuple(NODES, |n| row_groups.push(key(n))),
            Some(g) => {
                for_each_tuple(NODES, |n| {
                    if g.in_band(n) {
                        row_groups.push(key(n));
                    }
                });
                for_each_tuple(g.coarse_nodes(), |n| {
                    row_groups.push(GROUPS_PER_PART + key(n))
                });
            }
        }
        debug_assert_eq!(row_groups.len(), rows);
        let blocks = patterns
            .iter()
            .enumerate()
            .map(|(i, &pattern)| Block {
                pattern,
                offset: i * rows,
                fine_rows,
                rows,
            })
            .collect();
        StageGeometry {
            index,
            geometry,
            blocks,
            levels: rows * patterns.len(),
            unknowns: rows * patterns.len() + 2 * GROUPS_PER_PART * patterns.len(),
            row_groups,
        }
    }

    fn prepared(&self) -> PreparedTable<'_> {
        PreparedTable::new(match self.geometry {
            None => SpatialTable::Regular(&[]),
            Some(geometry) => SpatialTable::Dfc {
                geometry,
                fine: &[],
                index: &self.index,
                coarse: &[],
            },
        })
    }

    /// Calls `f(unknown, weight)` (weights out of 256) for every entry the stage reads at
    /// (y, x) of the target grid from `map`; `phases` (chroma from luma, 4:2:0) anchors
    /// rotation r at `(2y + py, 2x + px)` of `map`.
    #[inline]
    fn for_each_entry(
        &self,
        table: &PreparedTable<'_>,
        (map, width, height, fb): (&[u16], usize, usize, u32),
        (y, x): (usize, usize),
        phases: Option<&[[u8; 2]; 4]>,
        mut f: impl FnMut(usize, i32),
    ) {
        for (p, b) in self.blocks.iter().enumerate() {
            let shared = self.levels + p * 2 * GROUPS_PER_PART;
            for r in 0..4 {
                let (ay, ax) = match phases {
                    None => (y as i64, x as i64),
                    Some(ph) => (
                        (2 * y) as i64 + i64::from(ph[r][0]),
                        (2 * x) as i64 + i64::from(ph[r][1]),
                    ),
                };
                let at = |dy: i32, dx: i32| {
                    let yy = (ay + i64::from(dy)).clamp(0, height as i64 - 1) as usize;
                    let xx = (ax + i64::from(dx)).clamp(0, width as i64 - 1) as usize;
                    u32::from(map[yy * width + xx])
                };
                let v = b.pattern.rotated_taps(r).map(|(dy, dx)| at(dy, dx));
                let (part, rows, w) = table.locate(v, fb);
                let local = if part == Part::Coarse { b.fine_rows } else { 0 };
                for i in 0..5 {
                    if w[i] != 0 {
                        let row = local + rows[i];
                        f(b.offset + row, w[i]);
                        f(shared + self.row_groups[row], w[i]);
                    }
                }
            }
        }
    }
}

/// One stage's training view: input maps (one per pair) with their fraction bits.
struct StageInput {
    maps: Vec<Vec<u16>>,
    fb: u32,
}

/// Fixed chunks of work items (pair, row) so sums reduce in the same order for any thread count.
fn chunks(pairs: &[PlanePair<'_>], step: usize) -> Vec<Vec<(usize, usize)>> {
    let items: Vec<(usize, usize)> = pairs
        .iter()
        .enumerate()
        .flat_map(|(p, pair)| (0..pair.height).step_by(step).map(move |y| (p, y)))
        .collect();
    let n = 64.min(items.len().max(1));
    let per = items.len().div_ceil(n).max(1);
    items.chunks(per).map(<[_]>::to_vec).collect()
}

/// Sums per-chunk vectors in chunk order.
fn reduce(parts: Vec<Vec<f64>>, n: usize) -> Vec<f64> {
    let mut out = vec![0.0; n];
    for p in parts {
        for (o, v) in out.iter_mut().zip(p) {
            *o += v;
        }
    }
    out
}

/// Where a stage's look-ups read: the stage's own input or a cross-component plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum View {
    Stage,
    Cross(CrossSource),
}

/// Fits a greedy cascade of `opts.stages` single-output spatial stages on `pairs` of
/// `component`, for slice QPs in `qp_range`. `progress(stage, iteration)` is called as it goes.
/// A chroma model's first stage also gets one node per `opts.cross` source, fitted jointly.
///
/// # Panics
/// If `opts.cross` asks for a plane that a chroma pair does not carry ([`PlanePair::cross`]).
pub fn fit_cascade(
    name: &str,
    component: Component,
    qp_range: [i32; 2],
    pairs: &[PlanePair<'_>],
    opts: &FitOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> FittedModel {
    let geometry = StageGeometry::new(opts.layout, &opts.patterns);
    let table = geometry.prepared();
    let work = chunks(pairs, opts.step);
    let terms = (opts.patterns.len() * 4) as u32;
    let sample_fb = u32::from(opts.bit_depth) - 4;
    let mut cross: Vec<CrossSource> = Vec::new();
    if component != Component::Y {
        for &s in &opts.cross {
            if !cross.contains(&s) {
                cross.push(s);
            }
        }
    }
    // Residual still to explain, per pair (10-bit codes, at the pairs' bit depth).
    let mut remaining: Vec<Vec<f64>> = pairs
        .iter()
        .map(|p| {
            p.orig
                .iter()
                .zip(p.recon)
                .map(|(&o, &r)| f64::from(o) - f64::from(r))
                .collect()
        })
        .collect();
    let weights = picture_weights(&remaining, pairs, opts.step, opts.weighting);
    let mut input = StageInput {
        maps: pairs.iter().map(|p| p.recon.to_vec()).collect(),
        fb: sample_fb,
    };
    let mut nodes = Vec::new();
    let mut tables = std::collections::HashMap::new();
    let mut train_mse = Vec::new();
    let mut term_names = Vec::new();
    let per_view = geometry.unknowns;
    let levels = geometry.levels;
    // Residual scale (10-bit codes per table unit), set by the first stage and shared by all.
    let mut c_native = 0.0f64;
    let phases = Sampling::DEFAULT_PHASES;
    // The luma node's requantised feature map per pair (first stage, when it reads luma).
    let mut luma_features: Vec<Vec<u8>> = Vec::new();

    for stage in 0..opts.stages {
        let mut views = vec![View::Stage];
        if stage == 0 {
            views.extend(cross.iter().map(|&s| View::Cross(s)));
        }
        let n = per_view * views.len();
        type MapView<'m> = ((&'m [u16], usize, usize, u32), Option<&'m [[u8; 2]; 4]>);
        let view_map = |v: View, p: usize| -> MapView<'_> {
            let pair = &pairs[p];
            match v {
                View::Stage => ((&input.maps[p], pair.width, pair.height, input.fb), None),
                View::Cross(CrossSource::Luma) => {
                    let (l, w, h) = pair.cross.luma.expect("chroma pair with its luma plane");
                    ((l, w, h, sample_fb), Some(&phases))
                }
                View::Cross(CrossSource::OtherChroma) => {
                    let o = pair
                        .cross
                        .other_chroma
                        .expect("chroma pair with the other chroma plane");
                    ((o, pair.width, pair.height, sample_fb), None)
                }
            }
        };
        let gather = |p: usize, y: usize, x: usize, entries: &mut Vec<(usize, f64)>| {
            entries.clear();
            for (vi, &v) in views.iter().enumerate() {
                let (map, ph) = view_map(v, p);
                geometry.for_each_entry(&table, map, (y, x), ph, |j, w| {
                    entries.push((vi * per_view + j, f64::from(w) / 256.0))
                });
            }
        };
        let pass = |vector: Option<&[f64]>, want_rhs: bool| -> (Vec<f64>, Vec<f64>) {
            // Returns (A^T A v or diag(A^T A), A^T t).
            let parts: Vec<(Vec<f64>, Vec<f64>)> = work
                .par_iter()
                .map(|chunk| {
                    let mut out = vec![0.0; n];
                    let mut rhs = if want_rhs { vec![0.0; n] } else { Vec::new() };
                    let mut entries: Vec<(usize, f64)> = Vec::with_capacity(64 * views.len());
                    for &(p, y) in chunk {
                        let pair = &pairs[p];
                        let wp = weights[p];
                        for x in (0..pair.width).step_by(opts.step) {
                            gather(p, y, x, &mut entries);
                            match vector {
                                Some(v) => {
                                    let av: f64 = entries.iter().map(|&(j, a)| a * v[j]).sum();
                                    let av = wp * av;
                                    for &(j, a) in &entries {
                                        out[j] += a * av;
                                    }
                                }
                                None => {
                                    for &(j, a) in &entries {
                                        out[j] += wp * a * a;
                                    }
                                }
                            }
                            if want_rhs {
                                let t = wp * remaining[p][y * pair.width + x];
                                for &(j, a) in &entries {
                                    rhs[j] += a * t;
                                }
                            }
                        }
                    }
                    (out, rhs)
                })
                .collect();
            let (outs, rhss): (Vec<_>, Vec<_>) = parts.into_iter().unzip();
            (
                reduce(outs, n),
                if want_rhs {
                    reduce(rhss, n)
                } else {
                    Vec::new()
                },
            )
        };
        // Diagonal (Jacobi) and right-hand side.
        let (mut diag, b) = pass(None, true);
        let seen: Vec<bool> = diag.iter().map(|&d| d > 0.0).collect();
        let ridge: Vec<f64> = (0..n)
            .map(|j| {
                if j % per_view < levels {
                    opts.level_lambda
                } else {
                    opts.lambda
                }
            })
            .collect();
        for (d, r) in diag.iter_mut().zip(&ridge) {
            *d += r;
        }
        // Preconditioned conjugate gradients from x = 0.
        let mut x = vec![0.0; n];
        let mut r = b.clone();
        let mut z: Vec<f64> = r.iter().zip(&diag).map(|(r, d)| r / d).collect();
        let mut p = z.clone();
        let mut rz: f64 = r.iter().zip(&z).map(|(a, b)| a * b).sum();
        for it in 0..opts.iterations {
            progress(stage, it);
            let (mut ap, _) = pass(Some(&p), false);
            for ((a, pv), r) in ap.iter_mut().zip(&p).zip(&ridge) {
                *a += r * pv;
            }
            let pap: f64 = p.iter().zip(&ap).map(|(a, b)| a * b).sum();
            if std::env::var_os("LUT_FIT_DEBUG").is_some() {
                eprintln!("stage {stage} it {it}: rz {rz:.6e} pAp {pap:.6e}");
            }
            if pap <= 0.0 || !pap.is_finite() {
                break;
            }
            let alpha = rz / pap;
            for i in 0..n {
                x[i] += alpha * p[i];
                r[i] -= alpha * ap[i];
            }
            for i in 0..n {
                z[i] = r[i] / diag[i];
            }
            let rz_new: f64 = r.iter().zip(&z).map(|(a, b)| a * b).sum();
            let beta = rz_new / rz;
            rz = rz_new;
            for i in 0..n {
                p[i] = z[i] + beta * p[i];
            }
        }
        // Table values of every view (level part + shared part), and which the data reached.
        let x: Vec<f64> = (0..views.len())
            .flat_map(|vi| geometry.entries(&x[vi * per_view..(vi + 1) * per_view]))
            .collect();
        let seen: Vec<bool> = (0..views.len())
            .flat_map(|vi| seen[vi * per_view..vi * per_view + levels].iter().copied())
            .collect();
        // Quantise: c = robust max |entry| / 127 over entries the data reached.
        let mut mags: Vec<f64> = x
            .iter()
            .zip(&seen)
            .filter(|(_, s)| **s)
            .map(|(v, _)| v.abs())
            .collect();
        mags.sort_by(f64::total_cmp);
        let robust = mags
            .get(((mags.len() as f64 * opts.quantile) as usize).min(mags.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0);
        if stage == 0 {
            c_native = (robust / 127.0).max(1e-6);
        }
        let q: Vec<i8> = x
            .iter()
            .map(|v| (v / c_native).round().clamp(-127.0, 127.0) as i8)
            .collect();

        // Store tables and nodes.
        for (vi, &v) in views.iter().enumerate() {
            let (node_name, input_name, sampling) = match v {
                View::Stage => (
                    format!("s{}", stage + 1),
                    if stage == 0 {
                        format!("in.{}", component.name())
                    } else {
                        format!("s{stage}.0")
                    },
                    Sampling::Same,
                ),
                View::Cross(s @ CrossSource::Luma) => (
                    s.node_name().to_string(),
                    "in.y".to_string(),
                    Sampling::ChromaFromLuma { phases },
                ),
                View::Cross(s @ CrossSource::OtherChroma) => (
                    s.node_name().to_string(),
                    format!("in.{}", if component == Component::U { "v" } else { "u" }),
                    Sampling::Same,
                ),
            };
            for b in &geometry.blocks {
                let start = vi * levels + b.offset;
                let block = &q[start..start + b.rows];
                let prefix = format!("{name}/{node_name}/{}", b.pattern.name());
                match opts.layout {
                    TableLayout::Regular => {
                        tables.insert(prefix, block.to_vec());
                    }
                    TableLayout::Dfc { .. } => {
                        tables.insert(format!("{prefix}/fine"), block[..b.fine_rows].to_vec());
                        tables.insert(format!("{prefix}/coarse"), block[b.fine_rows..].to_vec());
                    }
                }
            }
            nodes.push(Node::Spatial(SpatialNode {
                name: node_name.clone(),
                input: input_name,
                patterns: opts.patterns.clone(),
                rotations: 4,
                outputs: 1,
                sampling,
                table: opts.layout,
            }));
            term_names.push(format!("{node_name}.0"));
        }

        // Apply the quantised stage as the runtime does: its raw sums (1/256 units) give the
        // residual explained, and the stage node's sum the next stage's requantised input.
        let before: f64 = mse(&remaining, pairs, opts.step);
        let luma_view = views
            .iter()
            .position(|&v| v == View::Cross(CrossSource::Luma));
        let mut next_maps = Vec::with_capacity(pairs.len());
        for (p, pair) in pairs.iter().enumerate() {
            let (w, h) = (pair.width, pair.height);
            type Row = (Vec<u16>, Vec<f64>, Vec<u8>);
            let rows: Vec<Row> = (0..h)
                .into_par_iter()
                .map(|y| {
                    let mut feat = Vec::with_capacity(w);
                    let mut expl = Vec::with_capacity(w);
                    let mut luma_feat = Vec::new();
                    for x in 0..w {
                        let mut sums = [0i64; 3];
                        for (vi, &v) in views.iter().enumerate() {
                            let (map, ph) = view_map(v, p);
                            geometry.for_each_entry(&table, map, (y, x), ph, |j, wt| {
                                // Row entries only (the shared parts are folded into them).
                                if j < levels {
                                    sums[vi] += i64::from(wt) * i64::from(q[vi * levels + j]);
                                }
                            });
                        }
                        let total: i64 = sums.iter().sum();
                        feat.push(requantise(sums[0], terms) as u16);
                        expl.push(total as f64 / 256.0 * c_native);
                        if let Some(l) = luma_view {
                            luma_feat.push(requantise(sums[l], terms) as u8);
                        }
                    }
                    (feat, expl, luma_feat)
                })
                .collect();
            let mut map = Vec::with_capacity(w * h);
            let mut luma_map = Vec::new();
            for (y, (feat, expl, luma_feat)) in rows.into_iter().enumerate() {
                map.extend(feat);
                luma_map.extend(luma_feat);
                for (x, e) in expl.into_iter().enumerate() {
                    remaining[p][y * w + x] -= e;
                }
            }
            next_maps.push(map);
            if luma_view.is_some() {
                luma_features.push(luma_map);
            }
        }
        let after = mse(&remaining, pairs, opts.step);
        train_mse.push((before, after));
        input = StageInput {
            maps: next_maps,
            fb: 4,
        };
    }

    if opts.colour_gain && !luma_features.is_empty() && cross.contains(&CrossSource::OtherChroma) {
        let own_is_u = component == Component::U;
        let gain = colour_gain::fit(
            pairs,
            own_is_u,
            &luma_features,
            &remaining,
            &weights,
            &work,
            opts.step,
            sample_fb,
            opts.lambda,
            c_native,
        );
        let before = mse(&remaining, pairs, opts.step);
        for (p, pair) in pairs.iter().enumerate() {
            let (us, vs) = colour_gain::uv(pair, own_is_u);
            let l1 = &luma_features[p];
            remaining[p].par_iter_mut().enumerate().for_each(|(i, r)| {
                *r -= gain.raw(l1[i], us[i], vs[i], sample_fb) as f64 / 256.0 * c_native;
            });
        }
        train_mse.push((before, mse(&remaining, pairs, opts.step)));
        nodes.push(Node::Channel(lut_filter::description::ChannelNode {
            name: "c1".into(),
            inputs: ["l1.0".into(), "in.u".into(), "in.v".into()],
            outputs: gain.outputs as u8,
        }));
        term_names.extend((0..gain.outputs).map(|k| format!("c1.{k}")));
        tables.insert(format!("{name}/c1"), gain.table);
    }

    // The runtime's residual scale: c in 10-bit codes per table unit, in 16-bit fixed point.
    let depth_factor = 2f64.powi(10 - i32::from(opts.bit_depth));
    let scale = (c_native * depth_factor * 65536.0).round() as i32;
    let description = ModelDescription {
        name: name.into(),
        component,
        qp_range,
        pictures: opts.pictures,
        bit_depths: [8, 12],
        nodes,
        output: OutputDescription {
            terms: term_names,
            scale,
            scale_shift: 16,
        },
        notes: String::new(),
    };
    FittedModel {
        description,
        tables,
        train_mse,
    }
}

/// Per-picture weights of the squared errors ([`Weighting`]), scaled so that their mean over
/// the sampled positions is 1 (the ridge keeps its meaning).
fn picture_weights(
    residual: &[Vec<f64>],
    pairs: &[PlanePair<'_>],
    step: usize,
    weighting: Weighting,
) -> Vec<f64> {
    // A picture whose reconstruction is (nearly) lossless gets the weight of MSE 0.01.
    const MSE_FLOOR: f64 = 0.01;
    let stats: Vec<(f64, f64)> = residual
        .iter()
        .zip(pairs)
        .map(|(r, p)| {
            let mut sse = 0.0;
            let n = add_sampled_squares(r, p, step, &mut sse);
            (sse, n as f64)
        })
        .collect();
    let raw: Vec<f64> = stats
        .iter()
        .map(|&(sse, n)| {
            let mse = (sse / n.max(1.0)).max(MSE_FLOOR);
            match weighting {
                Weighting::Samples => 1.0,
                Weighting::Picture => 1.0 / (mse * n.max(1.0)),
                Weighting::Area => 1.0 / mse,
            }
        })
        .collect();
    let total: f64 = stats.iter().map(|s| s.1).sum();
    let weighted: f64 = raw.iter().zip(&stats).map(|(w, s)| w * s.1).sum();
    let norm = if weighted > 0.0 {
        total / weighted
    } else {
        1.0
    };
    raw.iter().map(|w| w * norm).collect()
}

/// Mean squared remaining residual over the sampled positions.
fn mse(remaining: &[Vec<f64>], pairs: &[PlanePair<'_>], step: usize) -> f64 {
    let (mut s, mut n) = (0.0, 0usize);
    for (r, p) in remaining.iter().zip(pairs) {
        n += add_sampled_squares(r, p, step, &mut s);
    }
    s / n.max(1) as f64
}

/// Adds the squares of `r` at the sampled positions of `p` to `sum`, in raster order; returns
/// how many positions were sampled.
fn add_sampled_squares(r: &[f64], p: &PlanePair<'_>, step: usize, sum: &mut f64) -> usize {
    let mut n = 0;
    for y in (0..p.height).step_by(step) {
        for x in (0..p.width).step_by(step) {
            let v = r[y * p.width + x];
            *sum += v * v;
            n += 1;
        }
    }
    n
}
