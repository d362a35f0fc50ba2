//! A batch of crops laid out for batched evaluation: every map (codec input or node output)
//! is a flat vector holding, crop after crop, the region of that map the crop needs
//! ([`Graph::regions`]); every look-up's taps are gathered with precomputed indices, so each
//! unit runs as one matrix product over all positions, rotations and crops of the batch.
//!
//! Reads clamp to the picture (replicate padding, as the runtime does), and the regions are
//! closed under that clamping, so the scored positions get exactly the whole-picture result
//! even at picture borders.

use candle_core::{Device, Tensor};
use lut_filter::description::Component;
use rayon::prelude::*;

use crate::TrainError;
use crate::data::Crop;
use crate::graph::{Graph, MapRef, NodeKind, Rect};

/// A batch ready for [`crate::model::Network::forward`].
#[derive(Debug)]
pub struct Batch {
    /// Scored rectangle (target grid, view coordinates) of each crop, in output order.
    pub interiors: Vec<Rect>,
    /// Codec inputs in the regions needed (`x / 1024`), by component index.
    pub(crate) inputs: [Option<Tensor>; 3],
    /// Per node: per pattern, u32 indices `[rotations * N * 4]` into the input map (spatial).
    pub(crate) spatial: Vec<Vec<Tensor>>,
    /// Per node: three u32 index vectors `[N]` into the input maps, `None` = identity (channel).
    pub(crate) channel: Vec<[Option<Tensor>; 3]>,
    /// Positions per node output map.
    pub(crate) node_len: Vec<usize>,
    /// Per output term: indices `[N_out]` into the node's map, `None` = identity.
    pub(crate) terms: Vec<Option<Tensor>>,
    /// Reconstruction at the scored positions (10-bit codes, f32).
    pub recon: Tensor,
    /// Original at the scored positions.
    pub orig: Tensor,
}

/// Regions of one crop and its offsets in every flat map.
struct CropLayout {
    inputs: [Rect; 3],
    nodes: Vec<Rect>,
    in_off: [usize; 3],
    node_off: Vec<usize>,
}

#[derive(Default)]
struct Pieces {
    inputs: [Vec<f32>; 3],
    spatial: Vec<Vec<Vec<Vec<u32>>>>,
    channel: Vec<[Vec<u32>; 3]>,
    terms: Vec<Vec<u32>>,
    recon: Vec<f32>,
    orig: Vec<f32>,
}

#[inline]
fn clampi(v: i64, r: (i64, i64)) -> i64 {
    v.clamp(r.0, r.1 - 1)
}

fn to_u32(len: usize) -> Result<u32, TrainError> {
    u32::try_from(len).map_err(|_| TrainError::Model("batch too large for u32 indices".into()))
}

