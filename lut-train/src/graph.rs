//! A model description resolved for training: nodes with their inputs resolved to maps, the
//! units (one MLP per spatial node and pattern, one per channel node, named as
//! [`lut_build::net::unit_slots`] names them), and the geometry that tells which region of each
//! map a crop needs (the receptive field, computed node by node).

use lut_build::net::{UnitSlot, unit_slots};
use lut_filter::description::{Component, Grid, ModelDescription, Node, Pattern, Sampling};

use crate::TrainError;

/// A map a node reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapRef {
    /// A codec plane (`in.y`, `in.u`, `in.v`), 10-bit samples.
    Input(Component),
    /// Output `k` of node `n`, requantised to an 8-bit feature.
    Node(usize, usize),
}

/// What a node computes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// Sum over patterns and rotations of a 4-input unit.
    Spatial {
        /// The map read.
        input: MapRef,
        /// Each pattern with the index of its unit in [`Graph::units`].
        patterns: Vec<(Pattern, usize)>,
        /// Rotations 0..rotations.
        rotations: usize,
        /// `None`: same grid; `Some(phases)`: chroma grid from the luma grid (4:2:0).
        phases: Option<[[u8; 2]; 4]>,
    },
    /// One 3-input unit over three maps of one grid.
    Channel {
        /// The three maps.
        inputs: [MapRef; 3],
        /// Index of the unit in [`Graph::units`].
        unit: usize,
    },
}

/// One resolved node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphNode {
    /// Name in the description.
    pub name: String,
    /// What it computes.
    pub kind: NodeKind,
    /// Outputs.
    pub outputs: usize,
    /// Look-ups summed per output (the requantisation divisor).
    pub terms: usize,
    /// Grid of its outputs.
    pub grid: Grid,
}

/// A model description resolved for training.
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    /// The description.
    pub desc: ModelDescription,
    /// Nodes in evaluation order.
    pub nodes: Vec<GraphNode>,
    /// Output terms (node, output).
    pub terms: Vec<(usize, usize)>,
    /// The units, in [`unit_slots`] order.
    pub units: Vec<UnitSlot>,
}

/// A half-open rectangle `[y0, y1) x [x0, x1)` on a grid (empty when `y0 >= y1` or `x0 >= x1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    /// First row.
    pub y0: i64,
    /// One past the last row.
    pub y1: i64,
    /// First column.
    pub x0: i64,
    /// One past the last column.
    pub x1: i64,
}

impl Rect {
    /// The empty rectangle.
    pub const EMPTY: Rect = Rect {
        y0: 0,
        y1: 0,
        x0: 0,
        x1: 0,
    };

    /// `[0, h) x [0, w)`.
    pub fn of_size(h: usize, w: usize) -> Rect {
        Rect {
            y0: 0,
            y1: h as i64,
            x0: 0,
            x1: w as i64,
        }
    }

    /// Whether it holds no position.
    pub fn is_empty(&self) -> bool {
        self.y0 >= self.y1 || self.x0 >= self.x1
    }

    /// Height (0 when empty).
    pub fn height(&self) -> usize {
        if self.is_empty() {
            0
        } else {
            (self.y1 - self.y0) as usize
        }
    }

    /// Width (0 when empty).
    pub fn width(&self) -> usize {
        if self.is_empty() {
            0
        } else {
            (self.x1 - self.x0) as usize
        }
    }

    /// Positions held.
    pub fn len(&self) -> usize {
        self.height() * self.width()
    }

    /// Bounding box of both.
    pub fn union(&self, o: &Rect) -> Rect {
        if self.is_empty() {
            return *o;
        }
        if o.is_empty() {
            return *self;
        }
        Rect {
            y0: self.y0.min(o.y0),
            y1: self.y1.max(o.y1),
            x0: self.x0.min(o.x0),
            x1: self.x1.max(o.x1),
        }
    }

    /// Intersection.
    pub fn intersect(&self, o: &Rect) -> Rect {
        let r = Rect {
            y0: self.y0.max(o.y0),
            y1: self.y1.min(o.y1),
            x0: self.x0.max(o.x0),
            x1: self.x1.min(o.x1),
        };
        if r.is_empty() { Rect::EMPTY } else { r }
    }

