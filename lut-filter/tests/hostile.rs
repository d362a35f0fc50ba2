//! Hostile containers: files built with `ContainerWriter`, then corrupted byte by byte or in
//! their header JSON. Every case must be refused at open with one specific typed error and a
//! message that says what is wrong (the matrix of docs/robustness.md; run with
//! `cargo test -p lut-filter --test hostile -- --nocapture` to print it).
//!
//! Also: what happens to an open container when its file is replaced or truncated afterwards,
//! and model selection with extreme QPs (an overflow the `container` fuzz target found).

use std::path::Path;

use lut_filter::description::{ChannelNode, OutputDescription, SpatialNode};
use lut_filter::{
    ChromaFormat, Component, Container, ContainerWriter, Error, ModelDescription, Node, Pattern,
    Picture, Plane, PlaneMut, Sampling, TableLayout,
};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Building and taking apart containers

/// DFC geometry with the smallest tables (421 fine rows, 459 index entries, 81 coarse rows).
const TINY_DFC: TableLayout = TableLayout::Dfc {
    dims: 4,
    dw: 1,
    si: 7,
};

fn tiny_model(name: &str) -> ModelDescription {
    ModelDescription {
        name: name.into(),
        component: Component::Y,
        qp_range: [0, 63],
        pictures: Default::default(),
        bit_depths: [8, 12],
        nodes: vec![Node::Spatial(SpatialNode {
            name: "s".into(),
            input: "in.y".into(),
            patterns: vec![Pattern::S],
            rotations: 1,
            outputs: 1,
            sampling: Sampling::Same,
            table: TINY_DFC,
        })],
        output: OutputDescription {
            terms: vec!["s.0".into()],
            scale: 1 << 12,
            scale_shift: 12,
        },
        notes: String::new(),
    }
}

/// A writer holding one tiny luma model `y` (tensors `y/s/s/{fine,fine_index,coarse}`; the
/// canonical index is stored explicitly, as format 1.0 required, so that cases can corrupt it).
fn writer() -> ContainerWriter {
    let mut w = ContainerWriter::new();
    w.add_model(tiny_model("y"), |req| {
        let n: usize = req.shape.iter().product();
        (0..n)
            .map(|i| (((i * 37) % 200) as i32 - 100) as i8)
            .collect()
    })
    .unwrap();
    let geometry = lut_filter::tables::DfcGeometry {
        dims: 4,
        dw: 1,
        si: 7,
    };
    w.add_index("y/s/s/fine_index", &geometry.fine_index().0);
    w
}

/// Bytes of a valid container (checked by opening it).
fn good() -> Vec<u8> {
    writer().to_bytes().unwrap()
}

/// (header JSON, tensor bytes) of a container.
fn split(bytes: &[u8]) -> (Value, Vec<u8>) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    (header, bytes[8 + n..].to_vec())
}

/// A file from raw header bytes and tensor bytes.
fn join_raw(header: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header);
    out.extend_from_slice(data);
    out
}

fn join(header: &Value, data: &[u8]) -> Vec<u8> {
    join_raw(&serde_json::to_vec(header).unwrap(), data)
}

/// Stores the right CRC of `data` in the header, so that a case reaches the checks behind the
/// checksum.
fn reseal(header: &mut Value, data: &[u8]) {
    header["__metadata__"]["checksum"] = json!(format!("crc32:{:08x}", crc32fast::hash(data)));
}

/// A valid container with its header edited by `edit` (checksum kept right).
fn edit_header(edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let (mut h, data) = split(&good());
    edit(&mut h);
    reseal(&mut h, &data);
    join(&h, &data)
}

/// A valid container with its description JSON edited by `edit`.
fn edit_description(edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    edit_header(|h| {
        let text = h["__metadata__"]["description"].as_str().unwrap();
        let mut d: Value = serde_json::from_str(text).unwrap();
        edit(&mut d);
        h["__metadata__"]["description"] = json!(d.to_string());
    })
}

/// A valid container with the tensor bytes of `name` edited by `edit` (checksum kept right).
fn edit_tensor(name: &str, edit: impl FnOnce(&mut [u8])) -> Vec<u8> {
    let (mut h, mut data) = split(&good());
    let offsets = &h[name]["data_offsets"];
    let (s, e) = (
        offsets[0].as_u64().unwrap() as usize,
        offsets[1].as_u64().unwrap() as usize,
    );
    edit(&mut data[s..e]);
    reseal(&mut h, &data);
    join(&h, &data)
}

