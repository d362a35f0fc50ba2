//! Helpers for the end-to-end tests: locating the shared corpus and reading its originals.

use std::path::PathBuf;

/// `../shared/data` beside the repository, if present.
pub fn shared_data() -> Option<PathBuf> {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data"));
    p.join("manifest.tsv").exists().then_some(p)
}

/// One row of `manifest.tsv`.
#[derive(Debug, Clone)]
pub struct Clip {
    /// Clip name (file stem).
    pub name: String,
    /// `train` or `val`.
    pub split: String,
    /// Bit depth of the original.
    pub bit_depth: u8,
}

/// The clips of the corpus manifest.
pub fn manifest(data: &std::path::Path) -> Vec<Clip> {
    let text = std::fs::read_to_string(data.join("manifest.tsv")).expect("manifest.tsv readable");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Clip {
                name: f[0].to_string(),
                split: f[1].to_string(),
                bit_depth: f[4].parse().expect("bit depth"),
            }
        })
        .collect()
}

/// The first frame of a 4:2:0 Y4M as 10-bit planes (8-bit sources shifted left by 2, as VTM's
/// internal bit depth does): (width, height, [Y, U, V]).
pub fn first_frame_10bit(path: &std::path::Path) -> (usize, usize, [Vec<i16>; 3]) {
    let file = std::fs::File::open(path).expect("y4m readable");
    let mut dec = y4m::decode(std::io::BufReader::new(file)).expect("y4m header");
    let (w, h) = (dec.get_width(), dec.get_height());
    let depth = dec.get_bit_depth();
    let frame = dec.read_frame().expect("one frame");
    let conv = |bytes: &[u8]| -> Vec<i16> {
        if depth > 8 {
            bytes
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]))
                .collect()
        } else {
            bytes.iter().map(|&b| i16::from(b) << 2).collect()
        }
    };
    (
        w,
        h,
        [
            conv(frame.get_y_plane()),
            conv(frame.get_u_plane()),
            conv(frame.get_v_plane()),
        ],
    )
}
