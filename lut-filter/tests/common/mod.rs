//! Random models and pictures shared by the integration tests.
#![allow(dead_code)]

use lut_filter::description::{ChannelNode, OutputDescription, SpatialNode};
use lut_filter::{
    ChromaFormat, Component, Container, ContainerWriter, ModelDescription, Node, Pattern, Sampling,
    TableLayout,
};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// A random table layout: regular, or DFC with random geometry.
pub fn random_layout(rng: &mut ChaCha8Rng) -> TableLayout {
    if rng.gen_bool(0.5) {
        TableLayout::Regular
    } else {
        TableLayout::Dfc {
            dims: rng.gen_range(2..=4),
            dw: rng.gen_range(1..=4),
            si: rng.gen_range(4..=7),
        }
    }
}

/// A random but valid model description for `component` (chroma models may read luma through
/// a chroma-from-luma reduction and the other chroma plane through channel nodes).
pub fn random_model(rng: &mut ChaCha8Rng, name: &str, component: Component) -> ModelDescription {
    // (map name, is_luma_grid)
    let mut maps: Vec<(String, bool)> = vec![("in.y".into(), true)];
    if component != Component::Y {
        maps.push(("in.u".into(), false));
        maps.push(("in.v".into(), false));
    }
    let target_luma = component == Component::Y;
    let mut nodes = Vec::new();
    let n_nodes = rng.gen_range(1..=5);
    for i in 0..n_nodes {
        let name = format!("n{i}");
        let outputs = rng.gen_range(1..=3u8);
        let channel = rng.gen_bool(0.25);
        if channel {
            let grid_luma = if target_luma { true } else { rng.gen_bool(0.3) };
            let pool: Vec<&String> = maps
                .iter()
                .filter(|m| m.1 == grid_luma)
                .map(|m| &m.0)
                .collect();
            let pick = |rng: &mut ChaCha8Rng| (*pool.choose(rng).unwrap()).clone();
            let inputs = [pick(rng), pick(rng), pick(rng)];
            nodes.push(Node::Channel(ChannelNode {
                name: name.clone(),
                inputs,
                outputs,
            }));
            for k in 0..outputs {
                maps.push((format!("{name}.{k}"), grid_luma));
            }
            continue;
        }
        let (input, in_luma) = maps.choose(rng).unwrap().clone();
        let (sampling, out_luma) = if in_luma && !target_luma && rng.gen_bool(0.5) {
            let mut phases = [[0u8; 2]; 4];
            for p in phases.iter_mut().flatten() {
                *p = rng.gen_range(0..=1);
            }
            if rng.gen_bool(0.5) {
                phases = Sampling::DEFAULT_PHASES;
            }
            (Sampling::ChromaFromLuma { phases }, false)
        } else {
            (Sampling::Same, in_luma)
        };
        let mut patterns = Pattern::ALL.to_vec();
        patterns.shuffle(rng);
        patterns.truncate(rng.gen_range(1..=3));
        nodes.push(Node::Spatial(SpatialNode {
            name: name.clone(),
            input,
            patterns,
            rotations: rng.gen_range(1..=4),
            outputs,
            sampling,
            table: random_layout(rng),
        }));
        for k in 0..outputs {
            maps.push((format!("{name}.{k}"), out_luma));
        }
    }
    let mut terms: Vec<String> = maps
        .iter()
        .filter(|m| m.1 == target_luma && !m.0.starts_with("in."))
        .map(|m| m.0.clone())
        .filter(|_| rng.gen_bool(0.6))
        .collect();
    if terms.is_empty() {
        // Make sure at least one term lies on the target grid.
        let name = "last".to_string();
        let input = format!("in.{}", component.name());
        nodes.push(Node::Spatial(SpatialNode {
            name: name.clone(),
            input,
            patterns: vec![Pattern::S],
            rotations: 4,
            outputs: 1,
            sampling: Sampling::Same,
            table: random_layout(rng),
        }));
        terms.push(format!("{name}.0"));
    }
    ModelDescription {
        name: name.into(),
        component,
        qp_range: [0, 63],
        pictures: Default::default(),
        bit_depths: [8, 12],
        nodes,
        output: OutputDescription {
            terms,
            scale: rng.gen_range(-(1 << 14)..(1 << 14)),
            scale_shift: rng.gen_range(8..=16),
        },
        notes: String::new(),
    }
}