// ---------------------------------------------------------------------------------------------
// The matrix

/// One hostile file: what it is, its bytes, the error variant expected and a piece of the
/// message the user sees (the whole message where it is ours).
struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    variant: fn(&Error) -> bool,
    message: String,
}

fn case(
    name: &'static str,
    bytes: Vec<u8>,
    variant: fn(&Error) -> bool,
    message: impl Into<String>,
) -> Case {
    Case {
        name,
        bytes,
        variant,
        message: message.into(),
    }
}

fn malformed(e: &Error) -> bool {
    matches!(e, Error::Malformed(_))
}
fn not_a_container(e: &Error) -> bool {
    matches!(e, Error::NotAContainer(_))
}
fn version(e: &Error) -> bool {
    matches!(e, Error::UnsupportedVersion { .. })
}
fn checksum(e: &Error) -> bool {
    matches!(e, Error::Checksum { .. })
}
fn description(e: &Error) -> bool {
    matches!(e, Error::Description(_))
}
fn model(e: &Error) -> bool {
    matches!(e, Error::Model { .. })
}
fn tensor(e: &Error) -> bool {
    matches!(e, Error::Tensor { .. })
}

fn variant_name(e: &Error) -> &'static str {
    match e {
        Error::Io { .. } => "Io",
        Error::Malformed(_) => "Malformed",
        Error::NotAContainer(_) => "NotAContainer",
        Error::UnsupportedVersion { .. } => "UnsupportedVersion",
        Error::Checksum { .. } => "Checksum",
        Error::Description(_) => "Description",
        Error::Model { .. } => "Model",
        Error::Tensor { .. } => "Tensor",
        _ => "other",
    }
}

