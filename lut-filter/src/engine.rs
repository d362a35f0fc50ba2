//! The engine: runs a model on a region, tile by tile.
//!
//! For each output tile (512x64 on the target grid) it works out, backwards through the graph,
//! the rectangle every map is needed on (the tile plus the halo the later nodes read), then
//! computes forwards: codec planes are copied into small buffers with replicate padding and the
//! sample range clamped, every node is evaluated on the picture part of its rectangle and padded
//! by replication outside it. Reads therefore never clamp, and a map's value at any position is
//! the one the whole-picture reference computes, whatever the tile or region: filtering CTU by
//! CTU equals filtering the whole picture. Tiles are independent and run in parallel on the
//! current rayon pool, so the output is identical for every thread count.
//!
//! Nodes are evaluated a row of samples at a time, one look-up (pattern and rotation) after the
//! other, by the row kernels of [`crate::simd`] (portable or SIMD, chosen once per call); sums
//! are kept per output plane (`raw[(output * height + y) * width + x]`).

use rayon::prelude::*;

use crate::Error;
use crate::container::Model;
use crate::description::{Component, Grid};
use crate::interp::PreparedTable;
use crate::picture::{Picture, PlaneMut, Region, Sample};
use crate::plan::{MapId, PlanKind, TableLoc};
use crate::simd::{Kernels, Level, RowTaps, Rows, SpatialKernel};
use crate::tables::SpatialTable;

/// Width of an output tile on the target grid. Wide tiles cut what is paid per row (kernel
/// set-up, residual rows) and the halo columns that cascaded stages recompute around each
/// tile; 512x64 measured fastest for every model of the ladder (against 64x64: 1.15-1.2x for
/// one stage, 1.2x for the reference architecture; `docs/performance.md`).
pub const TILE_WIDTH: usize = 512;

/// Height of an output tile on the target grid (see [`TILE_WIDTH`]).
pub const TILE_HEIGHT: usize = 64;

/// Checks that `pic` provides what `model` reads.
pub(crate) fn check_model_picture<T: Sample>(
    model: &Model<'_>,
    pic: &Picture<'_, T>,
) -> Result<(), Error> {
    let plan = model.plan();
    let desc = &plan.desc;
    let unsupported = |reason: String| Error::Unsupported {
        model: desc.name.clone(),
        reason,
    };
    let [lo, hi] = desc.bit_depths;
    if !(lo..=hi).contains(&pic.bit_depth) {
        return Err(unsupported(format!(
            "bit depth {} is outside its range {lo}..={hi}",
            pic.bit_depth
        )));
    }
    let mut used = vec![desc.component];
    for node in &plan.nodes {
        match &node.kind {
            PlanKind::Spatial { input, .. } => used.push_input(*input),
            PlanKind::Channel { inputs, .. } => inputs.iter().for_each(|&i| used.push_input(i)),
        }
    }
    for c in used {
        if pic.plane(c).is_none() {
            return Err(unsupported(format!(
                "it reads the {c} plane, which a {:?} picture lacks",
                pic.chroma_format
            )));
        }
    }
    Ok(())
}

trait PushInput {
    fn push_input(&mut self, id: MapId);
}
impl PushInput for Vec<Component> {
    fn push_input(&mut self, id: MapId) {
        if let MapId::Input(c) = id {
            self.push(c);
        }
    }
}

/// A rectangle on a grid, half-open, possibly reaching outside the picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rect {
    y0: isize,
    y1: isize,
    x0: isize,
    x1: isize,
}

impl Rect {
    fn union(a: Option<Rect>, b: Rect) -> Rect {
        match a {
            None => b,
            Some(a) => Rect {
                y0: a.y0.min(b.y0),
                y1: a.y1.max(b.y1),
                x0: a.x0.min(b.x0),
                x1: a.x1.max(b.x1),
            },
        }
    }
    fn width(&self) -> usize {
        (self.x1 - self.x0) as usize
    }
    fn height(&self) -> usize {
        (self.y1 - self.y0) as usize
    }
    fn clip(&self, w: usize, h: usize) -> Rect {
        Rect {
            y0: self.y0.max(0),
            y1: self.y1.min(h as isize),
            x0: self.x0.max(0),
            x1: self.x1.min(w as isize),
        }
    }
}

