//! Reading Y4M originals into 10-bit pictures.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use y4m::Colorspace;

use super::error::{CorpusError, Result};
use super::picture::Picture10;

/// Reads a 4:2:0 Y4M file (8-bit `C420jpeg` / `C420mpeg2` / `C420paldv` / `C420`, or 10-bit
/// `C420p10` with 16-bit little-endian samples) into 10-bit pictures.
///
/// 8-bit samples are shifted left by 2 (VTM's MSB extension of 8-bit input); 10-bit samples are
/// kept, and a value above 1023 is an error.
pub fn read_y4m(path: &Path) -> Result<Vec<Picture10>> {
    let file = File::open(path).map_err(|e| CorpusError::io(path, e))?;
    read_y4m_from(BufReader::new(file), path)
}

/// [`read_y4m`] on any reader (`path` is for messages).
pub fn read_y4m_from<R: Read>(reader: R, path: &Path) -> Result<Vec<Picture10>> {
    let y4m_err = |source| CorpusError::Y4m {
        path: path.to_owned(),
        source,
    };
    let format_err = |msg: String| CorpusError::Y4mFormat {
        path: path.to_owned(),
        msg,
    };
    let mut dec = y4m::Decoder::new(reader).map_err(y4m_err)?;
    let (width, height) = (dec.get_width(), dec.get_height());
    let cs = dec.get_colorspace();
    let shift = match cs {
        Colorspace::C420 | Colorspace::C420jpeg | Colorspace::C420mpeg2 | Colorspace::C420paldv => {
            2
        }
        Colorspace::C420p10 => 0,
        other => {
            return Err(format_err(format!(
                "colour space {other:?} (4:2:0 8 or 10 bit)"
            )));
        }
    };
    if !width.is_multiple_of(2) || !height.is_multiple_of(2) {
        return Err(format_err(format!("odd size {width}x{height}")));
    }
    let bytes = cs.get_bytes_per_sample();
    let mut pictures = Vec::new();
    loop {
        let frame = match dec.read_frame() {
            Ok(f) => f,
            Err(y4m::Error::EOF) => break,
            Err(e) => return Err(y4m_err(e)),
        };
        let mut pic = Picture10::zeroed(width, height);
        let src = [
            frame.get_y_plane(),
            frame.get_u_plane(),
            frame.get_v_plane(),
        ];
        for (c, s) in src.into_iter().enumerate() {
            let dst = pic.plane_mut(c);
            if s.len() != dst.len() * bytes {
                return Err(format_err(format!(
                    "frame {}: plane {c} has {} bytes, expected {}",
                    pictures.len(),
                    s.len(),
                    dst.len() * bytes
                )));
            }
            if bytes == 1 {
                for (d, &v) in dst.iter_mut().zip(s) {
                    *d = u16::from(v) << shift;
                }
            } else {
                for (d, v) in dst.iter_mut().zip(s.chunks_exact(2)) {
                    *d = u16::from_le_bytes([v[0], v[1]]);
                }
                if let Some(bad) = dst.iter().find(|&&v| v > 1023) {
                    return Err(format_err(format!(
                        "frame {}: 10-bit sample value {bad} > 1023",
                        pictures.len()
                    )));
                }
            }
        }
        pictures.push(pic);
    }
    Ok(pictures)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y4m_bytes(header: &str, frames: &[Vec<u8>]) -> Vec<u8> {
        let mut v = format!("YUV4MPEG2 {header}\n").into_bytes();
        for f in frames {
            v.extend_from_slice(b"FRAME\n");
            v.extend_from_slice(f);
        }
        v
    }

    #[test]
    fn eight_bit_is_msb_extended() {
        // 4x2 luma + 2x1 + 2x1 chroma = 12 bytes per frame.
        let f: Vec<u8> = (0..12).map(|i| i * 20).collect();
        let data = y4m_bytes("W4 H2 F25:1 C420jpeg", &[f.clone(), f]);
        let p = read_y4m_from(&data[..], Path::new("t.y4m")).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].y, [0, 80, 160, 240, 320, 400, 480, 560]);
        assert_eq!(p[0].u, [640, 720]);
        assert_eq!(p[1].v, [800, 880]);
    }

    #[test]
    fn ten_bit_little_endian() {
        let samples: [u16; 12] = [0, 1, 2, 3, 1023, 512, 4, 5, 6, 7, 8, 9];
        let f: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let data = y4m_bytes("W4 H2 F25:1 C420p10", &[f]);
        let p = read_y4m_from(&data[..], Path::new("t.y4m")).unwrap();
        assert_eq!(p[0].y, samples[..8]);
        assert_eq!(p[0].u, [6, 7]);
        assert_eq!(p[0].v, [8, 9]);
        let bad: Vec<u8> = [2000u16; 12].iter().flat_map(|s| s.to_le_bytes()).collect();
        let data = y4m_bytes("W4 H2 F25:1 C420p10", &[bad]);
        assert!(read_y4m_from(&data[..], Path::new("t.y4m")).is_err());
        let data = y4m_bytes("W4 H2 F25:1 C444", &[vec![0; 24]]);
        assert!(matches!(
            read_y4m_from(&data[..], Path::new("t.y4m")),
            Err(CorpusError::Y4mFormat { .. })
        ));
    }
}
