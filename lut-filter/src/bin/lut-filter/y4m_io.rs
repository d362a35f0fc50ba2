//! Y4M reading and writing for the command line.
//!
//! Decoding goes through the `y4m` crate; this module adds what the crate leaves out: a clear
//! message for an unsupported colourspace, detection of a file cut in the middle of a frame (the
//! crate reports that as a plain end of file), samples as `u8` or `u16`, and byte-exact
//! reproduction of the input header (every tag, including interlacing, aspect and `X` comments)
//! and of the per-frame parameters on output.

use std::cell::Cell;
use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read, Write};
use std::path::Path;
use std::rc::Rc;

use anyhow::{Context, Result, anyhow, bail};
use lut_filter::{ChromaFormat, Component, Picture, Plane, Sample};

/// Longest header line the `y4m` crate accepts (its `MAX_PARAMS_SIZE`).
const MAX_HEADER: usize = 1024;
const MAGIC: &[u8] = b"YUV4MPEG2 ";

/// The colourspaces the `y4m` crate reads, as spelled after `C` in a header.
pub const SUPPORTED: &str = "420jpeg, 420mpeg2, 420paldv, 420, 420p10, 420p12, 422, 422p10, \
                             422p12, 444, 444p10, 444p12, mono, mono12";

/// What a stream's header says.
#[derive(Clone, Debug)]
pub struct Info {
    /// Luma width.
    pub width: usize,
    /// Luma height.
    pub height: usize,
    /// Colourspace as parsed by the `y4m` crate.
    pub colorspace: y4m::Colorspace,
    /// Chroma sub-sampling.
    pub chroma_format: ChromaFormat,
    /// Bit depth of the samples (8, 10 or 12).
    pub bit_depth: u8,
    /// Header parameters after `YUV4MPEG2 `, exactly as in the file.
    pub raw_params: Vec<u8>,
    /// Frame rate.
    pub framerate: y4m::Ratio,
}

impl Info {
    /// (width, height) of each plane; (0, 0) for absent chroma planes.
    pub fn plane_sizes(&self) -> [(usize, usize); 3] {
        let c = self.chroma_format.chroma_size(self.width, self.height);
        [(self.width, self.height), c, c]
    }

    /// Number of planes present (1 or 3).
    pub fn plane_count(&self) -> usize {
        if self.chroma_format == ChromaFormat::Yuv400 {
            1
        } else {
            3
        }
    }

    /// Samples in one frame, all planes.
    pub fn samples_per_frame(&self) -> usize {
        self.plane_sizes().iter().map(|(w, h)| w * h).sum()
    }

    /// Bytes of picture data in one frame.
    pub fn frame_bytes(&self) -> usize {
        self.samples_per_frame() * self.bytes_per_sample()
    }

    /// 1 for 8-bit files, 2 (little endian) otherwise.
    pub fn bytes_per_sample(&self) -> usize {
        if self.bit_depth > 8 { 2 } else { 1 }
    }

    /// A short description, e.g. `352x288 C420jpeg 8-bit F30000:1001`.
    pub fn summary(&self) -> String {
        format!(
            "{}x{} {:?} {}-bit F{}",
            self.width, self.height, self.colorspace, self.bit_depth, self.framerate
        )
    }
}

fn chroma_format(cs: y4m::Colorspace) -> Option<ChromaFormat> {
    use y4m::Colorspace as C;
    Some(match cs {
        C::Cmono | C::Cmono12 => ChromaFormat::Yuv400,
        C::C420 | C::C420p10 | C::C420p12 | C::C420jpeg | C::C420paldv | C::C420mpeg2 => {
            ChromaFormat::Yuv420
        }
        C::C422 | C::C422p10 | C::C422p12 => ChromaFormat::Yuv422,
        C::C444 | C::C444p10 | C::C444p12 => ChromaFormat::Yuv444,
        _ => return None,
    })
}

/// A reader that counts the bytes its consumer has taken, shared with the [`Reader`].
struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

type Source = Counting<std::io::Chain<Cursor<Vec<u8>>, BufReader<File>>>;

/// A Y4M file being read frame by frame.
pub struct Reader {
    decoder: y4m::Decoder<Source>,
    info: Info,
    consumed: Rc<Cell<u64>>,
    frame_end: u64,
    frames: usize,
    file_len: u64,
    header_len: u64,
}

/// One frame: its planes (absent chroma planes are empty) and its `FRAME` parameters.
#[derive(Clone, Debug, Default)]
pub struct Frame<T> {
    /// Planes Y, U, V, rows packed (stride = width).
    pub planes: [Vec<T>; 3],
    /// Parameters after `FRAME `, if any.
    pub params: Option<Vec<u8>>,
}

