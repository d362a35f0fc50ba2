//! Corpus layer: Annex-B splitting, and (when `../shared/data` is present) decoding small
//! bitstreams, pairing them with their originals and checking the PSNR against the encoder log.

use std::path::{Path, PathBuf};

use lut_build::corpus::annexb::{nal_unit_type, split_nal_units};
use lut_build::corpus::{
    Cache, Config, Corpus, Lookup, Origin, Selection, Split, decode, sequence_psnr,
};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data");

fn data() -> Option<PathBuf> {
    let p = PathBuf::from(DATA);
    if p.join("manifest.tsv").is_file() {
        Some(p)
    } else {
        println!("skipped: ../shared/data absent");
        None
    }
}

#[test]
fn annexb_split_hand_made() {
    let stream = [
        0, 0, 0, 1, 0x00, 0x71, 0xAB, // 4-byte start code
        0, 0, 1, 0x00, 0x79, 0x00, 0x00, 0x03, 0x01, // 3-byte; emulation prevention inside
        0, 0, 1, 0x00, 0x3A, 0xCD, 0x00, // 3-byte; one trailing zero byte
        0, 0, 0, 1, 0x00, 0x81, // 4-byte, last
    ];
    let units = split_nal_units(&stream);
    assert_eq!(units.len(), 4);
    assert_eq!(units[0], &stream[0..7]);
    assert_eq!(units[1], &stream[7..16]);
    assert_eq!(units[2], &stream[16..22]);
    assert_eq!(units[3], &stream[23..]);
    let types: Vec<_> = units.iter().map(|u| nal_unit_type(u).unwrap()).collect();
    assert_eq!(types, [14, 15, 7, 16]);
    // The concatenation of the units is the stream minus the trailing zero.
    assert_eq!(units.concat().len(), stream.len() - 1);
}

fn check_encode(corpus: &Corpus, name: &str, config: Config, qp: u32) {
    let e = corpus.encode(name, config, qp).unwrap();
    let t = std::time::Instant::now();
    let pics = decode(&e.bitstream).unwrap();
    let ms = t.elapsed().as_millis();
    assert_eq!(pics.len(), e.frames, "{}: frame count", e.label());
    let original = corpus.read_original(name).unwrap();
    let psnr = sequence_psnr(&original, &pics);
    println!(
        "{}: {} frames in {ms} ms, PSNR {psnr:.4?}, log {:.4?}",
        e.label(),
        pics.len(),
        e.psnr
    );
    assert!(
        (psnr[0] - e.psnr[0]).abs() <= 0.01,
        "{}: luma PSNR {} vs log {}",
        e.label(),
        psnr[0],
        e.psnr[0]
    );
    for (i, p) in pics.iter().enumerate() {
        assert_eq!(
            p.poc,
            Some(i as i64),
            "{}: POC of output picture {i}",
            e.label()
        );
        let q = p.slice_qp.expect("slice QP from the log");
        assert!(
            (e.slice_qp_range.0..=e.slice_qp_range.1).contains(&q),
            "{}: slice QP {q} outside {:?}",
            e.label(),
            e.slice_qp_range
        );
    }
}

#[test]
fn decode_small_all_intra() {
    let Some(d) = data() else { return };
    let corpus = Corpus::open(&d).unwrap();
    check_encode(&corpus, "cars_128x96", Config::Ai, 37);
    check_encode(&corpus, "vmaf_park", Config::Ai, 22);
}

#[test]
fn decode_small_random_access() {
    let Some(d) = data() else { return };
    let corpus = Corpus::open(&d).unwrap();
    check_encode(&corpus, "vmaf_park", Config::Ra, 32);
    // carphone: first key picture at POC 31, leading pictures before it (output order != coding order).
    check_encode(&corpus, "carphone", Config::Ra, 37);
    // The carphone RA log's first line is POC 31 with slice QP 32 (an I slice).
    let e = corpus.encode("carphone", Config::Ra, 37).unwrap();
    let pics = decode(&e.bitstream).unwrap();
    assert_eq!(pics[31].slice_qp, Some(32));
}

#[test]
fn pairs_through_the_cache() {
    let Some(d) = data() else { return };
    let corpus = Corpus::open(&d).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path());
    let e = corpus.encode("cars_128x96", Config::Ai, 42).unwrap();
    assert_eq!(e.split, Split::Train);

    // First use decodes, the second reads the cache.
    let (a, origin) = corpus.reconstruction(e, &cache, 1).unwrap();
    assert_eq!(origin, Origin::Decoded { replaced: None });
    let (b, origin) = corpus.reconstruction(e, &cache, 1).unwrap();
    assert_eq!(origin, Origin::Cache);
    assert_eq!(a, b);

    // A partial file is detected and redone.
    let path = cache.path_for(&e.sha256);
    let len = std::fs::metadata(&path).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);
    let (c, origin) = corpus.reconstruction(e, &cache, 1).unwrap();
    assert!(matches!(origin, Origin::Decoded { replaced: Some(_) }));
    assert_eq!(a, c);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), len);

    // The pairs API over a selection (two small clips' QP 42 encodes, both configs).
    let sel = Selection::new(Some(Split::Train), None, &[42]);
    let mut sel_small = corpus.select(&sel);
    sel_small.retain(|e| e.name == "cars_128x96" || e.name == "vmaf_park");
    assert_eq!(sel_small.len(), 4);
    let originals = corpus
        .read_originals(sel_small.iter().map(|e| e.name.as_str()))
        .unwrap();
    for e in sel_small {
        let (p, _) = corpus.pair(e, &originals[&e.name], &cache, 1).unwrap();
        assert_eq!(p.frames.len(), e.frames);
        assert!((p.psnr()[0] - e.psnr[0]).abs() <= 0.01, "{}", e.label());
        assert!(
            p.frames
                .iter()
                .all(|f| f.original.width == f.reconstruction.width)
        );
        assert!(
            p.frames
                .iter()
                .all(|f| (e.slice_qp_range.0..=e.slice_qp_range.1).contains(&f.slice_qp))
        );
    }
    assert!(matches!(
        cache.load(&lut_build::corpus::CacheKey {
            sha256: &e.sha256,
            width: 128,
            height: 96,
            frames: e.frames,
        }),
        Ok(Lookup::Hit(_))
    ));
}

#[test]
fn open_reports_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let err = Corpus::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("manifest.tsv"), "{err}");
    let err = Corpus::open(Path::new("/nonexistent/corpus"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nonexistent/corpus"), "{err}");
}
