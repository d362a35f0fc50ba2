//! Determinism: the filter's output depends on nothing but the model and the picture.
//!
//! * identical for rayon pools of 1, 2, 3 and 8 threads, and across repeated runs;
//! * region by region (CTUs of several sizes, an irregular partition, regions filtered in
//!   parallel into their own buffers) equals the whole picture;
//! * the same samples as `u8`, `u16` or `i16` give the same result;
//!
//! on the embedded default model and on random models, with random pictures of every chroma
//! format and bit depth.

mod common;

use common::{OwnedPicture, TablePool, container, random_model, with_threads};
use lut_filter::{ChromaFormat, Component, Container, Model, PlaneMut, Region, Sample};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

const THREADS: [usize; 4] = [1, 2, 3, 8];

fn default_container() -> Container {
    lut_filter::default_model::open().expect("the embedded default opens")
}

/// Whole plane of `model`'s component.
fn whole<T: Sample + Default>(model: &Model<'_>, pic: &OwnedPicture<T>) -> Vec<T> {
    let view = pic.view();
    let p = view.plane(model.description().component).expect("plane");
    let (w, h) = (p.width(), p.height());
    let mut out = vec![T::default(); w * h];
    model
        .filter_plane(&view, &mut PlaneMut::new(&mut out, w, w, h).unwrap())
        .expect("filters");
    out
}

/// The plane assembled from `regions`, each filtered into the shared destination.
fn by_regions<T: Sample + Default>(
    model: &Model<'_>,
    pic: &OwnedPicture<T>,
    regions: &[Region],
) -> Vec<T> {
    let view = pic.view();
    let p = view.plane(model.description().component).unwrap();
    let (w, h) = (p.width(), p.height());
    let mut out = vec![T::default(); w * h];
    let mut dst = PlaneMut::new(&mut out, w, w, h).unwrap();
    for &r in regions {
        model.filter_region(&view, r, &mut dst).expect("region");
    }
    out
}

/// The plane assembled from `regions` filtered in parallel, each into its own buffer
/// (`filter_region_into`, as a codec filtering CTUs on several threads does).
fn by_parallel_regions<T: Sample + Default>(
    model: &Model<'_>,
    pic: &OwnedPicture<T>,
    regions: &[Region],
) -> Vec<T> {
    let view = pic.view();
    let p = view.plane(model.description().component).unwrap();
    let (w, h) = (p.width(), p.height());
    let parts: Vec<Vec<T>> = regions
        .par_iter()
        .map(|r| {
            let mut part = vec![T::default(); r.width * r.height];
            model
                .filter_region_into(
                    &view,
                    *r,
                    &mut PlaneMut::new(&mut part, r.width, r.width, r.height).unwrap(),
                )
                .expect("region");
            part
        })
        .collect();
    let mut out = vec![T::default(); w * h];
    for (r, part) in regions.iter().zip(parts) {
        for row in 0..r.height {
            out[(r.y + row) * w + r.x..][..r.width]
                .copy_from_slice(&part[row * r.width..][..r.width]);
        }
    }
    out
}

/// A random partition of a `w x h` plane into rectangles (recursive cuts).
fn random_partition(rng: &mut ChaCha8Rng, r: Region, out: &mut Vec<Region>) {
    let cut_x = r.width > 1 && rng.gen_bool(0.6);
    let cut_y = r.height > 1 && rng.gen_bool(0.6);
    if r.width * r.height <= 64 || (!cut_x && !cut_y) {
        out.push(r);
    } else if cut_x && (!cut_y || r.width >= r.height) {
        let a = rng.gen_range(1..r.width);
        random_partition(rng, Region::new(r.x, r.y, a, r.height), out);
        random_partition(rng, Region::new(r.x + a, r.y, r.width - a, r.height), out);
    } else {
        let a = rng.gen_range(1..r.height);
        random_partition(rng, Region::new(r.x, r.y, r.width, a), out);
        random_partition(rng, Region::new(r.x, r.y + a, r.width, r.height - a), out);
    }
}

fn first_diff<T: PartialEq>(a: &[T], b: &[T]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y)
}

/// Every determinism property for one model and one picture.
fn check_model<T: Sample + Default + PartialEq>(
    rng: &mut ChaCha8Rng,
    label: &str,
    model: &Model<'_>,
    pic: &OwnedPicture<T>,
) {
    let reference = with_threads(1, || whole(model, pic));
    for threads in THREADS {
        for run in 0..2 {
            let again = with_threads(threads, || whole(model, pic));
            assert!(
                first_diff(&reference, &again).is_none(),
                "{label}: {threads} threads (run {run}) differ at sample {:?}",
                first_diff(&reference, &again)
            );
        }
    }
    let view = pic.view();
    let p = view.plane(model.description().component).unwrap();
    let (w, h) = (p.width(), p.height());
    let mut partitions: Vec<(String, Vec<Region>)> = [16, 64, 128]
        .into_iter()
        .map(|ctu| (format!("CTU {ctu}"), Region::blocks(w, h, ctu)))
        .collect();
    let mut irregular = Vec::new();
    random_partition(rng, Region::new(0, 0, w, h), &mut irregular);
    partitions.push(("irregular partition".into(), irregular));
    for (name, regions) in &partitions {
        let threads = THREADS[rng.gen_range(0..THREADS.len())];
        let serial = with_threads(threads, || by_regions(model, pic, regions));
        assert!(
            first_diff(&reference, &serial).is_none(),
            "{label}: {name} ({threads} threads) differs from the whole plane at {:?}",
            first_diff(&reference, &serial)
        );
        let parallel = with_threads(threads, || by_parallel_regions(model, pic, regions));
        assert!(
            first_diff(&reference, &parallel).is_none(),
            "{label}: {name} in parallel ({threads} threads) differs at {:?}",
            first_diff(&reference, &parallel)
        );
    }
}

