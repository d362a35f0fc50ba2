//! End to end on real video: the validation originals of `../shared/data`, at VTM's internal
//! 10 bits in `i16` (VTM's `Pel`), through the published architectures with DFC tables. Checks
//! that CTU-by-CTU filtering (128x128 luma / 64x64 chroma, as VTM calls it) equals whole-picture
//! filtering with 1 and 2 threads, and that a crop equals the plain reference implementation.
//! Real content matters here: most look-ups of natural pictures fall in the DFC fine band.

use end_to_end::{first_frame_10bit, manifest, shared_data};
use lut_filter::description::presets;
use lut_filter::{
    ChromaFormat, Component, Container, ContainerWriter, Picture, Plane, PlaneMut, Region,
    TableLayout, reference,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random_models() -> Container {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let dfc = TableLayout::Dfc {
        dims: 4,
        dw: 3,
        si: 5,
    };
    let mut w = ContainerWriter::new();
    let models = [
        presets::luma_reference("y", [0, 63], dfc, 1 << 12, 16),
        presets::chroma_cross_component("u", Component::U, [0, 63], dfc, 1 << 12, 16),
        presets::chroma_cross_component("v", Component::V, [0, 63], dfc, 1 << 12, 16),
    ];
    for m in models {
        w.add_model(m, |req| {
            (0..req.shape.iter().product::<usize>())
                .map(|_| rng.gen_range(-127..=127))
                .collect()
        })
        .unwrap();
    }
    Container::from_bytes(w.to_bytes().unwrap()).unwrap()
}

#[test]
fn validation_clips_ctu_wise_equal_whole_and_reference() {
    let Some(data) = shared_data() else {
        eprintln!("skipped: ../shared/data absent (this test needs the shared corpus)");
        return;
    };
    let container = random_models();
    let clips: Vec<_> = manifest(&data)
        .into_iter()
        .filter(|c| c.split == "val")
        .collect();
    assert!(!clips.is_empty(), "the manifest lists validation clips");
    for clip in clips {
        let (w, h, planes) = first_frame_10bit(&data.join(format!("orig/{}.y4m", clip.name)));
        let (cw, ch) = ChromaFormat::Yuv420.chroma_size(w, h);
        let pic = Picture::new(
            Plane::new(&planes[0], w, w, h).unwrap(),
            Some(Plane::new(&planes[1], cw, cw, ch).unwrap()),
            Some(Plane::new(&planes[2], cw, cw, ch).unwrap()),
            ChromaFormat::Yuv420,
            10,
        )
        .unwrap();
        for model in container.models() {
            let c = model.description().component;
            let (pw, ph) = if c == Component::Y { (w, h) } else { (cw, ch) };
            let ctu = if c == Component::Y { 128 } else { 64 };
            let mut whole = vec![0i16; pw * ph];
            model
                .filter_plane(&pic, &mut PlaneMut::new(&mut whole, pw, pw, ph).unwrap())
                .unwrap();
            for threads in [1, 2] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let mut by_ctu = vec![0i16; pw * ph];
                pool.install(|| {
                    let mut dst = PlaneMut::new(&mut by_ctu, pw, pw, ph).unwrap();
                    for block in Region::blocks(pw, ph, ctu) {
                        model.filter_region(&pic, block, &mut dst).unwrap();
                    }
                });
                assert!(
                    by_ctu == whole,
                    "{} {c}: CTU-wise != whole ({threads} threads)",
                    clip.name
                );
            }
            // The reference on a crop of the top-left corner (it is slow on purpose).
            let crop = 48.min(pw).min(ph);
            let cropped: Vec<Vec<i16>> = (0..3)
                .map(|i| {
                    let (sw, sh) = if i == 0 { (w, h) } else { (cw, ch) };
                    let cw2 = if i == 0 { crop * 2 } else { crop };
                    let (cw2, chh) = (cw2.min(sw), cw2.min(sh));
                    (0..chh)
                        .flat_map(|y| planes[i][y * sw..y * sw + cw2].to_vec())
                        .collect()
                })
                .collect();
            let (lw, lh) = ((crop * 2).min(w), (crop * 2).min(h));
            let (ccw, cch) = ChromaFormat::Yuv420.chroma_size(lw, lh);
            let small = Picture::new(
                Plane::new(&cropped[0], lw, lw, lh).unwrap(),
                Some(Plane::new(&cropped[1], ccw, ccw, cch).unwrap()),
                Some(Plane::new(&cropped[2], ccw, ccw, cch).unwrap()),
                ChromaFormat::Yuv420,
                10,
            )
            .unwrap();
            let expect = reference::filter_plane(&model, &small).unwrap();
            let (sw, sh) = if c == Component::Y {
                (lw, lh)
            } else {
                (ccw, cch)
            };
            let mut got = vec![0i16; sw * sh];
            model
                .filter_plane(&small, &mut PlaneMut::new(&mut got, sw, sw, sh).unwrap())
                .unwrap();
            let got: Vec<i32> = got.iter().map(|&v| i32::from(v)).collect();
            assert_eq!(
                got, expect,
                "{} {c}: engine != reference on the crop",
                clip.name
            );
        }
        eprintln!("{}: {w}x{h} ok", clip.name);
    }
}
