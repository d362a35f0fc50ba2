//! Runs a model over a picture the way the reference implementation does (whole maps, clamped
//! reads, integer arithmetic of `lut_filter::reference`) and reports every 4-D look-up it makes:
//! which node and pattern, the four tap values and their fraction bits. Pruning counts table
//! accesses with it; a test checks that its output equals the runtime's bit for bit.

use lut_filter::description::Sampling;
use lut_filter::interp::{PreparedTable, trilinear};
use lut_filter::reference::{requantise, residual};
use lut_filter::{ModelDescription, Node};

use super::PruneError;
use crate::compact::{Source, TableData};
use crate::corpus::Picture10;

/// The tables of one model, owned (read once from the container).
#[derive(Debug)]
pub struct ModelTables {
    /// The description.
    pub desc: ModelDescription,
    /// Per node: spatial tables (one per pattern) or the channel table.
    pub nodes: Vec<NodeTables>,
}

/// The tables of one node.
#[derive(Debug)]
pub enum NodeTables {
    /// One table per pattern, in the description's pattern order.
    Spatial(Vec<TableData>),
    /// The 17^3 channel table.
    Channel(Vec<i8>),
}

impl ModelTables {
    /// Reads the tables of model `desc` from `source`.
    pub fn load(source: &Source, desc: &ModelDescription) -> Result<Self, PruneError> {
        let mut nodes = Vec::with_capacity(desc.nodes.len());
        for node in &desc.nodes {
            nodes.push(match node {
                Node::Spatial(s) => NodeTables::Spatial(
                    s.patterns
                        .iter()
                        .map(|&p| source.spatial_table(&desc.name, s, p))
                        .collect::<Result<_, _>>()?,
                ),
                Node::Channel(c) => NodeTables::Channel(
                    source
                        .i8_tensor(&format!("{}/{}", desc.name, c.name))?
                        .to_vec(),
                ),
            });
        }
        Ok(ModelTables {
            desc: desc.clone(),
            nodes,
        })
    }
}

/// A map on its grid.
struct Map {
    width: usize,
    height: usize,
    frac_bits: u32,
    data: Vec<i32>,
}

impl Map {
    #[inline]
    fn at(&self, y: i64, x: i64) -> i32 {
        let y = y.clamp(0, self.height as i64 - 1) as usize;
        let x = x.clamp(0, self.width as i64 - 1) as usize;
        self.data[y * self.width + x]
    }
}

/// Where a map reference points.
#[derive(Clone, Copy)]
enum MapRef {
    Input(usize),
    Node(usize, usize),
}

fn resolve(desc: &ModelDescription, r: &str) -> Result<MapRef, PruneError> {
    let bad = || PruneError::Description(format!("model '{}': bad map '{r}'", desc.name));
    let (head, tail) = r.split_once('.').ok_or_else(bad)?;
    if head == "in" {
        let c: lut_filter::Component = tail.parse().map_err(|_| bad())?;
        return Ok(MapRef::Input(c.index()));
    }
    let n = desc
        .nodes
        .iter()
        .position(|n| n.name() == head)
        .ok_or_else(bad)?;
    Ok(MapRef::Node(n, tail.parse().map_err(|_| bad())?))
}

/// One look-up reported to the visitor.
#[derive(Clone, Copy, Debug)]
pub struct Access<'t> {
    /// Node index in the model.
    pub node: usize,
    /// Pattern index in the node.
    pub pattern: usize,
    /// The table looked up.
    pub table: &'t TableData,
    /// Tap values.
    pub v: [u32; 4],
    /// Their fraction bits.
    pub fb: u32,
}

