//! Helpers shared by the fuzz targets (`fuzz_targets/`) and the seed generator
//! (`examples/make_seeds.rs`): a small deterministic random source, tiny containers, the
//! checksum repair that lets mutated containers get past the CRC, and the checks run on every
//! container that opens.

use lut_filter::description::{ChannelNode, OutputDescription, SpatialNode};
use lut_filter::{
    ChromaFormat, Component, Container, ContainerWriter, Error, Model, ModelDescription, Node,
    Pattern, Picture, Plane, PlaneMut, Region, Sample, Sampling, TableLayout,
};

/// SplitMix64: deterministic, seeded from the input so every run of an input is the same.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    /// True with probability `1 / n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.next_u64().is_multiple_of(n)
    }

    /// Any i32, with the extremes and small values over-represented.
    pub fn any_i32(&mut self) -> i32 {
        match self.next_u64() % 6 {
            0 => i32::MIN,
            1 => i32::MAX,
            2 => self.range(0, 70) as i32,
            3 => -(self.range(0, 70) as i32),
            _ => self.next_u64() as i32,
        }
    }
}

/// The smallest useful spatial node: pattern `s`, one rotation, one output, DFC tables of the
/// smallest geometry (dims 4, dw 1, si 7: 421 fine rows, 459 index entries, 81 coarse rows).
pub fn tiny_spatial(name: &str, input: &str, sampling: Sampling) -> Node {
    Node::Spatial(SpatialNode {
        name: name.into(),
        input: input.into(),
        patterns: vec![Pattern::S],
        rotations: 1,
        outputs: 1,
        sampling,
        table: TableLayout::Dfc {
            dims: 4,
            dw: 1,
            si: 7,
        },
    })
}

/// A one-node luma model (about 1.5 KB of tables).
pub fn tiny_luma_model(name: &str, qp_range: [i32; 2]) -> ModelDescription {
    ModelDescription {
        name: name.into(),
        component: Component::Y,
        qp_range,
        pictures: Default::default(),
        bit_depths: [8, 12],
        nodes: vec![tiny_spatial("s", "in.y", Sampling::Same)],
        output: OutputDescription {
            terms: vec!["s.0".into()],
            scale: 1 << 12,
            scale_shift: 12,
        },
        notes: String::new(),
    }
}

/// A cross-component chroma model: a chroma-from-luma reduction, a channel node over
/// (luma feature, U, V) and a final spatial node (about 7 KB of tables).
pub fn tiny_chroma_model(name: &str, component: Component, qp_range: [i32; 2]) -> ModelDescription {
    ModelDescription {
        name: name.into(),
        component,
        qp_range,
        pictures: Default::default(),
        bit_depths: [8, 12],
        nodes: vec![
            tiny_spatial(
                "l",
                "in.y",
                Sampling::ChromaFromLuma {
                    phases: Sampling::DEFAULT_PHASES,
                },
            ),
            Node::Channel(ChannelNode {
                name: "c".into(),
                inputs: ["l.0".into(), "in.u".into(), "in.v".into()],
                outputs: 1,
            }),
            tiny_spatial("f", "c.0", Sampling::Same),
        ],
        output: OutputDescription {
            terms: vec!["f.0".into(), "l.0".into()],
            scale: -(1 << 11),
            scale_shift: 10,
        },
        notes: "fuzz seed".into(),
    }
}

/// A valid container holding `models`, tables filled with random int8 values from `seed`.
pub fn tiny_container(models: &[ModelDescription], seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut w = ContainerWriter::new();
    for m in models {
        w.add_model(m.clone(), |req| {
            let n: usize = req.shape.iter().product();
            (0..n).map(|_| rng.next_u64() as i8).collect()
        })
        .expect("valid tiny model");
    }
    w.to_bytes().expect("valid tiny container")
}

/// The container's header length and `crc32:` value position, when the input has them.
fn checksum_slot(data: &[u8]) -> Option<(usize, usize)> {
    let len = u64::from_le_bytes(data.get(..8)?.try_into().ok()?);
    let end = usize::try_from(len).ok()?.checked_add(8)?;
    let header = data.get(8..end)?;
    let key = b"crc32:";
    let at = header.windows(key.len()).position(|w| w == key)? + 8 + key.len();
    let hex = data.get(at..at + 8)?;
    hex.iter().all(u8::is_ascii_hexdigit).then_some((end, at))
}

/// `data` with the `crc32:xxxxxxxx` of its header replaced by the CRC of its tensor bytes
/// (same length, so nothing moves), or `None` when there is no such slot or it is already
/// right. Without this, nearly every mutation of a valid container stops at the checksum.
pub fn fix_checksum(data: &[u8]) -> Option<Vec<u8>> {
    let (data_start, at) = checksum_slot(data)?;
    let crc = format!("{:08x}", crc32fast::hash(&data[data_start..]));
    if data[at..at + 8].eq_ignore_ascii_case(crc.as_bytes()) {
        return None;
    }
    let mut fixed = data.to_vec();
    fixed[at..at + 8].copy_from_slice(crc.as_bytes());
    Some(fixed)
}

