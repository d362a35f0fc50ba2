//! The network description: what a container's models compute.
//!
//! A model is a small directed graph of *nodes* over named *maps*. Maps are 2-D arrays of
//! integers on one of two sample grids (the luma grid or the chroma grid of the picture):
//!
//! * inputs `in.y`, `in.u`, `in.v`: the codec's reconstructed planes, `B` bits per sample;
//! * `"<node>.<k>"`: output `k` of an earlier node, requantised to an 8-bit feature
//!   (`clamp(round(sum / n_terms) + 127, 0, 255)`, DESIGN §2).
//!
//! Two kinds of node exist:
//!
//! * **spatial**: one input map, a set of 4-tap patterns (`s`, `d`, `y`), each with its own 4-D
//!   table shared by all rotations; its outputs are the sums of all look-ups (patterns x
//!   rotations). With `sampling: chroma_from_luma` it reads the luma grid and produces maps on the
//!   chroma grid (the cross-component reduction), anchored per rotation at a sub-sampling phase.
//! * **channel**: three input maps on one grid, one 3-D table (17^3 rows), trilinear interpolation.
//!
//! The model's output is the sum of the raw (not requantised) outputs listed in `output.terms`,
//! turned into a residual at codec bit depth by a fixed-point scale (see [`OutputDescription`]).
//! The runtime hard-codes no network: every architecture of the LUT-ILF family (1-3 cascaded
//! stages, the RF-1 luma reference architecture, the cross-component chroma architecture) is a
//! description. See `docs/container.md` for the full specification.

use serde::{Deserialize, Serialize};

/// The colour component a model filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Component {
    /// Luma.
    Y,
    /// First chroma component (Cb).
    U,
    /// Second chroma component (Cr).
    V,
}

/// Which pictures a model is meant for: all, or only intra / only inter pictures (the slice
/// type; JVET's NN filters likewise keep separate intra and inter models).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pictures {
    /// Every picture (the default; the key is then left out of the description).
    #[default]
    All,
    /// Intra pictures (I slices).
    Intra,
    /// Inter pictures (P and B slices).
    Inter,
}

impl Pictures {
    /// Whether this is [`Pictures::All`].
    pub fn is_all(&self) -> bool {
        *self == Pictures::All
    }

    /// Whether a model meant for these pictures may filter a picture of kind `kind` (an
    /// unknown kind, `None`, counts as intra).
    pub fn admits(self, kind: Option<PictureKind>) -> bool {
        match self {
            Pictures::All => true,
            Pictures::Intra => kind != Some(PictureKind::Inter),
            Pictures::Inter => kind == Some(PictureKind::Inter),
        }
    }

    /// Lower-case name used in descriptions and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Pictures::All => "all",
            Pictures::Intra => "intra",
            Pictures::Inter => "inter",
        }
    }
}

/// The kind of the picture being filtered, as the caller knows it (its slice type).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PictureKind {
    /// An intra picture (I slices).
    Intra,
    /// An inter picture (P or B slices).
    Inter,
}

impl Component {
    /// All three components in plane order.
    pub const ALL: [Component; 3] = [Component::Y, Component::U, Component::V];

    /// Plane index (0, 1, 2).
    pub fn index(self) -> usize {
        self as usize
    }

    /// Lower-case name used in descriptions and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Component::Y => "y",
            Component::U => "u",
            Component::V => "v",
        }
    }

    /// Which sample grid this component's plane lies on.
    pub fn grid(self) -> Grid {
        match self {
            Component::Y => Grid::Luma,
            _ => Grid::Chroma,
        }
    }
}

impl std::fmt::Display for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Component {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "y" | "luma" => Ok(Component::Y),
            "u" | "cb" => Ok(Component::U),
            "v" | "cr" => Ok(Component::V),
            other => Err(format!("unknown component '{other}' (expected y, u or v)")),
        }
    }
}

/// The sample grid a map lies on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Grid {
    /// Full-resolution (luma) grid.
    Luma,
    /// Chroma grid (sub-sampled by the picture's chroma format).
    Chroma,
}