    /// Flat row-major position of `(y, x)` (which must lie inside).
    #[inline]
    pub fn pos(&self, y: i64, x: i64) -> usize {
        debug_assert!(y >= self.y0 && y < self.y1 && x >= self.x0 && x < self.x1);
        ((y - self.y0) as usize) * self.width() + (x - self.x0) as usize
    }
}

/// Sizes of the two grids of one (possibly transformed) picture: (height, width) each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GridSizes {
    /// Luma grid.
    pub luma: (usize, usize),
    /// Chroma grid (4:2:0: half of luma, rounded up).
    pub chroma: (usize, usize),
}

impl GridSizes {
    /// 4:2:0 grids for a luma size.
    pub fn yuv420(h: usize, w: usize) -> Self {
        GridSizes {
            luma: (h, w),
            chroma: (h.div_ceil(2), w.div_ceil(2)),
        }
    }

    /// The whole grid `g` as a rectangle.
    pub fn rect(&self, g: Grid) -> Rect {
        let (h, w) = match g {
            Grid::Luma => self.luma,
            Grid::Chroma => self.chroma,
        };
        Rect::of_size(h, w)
    }
}

/// Extent of the taps of a spatial node over all its patterns, rotations and phases, relative
/// to the output position (on the input grid, after the phase for chroma from luma).
fn tap_extent(patterns: &[(Pattern, usize)], rotations: usize) -> [i64; 4] {
    let mut e = [i64::MAX, i64::MIN, i64::MAX, i64::MIN];
    for (p, _) in patterns {
        for r in 0..rotations {
            for (di, dj) in p.rotated_taps(r) {
                e[0] = e[0].min(i64::from(di));
                e[1] = e[1].max(i64::from(di));
                e[2] = e[2].min(i64::from(dj));
                e[3] = e[3].max(i64::from(dj));
            }
        }
    }
    e
}

