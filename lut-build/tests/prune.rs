//! Pruning: the tracer equals the runtime bit for bit, access counts add up, threshold 0 is
//! lossless, and the statistics do not depend on the thread count (on the corpus, when
//! `../shared/data` is present).

use std::path::PathBuf;

use lut_build::compact::{Source, geometry_of};
use lut_build::corpus::{Cache, Corpus, Picture10, Selection, Split};
use lut_build::pipeline::filter_picture;
use lut_build::prune::trace::{ModelTables, trace};
use lut_build::prune::{Sampling, apply, choose, collect, collect_on};
use lut_filter::description::presets;
use lut_filter::{Component, ContainerWriter, TableLayout};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const DFC: TableLayout = TableLayout::Dfc {
    dims: 4,
    dw: 3,
    si: 5,
};

/// Luma: the reference architecture (DFC 4/2/6, channel node, 7 spatial nodes); U: the
/// cross-component chroma model (regular tables, chroma from luma); V: one DFC stage.
fn container(seed: u64) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut w = ContainerWriter::new();
    let small = TableLayout::Dfc {
        dims: 4,
        dw: 2,
        si: 6,
    };
    let models = [
        presets::luma_reference("y", [0, 63], small, 1 << 9, 12),
        presets::chroma_cross_component(
            "u",
            Component::U,
            [0, 63],
            TableLayout::Regular,
            1 << 9,
            12,
        ),
        presets::cascade("v", Component::V, [0, 63], 1, DFC, 1 << 11, 12),
    ];
    for m in models {
        w.add_model(m, |req| {
            (0..req.shape.iter().product::<usize>())
                .map(|_| rng.gen_range(-60..=60i8))
                .collect()
        })
        .unwrap();
    }
    w.to_bytes().unwrap()
}

/// A natural-ish 10-bit picture: smooth areas, edges and noise.
fn picture(seed: u64, w: usize, h: usize) -> Picture10 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut p = Picture10::zeroed(w, h);
    for c in 0..3 {
        let (pw, ph) = p.plane_size(c);
        let plane = p.plane_mut(c);
        for y in 0..ph {
            for x in 0..pw {
                let base = if (x / 7 + y / 5) % 3 == 0 {
                    700.0
                } else {
                    300.0
                };
                let v = base + 80.0 * ((x + c) as f64 / 6.0).sin() + rng.gen_range(-20.0..20.0);
                plane[y * pw + x] = (v as i32).clamp(0, 1023) as u16;
            }
        }
    }
    p.slice_qp = Some(32);
    p
}

#[test]
fn the_tracer_filters_like_the_runtime() {
    let source = Source::from_bytes(container(1)).unwrap();
    let pic = picture(2, 37, 22);
    let expect = filter_picture(source.container(), &pic, 32, None);
    for (c, m) in source.container().description().models.iter().enumerate() {
        let tables = ModelTables::load(&source, m).unwrap();
        let mut n = 0u64;
        let out = trace(&tables, &pic, 1, &mut |_| n += 1).unwrap();
        assert_eq!(out, expect.plane(c), "model {}", m.name);
        assert_ne!(out, pic.plane(c), "model {} changes the picture", m.name);
        assert!(n > 0);
    }
}

#[test]
fn counts_add_up_and_threshold_zero_is_lossless() {
    let bytes = container(3);
    let source = Source::from_bytes(bytes.clone()).unwrap();
    let pics = [picture(4, 40, 24), picture(5, 40, 24)];
    let stats = collect_on(
        &source,
        &pics,
        32,
        &Sampling {
            step: 1,
            frame_step: 1,
        },
    )
    .unwrap();
    assert_eq!(stats.planes, 6);
    // V: one stage, 3 patterns, 4 rotations, every chroma sample of both pictures.
    let v = stats.models[2][0].as_ref().unwrap();
    for t in &v.tables {
        assert_eq!(t.lookups, 2 * 20 * 12 * 4);
        assert_eq!(t.need_dw.iter().sum::<u64>(), t.lookups);
        let reads: u64 = t.fine_rows.iter().chain(&t.coarse_rows).sum();
        assert!(reads >= t.lookups && reads <= 5 * t.lookups);
        assert!(t.coarse_lookups > 0 && t.coarse_lookups < t.lookups);
        assert_eq!(t.sq_change[0], 0);
        // Look-ups needing more than the band's half-width are exactly the coarse ones.
        assert_eq!(t.need_dw[4..].iter().sum::<u64>(), t.coarse_lookups);
    }
    // Threshold 0: only changes that leave every counted look-up as it was (a narrower band
    // where no look-up needed the outer nodes), so the output on the counted pictures is the
    // same; the V node keeps its coarse grid (it serves look-ups, which a coarser one changes).
    let choices = choose(&stats, 0.0);
    assert!(
        choices
            .iter()
            .all(|c| c.from == c.to || c.rms_change == 0.0)
    );
    let v_zero = choices.iter().find(|c| c.model == "v").unwrap();
    assert_eq!(geometry_of(v_zero.to).unwrap().si, 5);
    let zero = Source::from_bytes(apply(&source, &choices).unwrap().to_bytes().unwrap()).unwrap();
    assert!(zero.size() <= bytes.len());
    for p in &pics {
        assert_eq!(
            filter_picture(zero.container(), p, 32, None),
            filter_picture(source.container(), p, 32, None)
        );
    }
    // A huge threshold: every DFC node takes its smallest candidate, and the file shrinks.
    let choices = choose(&stats, 1e9);
    for c in &choices {
        if let Some(g) = geometry_of(c.from) {
            let to = geometry_of(c.to).unwrap();
            assert_eq!(
                (to.dims, to.dw, to.si),
                (g.dims, 1, 7),
                "{}/{}",
                c.model,
                c.node
            );
            assert!(c.bytes_to < c.bytes_from);
        }
    }
    let pruned = apply(&source, &choices).unwrap().to_bytes().unwrap();
    assert!(pruned.len() < zero.size());
    // Random tables: the smaller geometry does change the V node's look-ups.
    let v_choice = choices.iter().find(|c| c.model == "v").unwrap();
    assert!(v_choice.rms_change > 0.0);
}

fn data() -> Option<PathBuf> {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data"));
    if p.join("manifest.tsv").is_file() {
        Some(p)
    } else {
        println!("skipped: ../shared/data absent");
        None
    }
}

/// On real reconstructions: the same statistics (hence choices) with 1 and 2 threads.
#[test]
fn corpus_statistics_do_not_depend_on_the_thread_count() {
    let Some(dir) = data() else { return };
    let corpus = Corpus::open(&dir).unwrap();
    let sel = Selection::new(Some(Split::Train), None, &[22, 42]);
    let encodes: Vec<_> = corpus
        .select(&sel)
        .into_iter()
        .filter(|e| e.name == "cars_128x96")
        .collect();
    assert_eq!(encodes.len(), 4);
    let cache = Cache::from_env();
    let source = Source::from_bytes(container(6)).unwrap();
    let sampling = Sampling {
        step: 3,
        frame_step: 4,
    };
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| collect(&source, &corpus, &encodes, &cache, &sampling, &|| {}))
            .unwrap()
    };
    let (one, two) = (run(1), run(2));
    let json = |s| serde_json::to_string(&choose(s, 0.7)).unwrap();
    assert_eq!(json(&one), json(&two));
    assert!(one.planes > 0);
    let v = one.models[2][0].as_ref().unwrap();
    assert!(v.tables[0].lookups > 0);
}