/// A map on a rectangle: values row-major over `rect`.
#[derive(Debug, Default)]
struct Buf {
    rect: Option<Rect>,
    data: Vec<u16>,
}

/// Values a [`Buf`] holds beyond its rectangle. The SIMD row kernels load a chroma-from-luma
/// row's taps (every other value) as whole vectors, whose last one reaches one value past the
/// last tap read; without this margin, the last row of a tile's luma buffer would take the
/// portable path.
const BUF_MARGIN: usize = 16;

impl Buf {
    fn reset(&mut self, rect: Rect) {
        self.rect = Some(rect);
        self.data.clear();
        self.data
            .resize(rect.width() * rect.height() + BUF_MARGIN, 0);
    }

    /// Fills positions of `rect` outside `inner` by copying the nearest position of `inner`.
    fn replicate_outside(&mut self, inner: Rect) {
        let r = self.rect.expect("buffer in use");
        let w = r.width();
        let ix0 = (inner.x0 - r.x0) as usize;
        let ix1 = (inner.x1 - r.x0) as usize;
        for y in (inner.y0 - r.y0) as usize..(inner.y1 - r.y0) as usize {
            let row = &mut self.data[y * w..(y + 1) * w];
            let (l, rv) = (row[ix0], row[ix1 - 1]);
            row[..ix0].fill(l);
            row[ix1..].fill(rv);
        }
        let iy0 = (inner.y0 - r.y0) as usize;
        let iy1 = (inner.y1 - r.y0) as usize;
        for y in 0..iy0 {
            self.data.copy_within(iy0 * w..(iy0 + 1) * w, y * w);
        }
        for y in iy1..r.height() {
            self.data.copy_within((iy1 - 1) * w..iy1 * w, y * w);
        }
    }
}

/// A node with its tables resolved for this call.
struct Resolved<'a> {
    outputs: usize,
    terms: u32,
    grid: Grid,
    op: Op<'a>,
    /// Whether a later node reads output k as a feature (else it is not requantised).
    read: Vec<bool>,
}

enum Op<'a> {
    Spatial {
        input: MapId,
        /// The table of every look-up (one per pattern and rotation; `taps` and `phase` hold
        /// the rotation).
        lookups: Vec<SpatialKernel<'a>>,
        taps: Vec<[(isize, isize); 4]>,
        /// Per look-up anchor phase (row, col) in input samples.
        phase: Vec<(isize, isize)>,
        /// Input samples per output sample (1, or the chroma sub-sampling for a reduction).
        step: (isize, isize),
        /// Halo on the input grid relative to `(y*step, x*step)`: min/max row and col offset.
        reach: (isize, isize, isize, isize),
    },
    Channel {
        inputs: [MapId; 3],
        table: &'a [i8],
    },
}

/// Everything fixed for one call.
struct Job<'a, T> {
    nodes: Vec<Resolved<'a>>,
    terms: Vec<(usize, usize)>,
    pic: Picture<'a, T>,
    component: Component,
    luma: (usize, usize),
    chroma: (usize, usize),
    scale: (i32, u8),
    kernels: Kernels,
}

impl<T: Sample> Job<'_, T> {
    fn grid_size(&self, g: Grid) -> (usize, usize) {
        match g {
            Grid::Luma => self.luma,
            Grid::Chroma => self.chroma,
        }
    }
}

