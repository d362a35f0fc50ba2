//! Row kernels of the engine, portable and SIMD, and the choice between them.
//!
//! The engine evaluates a node one look-up (pattern and rotation) at a time over all rows of
//! the node's rectangle in a tile ([`SpatialKernel::rows`]; channel nodes: [`trilinear_row`]),
//! then [`requantise_row`] turns the node's sums into features and [`residual_row`] turns the
//! output sums into residuals. Every kernel has a portable version (the reference the SIMD
//! versions are tested against, and the path used on any CPU) and, on x86-64, an AVX2 version
//! processing 8 samples at once; the AVX-512 level runs the 4-simplex look-ups 16 samples at
//! once and is AVX2 elsewhere. All are bit-exact for every input (`tests/simd_vs_portable.rs`);
//! the portable path is itself compared with [`crate::reference`] through the engine. Design
//! and measurements: `docs/performance.md`.
//!
//! **Choosing the level.** [`Level::active`] is what the engine uses by default: the best level
//! the CPU supports (detected once at run time with `is_x86_feature_detected!`), unless the
//! environment variable `LUT_FILTER_SIMD` says otherwise: `portable` forces the portable path,
//! `avx2` or `avx512` asks for that level (portable where the CPU lacks it), `auto` (or unset)
//! detects. Tests and benchmarks choose per call with [`crate::Model::filter_region_with`] or
//! the `level` argument of the kernels; a level the CPU does not support runs the portable
//! path.

use std::sync::OnceLock;

use crate::interp::PreparedTable;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod portable;

/// The environment variable that forces a level: `portable`, `avx2`, `avx512` or `auto`.
pub const ENV: &str = "LUT_FILTER_SIMD";

/// An instruction-set level of the row kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// Plain Rust, any CPU.
    Portable,
    /// x86-64 AVX2: 8 samples per step, table reads by gathers.
    Avx2,
    /// x86-64 AVX-512 (F, BW): the 4-simplex look-up of 16 samples per step where a chunk's
    /// lanes share one table layout; the other kernels and chunks as [`Level::Avx2`].
    Avx512,
}

impl Level {
    /// Every level, portable first.
    pub const ALL: [Level; 3] = [Level::Portable, Level::Avx2, Level::Avx512];

    /// The best level this CPU supports.
    pub fn detected() -> Level {
        [Level::Avx512, Level::Avx2]
            .into_iter()
            .find(|l| l.is_supported())
            .unwrap_or(Level::Portable)
    }

    /// The level the engine uses by default: [`ENV`] if set to a known level (a level this CPU
    /// lacks falls back to portable), else [`Level::detected`]. Read once per process.
    pub fn active() -> Level {
        static ACTIVE: OnceLock<Level> = OnceLock::new();
        *ACTIVE.get_or_init(|| {
            match std::env::var(ENV)
                .ok()
                .and_then(|v| v.parse::<Choice>().ok())
            {
                Some(Choice::Level(l)) => l.supported_or_portable(),
                Some(Choice::Auto) | None => Level::detected(),
            }
        })
    }

    /// Whether this CPU can run the level.
    pub fn is_supported(self) -> bool {
        match self {
            Level::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => avx2::Token::new().is_some(),
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => avx512::Token::new().is_some(),
            #[cfg(not(target_arch = "x86_64"))]
            Level::Avx2 | Level::Avx512 => false,
        }
    }

    /// The levels this CPU can run, portable first.
    pub fn supported() -> Vec<Level> {
        Level::ALL
            .into_iter()
            .filter(|l| l.is_supported())
            .collect()
    }

    /// This level if the CPU supports it, else portable: what a call at this level runs.
    pub fn supported_or_portable(self) -> Level {
        if self.is_supported() {
            self
        } else {
            Level::Portable
        }
    }