fn cases() -> Vec<Case> {
    let good = good();
    let (header, data) = split(&good);
    let header_len = good.len() - data.len() - 8;
    let fine = "y/s/s/fine";
    let index = "y/s/s/fine_index";
    // The first index position whose tuple leaves the 0..=16 grid (stored as -1, never read),
    let geometry = lut_filter::tables::DfcGeometry {
        dims: 4,
        dw: 1,
        si: 7,
    };
    let canonical = geometry.fine_index().0;
    let off_grid = canonical.iter().position(|&r| r < 0).unwrap();
    // The first position on the grid (it must name a fine row).
    let on_grid = canonical.iter().position(|&r| r >= 0).unwrap();
    vec![
        // --- Structure (safetensors) ---
        case(
            "empty file",
            Vec::new(),
            malformed,
            "not a valid LUT container: header too small",
        ),
        case(
            "shorter than the 8-byte length",
            good[..5].to_vec(),
            malformed,
            "not a valid LUT container: header too small",
        ),
        case(
            "truncated inside the header",
            good[..8 + header_len / 2].to_vec(),
            malformed,
            "not a valid LUT container: invalid header length",
        ),
        case(
            "truncated inside the tables",
            good[..good.len() - 100].to_vec(),
            malformed,
            "not a valid LUT container: incomplete metadata, file not fully covered",
        ),
        case(
            "trailing bytes after the tables",
            [&good[..], &[0u8; 16]].concat(),
            malformed,
            "not a valid LUT container: incomplete metadata, file not fully covered",
        ),
        case(
            "header length u64::MAX",
            [&u64::MAX.to_le_bytes()[..], &good[8..]].concat(),
            malformed,
            "not a valid LUT container: header too large",
        ),
        case(
            "header length 100 MB + 1 (over safetensors' limit)",
            [&100_000_001u64.to_le_bytes()[..], &good[8..]].concat(),
            malformed,
            "not a valid LUT container: header too large",
        ),
        case(
            "header not UTF-8",
            {
                let mut b = good.clone();
                b[9] = 0xff;
                b
            },
            malformed,
            "not a valid LUT container: invalid UTF-8 in header",
        ),
        case(
            "header not JSON",
            join_raw(b"{\"__metadata__\": {\"format\": ", &data),
            malformed,
            "not a valid LUT container: invalid JSON in header",
        ),
        case(
            "header JSON nested 10,000 deep",
            join_raw(
                format!("{{\"x\": {}{}}}", "[".repeat(10_000), "]".repeat(10_000)).as_bytes(),
                &data,
            ),
            malformed,
            "recursion limit exceeded",
        ),
        case(
            "metadata value not a string",
            {
                let mut h = header.clone();
                h["__metadata__"]["format"] = json!(1);
                join(&h, &data)
            },
            malformed,
            "not a valid LUT container: invalid JSON in header",
        ),
        case(
            "tensor shape overflows usize",
            edit_header(|h| h[fine]["shape"] = json!([u64::MAX / 2, 4])),
            malformed,
            "overflow computing buffer size from shape and/or element type",
        ),
        case(
            "tensor offsets beyond the file",
            edit_header(|h| h[fine]["data_offsets"] = json!([0, u64::MAX])),
            malformed,
            "not a valid LUT container: invalid offset for tensor",
        ),
        case(
            "tensor offsets overlapping",
            edit_header(|h| {
                let s = h[fine]["data_offsets"][0].as_u64().unwrap();
                h[fine]["data_offsets"][0] = json!(s - 1);
            }),
            malformed,
            "not a valid LUT container: invalid offset for tensor",
        ),
        case(
            "shape disagrees with the byte range (shape 420 rows, 421 bytes)",
            edit_header(|h| h[fine]["shape"] = json!([420, 1])),
            malformed,
            "invalid shape, data type, or offset for tensor",
        ),
        case(
            "plain safetensors file (no metadata)",
            {
                let mut h = header.clone();
                h.as_object_mut().unwrap().remove("__metadata__");
                join(&h, &data)
            },
            not_a_container,
            "not a LUT container: metadata key 'format' is missing (is this a plain safetensors \
             file?)",
        ),
        // --- Our metadata ---
        case(
            "wrong format name",
            edit_header(|h| h["__metadata__"]["format"] = json!("gguf")),
            malformed,
            "not a valid LUT container: format is 'gguf', expected 'lut-ilf'",
        ),
        case(
            "format_version missing",
            edit_header(|h| {
                h["__metadata__"]
                    .as_object_mut()
                    .unwrap()
                    .remove("format_version");
            }),
            not_a_container,
            "not a LUT container: metadata key 'format_version' is missing (is this a plain \
             safetensors file?)",
        ),
        case(
            "format_version 2.0 (unknown major)",
            writer().to_bytes_unchecked(Some("2.0")).unwrap(),
            version,
            "container format version 2.0 is not supported (this build reads 1.x); upgrade \
             lut-filter or rebuild the container",
        ),
        case(
            "format_version not a number",
            writer().to_bytes_unchecked(Some("one")).unwrap(),
            version,
            "container format version one is not supported (this build reads 1.x); upgrade \
             lut-filter or rebuild the container",
        ),
        case(
            "checksum missing",
            {
                let mut h = header.clone();
                h["__metadata__"]
                    .as_object_mut()
                    .unwrap()
                    .remove("checksum");
                join(&h, &data)
            },
            not_a_container,
            "not a LUT container: metadata key 'checksum' is missing (is this a plain \
             safetensors file?)",
        ),
        case(
            "checksum not crc32:<hex>",
            {
                let mut h = header.clone();
                h["__metadata__"]["checksum"] = json!("md5:0123");
                join(&h, &data)
            },
            malformed,
            "not a valid LUT container: checksum 'md5:0123' is not 'crc32:<hex>'",
        ),
        case(
            "one table byte flipped (checksum mismatch)",
            {
                let mut b = good.clone();
                let last = b.len() - 1;
                b[last] ^= 0x55;
                b
            },
            checksum,
            format!(
                "container checksum mismatch: header says {:08x}, tensor bytes give {:08x} \
                 (file corrupted or modified)",
                crc32fast::hash(&data),
                crc32fast::hash(&{
                    let mut d = data.clone();
                    let last = d.len() - 1;
                    d[last] ^= 0x55;
                    d
                })
            ),
        ),
        case(
            "wrong checksum value",
            {
                let mut h = header.clone();
                h["__metadata__"]["checksum"] = json!("crc32:00000000");
                join(&h, &data)
            },
            checksum,
            format!(
                "container checksum mismatch: header says 00000000, tensor bytes give {:08x} \
                 (file corrupted or modified)",
                crc32fast::hash(&data)
            ),
        ),
        case(
            "description missing",
            edit_header(|h| {
                h["__metadata__"]
                    .as_object_mut()
                    .unwrap()
                    .remove("description");
            }),
            not_a_container,
            "not a LUT container: metadata key 'description' is missing (is this a plain \
             safetensors file?)",
        ),
        // --- The description ---
        case(
            "description not JSON",
            edit_header(|h| h["__metadata__"]["description"] = json!("{\"models\": [")),
            description,
            "invalid network description: EOF while parsing",
        ),
        case(
            "description with an unknown node kind",
            edit_description(|d| d["models"][0]["nodes"][0]["kind"] = json!("attention")),
            description,
            "invalid network description: unknown variant `attention`",
        ),
        case(
            "output refers to a node that does not exist",
            edit_description(|d| d["models"][0]["output"]["terms"] = json!(["s9.0"])),
            model,
            "model 'y': map 's9.0' names no earlier node",
        ),
        case(
            "node reads an output index the node lacks",
            edit_description(|d| d["models"][0]["output"]["terms"] = json!(["s.3"])),
            model,
            "model 'y': map 's.3': node 's' has 1 outputs",
        ),
        case(
            "two models with one name",
            edit_description(|d| {
                let m = d["models"][0].clone();
                d["models"].as_array_mut().unwrap().push(m);
            }),
            model,
            "model 'y': model name is used twice",
        ),
        case(
            "bit depths outside 8..=12",
            edit_description(|d| d["models"][0]["bit_depths"] = json!([6, 14])),
            model,
            "model 'y': bit depth range 6..=14 is not within 8..=12",
        ),
        case(
            "DFC geometry out of range (dims 5)",
            edit_description(|d| d["models"][0]["nodes"][0]["table"]["dims"] = json!(5)),
            model,
            "model 'y': node 's': DFC needs dims 2..=4, dw 1..=8, si 4..=7 (got 5, 1, 7)",
        ),
        case(
            "65 nodes",
            edit_description(|d| {
                let n = d["models"][0]["nodes"][0].clone();
                d["models"][0]["nodes"] = json!(vec![n; 65]);
            }),
            model,
            "model 'y': a model has 1 to 64 nodes",
        ),
        case(
            "scale_shift 200",
            edit_description(|d| d["models"][0]["output"]["scale_shift"] = json!(200)),
            model,
            "model 'y': output scale_shift must be at most 24",
        ),
        // --- Tables against the description ---
        case(
            "description references a missing table",
            {
                let mut w = writer();
                w.remove_tensor(fine);
                w.to_bytes_unchecked(None).unwrap()
            },
            tensor,
            "tensor 'y/s/s/fine': missing (the description needs it)",
        ),
        case(
            "description needs 2 outputs, tables hold 1 (table too short)",
            edit_description(|d| d["models"][0]["nodes"][0]["outputs"] = json!(2)),
            tensor,
            "tensor 'y/s/s/fine': has shape [421, 1], the description needs [421, 2]",
        ),
        case(
            "table stored as float32",
            {
                // The table removed, then declared again as one float32 value at the end.
                let mut w = writer();
                w.remove_tensor(fine);
                let (mut h, mut d) = split(&w.to_bytes_unchecked(None).unwrap());
                let start = d.len() as u64;
                d.extend_from_slice(&1.0f32.to_le_bytes());
                h[fine] = json!({"dtype": "F32", "shape": [1], "data_offsets": [start, start + 4]});
                reseal(&mut h, &d);
                join(&h, &d)
            },
            tensor,
            "tensor 'y/s/s/fine': has type Other, expected Table elements",
        ),
        case(
            "DFC index entry points past the fine rows",
            edit_tensor(index, |b| b[..2].copy_from_slice(&9999i16.to_le_bytes())),
            tensor,
            "tensor 'y/s/s/fine_index': entry 0 is 9999, outside the 421 fine rows",
        ),
        case(
            "DFC index entry negative on the grid",
            edit_tensor(index, |b| {
                b[2 * on_grid..2 * on_grid + 2].copy_from_slice(&(-1i16).to_le_bytes())
            }),
            tensor,
            format!("tensor 'y/s/s/fine_index': entry {on_grid} is -1, outside the 421 fine rows"),
        ),
        case(
            "DFC index entry below -1 off the grid",
            edit_tensor(index, |b| {
                b[2 * off_grid..2 * off_grid + 2].copy_from_slice(&i16::MIN.to_le_bytes())
            }),
            tensor,
            format!(
                "tensor 'y/s/s/fine_index': entry {off_grid} is -32768, outside the 421 fine \
                 rows"
            ),
        ),
        case(
            "DFC index stored as int8",
            edit_header(|h| {
                h[index]["dtype"] = json!("I8");
                h[index]["shape"] = json!([918]);
            }),
            tensor,
            "tensor 'y/s/s/fine_index': has type I8, expected FineIndex elements",
        ),
    ]
}