/// Runs `model` on a 10-bit 4:2:0 picture. Look-ups at output positions `(y, x)` with `y` and
/// `x` multiples of `step` are reported to `visit`; nodes whose outputs later nodes read are
/// computed everywhere, the others only there. Returns the filtered plane of the model's
/// component (meaningful at every position only for `step == 1`).
pub fn trace(
    model: &ModelTables,
    pic: &Picture10,
    step: usize,
    visit: &mut dyn FnMut(Access<'_>),
) -> Result<Vec<u16>, PruneError> {
    let desc = &model.desc;
    let step = step.max(1);
    let (sy, sx) = (2usize, 2usize);
    let inputs: Vec<Map> = (0..3)
        .map(|c| {
            let (w, h) = pic.plane_size(c);
            Map {
                width: w,
                height: h,
                frac_bits: 6,
                data: pic
                    .plane(c)
                    .iter()
                    .map(|&s| i32::from(s.min(1023)))
                    .collect(),
            }
        })
        .collect();
    let mut refs: Vec<Vec<MapRef>> = Vec::new();
    for node in &desc.nodes {
        refs.push(match node {
            Node::Spatial(s) => vec![resolve(desc, &s.input)?],
            Node::Channel(c) => c
                .inputs
                .iter()
                .map(|r| resolve(desc, r))
                .collect::<Result<_, _>>()?,
        });
    }
    let terms: Vec<(usize, usize)> = desc
        .output
        .terms
        .iter()
        .map(|t| match resolve(desc, t)? {
            MapRef::Node(n, k) => Ok((n, k)),
            MapRef::Input(_) => Err(PruneError::Description(format!("output term '{t}'"))),
        })
        .collect::<Result<_, _>>()?;
    let needed: Vec<bool> = (0..desc.nodes.len())
        .map(|n| {
            refs[n + 1..]
                .iter()
                .flatten()
                .any(|r| matches!(r, MapRef::Node(m, _) if *m == n))
        })
        .collect();
    let mut features: Vec<Vec<Map>> = Vec::new();
    let mut raw: Vec<Vec<Vec<i64>>> = Vec::new();
    for (n, node) in desc.nodes.iter().enumerate() {
        let get = |r: MapRef| -> &Map {
            match r {
                MapRef::Input(c) => &inputs[c],
                MapRef::Node(m, k) => &features[m][k],
            }
        };
        let first = get(refs[n][0]);
        let (w, h, phases) = match node {
            Node::Spatial(s) => match &s.sampling {
                Sampling::Same => (first.width, first.height, None),
                Sampling::ChromaFromLuma { phases } => {
                    let (w, h) = pic.plane_size(1);
                    (w, h, Some(*phases))
                }
            },
            Node::Channel(_) => (first.width, first.height, None),
        };
        let k = usize::from(node.outputs());
        let mut sums = vec![vec![0i64; w * h]; k];
        let mut acc = vec![0i32; k];
        for y in 0..h {
            for x in 0..w {
                let sampled = y % step == 0 && x % step == 0;
                if !needed[n] && !sampled {
                    continue;
                }
                acc.fill(0);
                match (node, &model.nodes[n]) {
                    (Node::Spatial(s), NodeTables::Spatial(tables)) => {
                        for (pi, (&p, table)) in s.patterns.iter().zip(tables).enumerate() {
                            let prepared: PreparedTable<'_> = table.prepared();
                            for r in 0..usize::from(s.rotations) {
                                let (ay, ax) = match phases {
                                    None => (y as i64, x as i64),
                                    Some(ph) => (
                                        (y * sy + usize::from(ph[r][0]) * (sy - 1)) as i64,
                                        (x * sx + usize::from(ph[r][1]) * (sx - 1)) as i64,
                                    ),
                                };
                                let v = p.rotated_taps(r).map(|(di, dj)| {
                                    first.at(ay + i64::from(di), ax + i64::from(dj)) as u32
                                });
                                prepared.lookup(v, first.frac_bits, k, &mut acc);
                                if sampled {
                                    visit(Access {
                                        node: n,
                                        pattern: pi,
                                        table,
                                        v,
                                        fb: first.frac_bits,
                                    });
                                }
                            }
                        }
                    }
                    (Node::Channel(_), NodeTables::Channel(t)) => {
                        let maps = [0, 1, 2].map(|i| get(refs[n][i]));
                        let v = maps.map(|m| m.at(y as i64, x as i64) as u32);
                        trilinear(t, k, v, maps.map(|m| m.frac_bits), &mut acc);
                    }
                    _ => unreachable!("tables are loaded per node kind"),
                }
                for (s, &a) in sums.iter_mut().zip(&acc) {
                    s[y * w + x] = i64::from(a);
                }
            }
        }
        let t = node.terms();
        features.push(
            sums.iter()
                .map(|s| Map {
                    width: w,
                    height: h,
                    frac_bits: 4,
                    data: s.iter().map(|&v| requantise(v, t)).collect(),
                })
                .collect(),
        );
        raw.push(sums);
    }
    let c = desc.component.index();
    let target = &inputs[c];
    let out = (0..target.data.len())
        .map(|i| {
            let s: i64 = terms.iter().map(|&(n, k)| raw[n][k][i]).sum();
            let r = residual(s, desc.output.scale, desc.output.scale_shift, 10);
            (i64::from(target.data[i]) + r).clamp(0, 1023) as u16
        })
        .collect();
    Ok(out)
}
