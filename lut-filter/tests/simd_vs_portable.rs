//! checkasm-style tests: every SIMD row kernel against the portable one on random data, and the
//! whole engine at every SIMD level this CPU supports against the reference implementation (and
//! against the portable engine on pictures too large for the slow reference).
//!
//! On a CPU without a SIMD level (or another architecture) the comparisons have nothing to run
//! and pass.

mod common;

use common::{OwnedPicture, TablePool, container, random_layout, random_model, with_threads};
use lut_filter::interp::PreparedTable;
use lut_filter::simd::{self, Level, RowTaps, Rows, SpatialKernel};
use lut_filter::tables::{CHANNEL_ROWS, DfcGeometry, REGULAR_ROWS, SpatialTable};
use lut_filter::{ChromaFormat, Component, PlaneMut, Region, Sample, TableLayout, reference};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The SIMD levels this CPU runs.
fn simd_levels() -> Vec<Level> {
    let levels: Vec<Level> = Level::supported()
        .into_iter()
        .filter(|&l| l != Level::Portable)
        .collect();
    if levels.is_empty() {
        eprintln!("no SIMD level on this CPU: nothing to compare");
    }
    levels
}

/// A row of tap values with `fb` fraction bits on the grid `[0, 16 << fb)`: uniform, smooth
/// (neighbours close: DFC look-ups in the fine band), at grid nodes and their neighbours, or
/// saturated (the tables' last rows).
fn values(rng: &mut ChaCha8Rng, len: usize, fb: u32) -> Vec<u16> {
    let max = (16u32 << fb) - 1;
    let q = 1u32 << fb;
    let kind = rng.gen_range(0..5);
    let mut level = rng.gen_range(0..=max) as i64;
    (0..len)
        .map(|_| {
            let v = match kind {
                0 => rng.gen_range(0..=max),
                1 => {
                    level += rng.gen_range(-(q as i64)..=q as i64);
                    level = level.clamp(0, i64::from(max));
                    (level + rng.gen_range(-3..=3)).clamp(0, i64::from(max)) as u32
                }
                2 => {
                    let node = rng.gen_range(0..=16u32) * q;
                    node.saturating_add_signed(rng.gen_range(-1..=1)).min(max)
                }
                3 => max - rng.gen_range(0..=q.min(3)),
                _ => {
                    if rng.gen_bool(0.5) {
                        rng.gen_range(0..=max)
                    } else {
                        [0, max, q, q - 1, max - q][rng.gen_range(0..5)]
                    }
                }
            };
            v as u16
        })
        .collect()
}

/// A random table of `k` outputs: regular, or DFC (random geometry, random rows; index rows
/// possibly permuted, which a container never holds but the kernels must read right).
enum Tables {
    Regular(Vec<i8>),
    Dfc(DfcGeometry, Vec<i8>, Vec<i32>, Vec<i8>),
}

fn random_tables(rng: &mut ChaCha8Rng, pool: &[i8], k: usize) -> Tables {
    let slice = |rng: &mut ChaCha8Rng, n: usize| {
        let start = rng.gen_range(0..=pool.len() - n);
        pool[start..start + n].to_vec()
    };
    match random_layout(rng) {
        TableLayout::Regular => Tables::Regular(slice(rng, REGULAR_ROWS * k)),
        TableLayout::Dfc { dims, dw, si } => {
            let g = DfcGeometry {
                dims: dims.into(),
                dw: dw.into(),
                si: si.into(),
            };
            let (mut index, rows) = g.fine_index();
            if rng.gen_bool(0.3) {
                let mut perm: Vec<i32> = (0..rows as i32).collect();
                perm.shuffle(rng);
                for r in index.iter_mut().filter(|r| **r >= 0) {
                    *r = perm[*r as usize];
                }
            }
            let fine = slice(rng, rows * k);
            let coarse = slice(rng, g.coarse_rows() * k);
            Tables::Dfc(g, fine, index, coarse)
        }
    }
}