/// Opens `data` as a container: it must either fail with a typed error whose message is not
/// empty, or open, and then every model must filter small random pictures without panicking,
/// with region results equal to the whole-plane result.
pub fn exercise_container(data: &[u8]) {
    let container = match Container::from_bytes(data.to_vec()) {
        Ok(c) => c,
        Err(e) => {
            assert!(!e.to_string().is_empty(), "error without a message: {e:?}");
            return;
        }
    };
    let mut rng = Rng::new(u64::from(crc32fast::hash(data)));
    let _ = format!("{container:?}");
    assert!(container.tensors().count() > 0 || container.models().count() == 0);
    for c in Component::ALL {
        let _ = container.select(c, rng.any_i32());
    }
    for model in container.models() {
        let _ = model.margin();
        let _ = model.table_bytes();
        let _ = format!("{model:?}");
        for _ in 0..2 {
            exercise_model(&model, &mut rng);
        }
    }
}

/// A random picture format.
pub fn random_format(rng: &mut Rng) -> ChromaFormat {
    [
        ChromaFormat::Yuv400,
        ChromaFormat::Yuv420,
        ChromaFormat::Yuv422,
        ChromaFormat::Yuv444,
    ][rng.range(0, 3)]
}

/// Random planes (rows packed with a random stride) for a `w x h` picture of `format`;
/// sample values mostly inside `bit_depth` bits, sometimes anywhere in the type.
pub fn random_planes(
    rng: &mut Rng,
    format: ChromaFormat,
    w: usize,
    h: usize,
    bit_depth: u8,
) -> Vec<(Vec<u16>, usize, usize, usize)> {
    let (cw, ch) = format.chroma_size(w, h);
    let count = if format == ChromaFormat::Yuv400 { 1 } else { 3 };
    let wild = rng.one_in(8);
    (0..count)
        .map(|i| {
            let (pw, ph) = if i == 0 { (w, h) } else { (cw, ch) };
            let stride = pw + rng.range(0, 5);
            let data = (0..stride * ph)
                .map(|_| {
                    let v = rng.next_u64() as u16;
                    if wild { v } else { v & ((1 << bit_depth) - 1) }
                })
                .collect();
            (data, stride, pw, ph)
        })
        .collect()
}

fn exercise_model(model: &Model<'_>, rng: &mut Rng) {
    let format = random_format(rng);
    let (w, h) = (rng.range(1, 40), rng.range(1, 40));
    let bit_depth = rng.range(8, 12) as u8;
    let planes = random_planes(rng, format, w, h, bit_depth);
    if bit_depth == 8 && rng.one_in(2) {
        let narrow: Vec<(Vec<u8>, usize, usize, usize)> = planes
            .iter()
            .map(|(d, s, pw, ph)| (d.iter().map(|&v| v as u8).collect(), *s, *pw, *ph))
            .collect();
        run_model(model, rng, &narrow, format, bit_depth);
    } else {
        run_model(model, rng, &planes, format, bit_depth);
    }
}

fn run_model<T: Sample + Default + PartialEq>(
    model: &Model<'_>,
    rng: &mut Rng,
    planes: &[(Vec<T>, usize, usize, usize)],
    format: ChromaFormat,
    bit_depth: u8,
) {
    let views: Vec<Plane<'_, T>> = planes
        .iter()
        .map(|(d, s, pw, ph)| Plane::new(d, *s, *pw, *ph).expect("consistent plane"))
        .collect();
    let pic = Picture::new(
        views[0],
        views.get(1).copied(),
        views.get(2).copied(),
        format,
        bit_depth,
    )
    .expect("consistent picture");
    let comp = model.description().component;
    let Some(target) = pic.plane(comp) else {
        let mut out = vec![T::default(); 4];
        let mut dst = PlaneMut::new(&mut out, 2, 2, 2).expect("plane");
        let e = model
            .filter_region(&pic, Region::new(0, 0, 1, 1), &mut dst)
            .expect_err("a picture without the model's plane cannot be filtered");
        assert!(!e.to_string().is_empty());
        return;
    };
    let (pw, ph) = (target.width(), target.height());
    let mut whole = vec![T::default(); pw * ph];
    let whole_result =
        model.filter_plane(&pic, &mut PlaneMut::new(&mut whole, pw, pw, ph).unwrap());
    if let Err(e) = &whole_result {
        assert!(
            matches!(e, Error::Unsupported { .. }),
            "unexpected error for a consistent picture: {e}"
        );
        return;
    }
    // A region inside the plane: its samples must equal the whole-plane result.
    let x = rng.range(0, pw - 1);
    let y = rng.range(0, ph - 1);
    let region = Region::new(x, y, rng.range(1, pw - x), rng.range(1, ph - y));
    let mut part = vec![T::default(); region.width * region.height];
    model
        .filter_region_into(
            &pic,
            region,
            &mut PlaneMut::new(&mut part, region.width, region.width, region.height).unwrap(),
        )
        .expect("a region inside the plane filters");
    for row in 0..region.height {
        let a = &whole[(region.y + row) * pw + region.x..][..region.width];
        let b = &part[row * region.width..][..region.width];
        assert!(
            a == b,
            "region {region:?} differs from the whole plane at row {row}"
        );
    }
    // A region leaving the plane is a typed error.
    let bad = Region::new(x, y, pw - x + rng.range(1, 3), 1);
    let mut out = vec![T::default(); pw * ph];
    let e = model
        .filter_region(&pic, bad, &mut PlaneMut::new(&mut out, pw, pw, ph).unwrap())
        .expect_err("a region outside the plane must be refused");
    assert!(matches!(e, Error::Region { .. }), "{e}");
}