    /// Lower-case name (`portable`, `avx2`, `avx512`).
    pub fn name(self) -> &'static str {
        match self {
            Level::Portable => "portable",
            Level::Avx2 => "avx2",
            Level::Avx512 => "avx512",
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A level, or automatic detection: what `LUT_FILTER_SIMD` and `--simd` accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// [`Level::detected`].
    Auto,
    /// This level (portable where unsupported).
    Level(Level),
}

impl Choice {
    /// The level this choice runs at on this CPU.
    pub fn level(self) -> Level {
        match self {
            Choice::Auto => Level::detected(),
            Choice::Level(l) => l.supported_or_portable(),
        }
    }
}

impl std::str::FromStr for Choice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Choice::Auto),
            "portable" | "scalar" | "none" => Ok(Choice::Level(Level::Portable)),
            "avx2" => Ok(Choice::Level(Level::Avx2)),
            "avx512" | "avx-512" => Ok(Choice::Level(Level::Avx512)),
            other => Err(format!(
                "unknown SIMD level '{other}' (expected auto, portable, avx2 or avx512)"
            )),
        }
    }
}

/// The tap values of a row of samples: sample `x`'s tap `t` is `data[start[t] + x * step]`.
#[derive(Clone, Copy, Debug)]
pub struct RowTaps<'a> {
    /// The map the taps read (values with the look-up's fraction bits).
    pub data: &'a [u16],
    /// Index in `data` of each tap of sample 0.
    pub start: [usize; 4],
    /// Distance in `data` between consecutive samples' taps (1, or 2 for a chroma-from-luma
    /// reduction on a horizontally sub-sampled grid).
    pub step: usize,
}

impl RowTaps<'_> {
    /// The taps of row `y` of a block whose rows are `pitch` apart in the map.
    #[inline]
    pub fn row(&self, y: usize, pitch: usize) -> Self {
        RowTaps {
            start: self.start.map(|s| s + y * pitch),
            ..*self
        }
    }

    /// The four tap values of sample `x`.
    #[inline(always)]
    pub fn values(&self, x: usize) -> [u32; 4] {
        self.start.map(|s| u32::from(self.data[s + x * self.step]))
    }
}

/// The kernels of one resolved level (resolved once per call by the engine).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kernels {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2(avx2::Token),
    #[cfg(target_arch = "x86_64")]
    Avx512(avx512::Token),
}

impl Kernels {
    /// The kernels of `level`, or the portable ones where the CPU lacks it.
    pub(crate) fn new(level: Level) -> Kernels {
        match level {
            Level::Portable => Kernels::Portable,
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => avx2::Token::new().map_or(Kernels::Portable, Kernels::Avx2),
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => {
                avx512::Token::new().map_or_else(|| Kernels::new(Level::Avx2), Kernels::Avx512)
            }
            #[cfg(not(target_arch = "x86_64"))]
            Level::Avx2 | Level::Avx512 => Kernels::Portable,
        }
    }

    /// The AVX2 token of this level's requantisation and residual kernels (AVX-512 uses
    /// AVX2's, and AVX2's channel-node kernel where its own does not apply), `None` for the
    /// portable ones.
    #[cfg(target_arch = "x86_64")]
    fn avx2(self) -> Option<avx2::Token> {
        match self {
            Kernels::Portable => None,
            Kernels::Avx2(t) => Some(t),
            Kernels::Avx512(t) => Some(t.avx2()),
        }
    }

    /// Whether the spatial kernel reads DFC rows laid out by position
    /// ([`PreparedTable::with_dense`]) when a table carries them.
    pub(crate) fn reads_dense(self) -> bool {
        !matches!(self, Kernels::Portable)
    }

    /// Whether the spatial kernel reads 1- and 2-output DFC tables as cubes
    /// ([`PreparedTable::with_cubes`]) when a table carries them.
    pub(crate) fn reads_cubes(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        return matches!(self, Kernels::Avx512(_));
        #[cfg(not(target_arch = "x86_64"))]
        false
    }