/// Random int8 tables drawn from a shared pool (fast: tables are slices of one random buffer).
pub struct TablePool {
    bytes: Vec<i8>,
}

impl TablePool {
    /// A pool of `len` random values in -127..=127.
    pub fn new(rng: &mut ChaCha8Rng, len: usize) -> Self {
        TablePool {
            bytes: (0..len).map(|_| rng.gen_range(-127..=127)).collect(),
        }
    }

    /// `n` values starting at a random offset (wrapping).
    pub fn take(&self, rng: &mut ChaCha8Rng, n: usize) -> Vec<i8> {
        let start = rng.gen_range(0..self.bytes.len());
        self.bytes
            .iter()
            .cycle()
            .skip(start)
            .take(n)
            .copied()
            .collect()
    }
}

/// A container holding `models`, with random tables.
pub fn container(
    rng: &mut ChaCha8Rng,
    pool: &TablePool,
    models: Vec<ModelDescription>,
) -> Container {
    let mut w = ContainerWriter::new();
    for m in models {
        w.add_model(m, |req| pool.take(rng, req.shape.iter().product()))
            .expect("valid random model");
    }
    Container::from_bytes(w.to_bytes().expect("serialises")).expect("opens")
}

/// Owned planes of a random picture with strides wider than the planes.
pub struct OwnedPicture<T> {
    pub planes: Vec<(Vec<T>, usize, usize, usize)>, // (data, stride, width, height)
    pub format: ChromaFormat,
    pub bit_depth: u8,
}

impl<T: lut_filter::Sample> OwnedPicture<T> {
    /// A random picture; `gen` maps a random u32 and the bit depth to a sample.
    pub fn random(
        rng: &mut ChaCha8Rng,
        width: usize,
        height: usize,
        format: ChromaFormat,
        bit_depth: u8,
        smooth: bool,
        sample: impl Fn(&mut ChaCha8Rng, u8) -> T,
    ) -> Self {
        let (cw, ch) = format.chroma_size(width, height);
        let mut planes = Vec::new();
        let sizes = if format == ChromaFormat::Yuv400 {
            vec![(width, height)]
        } else {
            vec![(width, height), (cw, ch), (cw, ch)]
        };
        for (w, h) in sizes {
            let stride = w + rng.gen_range(0..5);
            let mut data: Vec<T> = (0..stride * h).map(|_| sample(rng, bit_depth)).collect();
            if smooth {
                // Natural-ish content: a gradient with noise keeps many look-ups near the
                // diagonal (the DFC fine band).
                let max = (1i32 << bit_depth) - 1;
                for y in 0..h {
                    for x in 0..w {
                        let base = ((x * 3 + y * 5) as i32 * max) / ((3 * w + 5 * h) as i32).max(1);
                        let noise = rng.gen_range(-8..=8) << (bit_depth - 8);
                        data[y * stride + x] = T::from_i32((base + noise).clamp(0, max));
                    }
                }
            }
            planes.push((data, stride, w, h));
        }
        OwnedPicture {
            planes,
            format,
            bit_depth,
        }
    }

    /// Borrowed view.
    pub fn view(&self) -> lut_filter::Picture<'_, T> {
        let p = |i: usize| {
            self.planes
                .get(i)
                .map(|(d, s, w, h)| lut_filter::Plane::new(d, *s, *w, *h).expect("valid plane"))
        };
        lut_filter::Picture::new(p(0).unwrap(), p(1), p(2), self.format, self.bit_depth)
            .expect("valid picture")
    }
}

/// Runs `f` on a rayon pool of `threads` threads.
pub fn with_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool")
        .install(f)
}