impl Batch {
    /// Lays out `crops` for `graph`.
    pub fn new(graph: &Graph, crops: &[Crop<'_>], device: &Device) -> Result<Batch, TrainError> {
        let nn = graph.nodes.len();
        let mut in_len = [0usize; 3];
        let mut node_len = vec![0usize; nn];
        let layouts: Vec<CropLayout> = crops
            .iter()
            .map(|c| {
                let (inputs, nodes) = graph.regions(&c.view.sizes(), c.interior);
                let in_off = std::array::from_fn(|i| {
                    let o = in_len[i];
                    in_len[i] += inputs[i].len();
                    o
                });
                let node_off = (0..nn)
                    .map(|i| {
                        let o = node_len[i];
                        node_len[i] += nodes[i].len();
                        o
                    })
                    .collect();
                CropLayout {
                    inputs,
                    nodes,
                    in_off,
                    node_off,
                }
            })
            .collect();
        to_u32(in_len.iter().chain(&node_len).copied().max().unwrap_or(0))?;
        let pieces: Vec<Pieces> = crops
            .par_iter()
            .zip(&layouts)
            .map(|(c, l)| crop_pieces(graph, c, l))
            .collect();

        let interiors: Vec<Rect> = crops.iter().map(|c| c.interior).collect();
        let t_f32 = |v: Vec<f32>| {
            let n = v.len();
            Tensor::from_vec(v, n, device)
        };
        let t_u32 = |v: Vec<u32>| {
            let n = v.len();
            Tensor::from_vec(v, n, device)
        };
        let cat = |f: &dyn Fn(&Pieces) -> &Vec<u32>| -> Vec<u32> {
            pieces.iter().flat_map(|p| f(p).iter().copied()).collect()
        };
        let is_identity = |v: &[u32]| v.iter().enumerate().all(|(i, &x)| x as usize == i);

        let mut inputs: [Option<Tensor>; 3] = [None, None, None];
        for (c, input) in inputs.iter_mut().enumerate() {
            if in_len[c] > 0 {
                let v: Vec<f32> = pieces
                    .iter()
                    .flat_map(|p| p.inputs[c].iter().copied())
                    .collect();
                *input = Some(t_f32(v)?);
            }
        }
        let mut spatial = Vec::with_capacity(nn);
        let mut channel = Vec::with_capacity(nn);
        for (n, node) in graph.nodes.iter().enumerate() {
            let mut per_pattern = Vec::new();
            if let NodeKind::Spatial {
                patterns,
                rotations,
                ..
            } = &node.kind
            {
                for p in 0..patterns.len() {
                    let mut ids = Vec::with_capacity(rotations * node_len[n] * 4);
                    for r in 0..*rotations {
                        for pc in &pieces {
                            ids.extend_from_slice(&pc.spatial[n][p][r]);
                        }
                    }
                    per_pattern.push(t_u32(ids)?);
                }
            }
            spatial.push(per_pattern);
            let mut ch: [Option<Tensor>; 3] = [None, None, None];
            if let NodeKind::Channel { .. } = &node.kind {
                for (i, slot) in ch.iter_mut().enumerate() {
                    let ids = cat(&|p: &Pieces| &p.channel[n][i]);
                    // Identity only when the input map has exactly these positions.
                    let len_in = match &node.kind {
                        NodeKind::Channel { inputs, .. } => match inputs[i] {
                            MapRef::Input(c) => in_len[c.index()],
                            MapRef::Node(m, _) => node_len[m],
                        },
                        NodeKind::Spatial { .. } => 0,
                    };
                    if !(ids.len() == len_in && is_identity(&ids)) {
                        *slot = Some(t_u32(ids)?);
                    }
                }
            }
            channel.push(ch);
        }
        let mut terms = Vec::new();
        for (t, &(n, _)) in graph.terms.iter().enumerate() {
            let ids = cat(&|p: &Pieces| &p.terms[t]);
            terms.push(if ids.len() == node_len[n] && is_identity(&ids) {
                None
            } else {
                Some(t_u32(ids)?)
            });
        }
        let recon = t_f32(
            pieces
                .iter()
                .flat_map(|p| p.recon.iter().copied())
                .collect(),
        )?;
        let orig = t_f32(pieces.iter().flat_map(|p| p.orig.iter().copied()).collect())?;
        Ok(Batch {
            interiors,
            inputs,
            spatial,
            channel,
            node_len,
            terms,
            recon,
            orig,
        })
    }

    /// Scored positions in the batch.
    pub fn outputs(&self) -> usize {
        self.interiors.iter().map(Rect::len).sum()
    }
}

/// Values and (global) gather indices of one crop.
fn crop_pieces(graph: &Graph, crop: &Crop<'_>, l: &CropLayout) -> Pieces {
    let sizes = crop.view.sizes();
    let mut p = Pieces::default();
    for c in Component::ALL {
        let r = l.inputs[c.index()];
        let mut v = Vec::with_capacity(r.len());
        for y in r.y0..r.y1 {
            for x in r.x0..r.x1 {
                v.push(f32::from(crop.view.recon(c, y as usize, x as usize)) / 1024.0);
            }
        }
        p.inputs[c.index()] = v;
    }
    // Region, offset and grid bounds of a map.
    let map = |m: MapRef| -> (Rect, usize) {
        match m {
            MapRef::Input(c) => (l.inputs[c.index()], l.in_off[c.index()]),
            MapRef::Node(n, _) => (l.nodes[n], l.node_off[n]),
        }
    };
    for (n, node) in graph.nodes.iter().enumerate() {
        let out = l.nodes[n];
        let mut per_pattern = Vec::new();
        let mut ch: [Vec<u32>; 3] = Default::default();
        match &node.kind {
            NodeKind::Spatial {
                input,
                patterns,
                rotations,
                phases,
            } => {
                let (ir, ioff) = map(*input);
                let in_grid = match phases {
                    None => node.grid,
                    Some(_) => lut_filter::description::Grid::Luma,
                };
                let g = sizes.rect(in_grid);
                let (gy, gx) = ((g.y0, g.y1), (g.x0, g.x1));
                for (pattern, _) in patterns {
                    let mut per_rot = Vec::with_capacity(*rotations);
                    for r in 0..*rotations {
                        let taps = pattern.rotated_taps(r);
                        let mut ids = Vec::with_capacity(out.len() * 4);
                        for y in out.y0..out.y1 {
                            for x in out.x0..out.x1 {
                                let (ay, ax) = match phases {
                                    None => (y, x),
                                    Some(ph) => {
                                        (2 * y + i64::from(ph[r][0]), 2 * x + i64::from(ph[r][1]))
                                    }
                                };
                                for (di, dj) in taps {
                                    let ty = clampi(ay + i64::from(di), gy);
                                    let tx = clampi(ax + i64::from(dj), gx);
                                    ids.push((ioff + ir.pos(ty, tx)) as u32);
                                }
                            }
                        }
                        per_rot.push(ids);
                    }
                    per_pattern.push(per_rot);
                }
            }
            NodeKind::Channel { inputs, .. } => {
                for (i, m) in inputs.iter().enumerate() {
                    let (ir, ioff) = map(*m);
                    let mut ids = Vec::with_capacity(out.len());
                    for y in out.y0..out.y1 {
                        for x in out.x0..out.x1 {
                            ids.push((ioff + ir.pos(y, x)) as u32);
                        }
                    }
                    ch[i] = ids;
                }
            }
        }
        p.spatial.push(per_pattern);
        p.channel.push(ch);
    }
    let it = crop.interior;
    for &(n, _) in &graph.terms {
        let (r, off) = (l.nodes[n], l.node_off[n]);
        let mut ids = Vec::with_capacity(it.len());
        for y in it.y0..it.y1 {
            for x in it.x0..it.x1 {
                ids.push((off + r.pos(y, x)) as u32);
            }
        }
        p.terms.push(ids);
    }
    let c = graph.component();
    for y in it.y0..it.y1 {
        for x in it.x0..it.x1 {
            p.recon
                .push(f32::from(crop.view.recon(c, y as usize, x as usize)));
            p.orig
                .push(f32::from(crop.view.orig(c, y as usize, x as usize)));
        }
    }
    p
}