#[test]
fn every_hostile_container_is_refused_with_its_typed_error() {
    let mut failures = Vec::new();
    println!("| case | error | message |\n|---|---|---|");
    for c in cases() {
        match Container::from_bytes(c.bytes.clone()) {
            Ok(_) => failures.push(format!("{}: opened", c.name)),
            Err(e) => {
                let text = e.to_string();
                println!("| {} | `{}` | {} |", c.name, variant_name(&e), text);
                if !(c.variant)(&e) {
                    failures.push(format!("{}: wrong variant {e:?}", c.name));
                }
                if !text.contains(&c.message) {
                    failures.push(format!(
                        "{}: message\n    {text}\n  does not contain\n    {}",
                        c.name, c.message
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Also writes the files to `$LUT_HOSTILE_DUMP` when set (to try them on the command line:
/// docs/robustness.md).
#[test]
fn the_same_files_fail_the_same_way_from_disk_mapped_and_read() {
    let dir = tempfile::tempdir().unwrap();
    let dump = std::env::var_os("LUT_HOSTILE_DUMP").map(std::path::PathBuf::from);
    for (i, c) in cases().into_iter().enumerate() {
        if let Some(d) = &dump {
            std::fs::create_dir_all(d).unwrap();
            let name: String = c
                .name
                .chars()
                .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '_' })
                .collect();
            write(&d.join(format!("{i:02}-{name}.lut")), &c.bytes);
        }
        let path = dir.path().join(format!("{i}.lut"));
        std::fs::write(&path, &c.bytes).unwrap();
        let mapped = Container::open(&path).unwrap_err();
        let read = Container::read(&path).unwrap_err();
        if c.bytes.is_empty() {
            // open refuses an empty file before mapping it (a zero-length map is an error).
            assert!(matches!(mapped, Error::Malformed(_)), "{mapped}");
            assert!(mapped.to_string().ends_with("is empty"), "{mapped}");
        } else {
            assert_eq!(mapped.to_string(), read.to_string(), "{}", c.name);
            assert!((c.variant)(&mapped), "{}: {mapped:?}", c.name);
        }
    }
}

#[test]
fn minor_versions_are_accepted() {
    let bytes = writer().to_bytes_unchecked(Some("1.7")).unwrap();
    let c = Container::from_bytes(bytes).unwrap();
    assert_eq!(c.version(), "1.7");
}

/// Format 1.1: a DFC table without its `fine_index` tensor uses the canonical index, and files
/// that store it (format 1.0) filter identically.
#[test]
fn an_absent_fine_index_is_the_canonical_one() {
    let mut w = writer();
    w.remove_tensor("y/s/s/fine_index");
    let bytes = w.to_bytes().unwrap();
    let without = Container::from_bytes(bytes.clone()).unwrap();
    assert_eq!(without.version(), "1.1");
    assert!(without.tensors().all(|(n, ..)| !n.ends_with("fine_index")));
    let with = Container::from_bytes(writer().to_bytes_unchecked(Some("1.0")).unwrap()).unwrap();
    assert_eq!(with.version(), "1.0");
    // 459 int16 entries (918 bytes) saved, plus the tensor's header entry.
    assert!(with.size() - bytes.len() >= 918);
    assert_eq!(filter_once(&without), filter_once(&with));
    // The plain writer omits it.
    let mut plain = ContainerWriter::new();
    plain
        .add_model(tiny_model("y"), |req| vec![1; req.shape.iter().product()])
        .unwrap();
    let c = Container::from_bytes(plain.to_bytes().unwrap()).unwrap();
    assert_eq!(c.tensors().count(), 2);
}

#[test]
fn missing_unreadable_and_directory_paths_are_io_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.lut");
    for e in [
        Container::open(&missing).unwrap_err(),
        Container::read(&missing).unwrap_err(),
    ] {
        assert!(matches!(e, Error::Io { .. }), "{e:?}");
        assert!(e.to_string().contains("nope.lut"), "{e}");
    }
    // A directory: open() maps it (fails), read() reads it (fails); both are I/O errors.
    for e in [
        Container::open(dir.path()).unwrap_err(),
        Container::read(dir.path()).unwrap_err(),
    ] {
        assert!(matches!(e, Error::Io { .. } | Error::Malformed(_)), "{e:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Files changed after opening

fn filter_once(c: &Container) -> Vec<u16> {
    let (w, h) = (24, 16);
    let luma: Vec<u16> = (0..w * h).map(|i| ((i * 29) % 1024) as u16).collect();
    let pic = Picture::new(
        Plane::new(&luma, w, w, h).unwrap(),
        None,
        None,
        ChromaFormat::Yuv400,
        10,
    )
    .unwrap();
    let mut out = vec![0u16; w * h];
    c.select(Component::Y, 32)
        .unwrap()
        .filter_plane(&pic, &mut PlaneMut::new(&mut out, w, w, h).unwrap())
        .unwrap();
    out
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
}

/// `Container::read` holds its own copy: truncating or rewriting the file afterwards changes
/// nothing (the guarantee `--read-into-memory` / `LUTF_OPEN_READ` give).
#[test]
fn a_read_container_survives_truncation_of_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.lut");
    write(&path, &good());
    let c = Container::read(&path).unwrap();
    let before = filter_once(&c);
    std::fs::File::create(&path).unwrap(); // truncates to 0 bytes in place
    write(&path, b"garbage");
    assert_eq!(filter_once(&c), before);
}

/// `Container::open` maps the file: replacing it by rename (as `write_atomic` and every writer
/// of this workspace do) leaves the mapping on the old inode, which keeps its bytes. (Truncating
/// the mapped file *in place* is what can fault: see docs/robustness.md.)
#[test]
fn a_mapped_container_survives_atomic_replacement_of_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.lut");
    write(&path, &good());
    let c = Container::open(&path).unwrap();
    let before = filter_once(&c);
    let checksum = c.checksum();
    let mut other = ContainerWriter::new();
    other
        .add_model(tiny_model("y"), |req| vec![3; req.shape.iter().product()])
        .unwrap();
    other.write(&path).unwrap();
    assert_eq!(filter_once(&c), before);
    assert_eq!(c.checksum(), checksum);
    assert_ne!(Container::open(&path).unwrap().checksum(), checksum);
}

// ---------------------------------------------------------------------------------------------
// Regression: model selection with extreme QPs

/// Found by the `container` fuzz target: `select` computed `lo - qp` / `qp - hi` in i32, which
/// overflowed for QPs far from the range (a panic in debug builds; in release builds a wrapped,
/// negative distance that picked the wrong model). The C ABI passes any `int` QP through.
#[test]
fn select_with_extreme_qps_does_not_overflow() {
    let mut w = ContainerWriter::new();
    for (name, range) in [
        ("low", [i32::MIN, -10]),
        ("mid", [0, 63]),
        ("high", [100, i32::MAX]),
    ] {
        let mut m = tiny_model(name);
        m.qp_range = range;
        w.add_model(m, |req| vec![0; req.shape.iter().product()])
            .unwrap();
    }
    let c = Container::from_bytes(w.to_bytes().unwrap()).unwrap();
    let pick = |qp: i32| {
        c.select(Component::Y, qp)
            .map(|m| m.description().name.clone())
            .unwrap()
    };
    assert_eq!(pick(i32::MIN), "low");
    assert_eq!(pick(i32::MAX), "high");
    assert_eq!(pick(-5), "low"); // 5 from low, 5 from mid: ties go to the lower range
    assert_eq!(pick(70), "mid");
    assert_eq!(pick(90), "high");

    // Release builds used to wrap `0 - i32::MIN` to a negative distance and pick `pos`.
    let mut w = ContainerWriter::new();
    for (name, range) in [("neg", [-12, -1]), ("pos", [0, 63])] {
        let mut m = tiny_model(name);
        m.qp_range = range;
        w.add_model(m, |req| vec![0; req.shape.iter().product()])
            .unwrap();
    }
    let c = Container::from_bytes(w.to_bytes().unwrap()).unwrap();
    assert_eq!(
        c.select(Component::Y, i32::MIN).unwrap().description().name,
        "neg"
    );
    assert_eq!(
        c.select(Component::Y, i32::MAX).unwrap().description().name,
        "pos"
    );

    let c = Container::from_bytes(good()).unwrap(); // one model, QPs 0..=63
    for qp in [i32::MIN, i32::MIN + 1, -1, 64, i32::MAX] {
        assert_eq!(c.select(Component::Y, qp).unwrap().description().name, "y");
    }
    assert!(c.select(Component::U, i32::MIN).is_none());
}

/// Models for intra or inter pictures only: chosen by the picture's kind, an unknown kind
/// counting as intra; the description keeps the key and the file says format 1.2.
#[test]
fn select_by_picture_kind() {
    use lut_filter::{PictureKind, Pictures};
    let mut w = ContainerWriter::new();
    for (name, range, pictures) in [
        ("all-low", [0, 27], Pictures::All),
        ("all-high", [28, 63], Pictures::All),
        ("inter-high", [33, 63], Pictures::Inter),
        ("intra-mid", [23, 32], Pictures::Intra),
    ] {
        let mut m = tiny_model(name);
        m.qp_range = range;
        m.pictures = pictures;
        w.add_model(m, |req| vec![0; req.shape.iter().product()])
            .unwrap();
    }
    let c = Container::from_bytes(w.to_bytes().unwrap()).unwrap();
    assert_eq!(c.version(), "1.2");
    let pick = |qp: i32, kind: Option<PictureKind>| {
        c.select_for(Component::Y, qp, kind)
            .map(|m| m.description().name.clone())
            .unwrap()
    };
    let (intra, inter) = (Some(PictureKind::Intra), Some(PictureKind::Inter));
    // A specific model before an "all" one at equal distance; never one of the other kind.
    assert_eq!(pick(37, inter), "inter-high");
    assert_eq!(pick(37, intra), "all-high");
    assert_eq!(pick(37, None), "all-high");
    assert_eq!(pick(30, intra), "intra-mid");
    assert_eq!(pick(30, None), "intra-mid");
    assert_eq!(pick(30, inter), "all-high");
    assert_eq!(pick(20, inter), "all-low");
    // Nearest range first: at QP 31 the inter model is 2 away, "all-high" contains it.
    assert_eq!(pick(31, inter), "all-high");
    assert_eq!(
        c.select(Component::Y, 25).unwrap().description().name,
        "intra-mid"
    );
    let json = &c.description().models[2];
    assert_eq!(json.pictures, Pictures::Inter);

    // Only inter models: intra and unknown pictures are not filtered.
    let mut w = ContainerWriter::new();
    let mut m = tiny_model("inter");
    m.pictures = Pictures::Inter;
    w.add_model(m, |req| vec![0; req.shape.iter().product()])
        .unwrap();
    let c = Container::from_bytes(w.to_bytes().unwrap()).unwrap();
    assert!(c.select(Component::Y, 32).is_none());
    assert!(c.select_for(Component::Y, 32, inter).is_some());
    // Without such models the file stays 1.1.
    assert_eq!(Container::from_bytes(good()).unwrap().version(), "1.1");
}

/// A chroma model whose channel node reads luma-grid and chroma-grid maps together is refused
/// (grids must agree) rather than read out of its planes.
#[test]
fn channel_node_mixing_grids_is_refused() {
    let mut m = tiny_model("u");
    m.component = Component::U;
    m.nodes = vec![
        Node::Spatial(SpatialNode {
            name: "s".into(),
            input: "in.u".into(),
            patterns: vec![Pattern::S],
            rotations: 1,
            outputs: 1,
            sampling: Sampling::Same,
            table: TINY_DFC,
        }),
        Node::Channel(ChannelNode {
            name: "c".into(),
            inputs: ["in.y".into(), "in.u".into(), "s.0".into()],
            outputs: 1,
        }),
    ];
    m.output.terms = vec!["c.0".into()];
    let e = ContainerWriter::new()
        .add_model(m, |req| vec![0; req.shape.iter().product()])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "model 'u': node 'c': its three inputs must lie on one grid"
    );
}

// ---------------------------------------------------------------------------------------------
// Regression (fixed): a Y4M header whose size overflows

/// Found by the `y4m` fuzz target (finding Y1 of docs/robustness.md): the `y4m` crate computes
/// `width * height` unchecked, so `lut-filter filter` panics (debug builds: exit 101, a panic
/// message instead of the one-line error) or computes wrapped plane sizes (release builds) on
/// a 36-byte header. The command line must refuse the size before handing the header to the
/// crate: `Reader::open` in `lut-filter/src/bin/lut-filter/y4m_io.rs` now refuses sides above
/// 65,536 first.
#[test]
fn cli_refuses_a_y4m_header_whose_size_overflows() {
    let Some(bin) = option_env!("CARGO_BIN_EXE_lut-filter") else {
        eprintln!("the lut-filter binary is not built (feature cli off): skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("overflow.y4m");
    let output = dir.path().join("out.y4m");
    write(&input, b"YUV4MPEG2 W2 H9223372036854775808\n");
    let out = std::process::Command::new(bin)
        .arg("filter")
        .arg(&input)
        .arg(&output)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("error:"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!output.exists());
}

// ---------------------------------------------------------------------------------------------
// Regression (fixed): an RD-points CSV that did not survive its own writer

/// Found by the `bdrate_logs` fuzz target (finding B1 of docs/robustness.md): a sequence name
/// starting with `#` parses (the name is not the first column), but `write_points_csv` puts the
/// name first, and the parser then reads the row as a comment: the point is silently lost.
/// Fixed in `lut-filter/src/bdrate/points.rs`: the writer puts the QP first, so no data line
/// starts with `#`.
#[test]
fn points_csv_round_trip_keeps_a_sequence_named_with_a_hash() {
    use lut_filter::bdrate::{parse_points_csv, write_points_csv};
    let points = parse_points_csv("qp,sequence,kbps,psnr_y,psnr_u,psnr_v\n7,#a,5,38,42,43\n")
        .expect("parses");
    assert_eq!(points.len(), 1);
    assert_eq!(points[0].sequence, "#a");
    let back = parse_points_csv(&write_points_csv(&points)).expect("parses back");
    assert_eq!(back, points);
}

/// The line patterns `l` and `x` (this project's extension of DESIGN §2): a container using
/// them says format 1.3, keeps them in its description, and a 1.2 reader's view of such a
/// description (an unknown pattern) is refused with a clear error rather than misread.
#[test]
fn line_patterns_write_format_1_3() {
    let mut m = tiny_model("lines");
    if let Node::Spatial(s) = &mut m.nodes[0] {
        s.patterns = vec![Pattern::S, Pattern::L, Pattern::X];
        s.rotations = 4;
    }
    let mut w = ContainerWriter::new();
    w.add_model(m, |req| vec![1; req.shape.iter().product()])
        .unwrap();
    let bytes = w.to_bytes().unwrap();
    let c = Container::from_bytes(bytes.clone()).unwrap();
    assert_eq!(c.version(), "1.3");
    let Node::Spatial(s) = &c.description().models[0].nodes[0] else {
        panic!("a spatial node")
    };
    assert_eq!(s.patterns, [Pattern::S, Pattern::L, Pattern::X]);
    // Without them the version stays 1.1.
    let mut w = ContainerWriter::new();
    w.add_model(tiny_model("y"), |req| vec![1; req.shape.iter().product()])
        .unwrap();
    assert_eq!(
        Container::from_bytes(w.to_bytes().unwrap())
            .unwrap()
            .version(),
        "1.1"
    );
    // A pattern this build does not know is an error naming it.
    let mut bytes = bytes;
    let at = bytes
        .windows(5)
        .position(|w| w == br#"\"x\""#)
        .expect("the pattern in the header's description");
    bytes[at + 2] = b'q';
    let err = Container::from_bytes(bytes).unwrap_err().to_string();
    assert!(err.contains("`q`"), "{err}");
}
