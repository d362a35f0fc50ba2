//! The tiled, threaded engine must equal the plain reference implementation bit for bit: random
//! descriptions of every supported kind, random tables, random pictures at 8/10/12 bit, odd
//! sizes, random strides, random regions, all chroma formats, 1 and 2 threads.

mod common;

use common::{OwnedPicture, TablePool, container, random_model, with_threads};
use lut_filter::description::presets;
use lut_filter::{ChromaFormat, Component, PlaneMut, Region, Sample, TableLayout, reference};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const FORMATS: [ChromaFormat; 4] = [
    ChromaFormat::Yuv400,
    ChromaFormat::Yuv420,
    ChromaFormat::Yuv422,
    ChromaFormat::Yuv444,
];

/// Filters `region` with the engine into a copy of the source plane and returns the whole
/// plane (outside the region: the source, untouched).
fn engine_region<T: Sample + Default>(
    model: &lut_filter::Model<'_>,
    pic: &lut_filter::Picture<'_, T>,
    region: Region,
) -> Vec<i32> {
    let c = model.description().component;
    let p = pic.plane(c).unwrap();
    let mut out = vec![T::default(); p.width() * p.height()];
    let mut dst = PlaneMut::new(&mut out, p.width(), p.width(), p.height()).unwrap();
    model.filter_region(pic, region, &mut dst).unwrap();
    out.iter().map(|s| s.to_i32()).collect()
}

fn check_case<T: Sample + Default>(
    rng: &mut ChaCha8Rng,
    pool: &TablePool,
    case: usize,
    bit_depth: u8,
    sample: impl Fn(&mut ChaCha8Rng, u8) -> T,
) {
    let format = FORMATS[rng.gen_range(0..4)];
    let component = if format == ChromaFormat::Yuv400 {
        Component::Y
    } else {
        Component::ALL[rng.gen_range(0..3)]
    };
    let desc = random_model(rng, &format!("m{case}"), component);
    let text = serde_json::to_string(&desc).unwrap();
    let c = container(rng, pool, vec![desc]);
    let model = c.models().next().unwrap();
    let (w, h) = (rng.gen_range(1..=40), rng.gen_range(1..=40));
    let smooth = rng.gen_bool(0.5);
    let pic = OwnedPicture::random(rng, w, h, format, bit_depth, smooth, sample);
    let view = pic.view();
    let expect = reference::filter_plane(&model, &view).unwrap();
    let plane = view.plane(component).unwrap();
    let (pw, ph) = (plane.width(), plane.height());

    // Whole plane, 1 and 2 threads.
    let whole = Region::new(0, 0, pw, ph);
    for threads in [1, 2] {
        let got = with_threads(threads, || engine_region(&model, &view, whole));
        assert!(
            got == expect,
            "case {case}: engine != reference ({threads} threads, {w}x{h} {format:?} {bit_depth} bit)\n{text}"
        );
    }
    // A random region: equal inside, source outside.
    let x = rng.gen_range(0..pw);
    let y = rng.gen_range(0..ph);
    let region = Region::new(x, y, rng.gen_range(1..=pw - x), rng.gen_range(1..=ph - y));
    let got = engine_region(&model, &view, region);
    for yy in 0..ph {
        for xx in 0..pw {
            let inside =
                (x..x + region.width).contains(&xx) && (y..y + region.height).contains(&yy);
            let want = if inside { expect[yy * pw + xx] } else { 0 };
            assert_eq!(
                got[yy * pw + xx],
                want,
                "case {case}: region {region:?} differs at ({xx},{yy})\n{text}"
            );
        }
    }
}

#[test]
fn engine_equals_reference_on_random_models() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_u64);
    let pool = TablePool::new(&mut rng, 1 << 20);
    let cases = 1200;
    for case in 0..cases {
        match rng.gen_range(0..5) {
            0 => check_case::<u8>(&mut rng, &pool, case, 8, |r, _| r.r#gen()),
            1 => check_case::<u16>(&mut rng, &pool, case, 8, |r, b| r.gen_range(0..1 << b)),
            2 => check_case::<u16>(&mut rng, &pool, case, 10, |r, b| r.gen_range(0..1 << b)),
            3 => check_case::<u16>(&mut rng, &pool, case, 12, |r, b| r.gen_range(0..1 << b)),
            // VTM's Pel, with occasional out-of-range values (clamped on read).
            _ => check_case::<i16>(&mut rng, &pool, case, 10, |r, _| {
                if r.gen_bool(0.02) {
                    r.gen_range(-40..1100)
                } else {
                    r.gen_range(0..1024)
                }
            }),
        }
    }
}

