//! Pruning LUT containers by what real video reaches (the lut-build issue, item 4).
//!
//! 1. **Access statistics** ([`collect`]): every model runs over reconstructions of the corpus
//!    ([`trace::trace`], bit-exact with the runtime); for each spatial table we count, per row,
//!    how often a look-up reads it with non-zero weight (`PreparedTable::locate`), how many
//!    look-ups go to the coarse part, the smallest band half-width each look-up needs, and, for
//!    every *candidate geometry* of the node, the squared change of the look-up result if the
//!    table were re-sampled into it ([`crate::compact::resample`]).
//! 2. **Choice** ([`choose`]): per spatial node, the smallest candidate (same `dims`, `dw' <= dw`,
//!    `si' >= si`: its nodes are a subset of the source's, so the re-sampled table is exact at
//!    them) whose RMS look-up change on the corpus stays within a threshold (table units).
//! 3. **Rewrite** ([`apply`]): the container again, chosen nodes re-sampled; canonical fine
//!    indexes are omitted (format 1.1, lossless).
//!
//! Row pruning (dropping fine rows nobody reads and redirecting their index positions) is *not*
//! done: it needs an explicit fine index, which for the default geometry (11,662 bytes per
//! 1-output table) is larger than all the rows it could remove (4,583); the statistics report
//! the never-read rows so that this stays checked (`docs/pruning.md`).
//! All counters are integers, so results are identical for any thread count.

pub mod trace;

use std::collections::HashMap;

use lut_filter::interp::Part;
use lut_filter::{Component, Node, TableLayout};
use rayon::prelude::*;
use serde::Serialize;

use crate::compact::{CompactError, Source, TableData, geometry_of, resample};
use crate::corpus::{Cache, Corpus, CorpusError, Encode, Picture10};
use trace::{Access, ModelTables};