    /// See [`trilinear_row`].
    pub(crate) fn trilinear_row(
        self,
        table: &[i8],
        k: usize,
        inputs: [(&[u16], u32); 3],
        n: usize,
        acc: &mut [i32],
        stride: usize,
    ) {
        check_acc(n, k, acc.len(), stride);
        assert!(
            inputs.iter().all(|(d, _)| d.len() >= n),
            "trilinear_row: inputs shorter than the row"
        );
        #[cfg(target_arch = "x86_64")]
        if let Kernels::Avx512(t) = self {
            return avx512::trilinear_row(t, table, k, inputs, n, acc, stride);
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(t) = self.avx2() {
            return avx2::trilinear_row(t, table, k, inputs, n, acc, stride);
        }
        portable::trilinear_row(table, k, inputs, n, acc, stride)
    }

    /// See [`requantise_row`].
    #[inline]
    pub(crate) fn requantise_row(self, raw: &[i32], terms: u32, out: &mut [u16]) {
        assert!(raw.len() >= out.len(), "requantise_row: raw row too short");
        assert!(
            (1..=1 << 16).contains(&terms),
            "requantise_row: 1 to 65536 terms"
        );
        #[cfg(target_arch = "x86_64")]
        if let Some(t) = self.avx2() {
            return avx2::requantise_row(t, raw, terms, out);
        }
        portable::requantise_row(raw, terms, out)
    }

    /// See [`residual_row`].
    #[inline]
    pub(crate) fn residual_row(
        self,
        sums: &[i32],
        scale: i32,
        scale_shift: u8,
        bit_depth: u8,
        out: &mut [i32],
    ) {
        assert!(sums.len() >= out.len(), "residual_row: sum row too short");
        assert!(scale_shift <= 24, "residual_row: scale_shift is at most 24");
        assert!(
            (8..=12).contains(&bit_depth),
            "residual_row: bit depth 8..=12"
        );
        #[cfg(target_arch = "x86_64")]
        if let Some(t) = self.avx2() {
            return avx2::residual_row(t, sums, scale, scale_shift, bit_depth, out);
        }
        portable::residual_row(sums, scale, scale_shift, bit_depth, out)
    }
}

impl Kernels {
    /// The engine's tile input: `dst[x] = clamp(src[x], 0, max)` for 16-bit samples, read as
    /// i16 where `signed` (VTM's `Pel`), else as u16.
    #[inline]
    pub(crate) fn clamp_row(self, src: &[u16], signed: bool, max: u16, dst: &mut [u16]) {
        assert!(src.len() >= dst.len(), "clamp_row: source row too short");
        #[cfg(target_arch = "x86_64")]
        if let Some(t) = self.avx2() {
            return avx2::clamp_row(t, src, signed, max, dst);
        }
        portable::clamp_row(src, signed, max, dst)
    }

    /// The engine's output: `dst[x] = clamp(clamp(src[x], 0, max) + residual[x], 0, max)` for
    /// 16-bit samples (as [`Kernels::clamp_row`]).
    #[inline]
    pub(crate) fn add_residual_row(
        self,
        src: &[u16],
        signed: bool,
        residual: &[i32],
        max: u16,
        dst: &mut [u16],
    ) {
        assert!(
            src.len() >= dst.len() && residual.len() >= dst.len(),
            "add_residual_row: rows too short"
        );
        #[cfg(target_arch = "x86_64")]
        if let Some(t) = self.avx2() {
            return avx2::add_residual_row(t, src, signed, residual, max, dst);
        }
        portable::add_residual_row(src, signed, residual, max, dst)
    }
}

fn check_acc(n: usize, k: usize, len: usize, stride: usize) {
    assert!((1..=8).contains(&k), "spatial_row: 1 to 8 outputs");
    assert!(
        n == 0 || (stride >= n && (k - 1) * stride + n <= len),
        "spatial_row: accumulator of {len} for {k} outputs of {n} samples at stride {stride}"
    );
}

/// Rows of samples for [`SpatialKernel::rows`]: `rows` rows of `n` samples; row `y`'s taps
/// start `y * pitch` further in the map than row 0's, and its sums go `y * acc_pitch` further
/// in the accumulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rows {
    /// Samples per row.
    pub n: usize,
    /// Rows.
    pub rows: usize,
    /// Distance in the map between the taps of consecutive rows.
    pub pitch: usize,
    /// Distance in the accumulator between consecutive rows (at least `n`).
    pub acc_pitch: usize,
}

impl Rows {
    /// One row of `n` samples.
    pub fn one(n: usize) -> Rows {
        Rows {
            n,
            rows: 1,
            pitch: 0,
            acc_pitch: n,
        }
    }

    /// The accumulator span of one output: `(rows - 1) * acc_pitch + n`.
    fn span(&self) -> usize {
        if self.rows == 0 || self.n == 0 {
            0
        } else {
            (self.rows - 1) * self.acc_pitch + self.n
        }
    }
}

