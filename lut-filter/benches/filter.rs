//! Baseline timing of the engine: the luma reference architecture ("RF-1": 3 cascaded stages,
//! channel table, 3 final stages; ~72 simplex + 1 trilinear look-ups per sample) with random
//! tables, regular and DFC-compact (dw 3, si 5), at 416x240 and 1920x1080, 1 and 2 threads.
//! Random tables over smooth random content: the table contents do not change the work done,
//! only which DFC table (fine or coarse) a look-up uses.
//!
//! Run: `cargo bench -p lut-filter --bench filter`. Reported time is per picture (luma plane);
//! divide by width x height for ns per sample.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lut_filter::description::presets;
use lut_filter::{ChromaFormat, Container, ContainerWriter, Picture, Plane, PlaneMut, TableLayout};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn luma_container(layout: TableLayout) -> Container {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut w = ContainerWriter::new();
    let model = presets::luma_reference("y", [0, 63], layout, 1 << 12, 16);
    w.add_model(model, |req| {
        (0..req.shape.iter().product::<usize>())
            .map(|_| rng.gen_range(-127..=127))
            .collect()
    })
    .expect("valid model");
    Container::from_bytes(w.to_bytes().expect("serialises")).expect("opens")
}

/// Smooth 10-bit content with noise (like a decoded picture: most 2x2 neighbourhoods are close).
fn picture(width: usize, height: usize) -> Vec<u16> {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    (0..width * height)
        .map(|i| {
            let (x, y) = (i % width, i / width);
            let base = 200 + ((x * 3 + y * 2) % 600) as i32;
            (base + rng.gen_range(-12..=12)).clamp(0, 1023) as u16
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("luma_reference");
    group.sample_size(10);
    for (layout_name, layout) in [
        ("regular", TableLayout::Regular),
        (
            "compact",
            TableLayout::Dfc {
                dims: 4,
                dw: 3,
                si: 5,
            },
        ),
    ] {
        let container = luma_container(layout);
        let model = container.models().next().expect("one model");
        for (w, h) in [(416usize, 240usize), (1920, 1080)] {
            let src = picture(w, h);
            let pic = Picture::new(
                Plane::new(&src, w, w, h).expect("plane"),
                None,
                None,
                ChromaFormat::Yuv400,
                10,
            )
            .expect("picture");
            let mut out = vec![0u16; w * h];
            group.throughput(Throughput::Elements((w * h) as u64));
            for threads in [1usize, 2] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .expect("pool");
                let id = BenchmarkId::new(format!("{layout_name}/{threads}t"), format!("{w}x{h}"));
                group.bench_with_input(id, &(), |b, _| {
                    b.iter(|| {
                        pool.install(|| {
                            let mut dst = PlaneMut::new(&mut out, w, w, h).expect("plane");
                            model.filter_plane(&pic, &mut dst).expect("filters");
                        })
                    })
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
