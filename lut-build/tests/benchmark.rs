//! The offline benchmark end to end on a small clip of `../shared/data` (skipped, saying so, when
//! the corpus is absent): a benchmark list with bitstreams, the same points as Y4M and raw YUV
//! reconstructions, PSNR against the encoder's, the report and its plots, and stored results.

use std::io::Write;
use std::path::{Path, PathBuf};

use lut_build::corpus::list::{ListEntry, read_list};
use lut_build::corpus::{Cache, Config, Corpus, Picture10};
use lut_build::evaluate::{CtuSwitch, EvalRow, Evaluator, PointSource};
use lut_build::report::{Report, plot};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data");
const CLIP: &str = "cars_128x96";
const QPS: [u32; 4] = [22, 27, 32, 37];

fn data() -> Option<PathBuf> {
    let p = PathBuf::from(DATA);
    if p.join("manifest.tsv").is_file() {
        Some(p)
    } else {
        println!("skipped: ../shared/data absent");
        None
    }
}

fn write_y4m10(path: &Path, pics: &[&Picture10]) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let (w, h) = (pics[0].width, pics[0].height);
    writeln!(f, "YUV4MPEG2 W{w} H{h} F30:1 Ip A1:1 C420p10").unwrap();
    for p in pics {
        f.write_all(b"FRAME\n").unwrap();
        for plane in [&p.y, &p.u, &p.v] {
            for s in plane.iter() {
                f.write_all(&s.to_le_bytes()).unwrap();
            }
        }
    }
}

fn write_yuv10(path: &Path, pics: &[&Picture10]) {
    let bytes: Vec<u8> = pics
        .iter()
        .flat_map(|p| p.y.iter().chain(&p.u).chain(&p.v))
        .flat_map(|s| s.to_le_bytes())
        .collect();
    std::fs::write(path, bytes).unwrap();
}

fn measure(points: &[PointSource], cache: &Cache) -> Vec<EvalRow> {
    let container = lut_filter::default_model::open().unwrap();
    let mut rows = Evaluator::new(&container, cache, None)
        .run(points, &|_| {})
        .unwrap();
    rows.sort_by_key(|r| r.qp);
    rows
}