/// A 4-simplex look-up prepared for the row kernel of a level: the table, the fraction bits
/// of the values it reads and its outputs are fixed, the level's per-table constants computed
/// once (the engine makes one per look-up and filter call).
pub struct SpatialKernel<'a> {
    table: PreparedTable<'a>,
    fb: u32,
    k: usize,
    #[cfg(target_arch = "x86_64")]
    fast: Option<Fast<'a>>,
}

/// The SIMD form of a [`SpatialKernel`].
#[cfg(target_arch = "x86_64")]
enum Fast<'a> {
    Avx2(Box<avx2::Spatial<'a>>),
    Avx512(Box<avx512::Spatial<'a>>),
}

impl std::fmt::Debug for SpatialKernel<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpatialKernel")
            .field("level", &self.level())
            .field("fb", &self.fb)
            .field("k", &self.k)
            .finish_non_exhaustive()
    }
}

impl<'a> SpatialKernel<'a> {
    /// The kernel of `level` (portable where the CPU lacks it, or where the SIMD path cannot
    /// run the table) for look-ups in `table` of values with `fb` fraction bits (`1..=8`), with
    /// `k` outputs (`1..=8`).
    pub fn new(level: Level, table: PreparedTable<'a>, fb: u32, k: usize) -> Self {
        assert!((1..=8).contains(&k), "spatial kernel: 1 to 8 outputs");
        assert!(
            (1..=8).contains(&fb),
            "spatial kernel: 1 to 8 fraction bits"
        );
        let kernels = Kernels::new(level);
        #[cfg(target_arch = "x86_64")]
        let fast = match kernels {
            Kernels::Avx2(t) => {
                avx2::Spatial::new(t, &table, fb, k).map(|s| Fast::Avx2(Box::new(s)))
            }
            Kernels::Avx512(t) => {
                avx512::Spatial::new(t, &table, fb, k).map(|s| Fast::Avx512(Box::new(s)))
            }
            Kernels::Portable => None,
        };
        #[cfg(not(target_arch = "x86_64"))]
        let _ = kernels;
        SpatialKernel {
            table,
            fb,
            k,
            #[cfg(target_arch = "x86_64")]
            fast,
        }
    }

    /// The level the rows run at.
    pub fn level(&self) -> Level {
        #[cfg(target_arch = "x86_64")]
        match self.fast {
            Some(Fast::Avx2(_)) => return Level::Avx2,
            Some(Fast::Avx512(_)) => return Level::Avx512,
            None => {}
        }
        Level::Portable
    }

    /// Adds the look-ups of `n` samples (taps `taps`) to the accumulator rows: output `j` of
    /// sample `x` is added to `acc[j * stride + x]`, in units of 1/256 of a table value (as
    /// [`PreparedTable::lookup`]). Tap values must lie within the table's grid (below
    /// `16 << fb`), as the engine's maps do; outside it the kernels panic (portable) or may
    /// panic (SIMD: rows outside the table fall back to the portable code), never reading
    /// outside the table.
    pub fn row(&self, taps: &RowTaps<'_>, n: usize, acc: &mut [i32], stride: usize) {
        self.rows(taps, Rows::one(n), acc, stride);
    }

    /// [`SpatialKernel::row`] on several rows at once (the engine's call: one per look-up and
    /// tile): sample `x` of row `y` has taps at `start[t] + y * pitch + x * step` and adds
    /// output `j` to `acc[j * stride + y * acc_pitch + x]`.
    pub fn rows(&self, taps: &RowTaps<'_>, block: Rows, acc: &mut [i32], stride: usize) {
        let span = block.span();
        assert!(
            block.rows <= 1 || block.acc_pitch >= block.n,
            "spatial kernel: accumulator rows overlap"
        );
        check_acc(span, self.k, acc.len(), stride);
        if span == 0 {
            return;
        }
        #[cfg(target_arch = "x86_64")]
        match &self.fast {
            Some(Fast::Avx2(k)) => return k.rows(&self.table, taps, block, acc, stride),
            Some(Fast::Avx512(k)) => return k.rows(&self.table, taps, block, acc, stride),
            None => {}
        }
        portable_rows(&self.table, taps, self.fb, block, self.k, acc, stride);
    }
}