/// A sample type of a Y4M file: `u8` (8-bit) or `u16` (16-bit little endian).
pub trait FileSample: Sample + Default {
    /// Bytes per sample in the file.
    const BYTES: usize;
    /// Decodes `bytes` into `out` (replacing its content).
    fn decode(bytes: &[u8], out: &mut Vec<Self>);
    /// Appends the file bytes of `samples` to `out`.
    fn encode(samples: &[Self], out: &mut Vec<u8>);
}

impl FileSample for u8 {
    const BYTES: usize = 1;
    fn decode(bytes: &[u8], out: &mut Vec<Self>) {
        out.clear();
        out.extend_from_slice(bytes);
    }
    fn encode(samples: &[Self], out: &mut Vec<u8>) {
        out.extend_from_slice(samples);
    }
}

impl FileSample for u16 {
    const BYTES: usize = 2;
    fn decode(bytes: &[u8], out: &mut Vec<Self>) {
        out.clear();
        out.extend(
            bytes
                .chunks_exact(2)
                .map(|b| u16::from_le_bytes([b[0], b[1]])),
        );
    }
    fn encode(samples: &[Self], out: &mut Vec<u8>) {
        out.reserve(samples.len() * 2);
        for s in samples {
            out.extend_from_slice(&s.to_le_bytes());
        }
    }
}

impl Reader {
    /// Opens `path` and parses its header. Errors name no path: the caller adds it.
    pub fn open(path: &Path) -> Result<Reader> {
        let file = File::open(path).context("cannot open")?;
        let meta = file.metadata().context("cannot read its metadata")?;
        if meta.is_dir() {
            bail!("it is a directory, not a Y4M file");
        }
        let file_len = meta.len();
        if file_len == 0 {
            bail!("the file is empty (not a Y4M file)");
        }
        let mut buffered = BufReader::with_capacity(1 << 20, file);
        // Read the header line ourselves, for precise messages; then hand it to the decoder.
        let mut line = Vec::new();
        (&mut buffered)
            .take(MAX_HEADER as u64 + 1)
            .read_until(b'\n', &mut line)
            .context("cannot read the header")?;
        if !line.starts_with(MAGIC) {
            bail!("not a Y4M file: it does not start with 'YUV4MPEG2 '");
        }
        if line.last() != Some(&b'\n') {
            if line.len() > MAX_HEADER {
                bail!("the Y4M header line is longer than {MAX_HEADER} bytes");
            }
            bail!("the Y4M header line is incomplete (the file ends inside it)");
        }
        let header_len = line.len() as u64;
        let tags = String::from_utf8_lossy(&line[MAGIC.len()..line.len() - 1]).into_owned();
        check_frame_size(&tags)?;
        let consumed = Rc::new(Cell::new(0));
        let source = Counting {
            inner: Cursor::new(line).chain(buffered),
            count: consumed.clone(),
        };
        let decoder = y4m::Decoder::new(source).map_err(|e| match e {
            y4m::Error::UnknownColorspace => {
                let c = tags.split(' ').find(|t| t.starts_with('C')).unwrap_or("C?");
                anyhow!("unsupported Y4M colourspace '{c}' (supported: {SUPPORTED})")
            }
            y4m::Error::OutOfMemory => anyhow!("the frame size in the Y4M header is too large"),
            other => anyhow!("malformed Y4M header '{tags}': {other}"),
        })?;
        let colorspace = decoder.get_colorspace();
        let info = Info {
            width: decoder.get_width(),
            height: decoder.get_height(),
            colorspace,
            chroma_format: chroma_format(colorspace).ok_or_else(|| {
                anyhow!("unsupported Y4M colourspace {colorspace:?} (supported: {SUPPORTED})")
            })?,
            bit_depth: decoder.get_bit_depth() as u8,
            raw_params: decoder.get_raw_params().to_vec(),
            framerate: decoder.get_framerate(),
        };
        Ok(Reader {
            decoder,
            frame_end: consumed.get(),
            consumed,
            info,
            frames: 0,
            file_len,
            header_len,
        })
    }

    /// The header.
    pub fn info(&self) -> &Info {
        &self.info
    }

    /// Frame count estimated from the file size (exact when frames carry no parameters).
    pub fn estimated_frames(&self) -> u64 {
        let per_frame = self.info.frame_bytes() as u64 + b"FRAME\n".len() as u64;
        (self.file_len.saturating_sub(self.header_len)) / per_frame
    }