const FORMATS: [ChromaFormat; 4] = [
    ChromaFormat::Yuv420,
    ChromaFormat::Yuv422,
    ChromaFormat::Yuv444,
    ChromaFormat::Yuv400,
];

#[test]
fn default_model_is_deterministic_across_threads_runs_and_regions() {
    let c = default_container();
    let mut rng = ChaCha8Rng::seed_from_u64(0xde7e);
    // Sizes around the 512x64 tile: several tile rows and columns, partial tiles, a 1-row
    // picture.
    let sizes = [(1100, 136), (67, 129), (130, 1), (1, 3), (530, 65)];
    for (i, &(w, h)) in sizes.iter().enumerate() {
        let format = FORMATS[i % FORMATS.len()];
        let bit_depth = [10, 8, 12, 10, 10][i];
        let pic =
            OwnedPicture::<u16>::random(&mut rng, w, h, format, bit_depth, i % 2 == 0, |r, b| {
                r.gen_range(0..1u16 << b)
            });
        for comp in Component::ALL {
            if pic.view().plane(comp).is_none() {
                continue;
            }
            let qp = rng.gen_range(20..=45);
            let model = c
                .select(comp, qp)
                .expect("the default has a model per component");
            let label = format!("default {comp} qp {qp} {w}x{h} {format:?} {bit_depth}-bit");
            check_model(&mut rng, &label, &model, &pic);
        }
    }
}

#[test]
fn random_models_are_deterministic_across_threads_runs_and_regions() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed);
    let pool = TablePool::new(&mut rng, 1 << 20);
    for i in 0..6 {
        let comp = Component::ALL[i % 3];
        let desc = random_model(&mut rng, &format!("m{i}"), comp);
        let c = container(&mut rng, &pool, vec![desc]);
        let model = c.models().next().unwrap();
        let format = FORMATS[i % 3]; // chroma models need chroma planes
        let bit_depth = rng.gen_range(8..=12);
        let (w, h) = (rng.gen_range(1..=150), rng.gen_range(1..=100));
        let pic =
            OwnedPicture::<i16>::random(&mut rng, w, h, format, bit_depth, i % 2 == 1, |r, b| {
                r.gen_range(0..1i16 << b)
            });
        let label = format!("random model {i} ({comp}) {w}x{h} {format:?} {bit_depth}-bit");
        check_model(&mut rng, &label, &model, &pic);
    }
}

/// The same sample values as u8, u16 and i16 give the same output (8-bit), and u16 and i16
/// agree at 10 and 12 bit; samples outside the bit depth are clamped identically.
#[test]
fn sample_types_give_identical_results() {
    let c = default_container();
    let mut rng = ChaCha8Rng::seed_from_u64(0x7e5);
    for bit_depth in [8u8, 10, 12] {
        let (w, h) = (70, 66);
        let wide = OwnedPicture::<u16>::random(
            &mut rng,
            w,
            h,
            ChromaFormat::Yuv420,
            bit_depth,
            true,
            |r, b| r.gen_range(0..1u16 << b),
        );
        let as_i16 = OwnedPicture::<i16> {
            planes: wide
                .planes
                .iter()
                .map(|(d, s, pw, ph)| (d.iter().map(|&v| v as i16).collect(), *s, *pw, *ph))
                .collect(),
            format: wide.format,
            bit_depth,
        };
        for comp in Component::ALL {
            let model = c.select(comp, 32).unwrap();
            let a = whole(&model, &wide);
            let b = whole(&model, &as_i16);
            assert!(
                a.iter()
                    .zip(&b)
                    .all(|(&x, &y)| i32::from(x) == i32::from(y)),
                "u16 and i16 differ ({comp}, {bit_depth}-bit)"
            );
            if bit_depth == 8 {
                let narrow = OwnedPicture::<u8> {
                    planes: wide
                        .planes
                        .iter()
                        .map(|(d, s, pw, ph)| (d.iter().map(|&v| v as u8).collect(), *s, *pw, *ph))
                        .collect(),
                    format: wide.format,
                    bit_depth,
                };
                let n = whole(&model, &narrow);
                assert!(
                    a.iter().zip(&n).all(|(&x, &y)| x == u16::from(y)),
                    "u16 and u8 differ ({comp})"
                );
            }
        }
        // Out-of-range samples (negative i16, u16 above the bit depth) are clamped on read:
        // -5 reads as 0 and 0xffff as 2^B - 1, in every type that can hold them.
        let mut wild_i16 = as_i16;
        let mut wild_u16 = wide;
        for (pi, pu) in wild_i16.planes.iter_mut().zip(wild_u16.planes.iter_mut()) {
            for (k, (a, b)) in pi.0.iter_mut().zip(pu.0.iter_mut()).enumerate() {
                match k % 7 {
                    0 => (*a, *b) = (-5, 0),
                    3 => (*a, *b) = (i16::MAX, u16::MAX),
                    _ => {}
                }
            }
        }
        let model = c.select(Component::Y, 37).unwrap();
        let a = whole(&model, &wild_u16);
        let b = whole(&model, &wild_i16);
        let max = (1i32 << bit_depth) - 1;
        assert!(a.iter().all(|&v| i32::from(v) <= max));
        assert!(
            a.iter()
                .zip(&b)
                .all(|(&x, &y)| i32::from(x) == i32::from(y))
        );
    }
}
