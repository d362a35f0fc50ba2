//! Compaction is exact inside the band: random regular tables, every diagonal dimension count,
//! several band widths and coarse intervals; single look-ups and whole pictures.

use lut_build::compact::{
    CompactError, CompactOptions, Source, TableData, compact, geometry_of, resample,
};
use lut_filter::description::presets;
use lut_filter::tables::{DfcGeometry, REGULAR_ROWS};
use lut_filter::{ChromaFormat, Component, Container, ContainerWriter, Node, Picture, Plane};
use lut_filter::{PlaneMut, TableLayout};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A container of one single-stage regular luma model `y` (patterns s, d, y; `k` outputs in a
/// first stage when `stages == 2`) with random int8 tables.
fn regular_container(seed: u64, stages: usize) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let desc = presets::cascade(
        "y",
        Component::Y,
        [0, 63],
        stages,
        TableLayout::Regular,
        1 << 10,
        12,
    );
    let mut w = ContainerWriter::new();
    w.add_model(desc, |req| random_table(&mut rng, req))
        .unwrap();
    w.to_bytes().unwrap()
}

/// Random int8 values for a required table.
fn random_table(rng: &mut ChaCha8Rng, req: &lut_filter::plan::RequiredTensor) -> Vec<i8> {
    (0..req.shape.iter().product::<usize>())
        .map(|_| rng.gen_range(-127..=127i8))
        .collect()
}

fn compacted(bytes: &[u8], g: DfcGeometry) -> Source {
    let source = Source::from_bytes(bytes.to_vec()).unwrap();
    let opts = CompactOptions {
        geometry: g,
        models: None,
        lossy: false,
    };
    let (w, changes) = compact(&source, &opts).unwrap();
    assert!(!changes.is_empty());
    Source::from_bytes(w.to_bytes().unwrap()).unwrap()
}

fn table(source: &Source, pattern: lut_filter::Pattern) -> TableData {
    let m = &source.container().description().models[0];
    let Node::Spatial(s) = &m.nodes[0] else {
        panic!("spatial first node")
    };
    source.spatial_table(&m.name, s, pattern).unwrap()
}

/// A random 4-tuple of 10-bit values inside the band of `g` (fb = 6).
fn in_band(rng: &mut ChaCha8Rng, g: DfcGeometry) -> [u32; 4] {
    let lim = (g.dw as i32) * 64;
    loop {
        let x = rng.gen_range(0..1024i32);
        let mut v = [x as u32; 4];
        let mut ok = true;
        for (k, slot) in v.iter_mut().enumerate().skip(1) {
            let y = if k < g.dims {
                x + rng.gen_range(-lim + 1..=lim)
            } else {
                rng.gen_range(0..1024)
            };
            ok &= (0..1024).contains(&y);
            *slot = y.clamp(0, 1023) as u32;
        }
        if ok {
            return v;
        }
    }
}