impl Graph {
    /// Resolves a description: every map must name an input or an earlier node's output, grids
    /// must agree (a chroma-from-luma node reads luma and writes chroma; channel inputs share a
    /// grid), and the output terms must lie on the target component's grid.
    pub fn new(desc: &ModelDescription) -> Result<Graph, TrainError> {
        let bad = |what: String| TrainError::Model(format!("{}: {what}", desc.name));
        let units = unit_slots(desc);
        let unit_index = |name: &str| units.iter().position(|u| u.name == name);
        let mut nodes: Vec<GraphNode> = Vec::new();
        let resolve = |nodes: &[GraphNode], r: &str| -> Result<(MapRef, Grid), TrainError> {
            let (head, tail) = r
                .split_once('.')
                .ok_or_else(|| bad(format!("map '{r}' is not in.<c> or <node>.<k>")))?;
            if head == "in" {
                let c: Component = tail.parse().map_err(|e| bad(format!("map '{r}': {e}")))?;
                return Ok((MapRef::Input(c), c.grid()));
            }
            let n = nodes
                .iter()
                .position(|n| n.name == head)
                .ok_or_else(|| bad(format!("map '{r}' names no earlier node")))?;
            let k: usize = tail
                .parse()
                .map_err(|_| bad(format!("map '{r}': output index is not a number")))?;
            if k >= nodes[n].outputs {
                return Err(bad(format!(
                    "map '{r}': node has {} outputs",
                    nodes[n].outputs
                )));
            }
            Ok((MapRef::Node(n, k), nodes[n].grid))
        };
        for node in &desc.nodes {
            let g = match node {
                Node::Spatial(s) => {
                    let (input, in_grid) = resolve(&nodes, &s.input)?;
                    let rotations = usize::from(s.rotations);
                    if !(1..=4).contains(&rotations) || s.patterns.is_empty() {
                        return Err(bad(format!("node {}: bad rotations or patterns", s.name)));
                    }
                    let (phases, grid) = match &s.sampling {
                        Sampling::Same => (None, in_grid),
                        Sampling::ChromaFromLuma { phases } => {
                            if in_grid != Grid::Luma {
                                return Err(bad(format!("node {} reduces a non-luma map", s.name)));
                            }
                            (Some(*phases), Grid::Chroma)
                        }
                    };
                    let patterns = s
                        .patterns
                        .iter()
                        .map(|p| {
                            let name = format!("{}/{}/{}", desc.name, s.name, p.name());
                            unit_index(&name)
                                .map(|u| (*p, u))
                                .ok_or_else(|| bad(format!("no unit {name}")))
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    GraphNode {
                        name: s.name.clone(),
                        kind: NodeKind::Spatial {
                            input,
                            patterns,
                            rotations,
                            phases,
                        },
                        outputs: usize::from(s.outputs),
                        terms: s.patterns.len() * rotations,
                        grid,
                    }
                }
                Node::Channel(c) => {
                    let mut ins = [MapRef::Input(Component::Y); 3];
                    let mut grid = None;
                    for (i, r) in c.inputs.iter().enumerate() {
                        let (m, g) = resolve(&nodes, r)?;
                        if grid.is_some_and(|g0| g0 != g) {
                            return Err(bad(format!("node {}: inputs on different grids", c.name)));
                        }
                        grid = Some(g);
                        ins[i] = m;
                    }
                    let name = format!("{}/{}", desc.name, c.name);
                    let unit = unit_index(&name).ok_or_else(|| bad(format!("no unit {name}")))?;
                    GraphNode {
                        name: c.name.clone(),
                        kind: NodeKind::Channel { inputs: ins, unit },
                        outputs: usize::from(c.outputs),
                        terms: 1,
                        grid: grid.unwrap_or(Grid::Luma),
                    }
                }
            };
            if nodes.iter().any(|n| n.name == g.name) {
                return Err(bad(format!("node name {} used twice", g.name)));
            }
            nodes.push(g);
        }
        let mut terms = Vec::new();
        for t in &desc.output.terms {
            match resolve(&nodes, t)? {
                (MapRef::Node(n, k), g) if g == desc.component.grid() => terms.push((n, k)),
                _ => {
                    return Err(bad(format!(
                        "output term '{t}' is not a node on the target grid"
                    )));
                }
            }
        }
        if terms.is_empty() {
            return Err(bad("no output term".into()));
        }
        Ok(Graph {
            desc: desc.clone(),
            nodes,
            terms,
            units,
        })
    }

    /// The target component.
    pub fn component(&self) -> Component {
        self.desc.component
    }

    /// The regions a crop needs so that every position of `interior` (on the target grid) is
    /// computed exactly as on the whole picture: `(inputs[3], nodes[n])`, each intersected with
    /// its grid. Reads clamp to the picture, never to the region.
    pub fn regions(&self, sizes: &GridSizes, interior: Rect) -> ([Rect; 3], Vec<Rect>) {
        let mut inputs = [Rect::EMPTY; 3];
        let mut nodes = vec![Rect::EMPTY; self.nodes.len()];
        for &(n, _) in &self.terms {
            nodes[n] = nodes[n].union(&interior);
        }
        for (i, node) in self.nodes.iter().enumerate().rev() {
            let out = nodes[i].intersect(&sizes.rect(node.grid));
            nodes[i] = out;
            if out.is_empty() {
                continue;
            }
            let mut need = |m: MapRef, r: Rect| match m {
                MapRef::Input(c) => {
                    let r = r.intersect(&sizes.rect(c.grid()));
                    inputs[c.index()] = inputs[c.index()].union(&r);
                }
                MapRef::Node(n, _) => nodes[n] = nodes[n].union(&r),
            };
            match &node.kind {
                NodeKind::Spatial {
                    input,
                    patterns,
                    rotations,
                    phases,
                } => {
                    let e = tap_extent(patterns, *rotations);
                    let r = match phases {
                        None => Rect {
                            y0: out.y0 + e[0],
                            y1: out.y1 + e[1],
                            x0: out.x0 + e[2],
                            x1: out.x1 + e[3],
                        },
                        Some(ph) => {
                            let ph = &ph[..*rotations];
                            let (py0, py1) = minmax(ph.iter().map(|p| i64::from(p[0])));
                            let (px0, px1) = minmax(ph.iter().map(|p| i64::from(p[1])));
                            Rect {
                                y0: 2 * out.y0 + py0 + e[0],
                                y1: 2 * (out.y1 - 1) + py1 + e[1] + 1,
                                x0: 2 * out.x0 + px0 + e[2],
                                x1: 2 * (out.x1 - 1) + px1 + e[3] + 1,
                            }
                        }
                    };
                    let r = r.intersect(&sizes.rect(match phases {
                        None => node.grid,
                        Some(_) => Grid::Luma,
                    }));
                    need(*input, r);
                }
                NodeKind::Channel { inputs: ins, .. } => {
                    for m in ins {
                        need(*m, out);
                    }
                }
            }
        }
        (inputs, nodes)
    }

    /// Receptive-field margin of the model on the target grid (how far outside a position its
    /// output reads, in the worst direction): the region of a one-sample interior far from the
    /// picture edges.
    pub fn margin(&self) -> usize {
        let big = GridSizes::yuv420(4096, 4096);
        let c = match self.component().grid() {
            Grid::Luma => 2048,
            Grid::Chroma => 1024,
        };
        let interior = Rect {
            y0: c,
            y1: c + 1,
            x0: c,
            x1: c + 1,
        };
        let (inputs, _) = self.regions(&big, interior);
        let r = inputs[self.component().index()];
        [c - r.y0, r.y1 - c - 1, c - r.x0, r.x1 - c - 1]
            .into_iter()
            .max()
            .unwrap_or(0)
            .max(0) as usize
    }
}

fn minmax(it: impl Iterator<Item = i64>) -> (i64, i64) {
    it.fold((i64::MAX, i64::MIN), |(a, b), v| (a.min(v), b.max(v)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lut_filter::TableLayout;
    use lut_filter::description::presets;

    #[test]
    fn cascades_have_the_documented_receptive_fields() {
        // 1 stage: 5x5 (margin 2); 2 stages: 9x9; 3 stages: 13x13 (DESIGN §2).
        for (stages, margin) in [(1, 2), (2, 4), (3, 6)] {
            let d = presets::cascade(
                "m",
                Component::Y,
                [0, 63],
                stages,
                TableLayout::Regular,
                1,
                4,
            );
            assert_eq!(Graph::new(&d).unwrap().margin(), margin);
        }
        let d = presets::luma_reference("m", [0, 63], TableLayout::Regular, 1, 4);
        let g = Graph::new(&d).unwrap();
        assert_eq!(g.units.len(), 6 * 3 + 1);
        assert_eq!(g.margin(), 8); // about 17x17
    }

    #[test]
    fn chroma_model_needs_luma_at_twice_the_resolution() {
        let d =
            presets::chroma_cross_component("u", Component::U, [0, 63], TableLayout::Regular, 1, 4);
        let g = Graph::new(&d).unwrap();
        let sizes = GridSizes::yuv420(200, 200);
        let interior = Rect {
            y0: 40,
            y1: 50,
            x0: 40,
            x1: 50,
        };
        let (inputs, nodes) = g.regions(&sizes, interior);
        // m0/m1 need c on interior +- 2; c needs l on that; l needs luma 2y + phase +- 2.
        assert_eq!(
            nodes[0],
            Rect {
                y0: 38,
                y1: 52,
                x0: 38,
                x1: 52
            }
        );
        assert_eq!(
            inputs[0],
            Rect {
                y0: 74,
                y1: 106,
                x0: 74,
                x1: 106
            }
        );
        // own chroma: branch b1 -> b2 needs +-4.
        assert_eq!(
            inputs[1],
            Rect {
                y0: 36,
                y1: 54,
                x0: 36,
                x1: 54
            }
        );
        // Near the picture edge regions are clipped to the grid.
        let (inputs, _) = g.regions(
            &sizes,
            Rect {
                y0: 0,
                y1: 4,
                x0: 0,
                x1: 4,
            },
        );
        assert_eq!((inputs[0].y0, inputs[0].x0), (0, 0));
    }

    #[test]
    fn bad_descriptions_are_refused() {
        let mut d = presets::cascade("m", Component::Y, [0, 63], 2, TableLayout::Regular, 1, 4);
        if let Node::Spatial(s) = &mut d.nodes[1] {
            s.input = "nope.0".into();
        }
        assert!(Graph::new(&d).is_err());
        let mut d = presets::cascade("m", Component::Y, [0, 63], 1, TableLayout::Regular, 1, 4);
        d.output.terms = vec!["in.y".into()];
        assert!(Graph::new(&d).is_err());
    }
}
