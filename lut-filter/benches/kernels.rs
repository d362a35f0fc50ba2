//! The row kernels of `lut_filter::simd`, each at every level this CPU supports: 4-simplex
//! look-ups (regular and DFC tables, DFC with the dense layout the engine builds and through
//! the index table, 1 and 2 outputs, unit and stride-2 taps, content that keeps DFC look-ups in
//! the fine band and noisy content that sends some to the coarse table), requantisation and
//! residuals. Blocks of 64 rows of 64 samples, one call per block for the look-ups, kernels
//! prepared once (as the engine does); random tables. Throughput is in samples (one look-up
//! each).
//!
//! Run: `cargo bench -p lut-filter --no-default-features --bench kernels`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lut_filter::interp::PreparedTable;
use lut_filter::simd::{self, Level, RowTaps, Rows, SpatialKernel};
use lut_filter::tables::{CHANNEL_ROWS, DfcGeometry, REGULAR_ROWS, SpatialTable};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const W: usize = 64;
const ROWS: usize = 64;

/// A 10-bit map of `(W + 8) * 2` by `ROWS + 4` values: smooth (neighbours within ±`noise`
/// around a ramp), like decoded video.
fn map(rng: &mut ChaCha8Rng, width: usize, noise: i32) -> Vec<u16> {
    (0..width * (ROWS + 4))
        .map(|i| {
            let (x, y) = ((i % width) as i32, (i / width) as i32);
            (200 + x * 3 + y * 2 + rng.gen_range(-noise..=noise)).clamp(0, 1023) as u16
        })
        .collect()
}

fn bench_spatial(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let geometry = DfcGeometry {
        dims: 4,
        dw: 3,
        si: 5,
    };
    let mut group = c.benchmark_group("spatial_row");
    group.throughput(Throughput::Elements((W * ROWS) as u64));
    for k in [1usize, 2] {
        let regular: Vec<i8> = (0..REGULAR_ROWS * k).map(|_| rng.r#gen()).collect();
        let (fine, index, coarse) = geometry.compact(&regular, k);
        let dense = geometry.dense(&fine, &index, &coarse, k);
        let cubes = geometry.cubes(&dense, k).unwrap_or_default();
        let dfc = PreparedTable::new(SpatialTable::Dfc {
            geometry,
            fine: &fine,
            index: &index,
            coarse: &coarse,
        });
        let tables = [
            (
                "regular",
                PreparedTable::new(SpatialTable::Regular(&regular)),
            ),
            ("dfc-dense", dfc.with_dense(&dense)),
            ("dfc-cubes", dfc.with_dense(&dense).with_cubes(&cubes)),
            ("dfc-index", dfc),
        ];
        for (name, table) in tables {
            // (content, noise, tap step)
            for (content, noise, step) in
                [("smooth", 12, 1), ("noisy", 200, 1), ("smooth-s2", 12, 2)]
            {
                if name == "regular" && content == "noisy" {
                    continue;
                }
                let width = (W + 8) * step;
                let data = map(&mut rng, width, noise);
                let mut acc = vec![0i32; k * W * ROWS];
                for level in Level::supported() {
                    let kernel = SpatialKernel::new(level, table, 6, k);
                    let id = BenchmarkId::new(format!("{name}/k{k}/{content}"), level);
                    // One call for the 64 rows, as the engine makes one per look-up and tile.
                    let a = width + 2 * step;
                    let taps = RowTaps {
                        data: &data,
                        start: [a, a + 1, a + width, a + width + 1],
                        step,
                    };
                    let block = Rows {
                        n: W,
                        rows: ROWS,
                        pitch: width,
                        acc_pitch: W,
                    };
                    group.bench_function(id, |b| {
                        b.iter(|| kernel.rows(&taps, block, &mut acc, W * ROWS))
                    });
                }
            }
        }
    }
    group.finish();
}

fn bench_rows(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let raw: Vec<i32> = (0..W * ROWS)
        .map(|_| rng.gen_range(-400_000..400_000))
        .collect();
    let mut features = vec![0u16; W];
    let mut residuals = vec![0i32; W];
    let mut group = c.benchmark_group("rows");
    group.throughput(Throughput::Elements((W * ROWS) as u64));
    for level in Level::supported() {
        group.bench_function(BenchmarkId::new("requantise", level), |b| {
            b.iter(|| {
                for r in raw.chunks_exact(W) {
                    simd::requantise_row(level, r, 12, &mut features);
                }
            })
        });
        group.bench_function(BenchmarkId::new("residual", level), |b| {
            b.iter(|| {
                for r in raw.chunks_exact(W) {
                    simd::residual_row(level, r, 1 << 12, 16, 10, &mut residuals);
                }
            })
        });
    }
    let table: Vec<i8> = (0..CHANNEL_ROWS * 3).map(|_| rng.r#gen()).collect();
    let maps: Vec<Vec<u16>> = (0..3).map(|_| map(&mut rng, W, 40)).collect();
    let mut acc = vec![0i32; 3 * W];
    for level in Level::supported() {
        group.bench_function(BenchmarkId::new("trilinear/k3", level), |b| {
            b.iter(|| {
                for y in 0..ROWS {
                    let inputs = [0, 1, 2].map(|i| (&maps[i][y * W..(y + 1) * W], 6u32));
                    simd::trilinear_row(level, &table, 3, inputs, W, &mut acc, W);
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_spatial, bench_rows);
criterion_main!(benches);