/// Every SIMD spatial kernel equals the portable one: random tables (regular, DFC with and
/// without the dense layout), 1 to 8 outputs, 4 to 8 fraction bits, tap steps 1 and 2, random
/// row lengths, taps reaching the end of their map, accumulators holding earlier sums.
#[test]
fn spatial_kernels_equal_portable() {
    let levels = simd_levels();
    let mut rng = ChaCha8Rng::seed_from_u64(0xc4ec_a5a1);
    let pool: Vec<i8> = (0..REGULAR_ROWS * 8 + 4096).map(|_| rng.r#gen()).collect();
    for case in 0..160 {
        let k = rng.gen_range(1..=8usize);
        let fb = rng.gen_range(4..=8u32);
        let tables = random_tables(&mut rng, &pool, k);
        let (dense, cubes);
        let table = match &tables {
            Tables::Regular(t) => PreparedTable::new(SpatialTable::Regular(t)),
            Tables::Dfc(g, fine, index, coarse) => {
                let t = PreparedTable::new(SpatialTable::Dfc {
                    geometry: *g,
                    fine,
                    index,
                    coarse,
                });
                dense = g.dense(fine, index, coarse, k);
                // 1- and 2-output tables: the cube layout too (AVX-512), or not.
                cubes = g.cubes(&dense, k);
                assert_eq!(
                    cubes.is_some(),
                    k <= 2,
                    "cubes of 1- and 2-output tables only"
                );
                match (rng.gen_bool(0.6), &cubes) {
                    (true, Some(c)) if rng.gen_bool(0.7) => t.with_dense(&dense).with_cubes(c),
                    (true, _) => t.with_dense(&dense),
                    (false, _) => t,
                }
            }
        };
        for _ in 0..4 {
            let n = rng.gen_range(0..=70usize);
            let step = rng.gen_range(1..=2usize);
            // One row, or a block of rows (the engine's call).
            let rows: usize = if rng.gen_bool(0.5) {
                1
            } else {
                rng.gen_range(0..=4)
            };
            let pitch = step * n + rng.gen_range(0..=9);
            let len = rows.saturating_sub(1) * pitch + step * n + rng.gen_range(0..=40);
            let data = values(&mut rng, len.max(1), fb);
            // Tap starts: anywhere the rows fit, one of them often at the very end.
            let reach = rows.saturating_sub(1) * pitch + step * n.saturating_sub(1);
            let last = data.len() - 1 - reach.min(data.len() - 1);
            let mut start = [0; 4].map(|_| rng.gen_range(0..=last));
            if rng.gen_bool(0.5) {
                start[rng.gen_range(0..4)] = last;
            }
            let taps = RowTaps {
                data: &data,
                start,
                step,
            };
            let block = Rows {
                n,
                rows,
                pitch,
                acc_pitch: n + rng.gen_range(0..=2),
            };
            let span = rows.saturating_sub(1) * block.acc_pitch + n;
            let stride = span + rng.gen_range(0..=3);
            let init: Vec<i32> = (0..(k - 1) * stride + span + rng.gen_range(0..=2))
                .map(|_| rng.gen_range(-1 << 20..1 << 20))
                .collect();
            let mut want = init.clone();
            SpatialKernel::new(Level::Portable, table, fb, k).rows(&taps, block, &mut want, stride);
            for &level in &levels {
                let kernel = SpatialKernel::new(level, table, fb, k);
                let mut got = init.clone();
                kernel.rows(&taps, block, &mut got, stride);
                assert!(
                    got == want,
                    "case {case}: {level} != portable (k {k}, fb {fb}, {block:?}, step {step}, \
                     kernel at {}, table {table:?})",
                    kernel.level()
                );
            }
        }
    }
}

/// Every SIMD trilinear kernel (channel nodes) equals the portable one: 1 to 8 outputs, each
/// input with its own fraction bits, values up to the grid's end (the table's last row).
#[test]
fn trilinear_kernels_equal_portable() {
    let levels = simd_levels();
    let mut rng = ChaCha8Rng::seed_from_u64(0x7e1_1ea5);
    let pool: Vec<i8> = (0..CHANNEL_ROWS * 8 + 4096).map(|_| rng.r#gen()).collect();
    for case in 0..300 {
        let k = rng.gen_range(1..=8usize);
        let start = rng.gen_range(0..=pool.len() - CHANNEL_ROWS * k);
        let table = &pool[start..start + CHANNEL_ROWS * k];
        let n = rng.gen_range(0..=40usize);
        let fb = [0; 3].map(|_| rng.gen_range(4..=8u32));
        let data: Vec<Vec<u16>> = fb.iter().map(|&b| values(&mut rng, n.max(1), b)).collect();
        let inputs = [0, 1, 2].map(|i| (&data[i][..], fb[i]));
        let stride = n + rng.gen_range(0..=3);
        let init: Vec<i32> = (0..(k - 1) * stride + n)
            .map(|_| rng.gen_range(-1 << 20..1 << 20))
            .collect();
        let mut want = init.clone();
        simd::trilinear_row(Level::Portable, table, k, inputs, n, &mut want, stride);
        for &level in &levels {
            let mut got = init.clone();
            simd::trilinear_row(level, table, k, inputs, n, &mut got, stride);
            assert!(
                got == want,
                "case {case}: {level} != portable (k {k}, fb {fb:?}, n {n})"
            );
        }
    }
}

/// The SIMD requantisation and residual kernels equal the portable ones, extremes included.
#[test]
fn row_kernels_equal_portable() {
    let levels = simd_levels();
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_0f0a);
    for case in 0..400 {
        let n = rng.gen_range(0..=40usize);
        let terms: u32 = if rng.gen_bool(0.8) {
            rng.gen_range(1..=12)
        } else {
            rng.gen_range(1..=1 << 16)
        };
        let t = i64::from(terms);
        let raw: Vec<i32> = (0..n + rng.gen_range(0..3))
            .map(|_| match rng.gen_range(0..5) {
                0 => rng.r#gen(),
                1 => [i32::MIN, i32::MAX, 0, -1, 1][rng.gen_range(0..5)],
                // Next to a rounding boundary of the requantisation.
                2 => (rng.gen_range(-200..200) * 256 * t + 128 * t + rng.gen_range(-1..=1))
                    .clamp(i32::MIN.into(), i32::MAX.into()) as i32,
                _ => rng.gen_range(-(1 << 22)..1 << 22),
            })
            .collect();
        let mut want = vec![0u16; n];
        simd::requantise_row(Level::Portable, &raw, terms, &mut want);
        let mut sums: Vec<i32> = raw.iter().map(|&r| r >> 6).collect(); // |sum| < 2^26
        let mut scale = rng.r#gen::<i32>();
        let shift = rng.gen_range(0..=24u8);
        let depth = rng.gen_range(8..=12u8);
        if rng.gen_bool(0.3) {
            // Exact ties (half a code): the rounding direction shows.
            let total = i32::from(shift) + 8 + (10 - i32::from(depth)).max(0);
            let up = (i32::from(depth) - 10).max(0);
            scale = [1, -1, 3][rng.gen_range(0..3)];
            for s in &mut sums {
                *s = (2 * rng.gen_range(-8..8) + 1) << (total - 1 - up).clamp(0, 20);
            }
        } else if rng.gen_bool(0.5) {
            // Scales the 32-bit path takes (trained models' are up to a few thousand), with
            // sums on both sides of its limit `|sum * (scale << up)| + half < 2^31`.
            scale = if rng.gen_bool(0.5) {
                rng.gen_range(-40..=40)
            } else {
                rng.gen_range(-8192..=8192)
            };
            let total = i64::from(shift) + 8 + (10 - i64::from(depth)).max(0);
            let factor = i64::from(scale).abs() << (i64::from(depth) - 10).max(0);
            let limit = ((1_i64 << 31) - 1 - (1 << (total - 1))) / factor.max(1);
            for s in &mut sums {
                if rng.gen_bool(0.3) {
                    let edge = limit + rng.gen_range(-1..=1);
                    let edge = if rng.gen_bool(0.5) { edge } else { -edge };
                    *s = edge.clamp(i32::MIN.into(), i32::MAX.into()) as i32;
                }
            }
        }
        let mut want_res = vec![0i32; n];
        simd::residual_row(Level::Portable, &sums, scale, shift, depth, &mut want_res);
        for &level in &levels {
            let mut got = vec![0u16; n];
            simd::requantise_row(level, &raw, terms, &mut got);
            assert_eq!(got, want, "case {case}: requantise {level}, terms {terms}");
            let mut got = vec![0i32; n];
            simd::residual_row(level, &sums, scale, shift, depth, &mut got);
            assert_eq!(
                got, want_res,
                "case {case}: residual {level}, scale {scale} >> {shift}, {depth} bit"
            );
        }
    }
}

fn engine_plane<T: Sample + Default>(
    level: Level,
    model: &lut_filter::Model<'_>,
    pic: &lut_filter::Picture<'_, T>,
    region: Option<Region>,
) -> Vec<i32> {
    let c = model.description().component;
    let p = pic.plane(c).unwrap();
    let mut out = vec![T::default(); p.width() * p.height()];
    let mut dst = PlaneMut::new(&mut out, p.width(), p.width(), p.height()).unwrap();
    let region = region.unwrap_or(Region::new(0, 0, p.width(), p.height()));
    model
        .filter_region_with(level, pic, region, &mut dst)
        .unwrap();
    out.iter().map(|s| s.to_i32()).collect()
}

const FORMATS: [ChromaFormat; 4] = [
    ChromaFormat::Yuv400,
    ChromaFormat::Yuv420,
    ChromaFormat::Yuv422,
    ChromaFormat::Yuv444,
];

/// A random model and picture (`max` the largest luma size): 8-12 bit, any chroma format.
fn random_case(
    rng: &mut ChaCha8Rng,
    pool: &TablePool,
    case: usize,
    max: (usize, usize),
) -> (lut_filter::Container, OwnedPicture<u16>, String) {
    let format = FORMATS[rng.gen_range(0..4)];
    let component = if format == ChromaFormat::Yuv400 {
        Component::Y
    } else {
        Component::ALL[rng.gen_range(0..3)]
    };
    let desc = random_model(rng, &format!("m{case}"), component);
    let text = serde_json::to_string(&desc).unwrap();
    let c = container(rng, pool, vec![desc]);
    let depth = [8u8, 10, 12][rng.gen_range(0..3)];
    let (w, h) = (rng.gen_range(1..=max.0), rng.gen_range(1..=max.1));
    let smooth = rng.gen_bool(0.6);
    let pic = OwnedPicture::random(rng, w, h, format, depth, smooth, |r, b| {
        r.gen_range(0..1 << b)
    });
    (c, pic, text)
}

/// The engine at every SIMD level equals the reference on random models and pictures.
#[test]
fn engine_at_every_level_equals_reference() {
    let levels = simd_levels();
    let mut rng = ChaCha8Rng::seed_from_u64(0x00e9_919e);
    let pool = TablePool::new(&mut rng, 1 << 20);
    for case in 0..120 {
        let (c, pic, text) = random_case(&mut rng, &pool, case, (48, 40));
        let model = c.models().next().unwrap();
        let view = pic.view();
        let expect = reference::filter_plane(&model, &view).unwrap();
        for &level in &levels {
            let threads = rng.gen_range(1..=2);
            let got = with_threads(threads, || engine_plane(level, &model, &view, None));
            assert!(
                got == expect,
                "case {case}: {level} engine != reference\n{text}"
            );
        }
    }
}

/// On pictures larger than the reference can take quickly (several tiles, DFC tables in the
/// dense layout, rows of 64 samples and more), every SIMD level equals the portable engine,
/// whole planes and regions.
#[test]
fn engine_at_every_level_equals_portable_on_larger_pictures() {
    let levels = simd_levels();
    let mut rng = ChaCha8Rng::seed_from_u64(0x1a26e);
    let pool = TablePool::new(&mut rng, 1 << 20);
    for case in 0..24 {
        let (c, pic, text) = random_case(&mut rng, &pool, case, (150, 90));
        let model = c.models().next().unwrap();
        let view = pic.view();
        let p = view.plane(model.description().component).unwrap();
        let (pw, ph) = (p.width(), p.height());
        let x = rng.gen_range(0..pw);
        let y = rng.gen_range(0..ph);
        let region = Region::new(x, y, rng.gen_range(1..=pw - x), rng.gen_range(1..=ph - y));
        for region in [None, Some(region)] {
            let want = engine_plane(Level::Portable, &model, &view, region);
            for &level in &levels {
                let got = with_threads(2, || engine_plane(level, &model, &view, region));
                assert!(
                    got == want,
                    "case {case}: {level} != portable ({pw}x{ph}, {region:?})\n{text}"
                );
            }
        }
    }
}

/// `LUT_FILTER_SIMD` names a level or `auto`; unknown names are refused by the parser.
#[test]
fn simd_choices_parse() {
    use lut_filter::simd::Choice;
    assert_eq!("portable".parse(), Ok(Choice::Level(Level::Portable)));
    assert_eq!("AVX2".parse(), Ok(Choice::Level(Level::Avx2)));
    assert_eq!("avx512".parse(), Ok(Choice::Level(Level::Avx512)));
    assert_eq!("auto".parse(), Ok(Choice::Auto));
    assert!("sse9".parse::<Choice>().is_err());
    assert_eq!(
        Choice::Level(Level::Portable).level(),
        Level::Portable,
        "portable is always available"
    );
    assert!(Level::supported().contains(&Level::detected()));
    // A level runs where the CPU has it, else portable; the detected level is the best one.
    for level in Level::ALL {
        let runs = Choice::Level(level).level();
        assert_eq!(runs == level, level.is_supported(), "{level}");
        assert!(runs == level || runs == Level::Portable, "{level}");
        assert!(
            level <= Level::detected() || !level.is_supported(),
            "{level}"
        );
    }
    assert!(Level::supported().contains(&Level::active()));
}