/// A 4-tap sampling pattern (DESIGN §2). Taps are (row, col) offsets at rotation 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pattern {
    /// Square: (0,0) (0,1) (1,0) (1,1).
    S,
    /// Dilated: (0,0) (0,2) (2,0) (2,2).
    D,
    /// Y-shaped: (0,0) (1,1) (1,2) (2,1).
    Y,
    /// Line: (0,0) (0,1) (0,2) (0,3); with rotations a cross of reach 3 (format 1.3).
    L,
    /// Diagonal line: (0,0) (1,1) (2,2) (3,3); with rotations both diagonals, reach 3
    /// (format 1.3).
    X,
}

impl Pattern {
    /// The taps at rotation 0, (row, col), first tap is the anchor.
    pub fn taps(self) -> [(i32, i32); 4] {
        match self {
            Pattern::S => [(0, 0), (0, 1), (1, 0), (1, 1)],
            Pattern::D => [(0, 0), (0, 2), (2, 0), (2, 2)],
            Pattern::Y => [(0, 0), (1, 1), (1, 2), (2, 1)],
            Pattern::L => [(0, 0), (0, 1), (0, 2), (0, 3)],
            Pattern::X => [(0, 0), (1, 1), (2, 2), (3, 3)],
        }
    }

    /// Every pattern.
    pub const ALL: [Pattern; 5] = [Pattern::S, Pattern::D, Pattern::Y, Pattern::L, Pattern::X];

    /// The pattern named `name` ([`Pattern::name`]).
    pub fn from_name(name: &str) -> Option<Pattern> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Whether the pattern is one of DESIGN §2's (s, d, y); the lines `l` and `x` are this
    /// project's extension (container format 1.3).
    pub fn is_design(self) -> bool {
        matches!(self, Pattern::S | Pattern::D | Pattern::Y)
    }

    /// The taps rotated by `r` quarter turns: r=1 maps (di, dj) to (dj, -di), and so on.
    pub fn rotated_taps(self, r: usize) -> [(i32, i32); 4] {
        self.taps().map(|t| rotate(t, r))
    }

    /// Lower-case name, also used in tensor names.
    pub fn name(self) -> &'static str {
        match self {
            Pattern::S => "s",
            Pattern::D => "d",
            Pattern::Y => "y",
            Pattern::L => "l",
            Pattern::X => "x",
        }
    }
}

/// Rotates offset `(di, dj)` by `r` quarter turns (DESIGN §2).
pub fn rotate((di, dj): (i32, i32), r: usize) -> (i32, i32) {
    match r % 4 {
        0 => (di, dj),
        1 => (dj, -di),
        2 => (-di, -dj),
        _ => (-dj, di),
    }
}

/// How a spatial node's output grid relates to its input grid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum Sampling {
    /// Output on the same grid as the input, one output per input sample.
    Same,
    /// Input on the luma grid, output on the chroma grid. Output (y, x) is anchored at luma
    /// `(y * sy + py, x * sx + px)` where `(sy, sx)` is the picture's chroma sub-sampling and
    /// `(py, px) = phases[r]` for rotation `r` (each phase applies only along a sub-sampled
    /// direction). The authors' reduction rotates the picture, takes stride 2, and rotates back,
    /// which gives the default phases `[[0,0],[0,1],[1,1],[1,0]]`.
    ChromaFromLuma {
        /// Per-rotation anchor phase (row, col), each 0 or 1.
        phases: [[u8; 2]; 4],
    },
}

impl Sampling {
    /// The phases of the rotate / stride-2 / rotate-back reduction.
    pub const DEFAULT_PHASES: [[u8; 2]; 4] = [[0, 0], [0, 1], [1, 1], [1, 0]];
}