thread_local! {
    /// Each thread's scratch buffers, kept between calls: a codec filtering CTU by CTU makes
    /// hundreds of calls per picture, and fresh buffers for each cost page faults (17 % of the
    /// default model's time CTU by CTU). A few megabytes per thread at most.
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Scratch buffers of one worker, reused across its tiles (and calls: [`SCRATCH`]). Every
/// buffer is sized and filled before it is read, so what a previous tile or model left in
/// them never shows.
#[derive(Default)]
struct Scratch {
    inputs: [Buf; 3],
    features: Vec<Vec<Buf>>,
    raw: Vec<Vec<i32>>,
    raw_rect: Vec<Option<Rect>>,
    need: Vec<Option<Rect>>,
    /// Output stage: the sum of the terms and the residual of one tile row.
    sum: Vec<i32>,
    residual: Vec<i32>,
}

/// Which part of the destination a call writes.
enum Destination<'d, 'a, T> {
    /// A plane of the component's size; the region is written at its own position.
    Plane(&'d mut PlaneMut<'a, T>),
    /// A plane of the region's size.
    Region(&'d mut PlaneMut<'a, T>),
}

/// Filters `region` of the model's component of `pic` into `dst`.
fn filter_region<T: Sample>(
    model: &Model<'_>,
    pic: &Picture<'_, T>,
    region: Region,
    dst: Destination<'_, '_, T>,
    level: Level,
) -> Result<(), Error> {
    check_model_picture(model, pic)?;
    let plan = model.plan();
    let component = plan.desc.component;
    let target = pic.plane(component).expect("checked");
    let inside = region.width > 0
        && region.height > 0
        && region
            .x
            .checked_add(region.width)
            .is_some_and(|e| e <= target.width())
        && region
            .y
            .checked_add(region.height)
            .is_some_and(|e| e <= target.height());
    if !inside {
        return Err(Error::Region {
            x: region.x,
            y: region.y,
            width: region.width,
            height: region.height,
            plane_width: target.width(),
            plane_height: target.height(),
        });
    }
    let mut rows = match dst {
        Destination::Plane(d) => {
            if (d.width(), d.height()) != (target.width(), target.height()) {
                return Err(Error::Picture(format!(
                    "destination is {}x{}, the {component} plane is {}x{}",
                    d.width(),
                    d.height(),
                    target.width(),
                    target.height()
                )));
            }
            d.region_rows(region)
        }
        Destination::Region(d) => {
            if (d.width(), d.height()) != (region.width, region.height) {
                return Err(Error::Picture(format!(
                    "destination is {}x{}, the region is {}x{}",
                    d.width(),
                    d.height(),
                    region.width,
                    region.height
                )));
            }
            d.region_rows(Region::new(0, 0, region.width, region.height))
        }
    };
    let luma = pic.plane(Component::Y).expect("a picture has luma");
    let chroma = pic
        .plane(Component::U)
        .map_or((0, 0), |p| (p.width(), p.height()));
    let (sy, sx) = pic.chroma_format.subsampling().unwrap_or((1, 1));
    let bytes = model.container.bytes();
    let i8s = |r: &std::ops::Range<usize>| -> &[i8] { bytemuck::cast_slice(&bytes[r.clone()]) };
    let kernels = Kernels::new(level);
    // SIMD kernels read DFC rows laid out by position (fine rows by index position, then the
    // coarse rows), and the AVX-512 ones 1- and 2-output tables as cubes: built once per model, by
    // the first call that needs them.
    let dfc_tables = || {
        plan.nodes.iter().flat_map(|node| match &node.kind {
            PlanKind::Spatial { tables, .. } => tables
                .iter()
                .filter_map(|(_, loc)| match loc {
                    TableLoc::Dfc {
                        geometry,
                        fine,
                        index,
                        coarse,
                    } => Some((
                        geometry,
                        i8s(fine),
                        index.as_slice(),
                        i8s(coarse),
                        node.outputs,
                    )),
                    TableLoc::Regular(_) => None,
                })
                .collect::<Vec<_>>(),
            PlanKind::Channel { .. } => Vec::new(),
        })
    };
    let dense: &[Vec<i8>] = if kernels.reads_dense() {
        plan.layouts.dense.get_or_init(|| {
            dfc_tables()
                .map(|(g, fine, index, coarse, k)| g.dense(fine, index, coarse, k))
                .collect()
        })
    } else {
        &[]
    };
    let cubes: &[Option<Vec<i8>>] = if kernels.reads_cubes() {
        plan.layouts.cubes.get_or_init(|| {
            dfc_tables()
                .zip(dense)
                .map(|((g, .., k), d)| g.cubes(d, k))
                .collect()
        })
    } else {
        &[]
    };
    let mut dfc_layouts = (0..).map(|i| (dense.get(i), cubes.get(i).and_then(Option::as_ref)));

    let nodes = plan
        .nodes
        .iter()
        .map(|node| {
            let op = match &node.kind {
                PlanKind::Spatial {
                    input,
                    tables,
                    rotations,
                    phases,
                } => {
                    let fb = match input {
                        MapId::Input(_) => u32::from(pic.bit_depth) - 4,
                        MapId::Node(..) => 4,
                    };
                    let mut lookups = Vec::new();
                    let mut taps = Vec::new();
                    let mut phase = Vec::new();
                    for (pattern, loc) in tables {
                        let table = match loc {
                            TableLoc::Regular(r) => SpatialTable::Regular(i8s(r)),
                            TableLoc::Dfc {
                                geometry,
                                fine,
                                index,
                                coarse,
                            } => SpatialTable::Dfc {
                                geometry: *geometry,
                                fine: i8s(fine),
                                index,
                                coarse: i8s(coarse),
                            },
                        };
                        let mut prepared = PreparedTable::new(table);
                        if matches!(loc, TableLoc::Dfc { .. })
                            && let Some((dense, cubes)) = dfc_layouts.next()
                        {
                            if let Some(d) = dense {
                                prepared = prepared.with_dense(d);
                            }
                            if let Some(c) = cubes {
                                prepared = prepared.with_cubes(c);
                            }
                        }
                        for r in 0..*rotations {
                            lookups.push(SpatialKernel::new(level, prepared, fb, node.outputs));
                            taps.push(
                                pattern
                                    .rotated_taps(r)
                                    .map(|(a, b)| (a as isize, b as isize)),
                            );
                            phase.push(match phases {
                                None => (0, 0),
                                Some(ph) => (
                                    isize::from(ph[r][0]) * (sy as isize - 1),
                                    isize::from(ph[r][1]) * (sx as isize - 1),
                                ),
                            });
                        }
                    }
                    let step = if phases.is_some() {
                        (sy as isize, sx as isize)
                    } else {
                        (1, 1)
                    };
                    let offs = taps
                        .iter()
                        .zip(&phase)
                        .flat_map(|(t, p)| t.map(|(a, b)| (a + p.0, b + p.1)));
                    let reach = offs.fold((0, 0, 0, 0), |r, (a, b)| {
                        (r.0.min(a), r.1.max(a), r.2.min(b), r.3.max(b))
                    });
                    Op::Spatial {
                        input: *input,
                        lookups,
                        taps,
                        phase,
                        step,
                        reach,
                    }
                }
                PlanKind::Channel { inputs, table } => Op::Channel {
                    inputs: *inputs,
                    table: i8s(table),
                },
            };
            Resolved {
                outputs: node.outputs,
                terms: node.terms,
                grid: node.grid,
                op,
                read: vec![false; node.outputs],
            }
        })
        .collect::<Vec<_>>();
    let mut nodes = nodes;
    for i in 0..nodes.len() {
        let inputs: Vec<MapId> = match &nodes[i].op {
            Op::Spatial { input, .. } => vec![*input],
            Op::Channel { inputs, .. } => inputs.to_vec(),
        };
        for id in inputs {
            if let MapId::Node(n, k) = id {
                nodes[n].read[k] = true;
            }
        }
    }
    let job = Job {
        nodes,
        terms: plan.terms.clone(),
        pic: *pic,
        component,
        luma: (luma.width(), luma.height()),
        chroma,
        scale: (plan.desc.output.scale, plan.desc.output.scale_shift),
        kernels,
    };

    // One work item per tile, each with its own columns of the destination rows, so that
    // threads share out tiles rather than bands of tiles (a 1080-row plane has 17 bands, which
    // two threads would split 9 to 8). Items stay in raster order, so each thread's share is
    // a run of neighbouring tiles.
    let tiles_across = region.width.div_ceil(TILE_WIDTH);
    let mut tiles: Vec<(Region, Vec<&mut [T]>)> = Vec::new();
    for (band, band_rows) in rows.chunks_mut(TILE_HEIGHT).enumerate() {
        let y0 = region.y + band * TILE_HEIGHT;
        let first = tiles.len();
        for tx in (0..region.width).step_by(TILE_WIDTH) {
            let tile = Region::new(
                region.x + tx,
                y0,
                TILE_WIDTH.min(region.width - tx),
                band_rows.len(),
            );
            tiles.push((tile, Vec::with_capacity(band_rows.len())));
        }
        for row in band_rows.iter_mut() {
            let mut rest: &mut [T] = std::mem::take(row);
            for (_, cols) in &mut tiles[first..first + tiles_across] {
                let (head, tail) = rest.split_at_mut(TILE_WIDTH.min(rest.len()));
                cols.push(head);
                rest = tail;
            }
        }
    }
    tiles.par_iter_mut().for_each(|(tile, cols)| {
        // `run_tile` makes no rayon calls, so this thread cannot re-enter while borrowed.
        SCRATCH.with_borrow_mut(|scratch| run_tile(&job, scratch, *tile, cols));
    });
    Ok(())
}

/// Computes one tile and writes it into `rows` (the tile's columns of its destination rows).
fn run_tile<T: Sample>(job: &Job<'_, T>, s: &mut Scratch, tile: Region, rows: &mut [&mut [T]]) {
    let n = job.nodes.len();
    s.need.clear();
    s.need.resize(n, None);
    let mut input_need: [Option<Rect>; 3] = [None; 3];
    let tile_rect = Rect {
        y0: tile.y as isize,
        y1: (tile.y + tile.height) as isize,
        x0: tile.x as isize,
        x1: (tile.x + tile.width) as isize,
    };
    for &(t, _) in &job.terms {
        s.need[t] = Some(Rect::union(s.need[t], tile_rect));
    }
    // Backwards: the rectangle each map is read on.
    for i in (0..n).rev() {
        let Some(r) = s.need[i] else { continue };
        let mut want = |id: MapId, rect: Rect| match id {
            MapId::Input(c) => {
                input_need[c.index()] = Some(Rect::union(input_need[c.index()], rect))
            }
            MapId::Node(m, _) => s.need[m] = Some(Rect::union(s.need[m], rect)),
        };
        match &job.nodes[i].op {
            Op::Spatial {
                input, step, reach, ..
            } => want(
                *input,
                Rect {
                    y0: r.y0 * step.0 + reach.0,
                    y1: (r.y1 - 1) * step.0 + reach.1 + 1,
                    x0: r.x0 * step.1 + reach.2,
                    x1: (r.x1 - 1) * step.1 + reach.3 + 1,
                },
            ),
            Op::Channel { inputs, .. } => inputs.iter().for_each(|&id| want(id, r)),
        }
    }
    // Inputs: copy with clamped coordinates and clamped sample range.
    let max = (1i32 << job.pic.bit_depth) - 1;
    for c in Component::ALL {
        let Some(rect) = input_need[c.index()] else {
            continue;
        };
        let plane = job.pic.plane(c).expect("checked");
        let (w, h) = (plane.width(), plane.height());
        let buf = &mut s.inputs[c.index()];
        buf.reset(rect);
        let inner = rect.clip(w, h);
        let bw = rect.width();
        for y in inner.y0..inner.y1 {
            let src = &plane.row(y as usize)[inner.x0 as usize..inner.x1 as usize];
            let off = (y - rect.y0) as usize * bw + (inner.x0 - rect.x0) as usize;
            let dst = &mut buf.data[off..off + src.len()];
            match T::as_words(src) {
                Some(words) => job.kernels.clamp_row(words, T::SIGNED, max as u16, dst),
                None => {
                    for (d, v) in dst.iter_mut().zip(src) {
                        *d = v.to_i32().clamp(0, max) as u16;
                    }
                }
            }
        }
        buf.replicate_outside(inner);
    }
    // Forwards.
    if s.features.len() < n {
        s.features.resize_with(n, Vec::new);
        s.raw.resize_with(n, Vec::new);
    }
    s.raw_rect.clear();
    s.raw_rect.resize(n, None);
    let in_fb = u32::from(job.pic.bit_depth) - 4;
    for i in 0..n {
        let Some(rect) = s.need[i] else { continue };
        let node = &job.nodes[i];
        let (gw, gh) = job.grid_size(node.grid);
        let inner = rect.clip(gw, gh);
        let k = node.outputs;
        let (iw, ih) = (inner.width(), inner.height());
        let plane = iw * ih;
        let mut raw = std::mem::take(&mut s.raw[i]);
        raw.clear();
        raw.resize(plane * k, 0);
        let (features_before, _) = s.features.split_at(i);
        let map = |id: MapId| -> (&Buf, u32) {
            match id {
                MapId::Input(c) => (&s.inputs[c.index()], in_fb),
                MapId::Node(m, o) => (&features_before[m][o], 4),
            }
        };
        match &node.op {
            Op::Spatial {
                input,
                lookups,
                taps,
                phase,
                step,
                ..
            } => {
                let (buf, _) = map(*input);
                let br = buf.rect.expect("input computed");
                let bw = br.width() as isize;
                // All rows of the node's rectangle per look-up: row y's anchor is
                // `step.0 * bw` further than row y - 1's.
                let anchor = (inner.y0 * step.0 - br.y0) * bw + (inner.x0 * step.1 - br.x0);
                let block = Rows {
                    n: iw,
                    rows: ih,
                    pitch: (step.0 * bw) as usize,
                    acc_pitch: iw,
                };
                for ((kernel, t), p) in lookups.iter().zip(taps).zip(phase) {
                    // Buffer offsets of the look-up's taps, relative to the anchor.
                    let off = t.map(|(a, b)| (a + p.0) * bw + b + p.1);
                    let taps = RowTaps {
                        data: &buf.data,
                        start: off.map(|o| (anchor + o) as usize),
                        step: step.1 as usize,
                    };
                    kernel.rows(&taps, block, &mut raw, plane);
                }
            }
            Op::Channel { inputs, table } => {
                let bufs = inputs.map(map);
                for y in inner.y0..inner.y1 {
                    let yy = (y - inner.y0) as usize;
                    let row = bufs.map(|(b, fb)| {
                        let r = b.rect.expect("input computed");
                        let o = ((y - r.y0) * r.width() as isize + inner.x0 - r.x0) as usize;
                        (&b.data[o..o + iw], fb)
                    });
                    job.kernels
                        .trilinear_row(table, k, row, iw, &mut raw[yy * iw..], plane);
                }
            }
        }
        // Features: requantise every output over the picture part, pad outside.
        let feats = &mut s.features[i];
        feats.resize_with(k, Buf::default);
        for (o, f) in feats.iter_mut().enumerate() {
            if !node.read[o] {
                continue;
            }
            f.reset(rect);
            let fw = rect.width();
            for y in 0..ih {
                let dst_row =
                    (y + (inner.y0 - rect.y0) as usize) * fw + (inner.x0 - rect.x0) as usize;
                let src = &raw[o * plane + y * iw..o * plane + (y + 1) * iw];
                job.kernels
                    .requantise_row(src, node.terms, &mut f.data[dst_row..dst_row + iw]);
            }
            f.replicate_outside(inner);
        }
        s.raw[i] = raw;
        s.raw_rect[i] = Some(inner);
    }
    // Output: residual on the tile.
    let target = job.pic.plane(job.component).expect("checked");
    let (scale, shift) = job.scale;
    let w = tile.width;
    s.sum.resize(w, 0);
    s.residual.resize(w, 0);
    for (ty, row) in rows.iter_mut().enumerate() {
        let y = tile.y + ty;
        // The terms' sums on this row of the tile: a single term is read in place; several
        // are added into `s.sum`, starting from a copy of the first (no zero fill: a
        // `memset` just before the vector loads of the sums stalls their store forwarding).
        let term_row = |&(t, o): &(usize, usize)| -> &[i32] {
            let r = s.raw_rect[t].expect("term computed");
            let rw = r.width();
            let at = o * rw * r.height()
                + (y as isize - r.y0) as usize * rw
                + (tile.x as isize - r.x0) as usize;
            &s.raw[t][at..at + w]
        };
        let sums: &[i32] = match job.terms.as_slice() {
            [one] => term_row(one),
            [first, rest @ ..] => {
                s.sum.copy_from_slice(term_row(first));
                for term in rest {
                    // |sum| <= 64 terms * 12 look-ups * 128 * 256 < 2^31.
                    for (a, v) in s.sum.iter_mut().zip(term_row(term)) {
                        *a += v;
                    }
                }
                &s.sum
            }
            [] => {
                s.sum.fill(0);
                &s.sum
            }
        };
        job.kernels
            .residual_row(sums, scale, shift, job.pic.bit_depth, &mut s.residual);
        let src = &target.row(y)[tile.x..tile.x + w];
        if let (Some(src), Some(dst)) = (T::as_words(src), T::as_words_mut(&mut row[..w])) {
            job.kernels
                .add_residual_row(src, T::SIGNED, &s.residual, max as u16, dst);
        } else {
            for ((d, v), r) in row[..w].iter_mut().zip(src).zip(&s.residual) {
                *d = T::from_i32((v.to_i32().clamp(0, max) + r).clamp(0, max));
            }
        }
    }
}

impl<'c> Model<'c> {
    /// Filters `region` (on this model's component grid) of `pic` into `dst`, which has the
    /// size of the component's plane; samples of `dst` outside the region are not touched.
    /// Reads the unfiltered source around the region, so filtering region by region equals
    /// filtering the whole plane. Runs on the current rayon pool, with the kernels of
    /// [`Level::active`].
    pub fn filter_region<T: Sample>(
        &self,
        pic: &Picture<'_, T>,
        region: Region,
        dst: &mut PlaneMut<'_, T>,
    ) -> Result<(), Error> {
        self.filter_region_with(Level::active(), pic, region, dst)
    }

    /// [`Model::filter_region`] with the row kernels of `level` (portable where the CPU lacks
    /// it). Every level gives the same result, bit for bit.
    pub fn filter_region_with<T: Sample>(
        &self,
        level: Level,
        pic: &Picture<'_, T>,
        region: Region,
        dst: &mut PlaneMut<'_, T>,
    ) -> Result<(), Error> {
        filter_region(self, pic, region, Destination::Plane(dst), level)
    }

    /// Like [`Model::filter_region`], but `dst` covers only the region (its size is the
    /// region's): callers filtering several regions of one picture at once (e.g. CTUs on
    /// several threads) hand each call a disjoint view of their destination.
    pub fn filter_region_into<T: Sample>(
        &self,
        pic: &Picture<'_, T>,
        region: Region,
        dst: &mut PlaneMut<'_, T>,
    ) -> Result<(), Error> {
        filter_region(self, pic, region, Destination::Region(dst), Level::active())
    }

    /// Checks, without filtering, that this model can run on `pic` (bit depth within its range,
    /// every plane it reads present): the check every filter call makes first.
    pub fn check<T: Sample>(&self, pic: &Picture<'_, T>) -> Result<(), Error> {
        check_model_picture(self, pic)
    }

    /// Filters the whole plane of this model's component into `dst`.
    pub fn filter_plane<T: Sample>(
        &self,
        pic: &Picture<'_, T>,
        dst: &mut PlaneMut<'_, T>,
    ) -> Result<(), Error> {
        self.filter_plane_with(Level::active(), pic, dst)
    }

    /// [`Model::filter_plane`] with the row kernels of `level` (portable where the CPU lacks
    /// it). Every level gives the same result, bit for bit.
    pub fn filter_plane_with<T: Sample>(
        &self,
        level: Level,
        pic: &Picture<'_, T>,
        dst: &mut PlaneMut<'_, T>,
    ) -> Result<(), Error> {
        let p = pic.plane(self.description().component).ok_or_else(|| {
            Error::Picture(format!(
                "the picture has no {} plane",
                self.description().component
            ))
        })?;
        filter_region(
            self,
            pic,
            Region::new(0, 0, p.width(), p.height()),
            Destination::Plane(dst),
            level,
        )
    }

    /// How far outside a region (in samples of the model's own grid, rounded up) the model
    /// reads the source: the margin a caller must keep valid around a region.
    pub fn margin(&self) -> usize {
        // Receptive radius: sum over the longest chain of per-node reach (in target samples).
        let plan = self.plan();
        let mut reach = vec![0usize; plan.nodes.len()];
        let mut best = 0usize;
        for (i, node) in plan.nodes.iter().enumerate() {
            let (input_reach, own) = match &node.kind {
                PlanKind::Spatial {
                    input,
                    tables,
                    rotations,
                    phases,
                } => {
                    let r = tables
                        .iter()
                        .flat_map(|(p, _)| (0..*rotations).flat_map(move |r| p.rotated_taps(r)))
                        .map(|(a, b)| a.unsigned_abs().max(b.unsigned_abs()) as usize)
                        .max()
                        .unwrap_or(0)
                        + usize::from(phases.is_some());
                    let ir = match input {
                        MapId::Node(m, _) => reach[*m],
                        MapId::Input(_) => 0,
                    };
                    (ir, r)
                }
                PlanKind::Channel { inputs, .. } => (
                    inputs
                        .iter()
                        .map(|i| match i {
                            MapId::Node(m, _) => reach[*m],
                            MapId::Input(_) => 0,
                        })
                        .max()
                        .unwrap_or(0),
                    0,
                ),
            };
            reach[i] = input_reach + own;
            best = best.max(reach[i]);
        }
        best
    }
}
