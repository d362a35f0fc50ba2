//! Engine timing per model, at the portable level and at the best SIMD level of this CPU,
//! 1 and 2 threads, 416x240 and 1920x1080 10-bit:
//!
//! * `default`: the embedded default container (`data/default.lut`: single-stage DFC models,
//!   12 look-ups per luma sample, 36 per chroma sample) at QP 32, Y + Cb + Cr of a 4:2:0
//!   picture;
//! * `luma_reference`: the luma reference architecture ("RF-1": 3 cascaded stages, channel
//!   table, 3 final stages; 72 simplex + 1 trilinear look-ups per sample) with random tables,
//!   regular and DFC-compact (dw 3, si 5), luma plane;
//! * `chroma_cross_component`: the cross-component chroma architecture (DFC-compact) with random
//!   tables, Cb plane of a 4:2:0 picture.
//!
//! Random tables over smooth random content: the table contents do not change the work done,
//! only which DFC table (fine or coarse) a look-up uses.
//!
//! Run: `cargo bench -p lut-filter --no-default-features --bench filter` (a filter such as
//! `-- default/` picks a group). Reported time is per picture; throughput in samples of the
//! planes filtered.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lut_filter::description::presets;
use lut_filter::simd::Level;
use lut_filter::{
    ChromaFormat, Component, Container, ContainerWriter, ModelDescription, Picture, Plane,
    PlaneMut, TableLayout,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const COMPACT: TableLayout = TableLayout::Dfc {
    dims: 4,
    dw: 3,
    si: 5,
};

fn random_container(model: ModelDescription) -> Container {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut w = ContainerWriter::new();
    w.add_model(model, |req| {
        (0..req.shape.iter().product::<usize>())
            .map(|_| rng.gen_range(-127..=127))
            .collect()
    })
    .expect("valid model");
    Container::from_bytes(w.to_bytes().expect("serialises")).expect("opens")
}

/// Smooth 10-bit content with noise (like a decoded picture: most 2x2 neighbourhoods are close).
fn plane(width: usize, height: usize, seed: u64) -> Vec<u16> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..width * height)
        .map(|i| {
            let (x, y) = (i % width, i / width);
            let base = 200 + ((x * 3 + y * 2) % 600) as i32;
            (base + rng.gen_range(-12..=12)).clamp(0, 1023) as u16
        })
        .collect()
}

/// The levels timed: portable and, where the CPU has one, the detected SIMD level.
fn levels() -> Vec<Level> {
    let mut l = vec![Level::Portable];
    if Level::detected() != Level::Portable {
        l.push(Level::detected());
    }
    l
}

/// Times `container`'s models for `components` (at QP 32) on 4:2:0 pictures.
fn bench_models(c: &mut Criterion, group: &str, cases: &[(&str, Container)], comps: &[Component]) {
    let mut g = c.benchmark_group(group);
    g.sample_size(10);
    for (w, h) in [(416usize, 240usize), (1920, 1080)] {
        let (cw, ch) = ChromaFormat::Yuv420.chroma_size(w, h);
        let planes = [plane(w, h, 2), plane(cw, ch, 3), plane(cw, ch, 4)];
        let pic = Picture::new(
            Plane::new(&planes[0], w, w, h).expect("plane"),
            Some(Plane::new(&planes[1], cw, cw, ch).expect("plane")),
            Some(Plane::new(&planes[2], cw, cw, ch).expect("plane")),
            ChromaFormat::Yuv420,
            10,
        )
        .expect("picture");
        let size = |c: Component| if c == Component::Y { (w, h) } else { (cw, ch) };
        let samples: usize = comps.iter().map(|&c| size(c).0 * size(c).1).sum();
        g.throughput(Throughput::Elements(samples as u64));
        let mut out: Vec<Vec<u16>> = planes.to_vec();
        for (name, container) in cases {
            let models: Vec<_> = comps
                .iter()
                .filter_map(|&c| container.select(c, 32))
                .collect();
            for threads in [1usize, 2] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .expect("pool");
                for level in levels() {
                    let id =
                        BenchmarkId::new(format!("{name}/{threads}t/{level}"), format!("{w}x{h}"));
                    g.bench_function(id, |b| {
                        b.iter(|| {
                            pool.install(|| {
                                for m in &models {
                                    let c = m.description().component;
                                    let (pw, ph) = size(c);
                                    let o = &mut out[c.index()];
                                    let mut dst = PlaneMut::new(o, pw, pw, ph).expect("plane");
                                    m.filter_plane_with(level, &pic, &mut dst).expect("filters");
                                }
                            })
                        })
                    });
                }
            }
        }
    }
    g.finish();
}

fn bench(c: &mut Criterion) {
    let default = lut_filter::default_model::open().expect("embedded default");
    bench_models(c, "default", &[("dfc", default)], &Component::ALL);
    let luma = |layout| presets::luma_reference("y", [0, 63], layout, 1 << 12, 16);
    bench_models(
        c,
        "luma_reference",
        &[
            ("regular", random_container(luma(TableLayout::Regular))),
            ("compact", random_container(luma(COMPACT))),
        ],
        &[Component::Y],
    );
    let chroma = presets::chroma_cross_component("u", Component::U, [0, 63], COMPACT, 1 << 12, 16);
    bench_models(
        c,
        "chroma_cross_component",
        &[("compact", random_container(chroma))],
        &[Component::U],
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