/// Storage of one 4-D spatial table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "layout")]
pub enum TableLayout {
    /// Full 17^4 grid: tensor `<prefix>` of shape `[83521, outputs]`.
    Regular,
    /// Diagonal-first compression (DESIGN §2). The first `dims` coordinates (the anchor and
    /// `dims - 1` others) are "diagonal": a look-up whose raw differences to the anchor all lie
    /// in `(-dw * q, dw * q]` (q = grid interval) uses the fine table, re-indexed through
    /// `<prefix>/fine_index` (int16, -1 = no row); every other look-up uses the coarse table of
    /// interval `2^si` (on the 8-bit scale): `(2^(8-si) + 1)^4` rows.
    Dfc {
        /// Number of diagonal coordinates, 2 (xy), 3 (xyz) or 4 (xyzt).
        dims: u8,
        /// Diagonal half-width in grid nodes (1..=8).
        dw: u8,
        /// Coarse interval exponent on the 8-bit scale (5 gives 9 nodes per dimension).
        si: u8,
    },
}

/// A node of the graph.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Node {
    /// Sum of 4-D look-ups over patterns and rotations.
    Spatial(SpatialNode),
    /// One trilinear 3-D look-up over three maps.
    Channel(ChannelNode),
}

impl Node {
    /// The node's name (unique in its model).
    pub fn name(&self) -> &str {
        match self {
            Node::Spatial(n) => &n.name,
            Node::Channel(n) => &n.name,
        }
    }

    /// Number of outputs.
    pub fn outputs(&self) -> u8 {
        match self {
            Node::Spatial(n) => n.outputs,
            Node::Channel(n) => n.outputs,
        }
    }

    /// Number of look-ups summed into each output (the requantisation divisor).
    pub fn terms(&self) -> u32 {
        match self {
            Node::Spatial(n) => n.patterns.len() as u32 * u32::from(n.rotations),
            Node::Channel(_) => 1,
        }
    }
}

/// A spatial (4-D) node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpatialNode {
    /// Unique name in the model; also the tensor-name component.
    pub name: String,
    /// The map read: `in.y`, `in.u`, `in.v` or `<node>.<k>`.
    pub input: String,
    /// Patterns, each with its own table.
    pub patterns: Vec<Pattern>,
    /// Rotations used, 1..=4 (rotations 0..n).
    #[serde(default = "four")]
    pub rotations: u8,
    /// Outputs per table row (1..=8).
    pub outputs: u8,
    /// Output grid.
    #[serde(default = "same")]
    pub sampling: Sampling,
    /// Table storage.
    #[serde(default = "regular")]
    pub table: TableLayout,
}

/// A channel (3-D) node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelNode {
    /// Unique name in the model; also the tensor name component.
    pub name: String,
    /// Three maps on the same grid.
    pub inputs: [String; 3],
    /// Outputs per table row (1..=8).
    pub outputs: u8,
}

fn four() -> u8 {
    4
}
fn same() -> Sampling {
    Sampling::Same
}
fn regular() -> TableLayout {
    TableLayout::Regular
}

/// The model output: a residual added to the target component.
///
/// `S` is the sum of the raw outputs listed in `terms`, each look-up in units of table values.
/// The residual at bit depth `B` is `round(S * scale / 2^scale_shift * 2^(B - 10))`: `scale` is
/// expressed in 10-bit code values so that one model serves every bit depth. The filtered sample
/// is `clip(x + residual, 0, 2^B - 1)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputDescription {
    /// Raw node outputs summed into `S` (`<node>.<k>`), all on the target component's grid.
    pub terms: Vec<String>,
    /// Fixed-point scale numerator (may be 0: the identity model).
    pub scale: i32,
    /// Fixed-point scale shift (0..=24).
    pub scale_shift: u8,
}

/// One model: one component, one QP range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelDescription {
    /// Unique name; prefix of its tensors (`<name>/<node>/<pattern>`).
    pub name: String,
    /// The component filtered.
    pub component: Component,
    /// Inclusive slice-QP range this model is meant for.
    pub qp_range: [i32; 2],
    /// The pictures it is meant for (default all; format 1.2).
    #[serde(default, skip_serializing_if = "Pictures::is_all")]
    pub pictures: Pictures,
    /// Inclusive range of codec bit depths this model may be used at (within 8..=12).
    #[serde(default = "default_bit_depths")]
    pub bit_depths: [u8; 2],
    /// Nodes in evaluation order (each only reads inputs and earlier nodes).
    pub nodes: Vec<Node>,
    /// The output.
    pub output: OutputDescription,
    /// Free-form notes (training data, settings); not interpreted.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
}