/// Errors of pruning.
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    /// Reading or writing the container.
    #[error(transparent)]
    Compact(#[from] CompactError),
    /// Reading the corpus.
    #[error(transparent)]
    Corpus(#[from] CorpusError),
    /// A description the tracer cannot follow (not reachable for a validated container).
    #[error("description: {0}")]
    Description(String),
}

impl From<lut_filter::Error> for PruneError {
    fn from(e: lut_filter::Error) -> Self {
        PruneError::Compact(CompactError::Container(e))
    }
}

/// Largest band half-width the histogram distinguishes; look-ups needing more count in the
/// last bin.
pub const MAX_DW: usize = 9;

/// Candidate layouts of a node, the source first: same `dims`, every `dw' <= dw` and
/// `si' >= si` (for a regular source: DFC with dims 4, dw 1..=4, si 4..=7).
pub fn candidates(layout: TableLayout) -> Vec<TableLayout> {
    let mut out = vec![layout];
    let (dims, dws, sis) = match layout {
        TableLayout::Regular => (4u8, 1..=4u8, 4..=7u8),
        TableLayout::Dfc { dims, dw, si } => (dims, 1..=dw, si..=7),
    };
    for dw in dws.rev() {
        for si in sis.clone() {
            let l = TableLayout::Dfc { dims, dw, si };
            if l != layout {
                out.push(l);
            }
        }
    }
    out
}

/// Statistics of one pattern's table.
#[derive(Clone, Debug, Default)]
pub struct TableStats {
    /// Look-ups counted.
    pub lookups: u64,
    /// Of which the coarse part served (DFC).
    pub coarse_lookups: u64,
    /// Look-ups by the smallest band half-width that would serve them from the fine part
    /// (index `MAX_DW`: that or more).
    pub need_dw: [u64; MAX_DW + 1],
    /// Reads with non-zero weight per row of the regular table, or of the fine part.
    pub fine_rows: Vec<u64>,
    /// Reads with non-zero weight per coarse row (DFC).
    pub coarse_rows: Vec<u64>,
    /// Per candidate (as [`candidates`]): sum over look-ups and outputs of the squared change of
    /// the result, in (1/256 table unit)^2.
    pub sq_change: Vec<u128>,
}

impl TableStats {
    fn add(&mut self, o: &TableStats) {
        self.lookups += o.lookups;
        self.coarse_lookups += o.coarse_lookups;
        for (a, b) in self.need_dw.iter_mut().zip(&o.need_dw) {
            *a += b;
        }
        for (a, b) in self.fine_rows.iter_mut().zip(&o.fine_rows) {
            *a += b;
        }
        for (a, b) in self.coarse_rows.iter_mut().zip(&o.coarse_rows) {
            *a += b;
        }
        for (a, b) in self.sq_change.iter_mut().zip(&o.sq_change) {
            *a += b;
        }
    }
}

/// Statistics of one spatial node.
#[derive(Clone, Debug)]
pub struct NodeStats {
    /// Model name.
    pub model: String,
    /// Node name.
    pub node: String,
    /// Outputs per row.
    pub outputs: usize,
    /// Candidate layouts, the source's first.
    pub candidates: Vec<TableLayout>,
    /// Per pattern.
    pub tables: Vec<TableStats>,
}

/// Access statistics of every spatial node of a container.
#[derive(Clone, Debug)]
pub struct AccessStats {
    /// Per model, per node (`None` for channel nodes).
    pub models: Vec<Vec<Option<NodeStats>>>,
    /// Pictures traced (per component model use).
    pub planes: u64,
}

impl AccessStats {
    fn empty(source: &Source) -> Self {
        let models = source
            .container()
            .description()
            .models
            .iter()
            .map(|m| {
                m.nodes
                    .iter()
                    .map(|n| match n {
                        Node::Spatial(s) => {
                            let g = geometry_of(s.table);
                            let (fine, coarse) = match g {
                                None => (lut_filter::tables::REGULAR_ROWS, 0),
                                Some(g) => (g.fine_index().1, g.coarse_rows()),
                            };
                            let candidates = candidates(s.table);
                            Some(NodeStats {
                                model: m.name.clone(),
                                node: s.name.clone(),
                                outputs: usize::from(s.outputs),
                                tables: vec![
                                    TableStats {
                                        fine_rows: vec![0; fine],
                                        coarse_rows: vec![0; coarse],
                                        sq_change: vec![0; candidates.len()],
                                        ..TableStats::default()
                                    };
                                    s.patterns.len()
                                ],
                                candidates,
                            })
                        }
                        Node::Channel(_) => None,
                    })
                    .collect()
            })
            .collect();
        AccessStats { models, planes: 0 }
    }

    fn add(mut self, o: AccessStats) -> Self {
        self.planes += o.planes;
        for (a, b) in self
            .models
            .iter_mut()
            .flatten()
            .zip(o.models.iter().flatten())
        {
            if let (Some(a), Some(b)) = (a, b) {
                for (x, y) in a.tables.iter_mut().zip(&b.tables) {
                    x.add(y);
                }
            }
        }
        self
    }
}

/// A model's tables and its nodes' candidate tables (re-sampled once).
struct Prepared {
    tables: ModelTables,
    /// `[node][pattern][candidate - 1]`.
    candidates: Vec<Vec<Vec<TableData>>>,
}

fn prepare(source: &Source) -> Result<Vec<Prepared>, PruneError> {
    let descs = &source.container().description().models;
    descs
        .par_iter()
        .map(|d| {
            let tables = ModelTables::load(source, d)?;
            let candidates = d
                .nodes
                .iter()
                .zip(&tables.nodes)
                .map(|(n, t)| match (n, t) {
                    (Node::Spatial(s), trace::NodeTables::Spatial(ts)) => ts
                        .iter()
                        .map(|t| {
                            candidates(s.table)[1..]
                                .iter()
                                .filter_map(|&l| geometry_of(l))
                                .map(|g| resample(t, usize::from(s.outputs), g))
                                .collect()
                        })
                        .collect(),
                    _ => Vec::new(),
                })
                .collect();
            Ok(Prepared { tables, candidates })
        })
        .collect()
}

/// The smallest band half-width whose fine part serves a look-up of `v` (`dims` diagonal
/// coordinates): `-dw q < v_k - v_0 <= dw q` for every k.
pub fn needed_dw(v: [u32; 4], fb: u32, dims: usize) -> usize {
    let q = 1i64 << fb;
    (1..dims)
        .map(|k| {
            let d = i64::from(v[k]) - i64::from(v[0]);
            if d > 0 { (d + q - 1) / q } else { -d / q + 1 }
        })
        .max()
        .unwrap_or(0)
        .min(MAX_DW as i64) as usize
}

fn count(
    stats: &mut AccessStats,
    model: usize,
    prepared: &Prepared,
    a: Access<'_>,
    acc: &mut Vec<i32>,
    alt: &mut Vec<i32>,
) {
    let Some(ns) = stats.models[model][a.node].as_mut() else {
        return;
    };
    let k = ns.outputs;
    let t = &mut ns.tables[a.pattern];
    let table = a.table.prepared();
    let (part, rows, w) = table.locate(a.v, a.fb);
    t.lookups += 1;
    let counter = match part {
        Part::Coarse => {
            t.coarse_lookups += 1;
            &mut t.coarse_rows
        }
        _ => &mut t.fine_rows,
    };
    for (r, w) in rows.iter().zip(w) {
        if w != 0 {
            counter[*r] += 1;
        }
    }
    let dims = geometry_of(ns.candidates[0]).map_or(4, |g| g.dims);
    t.need_dw[needed_dw(a.v, a.fb, dims)] += 1;
    acc.clear();
    acc.resize(k, 0);
    table.lookup(a.v, a.fb, k, acc);
    for (c, cand) in prepared.candidates[a.node][a.pattern].iter().enumerate() {
        alt.clear();
        alt.resize(k, 0);
        cand.prepared().lookup(a.v, a.fb, k, alt);
        let sq: u128 = acc
            .iter()
            .zip(alt.iter())
            .map(|(&x, &y)| (i64::from(x) - i64::from(y)).unsigned_abs().pow(2) as u128)
            .sum();
        t.sq_change[c + 1] += sq;
    }
}

/// Which reconstructions statistics are collected on, and how densely.
#[derive(Clone, Debug)]
pub struct Sampling {
    /// Count look-ups at every `step`-th row and column of each plane.
    pub step: usize,
    /// Use every `frame_step`-th picture of each bitstream.
    pub frame_step: usize,
}

/// Traces every model (chosen per plane by the picture's slice QP) over `pictures`.
fn collect_pictures(
    source: &Source,
    prepared: &[Prepared],
    pictures: &[Picture10],
    qp_fallback: i32,
    sampling: &Sampling,
    stats: &mut AccessStats,
) -> Result<(), PruneError> {
    let names: HashMap<&str, usize> = prepared
        .iter()
        .enumerate()
        .map(|(i, p)| (p.tables.desc.name.as_str(), i))
        .collect();
    let (mut acc, mut alt) = (Vec::new(), Vec::new());
    for pic in pictures.iter().step_by(sampling.frame_step.max(1)) {
        let qp = pic.slice_qp.unwrap_or(qp_fallback);
        for c in Component::ALL {
            let Some(model) = source.container().select_for(c, qp, pic.kind) else {
                continue;
            };
            let m = names[model.description().name.as_str()];
            stats.planes += 1;
            trace::trace(&prepared[m].tables, pic, sampling.step, &mut |a| {
                count(stats, m, &prepared[m], a, &mut acc, &mut alt)
            })?;
        }
    }
    Ok(())
}

/// Collects access statistics of `source`'s tables over given pictures (tests, small inputs).
pub fn collect_on(
    source: &Source,
    pictures: &[Picture10],
    qp: i32,
    sampling: &Sampling,
) -> Result<AccessStats, PruneError> {
    let prepared = prepare(source)?;
    let mut stats = AccessStats::empty(source);
    collect_pictures(source, &prepared, pictures, qp, sampling, &mut stats)?;
    Ok(stats)
}

/// Collects access statistics over the reconstructions of `encodes` (loaded one bitstream at
/// a time through the cache, in parallel); `progress` is called once per bitstream.
pub fn collect(
    source: &Source,
    corpus: &Corpus,
    encodes: &[&Encode],
    cache: &Cache,
    sampling: &Sampling,
    progress: &(dyn Fn() + Sync),
) -> Result<AccessStats, PruneError> {
    let prepared = prepare(source)?;
    encodes
        .par_iter()
        .map(|e| {
            let mut stats = AccessStats::empty(source);
            let (pics, _) = corpus.reconstruction(e, cache, 1)?;
            collect_pictures(source, &prepared, &pics, e.qp as i32, sampling, &mut stats)?;
            progress();
            Ok(stats)
        })
        .try_reduce(|| AccessStats::empty(source), |a, b| Ok(a.add(b)))
}

/// What pruning decided for one spatial node, with the evidence.
#[derive(Clone, Debug, Serialize)]
pub struct Choice {
    /// Model name.
    pub model: String,
    /// Node name.
    pub node: String,
    /// Layout before.
    pub from: TableLayout,
    /// Layout chosen.
    pub to: TableLayout,
    /// Table bytes of the node before (all patterns; canonical index omitted).
    pub bytes_from: usize,
    /// Table bytes after.
    pub bytes_to: usize,
    /// RMS change of a look-up on the corpus, in table units.
    pub rms_change: f64,
    /// Look-ups counted (all patterns).
    pub lookups: u64,
    /// Share of them served by the coarse part.
    pub coarse_share: f64,
    /// Share of look-ups by needed band half-width (1..=MAX_DW; index 0 = half-width 1).
    pub need_dw_share: Vec<f64>,
    /// Fine (or regular) rows never read with non-zero weight / all fine rows (all patterns).
    pub fine_rows_unread: [usize; 2],
    /// Coarse rows never read / all coarse rows.
    pub coarse_rows_unread: [usize; 2],
    /// Every candidate: layout, table bytes, RMS look-up change (table units).
    pub candidates: Vec<(String, usize, f64)>,
}

/// Chooses per spatial node the smallest candidate whose RMS look-up change is at most
/// `threshold` table units (nodes with no counted look-up keep their layout).
pub fn choose(stats: &AccessStats, threshold: f64) -> Vec<Choice> {
    let mut out = Vec::new();
    for ns in stats.models.iter().flatten().flatten() {
        let k = ns.outputs;
        let patterns = ns.tables.len();
        let lookups: u64 = ns.tables.iter().map(|t| t.lookups).sum();
        let rms = |c: usize| {
            let sq: u128 = ns.tables.iter().map(|t| t.sq_change[c]).sum();
            if lookups == 0 {
                0.0
            } else {
                (sq as f64 / (lookups as f64 * k as f64)).sqrt() / 256.0
            }
        };
        let bytes = |l: TableLayout| crate::compact::table_bytes(l, k) * patterns;
        let mut best = 0;
        if lookups > 0 {
            for c in 1..ns.candidates.len() {
                if rms(c) <= threshold && bytes(ns.candidates[c]) < bytes(ns.candidates[best]) {
                    best = c;
                }
            }
        }
        let unread = |f: fn(&TableStats) -> &Vec<u64>| {
            let all: usize = ns.tables.iter().map(|t| f(t).len()).sum();
            let zero = ns
                .tables
                .iter()
                .map(|t| f(t).iter().filter(|&&c| c == 0).count())
                .sum();
            [zero, all]
        };
        let share = |n: u64| {
            if lookups == 0 {
                0.0
            } else {
                n as f64 / lookups as f64
            }
        };
        out.push(Choice {
            model: ns.model.clone(),
            node: ns.node.clone(),
            from: ns.candidates[0],
            to: ns.candidates[best],
            bytes_from: bytes(ns.candidates[0]),
            bytes_to: bytes(ns.candidates[best]),
            rms_change: rms(best),
            lookups,
            coarse_share: share(ns.tables.iter().map(|t| t.coarse_lookups).sum()),
            need_dw_share: (1..=MAX_DW)
                .map(|d| share(ns.tables.iter().map(|t| t.need_dw[d]).sum()))
                .collect(),
            fine_rows_unread: unread(|t| &t.fine_rows),
            coarse_rows_unread: unread(|t| &t.coarse_rows),
            candidates: (0..ns.candidates.len())
                .map(|c| {
                    let l = ns.candidates[c];
                    (layout_text(l), bytes(l), rms(c))
                })
                .collect(),
        });
    }
    out
}

/// Writes `source` again with the chosen layouts (canonical indexes omitted).
pub fn apply(
    source: &Source,
    choices: &[Choice],
) -> Result<lut_filter::ContainerWriter, PruneError> {
    let by_node: HashMap<(&str, &str), TableLayout> = choices
        .iter()
        .map(|c| ((c.model.as_str(), c.node.as_str()), c.to))
        .collect();
    Ok(crate::compact::rewrite(source, |m, s| {
        Ok(by_node
            .get(&(m.name.as_str(), s.name.as_str()))
            .copied()
            .filter(|l| geometry_of(*l).is_some()))
    })?)
}

/// The candidate's geometry as `dims/dw/si` text (`regular` for a regular table).
pub fn layout_text(l: TableLayout) -> String {
    match l {
        TableLayout::Regular => "regular".into(),
        TableLayout::Dfc { dims, dw, si } => format!("dfc {dims}/{dw}/{si}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needed_dw_matches_the_band_test() {
        for fb in [4u32, 6] {
            let q = 1i64 << fb;
            for x in [0u32, 100, 500.min((16 << fb) - 1)] {
                for d in -300i64..=300 {
                    let y = i64::from(x) + d;
                    if y < 0 || y >= 16 << fb {
                        continue;
                    }
                    let v = [x, y as u32, x, x];
                    let need = needed_dw(v, fb, 4);
                    for dw in 1..MAX_DW as i64 {
                        let in_band = d > -dw * q && d <= dw * q;
                        assert_eq!(in_band, need as i64 <= dw, "fb {fb} x {x} d {d} dw {dw}");
                    }
                }
            }
        }
    }

    #[test]
    fn candidates_start_with_the_source_and_only_shrink() {
        let l = TableLayout::Dfc {
            dims: 4,
            dw: 3,
            si: 5,
        };
        let c = candidates(l);
        assert_eq!(c[0], l);
        assert_eq!(c.len(), 9);
        for x in &c[1..] {
            let g = geometry_of(*x).unwrap();
            assert!(g.dw <= 3 && g.si >= 5 && g.dims == 4 && *x != l);
        }
    }
}