#[test]
fn list_of_bitstreams_y4m_and_yuv_agree_and_report() {
    let Some(data) = data() else { return };
    let corpus = Corpus::open(&data).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let cache = Cache::new(tmp.path().join("cache"));
    let orig = data.join("orig").join(format!("{CLIP}.y4m"));

    // 1. Bitstreams with their logs; the rate comes from the bitstream size.
    let mut list = String::from("sequence\tconfig\tqp\toriginal\treconstruction\tlog\n");
    for qp in QPS {
        let e = corpus.encode(CLIP, Config::Ai, qp).unwrap();
        list.push_str(&format!(
            "{CLIP}\tai\t{qp}\t{}\t{}\t{}\n",
            orig.display(),
            e.bitstream.display(),
            e.log_path().display()
        ));
    }
    let list_path = tmp.path().join("bitstreams.tsv");
    std::fs::write(&list_path, list).unwrap();
    let entries = read_list(&list_path).unwrap();
    let points: Vec<PointSource> = entries.iter().cloned().map(PointSource::List).collect();
    let rows = measure(&points, &cache);
    assert_eq!(rows.len(), 4);
    for r in &rows {
        let e = corpus.encode(CLIP, Config::Ai, r.qp).unwrap();
        assert!(!r.cached);
        assert_eq!(r.frames, e.frames);
        assert!(
            (r.kbps / e.kbps - 1.0).abs() < 0.01,
            "{} vs {}",
            r.kbps,
            e.kbps
        );
        for c in 0..3 {
            assert!(
                (r.psnr_anchor[c] - e.psnr[c]).abs() < 0.01,
                "qp {} c {c}: {} vs log {}",
                r.qp,
                r.psnr_anchor[c],
                e.psnr[c]
            );
        }
        assert_eq!(r.frame_psnr_test.len(), r.frames);
        assert!(r.best_and_worst_frame().is_some());
    }

    // 2. The same points from Y4M (QP 22, 27) and raw YUV (QP 32, 37) reconstructions.
    let evaluator = {
        let container = lut_filter::default_model::open().unwrap();
        let ev = Evaluator::new(&container, &cache, None);
        let mut list =
            String::from("sequence\tconfig\tqp\toriginal\treconstruction\tkbps\tlog\tclass\n");
        for (p, r) in points.iter().zip(&rows) {
            let frames = ev.frames(p).unwrap();
            let pics: Vec<&Picture10> = frames.iter().map(|f| &f.reconstruction).collect();
            let ext = if r.qp <= 27 { "y4m" } else { "yuv" };
            let file = tmp.path().join(format!("rec{}.{ext}", r.qp));
            if ext == "y4m" {
                write_y4m10(&file, &pics);
            } else {
                write_yuv10(&file, &pics);
            }
            let PointSource::List(ListEntry { log, .. }) = p else {
                unreachable!()
            };
            list.push_str(&format!(
                "{CLIP}\tai\t{}\t{}\t{}\t{}\t{}\tC\n",
                r.qp,
                orig.display(),
                file.display(),
                r.kbps,
                log.as_ref().unwrap().display()
            ));
        }
        let path = tmp.path().join("files.tsv");
        std::fs::write(&path, list).unwrap();
        path
    };
    let points2: Vec<PointSource> = read_list(&evaluator)
        .unwrap()
        .into_iter()
        .map(PointSource::List)
        .collect();
    let rows2 = measure(&points2, &cache);
    for (a, b) in rows.iter().zip(&rows2) {
        assert_eq!(a.qp, b.qp);
        assert_eq!(a.frame_psnr_anchor, b.frame_psnr_anchor, "qp {}", a.qp);
        assert_eq!(a.frame_psnr_test, b.frame_psnr_test, "qp {}", a.qp);
        assert_eq!(b.class.as_deref(), Some("C"));
    }

    // 3. A second run uses the stored results, with the same values.
    let again = measure(&points, &cache);
    for (a, b) in rows.iter().zip(&again) {
        assert!(b.cached);
        assert_eq!(a.psnr_test, b.psnr_test);
        assert_eq!(a.kbps, b.kbps);
    }

    // 4. The report: BD-rates, class average, tables, JSON, plots.
    let report = Report::new("default".into(), 1, 2, rows2, &QPS, CtuSwitch::default());
    let cmp = report.bd_rate["ai"].as_ref().unwrap();
    assert_eq!(cmp.sequences.len(), 1);
    assert_eq!(cmp.classes.len(), 1);
    assert!(cmp.overall.y.is_finite());
    let md = report.markdown();
    assert!(md.contains(&format!("| ai | {CLIP} | C |")), "{md}");
    assert!(md.contains("**class C** (1 seq.)"), "{md}");
    assert_eq!(report.points_csv().lines().count(), 5);
    assert!(report.bd_csv().contains("always_on,ai,overall,overall,"));
    assert!(report.bd_csv().contains("ctu_switched,ai,overall,overall,"));
    // The CTU on/off emulation never does worse in distortion than the reconstruction, and it
    // spends at least the picture-level flags.
    for r in &report.rows {
        for (s, a) in r.frame_psnr_switched.iter().zip(&r.frame_psnr_anchor) {
            let sse = |p: f64| 10f64.powf(-p / 10.0);
            assert!(sse(s[0]) <= sse(a[0]) * (1.0 + 1e-9), "qp {}", r.qp);
        }
        assert!(r.kbps_switched > r.kbps);
    }
    let json: serde_json::Value = serde_json::to_value(&report).unwrap();
    assert_eq!(json["rows"].as_array().unwrap().len(), 4);
    let out = tmp.path().join("report");
    std::fs::create_dir_all(&out).unwrap();
    match plot::write_rd_plots(&report, &out) {
        Ok(files) => {
            assert_eq!(files.len(), 2);
            let png = std::fs::read(out.join("rd_ai.png")).unwrap();
            assert_eq!(&png[1..4], b"PNG");
            let svg = std::fs::read_to_string(out.join("rd_ai.svg")).unwrap();
            assert!(svg.contains("<svg") && svg.contains(CLIP));
        }
        Err(plot::PlotError::NoFont) => println!("plots skipped: no TrueType font on this machine"),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn bad_list_rows_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("l.tsv");
    std::fs::write(
        &path,
        "sequence\tconfig\tqp\toriginal\treconstruction\nx\tai\t22\tmissing.y4m\tmissing.266\n",
    )
    .unwrap();
    let points: Vec<PointSource> = read_list(&path)
        .unwrap()
        .into_iter()
        .map(PointSource::List)
        .collect();
    let container = lut_filter::default_model::open().unwrap();
    let cache = Cache::new(tmp.path().join("cache"));
    let err = Evaluator::new(&container, &cache, None)
        .run(&points, &|_| {})
        .unwrap_err();
    assert!(err.to_string().contains("missing.y4m"), "{err}");
}

/// A folder of `<config>/<sequence>_qp<QP>.266` + logs with `orig/` beside: the corpus' own
/// `vvc/` folder is one.
#[test]
fn scanned_folder_lists_the_corpus_bitstreams() {
    let Some(data) = data() else { return };
    let corpus = Corpus::open(&data).unwrap();
    let entries = lut_build::corpus::list::scan_folder(&data.join("vvc")).unwrap();
    assert_eq!(entries.len(), corpus.encodes().len());
    for e in &entries {
        let enc = corpus
            .encode(&e.sequence, e.config.parse().unwrap(), e.qp)
            .unwrap();
        assert_eq!(
            e.reconstruction.canonicalize().unwrap(),
            enc.bitstream.canonicalize().unwrap()
        );
        assert!(e.log.is_some() && e.original.is_file());
        assert_eq!(e.bitstream, None);
    }
    let tmp = tempfile::tempdir().unwrap();
    assert!(lut_build::corpus::list::scan_folder(tmp.path()).is_err());
}

/// Each picture's slice type reaches the filter: with models for every picture plus
/// zero-residual models for inter pictures, a random-access point keeps its B pictures
/// unchanged and filters its I pictures.
#[test]
fn inter_pictures_get_the_inter_models() {
    let Some(data) = data() else { return };
    let corpus = Corpus::open(&data).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let cache = Cache::new(tmp.path().join("cache"));
    let default =
        lut_build::compact::Source::from_bytes(lut_filter::default_model::bytes().to_vec())
            .unwrap();
    let mut writer = lut_filter::ContainerWriter::new();
    for desc in &default.container().description().models {
        if desc.pictures == lut_filter::Pictures::All {
            lut_build::merge::copy_model(&mut writer, &default, desc).unwrap();
        }
    }
    for c in lut_filter::Component::ALL {
        let mut zero = lut_filter::description::presets::cascade(
            &format!("{c}-inter-zero"),
            c,
            [0, 63],
            1,
            lut_filter::TableLayout::Regular,
            0,
            0,
        );
        zero.pictures = lut_filter::Pictures::Inter;
        writer
            .add_model(zero, |req| vec![0; req.shape.iter().product()])
            .unwrap();
    }
    let container = lut_filter::Container::from_bytes(writer.to_bytes().unwrap()).unwrap();
    let point = PointSource::Corpus(corpus.encode(CLIP, Config::Ra, 37).unwrap().clone());
    let ev = Evaluator::new(&container, &cache, Some(&corpus));
    let frames = ev.frames(&point).unwrap();
    let row = ev
        .run(std::slice::from_ref(&point), &|_| {})
        .unwrap()
        .remove(0);
    let (mut intra, mut inter) = (0, 0);
    for (i, f) in frames.iter().enumerate() {
        let (anchor, test) = (row.frame_psnr_anchor[i], row.frame_psnr_test[i]);
        match f.kind {
            Some(lut_filter::PictureKind::Inter) => {
                inter += 1;
                assert_eq!(anchor, test, "inter picture {i} was filtered");
            }
            Some(lut_filter::PictureKind::Intra) => {
                intra += 1;
                assert_ne!(anchor, test, "intra picture {i} was not filtered");
            }
            None => panic!("picture {i}: no slice type from the log"),
        }
    }
    assert!(
        intra >= 1 && inter >= 1,
        "{intra} intra, {inter} inter pictures"
    );
}