fn default_bit_depths() -> [u8; 2] {
    [8, 12]
}

/// Everything a container holds: its models.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ContainerDescription {
    /// Models, any order.
    pub models: Vec<ModelDescription>,
}

/// Constructors for the architectures of the LUT-ILF family.
pub mod presets {
    use super::*;

    fn spatial(name: &str, input: &str, outputs: u8, table: TableLayout) -> Node {
        Node::Spatial(SpatialNode {
            name: name.into(),
            input: input.into(),
            patterns: vec![Pattern::S, Pattern::D, Pattern::Y],
            rotations: 4,
            outputs,
            sampling: Sampling::Same,
            table,
        })
    }

    /// `stages` cascaded spatial stages (patterns s, d, y) on the target component alone, the
    /// last one giving the residual: the "ultrafast / very fast / fast" members (1, 2, 3 stages).
    pub fn cascade(
        name: &str,
        component: Component,
        qp_range: [i32; 2],
        stages: usize,
        table: TableLayout,
        scale: i32,
        scale_shift: u8,
    ) -> ModelDescription {
        assert!(stages >= 1, "a cascade has at least one stage");
        let mut nodes = Vec::new();
        let mut input = format!("in.{}", component.name());
        for s in 1..=stages {
            let node = format!("s{s}");
            nodes.push(spatial(&node, &input, 1, table));
            input = format!("{node}.0");
        }
        ModelDescription {
            name: name.into(),
            component,
            qp_range,
            pictures: Pictures::All,
            bit_depths: default_bit_depths(),
            nodes,
            output: OutputDescription {
                terms: vec![input],
                scale,
                scale_shift,
            },
            notes: String::new(),
        }
    }

    /// The luma reference architecture ("RF-1", DESIGN §2): stages 1-3 (2/2/1 outputs) give the
    /// refine features r1, r2, r3; a channel table fuses them; three final spatial stages.
    pub fn luma_reference(
        name: &str,
        qp_range: [i32; 2],
        table: TableLayout,
        scale: i32,
        scale_shift: u8,
    ) -> ModelDescription {
        let nodes = vec![
            spatial("s1", "in.y", 2, table),
            spatial("s2", "s1.1", 2, table),
            spatial("s3", "s2.1", 1, table),
            Node::Channel(ChannelNode {
                name: "c".into(),
                inputs: ["s1.0".into(), "s2.0".into(), "s3.0".into()],
                outputs: 3,
            }),
            spatial("f0", "c.0", 1, table),
            spatial("f1", "c.1", 1, table),
            spatial("f2", "c.2", 1, table),
        ];
        ModelDescription {
            name: name.into(),
            component: Component::Y,
            qp_range,
            pictures: Pictures::All,
            bit_depths: default_bit_depths(),
            nodes,
            output: OutputDescription {
                terms: vec!["f0.0".into(), "f1.0".into(), "f2.0".into()],
                scale,
                scale_shift,
            },
            notes: String::new(),
        }
    }