    /// Reads the next frame into `frame`; `Ok(false)` at a clean end of file. A file that ends
    /// inside a frame is an error.
    pub fn read_into<T: FileSample>(&mut self, frame: &mut Frame<T>) -> Result<bool> {
        debug_assert_eq!(T::BYTES, self.info.bytes_per_sample());
        let index = self.frames;
        match self.decoder.read_frame() {
            Ok(f) => {
                let planes = [f.get_y_plane(), f.get_u_plane(), f.get_v_plane()];
                for (dst, src) in frame.planes.iter_mut().zip(planes) {
                    T::decode(src, dst);
                }
                frame.params = f.get_raw_params().map(<[u8]>::to_vec);
            }
            Err(y4m::Error::EOF) => {
                let partial = self.consumed.get() - self.frame_end;
                if partial == 0 {
                    return Ok(false);
                }
                bail!(
                    "truncated Y4M file: frame {index} is incomplete (the file ends {partial} \
                     bytes into it; a frame takes {} bytes)",
                    self.info.frame_bytes() + b"FRAME\n".len()
                );
            }
            Err(y4m::Error::ParseError(_)) => {
                bail!("malformed Y4M: frame {index} does not start with a 'FRAME' line")
            }
            Err(e) => return Err(anyhow!("frame {index}: {e}")),
        }
        self.frame_end = self.consumed.get();
        self.frames += 1;
        Ok(true)
    }

    /// Counts the frames left (used to report frame-count mismatches).
    pub fn count_remaining(&mut self) -> Result<usize> {
        let mut n = 0;
        loop {
            match self.decoder.read_frame() {
                Ok(_) => n += 1,
                Err(y4m::Error::EOF) => return Ok(n),
                Err(e) => return Err(anyhow!("frame {}: {e}", self.frames + n)),
            }
        }
    }
}

/// Builds the library's view of a frame.
pub fn picture<'a, T: Sample>(info: &Info, frame: &'a Frame<T>) -> Result<Picture<'a, T>> {
    let sizes = info.plane_sizes();
    let plane = |i: usize| -> Result<Option<Plane<'a, T>>> {
        if i > 0 && info.chroma_format == ChromaFormat::Yuv400 {
            return Ok(None);
        }
        let (w, h) = sizes[i];
        Ok(Some(Plane::new(&frame.planes[i], w, w, h)?))
    };
    let y = plane(0)?.expect("luma is always present");
    Ok(Picture::new(
        y,
        plane(1)?,
        plane(2)?,
        info.chroma_format,
        info.bit_depth,
    )?)
}

/// Writes Y4M to a byte sink, header and per-frame parameters as read.
pub struct Writer<W> {
    out: W,
    scratch: Vec<u8>,
}

impl<W: Write> Writer<W> {
    /// Writes the header (`YUV4MPEG2 ` and the input's parameters, byte for byte).
    pub fn new(mut out: W, info: &Info) -> std::io::Result<Self> {
        out.write_all(MAGIC)?;
        out.write_all(&info.raw_params)?;
        out.write_all(b"\n")?;
        Ok(Writer {
            out,
            scratch: Vec::new(),
        })
    }

    /// Writes one frame of `planes`, with the `FRAME` parameters `params`.
    pub fn write_frame<T: FileSample>(
        &mut self,
        planes: [&[T]; 3],
        params: Option<&[u8]>,
    ) -> std::io::Result<()> {
        self.out.write_all(b"FRAME")?;
        if let Some(p) = params {
            self.out.write_all(b" ")?;
            self.out.write_all(p)?;
        }
        self.out.write_all(b"\n")?;
        for p in planes {
            self.scratch.clear();
            T::encode(p, &mut self.scratch);
            self.out.write_all(&self.scratch)?;
        }
        Ok(())
    }
}

/// Whether the file has a plane for `c` (mono files have no chroma).
pub fn has_plane(info: &Info, c: Component) -> bool {
    c == Component::Y || info.chroma_format != ChromaFormat::Yuv400
}

/// Largest accepted picture side: the y4m crate multiplies width and height without overflow
/// checks, so absurd sizes are refused here, before it sees them.
const MAX_SIDE: u64 = 1 << 16;

/// Refuses `W`/`H` header tags that are zero or larger than [`MAX_SIDE`] (the decoder reports
/// malformed ones).
fn check_frame_size(tags: &str) -> Result<()> {
    for t in tags.split(' ') {
        let (name, value) = match t.as_bytes().first() {
            Some(b'W') => ("width", &t[1..]),
            Some(b'H') => ("height", &t[1..]),
            _ => continue,
        };
        if let Ok(v) = value.parse::<u128>()
            && !(1..=u128::from(MAX_SIDE)).contains(&v)
        {
            bail!("the Y4M header's {name} {v} is out of range (1..={MAX_SIDE})");
        }
    }
    Ok(())
}