/// [`SpatialKernel::rows`] row by row with the portable kernel.
fn portable_rows(
    table: &PreparedTable<'_>,
    taps: &RowTaps<'_>,
    fb: u32,
    block: Rows,
    k: usize,
    acc: &mut [i32],
    stride: usize,
) {
    for y in 0..block.rows {
        let row = taps.row(y, block.pitch);
        let acc = &mut acc[y * block.acc_pitch..];
        portable::spatial_row(table, &row, fb, 0..block.n, k, acc, stride);
    }
}

/// [`SpatialKernel::row`] of a kernel made for this one call.
#[allow(clippy::too_many_arguments)]
pub fn spatial_row(
    level: Level,
    table: &PreparedTable<'_>,
    taps: &RowTaps<'_>,
    fb: u32,
    n: usize,
    k: usize,
    acc: &mut [i32],
    stride: usize,
) {
    SpatialKernel::new(level, *table, fb, k).row(taps, n, acc, stride);
}

/// Requantises node sums into 8-bit features: `out[x] = clamp(floor((raw[x] + 128 terms) /
/// (256 terms)) + 127, 0, 255)` ([`crate::reference::requantise`]) for `x < out.len()`.
pub fn requantise_row(level: Level, raw: &[i32], terms: u32, out: &mut [u16]) {
    Kernels::new(level).requantise_row(raw, terms, out);
}

/// The residual of each output sum (`out.len()` of them) at `bit_depth` (8 to 12)
/// ([`crate::reference::residual`]), saturated to `±RESIDUAL_LIMIT` (beyond which every
/// sample saturates anyway). Exact while `|sum * scale| < 2^60` (the engine's sums stay below
/// 2^25: 64 terms of at most 12 look-ups of `128 * 256`).
pub fn residual_row(
    level: Level,
    sums: &[i32],
    scale: i32,
    scale_shift: u8,
    bit_depth: u8,
    out: &mut [i32],
) {
    Kernels::new(level).residual_row(sums, scale, scale_shift, bit_depth, out);
}

/// Residuals are saturated to this magnitude by [`residual_row`].
pub const RESIDUAL_LIMIT: i32 = 1 << 16;

/// Adds the trilinear look-up of `n` samples to the accumulator rows (layout as
/// [`SpatialKernel::row`]); input `i` of sample `x` is `inputs[i].0[x]` with `inputs[i].1`
/// fraction bits (`1..=8`), in `table` (`17^3` rows of `k` outputs).
pub fn trilinear_row(
    level: Level,
    table: &[i8],
    k: usize,
    inputs: [(&[u16], u32); 3],
    n: usize,
    acc: &mut [i32],
    stride: usize,
) {
    Kernels::new(level).trilinear_row(table, k, inputs, n, acc, stride);
}

#[cfg(test)]
mod tests {
    use super::{Kernels, Level};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The tile input and output kernels of every level equal the portable ones: u16 and i16
    /// samples (negative, above the bit depth), residuals of either sign, any row length.
    #[test]
    fn sample_rows_equal_portable() {
        let mut rng = ChaCha8Rng::seed_from_u64(0x5a3b);
        for case in 0..400 {
            let n = rng.gen_range(0..70usize);
            let signed = rng.gen_bool(0.5);
            let max = [255u16, 1023, 4095][rng.gen_range(0..3)];
            let src: Vec<u16> = (0..n)
                .map(|_| match rng.gen_range(0..4) {
                    0 => rng.r#gen(),
                    1 => max.saturating_add(rng.gen_range(0..3)),
                    2 => (rng.gen_range(-3i16..=0)) as u16,
                    _ => rng.gen_range(0..=max),
                })
                .collect();
            let residual: Vec<i32> = (0..n)
                .map(|_| rng.gen_range(-(i32::from(max) + 5)..=i32::from(max) + 5))
                .collect();
            let mut want = vec![0u16; n];
            let mut want_out = vec![0u16; n];
            let portable = Kernels::new(Level::Portable);
            portable.clamp_row(&src, signed, max, &mut want);
            portable.add_residual_row(&src, signed, &residual, max, &mut want_out);
            for level in Level::supported() {
                let k = Kernels::new(level);
                let mut got = vec![0u16; n];
                k.clamp_row(&src, signed, max, &mut got);
                assert_eq!(got, want, "case {case}: clamp_row at {level}");
                k.add_residual_row(&src, signed, &residual, max, &mut got);
                assert_eq!(got, want_out, "case {case}: add_residual_row at {level}");
            }
        }
    }
}