#[test]
fn look_ups_inside_the_band_equal_the_regular_table() {
    let regular_bytes = regular_container(7, 1);
    let regular = Source::from_bytes(regular_bytes.clone()).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut checked = 0;
    for dims in 2..=4 {
        for (dw, si) in [(1, 7), (2, 5), (3, 5), (3, 6), (5, 4)] {
            let g = DfcGeometry { dims, dw, si };
            let dfc = compacted(&regular_bytes, g);
            // The index is canonical, hence not stored (format 1.1).
            assert!(
                dfc.container()
                    .tensors()
                    .all(|(n, ..)| !n.ends_with("fine_index"))
            );
            for p in [
                lut_filter::Pattern::S,
                lut_filter::Pattern::D,
                lut_filter::Pattern::Y,
            ] {
                let (r, d) = (table(&regular, p), table(&dfc, p));
                assert_eq!(geometry_of(d.layout()), Some(g));
                let (r, d) = (r.prepared(), d.prepared());
                for _ in 0..400 {
                    let v = in_band(&mut rng, g);
                    let (mut a, mut b) = ([0i32; 1], [0i32; 1]);
                    r.lookup(v, 6, 1, &mut a);
                    d.lookup(v, 6, 1, &mut b);
                    assert_eq!(a, b, "dims {dims} dw {dw} si {si} v {v:?}");
                    assert_eq!(d.locate(v, 6).0, lut_filter::interp::Part::Fine);
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 3 * 5 * 3 * 400);
}

fn filter(c: &Container, luma: &[u16], w: usize, h: usize) -> Vec<u16> {
    let pic = Picture::new(
        Plane::new(luma, w, w, h).unwrap(),
        None,
        None,
        ChromaFormat::Yuv400,
        10,
    )
    .unwrap();
    let mut out = vec![0u16; w * h];
    c.select(Component::Y, 30)
        .unwrap()
        .filter_plane(&pic, &mut PlaneMut::new(&mut out, w, w, h).unwrap())
        .unwrap();
    out
}

/// A smooth picture (neighbours two samples apart differ by less than one 10-bit grid
/// interval, 64) filters identically with the regular and every compacted container.
#[test]
fn a_smooth_picture_filters_identically() {
    let bytes = regular_container(3, 1);
    let regular = Container::from_bytes(bytes.clone()).unwrap();
    let (w, h) = (96, 64);
    let luma: Vec<u16> = (0..w * h)
        .map(|i| {
            let (x, y) = ((i % w) as f64, (i / w) as f64);
            (512.0 + 300.0 * (x / 17.0).sin() * (y / 23.0).cos() + 1.5 * y) as u16
        })
        .collect();
    // Check the premise: every tap pair of the d pattern stays within one interval.
    for y in 0..h {
        for x in 0..w - 2 {
            assert!(luma[y * w + x].abs_diff(luma[y * w + x + 2]) < 64);
        }
    }
    let expect = filter(&regular, &luma, w, h);
    assert_ne!(expect, luma, "the random tables change the picture");
    for dims in 2..=4 {
        for (dw, si) in [(1, 7), (2, 6), (3, 5)] {
            let c = compacted(&bytes, DfcGeometry { dims, dw, si });
            assert_eq!(
                filter(c.container(), &luma, w, h),
                expect,
                "dims {dims} dw {dw} si {si}"
            );
        }
    }
}

/// A DFC table is not re-compacted silently; with --lossy, shrinking the band and coarsening
/// the grid gives exactly what compacting the regular table to the smaller geometry gives.
#[test]
fn dfc_is_refused_without_lossy_and_shrinks_exactly_with_it() {
    let bytes = regular_container(5, 1);
    let big = DfcGeometry {
        dims: 4,
        dw: 3,
        si: 5,
    };
    let small = DfcGeometry {
        dims: 4,
        dw: 2,
        si: 6,
    };
    let dfc = compacted(&bytes, big);
    let opts = CompactOptions {
        geometry: small,
        models: Some("y*".into()),
        lossy: false,
    };
    let err = compact(&dfc, &opts).unwrap_err();
    assert!(matches!(err, CompactError::Lossy { .. }), "{err}");
    assert!(err.to_string().contains("--lossy"), "{err}");
    // Same geometry: nothing to do, not refused.
    let same = CompactOptions {
        geometry: big,
        models: None,
        lossy: false,
    };
    assert!(compact(&dfc, &same).unwrap().1.is_empty());
    // No model matches.
    let none = CompactOptions {
        geometry: small,
        models: Some("u-*".into()),
        lossy: true,
    };
    assert!(matches!(
        compact(&dfc, &none).unwrap_err(),
        CompactError::NoMatch(_)
    ));
    let lossy = CompactOptions {
        lossy: true,
        ..opts
    };
    let (w, _) = compact(&dfc, &lossy).unwrap();
    let shrunk = Source::from_bytes(w.to_bytes().unwrap()).unwrap();
    let direct = compacted(&bytes, small);
    for p in [
        lut_filter::Pattern::S,
        lut_filter::Pattern::D,
        lut_filter::Pattern::Y,
    ] {
        assert_eq!(table(&shrunk, p), table(&direct, p));
    }
    // resample() of the regular table is the plain compaction.
    let regular = Source::from_bytes(bytes).unwrap();
    let t = table(&regular, lut_filter::Pattern::S);
    let TableData::Regular(values) = &t else {
        panic!("regular")
    };
    assert_eq!(values.len(), REGULAR_ROWS);
    let (fine, index, coarse) = small.compact(values, 1);
    assert_eq!(
        resample(&t, 1, small),
        TableData::Dfc {
            geometry: small,
            fine,
            index,
            coarse
        }
    );
}

/// Multi-stage models: every stage is compacted; the model list and the channel-free
/// structure are kept, and the result validates.
#[test]
fn every_stage_of_a_cascade_is_compacted() {
    let bytes = regular_container(9, 3);
    let g = DfcGeometry {
        dims: 3,
        dw: 2,
        si: 6,
    };
    let c = compacted(&bytes, g);
    let m = &c.container().description().models[0];
    assert_eq!(m.nodes.len(), 3);
    for n in &m.nodes {
        let Node::Spatial(s) = n else { panic!() };
        assert_eq!(geometry_of(s.table), Some(g));
    }
    assert!(c.size() < bytes.len() / 5);
}

/// A container of random-table models (component, stages) named `<c>-<stages>`, DFC 4/3/5.
fn random_models(seed: u64, models: &[(Component, usize)]) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut w = ContainerWriter::new();
    for (i, &(c, stages)) in models.iter().enumerate() {
        let desc = presets::cascade(
            &format!("{c}-{stages}"),
            c,
            [10 * i as i32, 10 * i as i32 + 9],
            stages,
            TableLayout::Dfc {
                dims: 4,
                dw: 3,
                si: 5,
            },
            1 << 10,
            12,
        );
        w.add_model(desc, |req| random_table(&mut rng, req))
            .unwrap();
    }
    w.to_bytes().unwrap()
}

#[test]
fn merge_takes_the_selected_components_byte_for_byte() {
    let base = Source::from_bytes(random_models(
        1,
        &[(Component::Y, 1), (Component::U, 1), (Component::V, 1)],
    ))
    .unwrap();
    let take =
        Source::from_bytes(random_models(2, &[(Component::Y, 2), (Component::U, 2)])).unwrap();
    // Adding keeps every base model and appends the taken ones.
    let added = lut_build::merge::merge(&base, &take, &[Component::Y], true).unwrap();
    let added: Vec<String> = added
        .description()
        .models
        .iter()
        .map(|m| m.name.clone())
        .collect();
    assert_eq!(added, ["y-1", "u-1", "v-1", "y-2"]);
    let merged = lut_build::merge::merge(&base, &take, &[Component::Y], false).unwrap();
    let merged = Source::from_bytes(merged.to_bytes().unwrap()).unwrap();
    let names: Vec<&str> = merged
        .container()
        .description()
        .models
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(names, ["u-1", "v-1", "y-2"]);
    for m in &merged.container().description().models {
        let from = if m.component == Component::Y {
            &take
        } else {
            &base
        };
        for req in lut_filter::plan::required_tensors(m) {
            if req.kind == lut_filter::plan::RequiredKind::Table {
                assert_eq!(
                    merged.i8_tensor(&req.name).unwrap(),
                    from.i8_tensor(&req.name).unwrap(),
                    "{}",
                    req.name
                );
            }
        }
    }
}

#[test]
fn merge_can_swap_the_models_of_one_kind_of_picture() {
    use lut_filter::Pictures;
    let mark = |bytes: Vec<u8>, pictures: Pictures, suffix: &str| -> Source {
        let src = Source::from_bytes(bytes).unwrap();
        let mut w = lut_filter::ContainerWriter::new();
        for m in &src.container().description().models {
            let mut d = m.clone();
            d.pictures = pictures;
            d.name = format!("{}{suffix}", d.name);
            w.add_model(d, |req| {
                let old = req
                    .name
                    .replacen(&format!("{}{suffix}", m.name), &m.name, 1);
                src.i8_tensor(&old).unwrap().to_vec()
            })
            .unwrap();
        }
        Source::from_bytes(w.to_bytes().unwrap()).unwrap()
    };
    let all =
        Source::from_bytes(random_models(3, &[(Component::Y, 1), (Component::U, 1)])).unwrap();
    let inter_old = mark(
        random_models(4, &[(Component::Y, 1)]),
        Pictures::Inter,
        "-old",
    );
    let inter_new = mark(
        random_models(5, &[(Component::Y, 1)]),
        Pictures::Inter,
        "-new",
    );
    let base = lut_build::merge::merge(&all, &inter_old, &[Component::Y], true).unwrap();
    let base = Source::from_bytes(base.to_bytes().unwrap()).unwrap();
    let swapped = lut_build::merge::merge_selected(
        &base,
        &inter_new,
        &[Component::Y],
        Some(Pictures::Inter),
        &[],
        false,
    )
    .unwrap();
    let names: Vec<String> = swapped
        .description()
        .models
        .iter()
        .map(|m| m.name.clone())
        .collect();
    assert_eq!(names, ["y-1", "u-1", "y-1-new"]);
    let out = Source::from_bytes(swapped.to_bytes().unwrap()).unwrap();
    for req in lut_filter::plan::required_tensors(&out.container().description().models[2]) {
        if req.kind == lut_filter::plan::RequiredKind::Table {
            assert_eq!(
                out.i8_tensor(&req.name).unwrap(),
                inter_new.i8_tensor(&req.name).unwrap()
            );
        }
    }
}

#[test]
fn merge_replaces_only_the_selected_qp_ranges() {
    // Base: y-1 (QP 0-9), y-2 (QP 10-19); take: y-3 (QP 0-9), y-4 (QP 10-19).
    let base =
        Source::from_bytes(random_models(6, &[(Component::Y, 1), (Component::Y, 2)])).unwrap();
    let take =
        Source::from_bytes(random_models(7, &[(Component::Y, 3), (Component::Y, 4)])).unwrap();
    let merged =
        lut_build::merge::merge_selected(&base, &take, &[Component::Y], None, &[[10, 19]], false)
            .unwrap();
    let models: Vec<(String, [i32; 2])> = merged
        .description()
        .models
        .iter()
        .map(|m| (m.name.clone(), m.qp_range))
        .collect();
    assert_eq!(
        models,
        [("y-1".to_string(), [0, 9]), ("y-4".to_string(), [10, 19])]
    );
}