/// The published architectures, CTU by CTU (128 and 64) vs whole picture, 1 and 2 threads.
#[test]
fn ctu_wise_filtering_equals_whole_picture() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let pool = TablePool::new(&mut rng, 1 << 20);
    let dfc = TableLayout::Dfc {
        dims: 4,
        dw: 3,
        si: 5,
    };
    let models = vec![
        presets::luma_reference("y", [0, 63], dfc, 1 << 12, 16),
        presets::chroma_cross_component("u", Component::U, [0, 63], dfc, 1 << 12, 16),
        presets::chroma_cross_component(
            "v",
            Component::V,
            [0, 63],
            TableLayout::Regular,
            1 << 12,
            16,
        ),
    ];
    let c = container(&mut rng, &pool, models);
    let pic = OwnedPicture::<i16>::random(
        &mut rng,
        200,
        136,
        ChromaFormat::Yuv420,
        10,
        true,
        |r, _| r.gen_range(0..1024),
    );
    let view = pic.view();
    for model in c.models() {
        let comp = model.description().component;
        let p = view.plane(comp).unwrap();
        let (pw, ph) = (p.width(), p.height());
        let whole = with_threads(1, || {
            engine_region(&model, &view, Region::new(0, 0, pw, ph))
        });
        let reference = reference::filter_plane(&model, &view).unwrap();
        assert_eq!(whole, reference, "{comp}: engine != reference");
        for ctu_luma in [128usize, 64] {
            let ctu = if comp == Component::Y {
                ctu_luma
            } else {
                ctu_luma / 2
            };
            for threads in [1, 2] {
                let mut out = vec![0i16; pw * ph];
                with_threads(threads, || {
                    let mut dst = PlaneMut::new(&mut out, pw, pw, ph).unwrap();
                    for block in Region::blocks(pw, ph, ctu) {
                        model.filter_region(&view, block, &mut dst).unwrap();
                    }
                });
                let got: Vec<i32> = out.iter().map(|&s| i32::from(s)).collect();
                assert_eq!(
                    got, whole,
                    "{comp}: CTU {ctu} with {threads} threads != whole"
                );
            }
        }
        // Region-sized destinations (what parallel CTU filtering into one picture uses).
        let mut assembled = vec![0i32; pw * ph];
        for block in Region::blocks(pw, ph, if comp == Component::Y { 64 } else { 32 }) {
            let mut small = vec![0i16; block.width * block.height];
            let mut dst =
                PlaneMut::new(&mut small, block.width, block.width, block.height).unwrap();
            model.filter_region_into(&view, block, &mut dst).unwrap();
            for y in 0..block.height {
                for x in 0..block.width {
                    assembled[(block.y + y) * pw + block.x + x] =
                        i32::from(small[y * block.width + x]);
                }
            }
        }
        assert_eq!(
            assembled, whole,
            "{comp}: region-sized destinations != whole"
        );
        // The model really filters (non-zero residual somewhere), so equality means something.
        let src: Vec<i32> = (0..ph)
            .flat_map(|y| p.row(y).iter().map(|&s| i32::from(s)))
            .collect();
        assert_ne!(whole, src, "{comp}: the random model changed nothing");
    }
}

/// Pictures wider and taller than one tile (512x64): several tile columns and rows, partial
/// tiles at the right and bottom, each tile with its own columns of the destination rows.
#[test]
fn pictures_of_several_tiles_equal_reference() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x711e);
    let pool = TablePool::new(&mut rng, 1 << 20);
    for case in 0..4 {
        let component = Component::ALL[case % 3];
        let desc = random_model(&mut rng, &format!("w{case}"), component);
        let text = serde_json::to_string(&desc).unwrap();
        let c = container(&mut rng, &pool, vec![desc]);
        let model = c.models().next().unwrap();
        let (w, h) = (lut_filter::TILE_WIDTH * 2 + 77, lut_filter::TILE_HEIGHT + 9);
        let pic = OwnedPicture::random(&mut rng, w, h, ChromaFormat::Yuv444, 10, true, |r, _| {
            r.gen_range(0..1024u16)
        });
        let view = pic.view();
        let expect = reference::filter_plane(&model, &view).unwrap();
        let whole = Region::new(0, 0, w, h);
        for threads in [1, 2] {
            let got = with_threads(threads, || engine_region(&model, &view, whole));
            assert!(
                got == expect,
                "case {case}: engine != reference ({threads} threads, {w}x{h})\n{text}"
            );
        }
    }
}