    /// The chroma cross-component architecture (DESIGN §2) for `component` (U or V): a stride-2
    /// luma reduction `l`, a channel table over (luma feature, own, other chroma) `c`, a final
    /// spatial stage per channel output, plus a parallel 2-stage branch on the own component.
    pub fn chroma_cross_component(
        name: &str,
        component: Component,
        qp_range: [i32; 2],
        table: TableLayout,
        scale: i32,
        scale_shift: u8,
    ) -> ModelDescription {
        assert!(
            component != Component::Y,
            "the cross-component model filters chroma"
        );
        let (own, other) = if component == Component::U {
            ("in.u", "in.v")
        } else {
            ("in.v", "in.u")
        };
        let mut reduction = spatial("l", "in.y", 1, table);
        if let Node::Spatial(n) = &mut reduction {
            n.sampling = Sampling::ChromaFromLuma {
                phases: Sampling::DEFAULT_PHASES,
            };
        }
        let nodes = vec![
            reduction,
            Node::Channel(ChannelNode {
                name: "c".into(),
                inputs: ["l.0".into(), own.into(), other.into()],
                outputs: 2,
            }),
            spatial("m0", "c.0", 1, table),
            spatial("m1", "c.1", 1, table),
            spatial("b1", own, 1, table),
            spatial("b2", "b1.0", 1, table),
        ];
        ModelDescription {
            name: name.into(),
            component,
            qp_range,
            pictures: Pictures::All,
            bit_depths: default_bit_depths(),
            nodes,
            output: OutputDescription {
                terms: vec!["m0.0".into(), "m1.0".into(), "b2.0".into()],
                scale,
                scale_shift,
            },
            notes: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn line_patterns_reach_three_and_round_trip_by_name() {
        for p in Pattern::ALL {
            assert_eq!(Pattern::from_name(p.name()), Some(p));
            assert_eq!(p.taps()[0], (0, 0), "{p:?}: the first tap is the anchor");
        }
        assert_eq!(Pattern::from_name("w"), None);
        assert!(Pattern::S.is_design() && !Pattern::L.is_design() && !Pattern::X.is_design());
        // With 4 rotations: l covers the cross of reach 3, x both diagonals.
        let cover = |p: Pattern| -> std::collections::BTreeSet<(i32, i32)> {
            (0..4).flat_map(|r| p.rotated_taps(r)).collect()
        };
        let cross: std::collections::BTreeSet<(i32, i32)> =
            (-3..=3).flat_map(|k| [(0, k), (k, 0)]).collect();
        assert_eq!(cover(Pattern::L), cross);
        let diagonals: std::collections::BTreeSet<(i32, i32)> =
            (-3..=3).flat_map(|k| [(k, k), (k, -k)]).collect();
        assert_eq!(cover(Pattern::X), diagonals);
    }
    use super::*;

    #[test]
    fn pictures_admit_their_kind_and_unknown_counts_as_intra() {
        use PictureKind::{Inter, Intra};
        let admits = |p: Pictures| [Some(Intra), Some(Inter), None].map(|k| p.admits(k));
        assert_eq!(admits(Pictures::All), [true, true, true]);
        assert_eq!(admits(Pictures::Intra), [true, false, true]);
        assert_eq!(admits(Pictures::Inter), [false, true, false]);
        // Serialised lower-case; "all" is left out of descriptions.
        assert_eq!(
            serde_json::to_string(&Pictures::Inter).unwrap(),
            "\"inter\""
        );
        let d = presets::cascade("m", Component::Y, [0, 63], 1, TableLayout::Regular, 1, 0);
        assert!(!serde_json::to_string(&d).unwrap().contains("pictures"));
    }

    #[test]
    fn rotations_compose_to_identity() {
        for t in [(0, 1), (2, 1), (-1, 3)] {
            assert_eq!(rotate(rotate(rotate(rotate(t, 1), 1), 1), 1), t);
            assert_eq!(rotate(t, 2), (-t.0, -t.1));
        }
    }

    #[test]
    fn description_round_trips_through_json() {
        let d = ContainerDescription {
            models: vec![
                presets::luma_reference("y", [0, 63], TableLayout::Regular, 1, 4),
                presets::chroma_cross_component(
                    "u",
                    Component::U,
                    [0, 63],
                    TableLayout::Dfc {
                        dims: 4,
                        dw: 3,
                        si: 5,
                    },
                    1,
                    4,
                ),
            ],
        };
        let json = serde_json::to_string(&d).unwrap();
        let back: ContainerDescription = serde_json::from_str(&json).unwrap();
        assert_eq!(d, back);
    }
}
