//! From the corpus to a container and back: fit per-component, per-QP-range models on the train
//! split, and evaluate a container on any split the way VTM measures (10-bit PSNR, peak 1020,
//! mean of per-picture values; rate from the bitstream; BD-rate with PCHIP).

use std::collections::HashMap;

use lut_filter::bdrate::{self, Method, RdSample};
use lut_filter::{ChromaFormat, Component, Container, ContainerWriter, Picture, Plane, PlaneMut};
use rayon::prelude::*;
use serde::Serialize;

use crate::corpus::{EncodePairs, Picture10, sequence_psnr};
use crate::fit::{FitOptions, PlanePair, fit_cascade};

/// Slice-QP ranges of the fitted models (inclusive); each holds 10-25 % of the training samples.
pub const DEFAULT_QP_RANGES: [[i32; 2]; 6] =
    [[0, 22], [23, 27], [28, 32], [33, 37], [38, 42], [43, 63]];

fn plane(p: &Picture10, c: Component) -> (&[u16], usize, usize) {
    let (cw, ch) = (p.width.div_ceil(2), p.height.div_ceil(2));
    match c {
        Component::Y => (&p.y, p.width, p.height),
        Component::U => (&p.u, cw, ch),
        Component::V => (&p.v, cw, ch),
    }
}

/// A summary line per fitted model.
#[derive(Clone, Debug, Serialize)]
pub struct FitSummary {
    /// Model name.
    pub model: String,
    /// Training pictures used.
    pub pictures: usize,
    /// Training MSE before / after each stage (10-bit codes^2, sampled positions).
    pub train_mse: Vec<(f64, f64)>,
    /// Residual scale (16-bit fixed point, 10-bit codes per table unit).
    pub scale: i32,
}

/// Fits one model per component and QP range on `train` (frames bucketed by slice QP).
pub fn fit_models(
    train: &[EncodePairs],
    ranges: &[[i32; 2]],
    opts: &FitOptions,
    progress: &(dyn Fn(&str, usize, usize) + Sync),
) -> Result<(ContainerWriter, Vec<FitSummary>), lut_filter::Error> {
    let mut writer = ContainerWriter::new();
    let mut summaries = Vec::new();
    for c in Component::ALL {
        for &[lo, hi] in ranges {
            let frames: Vec<_> = train
                .iter()
                .flat_map(|e| &e.frames)
                .filter(|f| (lo..=hi).contains(&f.slice_qp))
                .collect();
            if frames.is_empty() {
                continue;
            }
            let pairs: Vec<PlanePair<'_>> = frames
                .iter()
                .map(|f| {
                    let (recon, width, height) = plane(&f.reconstruction, c);
                    let (orig, _, _) = plane(&f.original, c);
                    PlanePair {
                        recon,
                        orig,
                        width,
                        height,
                    }
                })
                .collect();
            let name = format!("{c}-qp{lo}-{hi}");
            let mut o = opts.clone();
            if c != Component::Y {
                // Chroma planes hold a quarter of the samples: sample them twice as densely.
                o.step = (o.step / 2).max(1);
            }
            let fitted = fit_cascade(&name, c, [lo, hi], &pairs, &o, &|s, i| {
                progress(&name, s, i)
            });
            summaries.push(FitSummary {
                model: name,
                pictures: frames.len(),
                train_mse: fitted.train_mse.clone(),
                scale: fitted.description.output.scale,
            });
            let mut desc = fitted.description;
            desc.notes = format!(
                "least-squares fit (lut-build fit) on {} train pictures with slice QP {lo}..={hi}; \
                 {} stage(s), lambda {}, step {}",
                frames.len(),
                o.stages,
                o.lambda,
                o.step
            );
            writer.add_model(desc, |req| fitted.tables[&req.name].clone())?;
        }
    }
    Ok((writer, summaries))
}

/// Filters a reconstruction with the container (model per component chosen by the slice QP).
pub fn filter_picture(container: &Container, p: &Picture10, qp: i32) -> Picture10 {
    let (cw, ch) = (p.width.div_ceil(2), p.height.div_ceil(2));
    let pic = Picture::new(
        Plane::new(&p.y, p.width, p.width, p.height).expect("valid plane"),
        Some(Plane::new(&p.u, cw, cw, ch).expect("valid plane")),
        Some(Plane::new(&p.v, cw, cw, ch).expect("valid plane")),
        ChromaFormat::Yuv420,
        10,
    )
    .expect("valid picture");
    let mut out = p.clone();
    for c in Component::ALL {
        let Some(model) = container.select(c, qp) else {
            continue;
        };
        let (src, w, h) = plane(p, c);
        let mut dst = src.to_vec();
        model
            .filter_plane(
                &pic,
                &mut PlaneMut::new(&mut dst, w, w, h).expect("valid plane"),
            )
            .expect("the container's models run on 10-bit 4:2:0");
        match c {
            Component::Y => out.y = dst,
            Component::U => out.u = dst,
            Component::V => out.v = dst,
        }
    }
    out
}

/// One bitstream's measurement.
#[derive(Clone, Debug, Serialize)]
pub struct EvalRow {
    /// Clip name.
    pub sequence: String,
    /// `ai` or `ra`.
    pub config: String,
    /// Nominal QP.
    pub qp: u32,
    /// Frames.
    pub frames: usize,
    /// Bitrate (kbps, from the bitstream size).
    pub kbps: f64,
    /// PSNR Y/U/V of the unfiltered reconstruction.
    pub psnr_anchor: [f64; 3],
    /// PSNR Y/U/V after the LUT filter.
    pub psnr_test: [f64; 3],
    /// Filtering time, ns per sample (Y+Cb+Cr), all threads.
    pub ns_per_sample: f64,
}

/// Measures `container` on `encodes` (anchor: the reconstruction; test: it filtered).
pub fn evaluate(container: &Container, encodes: &[EncodePairs]) -> Vec<EvalRow> {
    encodes
        .iter()
        .map(|e| {
            let start = std::time::Instant::now();
            let filtered: Vec<Picture10> = e
                .frames
                .par_iter()
                .map(|f| filter_picture(container, &f.reconstruction, f.slice_qp))
                .collect();
            let elapsed = start.elapsed();
            let orig: Vec<&Picture10> = e.frames.iter().map(|f| &*f.original).collect();
            let samples: usize = e
                .frames
                .iter()
                .map(|f| f.reconstruction.y.len() + 2 * f.reconstruction.u.len())
                .sum();
            EvalRow {
                sequence: e.encode.name.clone(),
                config: e.encode.config.to_string(),
                qp: e.encode.qp,
                frames: e.frames.len(),
                kbps: e.encode.kbps,
                psnr_anchor: e.psnr(),
                psnr_test: sequence_psnr(&orig, &filtered.iter().collect::<Vec<_>>()),
                ns_per_sample: elapsed.as_secs_f64() * 1e9 / samples.max(1) as f64,
            }
        })
        .collect()
}

/// BD-rate (PCHIP) per configuration over the JVET QPs `qps` (default 22, 27, 32, 37).
pub fn bd_rates(
    rows: &[EvalRow],
    qps: &[u32],
) -> HashMap<String, Result<bdrate::Comparison, bdrate::CompareError>> {
    let mut by_config: HashMap<String, (Vec<RdSample>, Vec<RdSample>)> = HashMap::new();
    for r in rows.iter().filter(|r| qps.contains(&r.qp)) {
        let sample = |p: [f64; 3]| RdSample {
            sequence: r.sequence.clone(),
            class: None,
            qp: r.qp as i32,
            kbps: r.kbps,
            psnr_y: p[0],
            psnr_u: p[1],
            psnr_v: p[2],
        };
        let e = by_config.entry(r.config.clone()).or_default();
        e.0.push(sample(r.psnr_anchor));
        e.1.push(sample(r.psnr_test));
    }
    by_config
        .into_iter()
        .map(|(k, (a, t))| (k, bdrate::compare(&a, &t, Method::Pchip)))
        .collect()
}

/// The evaluation as CSV, one row per bitstream.
pub fn csv(rows: &[EvalRow]) -> String {
    let mut csv = String::from(
        "sequence,config,qp,frames,kbps,psnr_y,psnr_u,psnr_v,psnr_y_filtered,psnr_u_filtered,\
         psnr_v_filtered,ns_per_sample\n",
    );
    for r in rows {
        let [a, t] = [r.psnr_anchor, r.psnr_test];
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{}\n",
            r.sequence,
            r.config,
            r.qp,
            r.frames,
            r.kbps,
            a[0],
            a[1],
            a[2],
            t[0],
            t[1],
            t[2],
            r.ns_per_sample
        ));
    }
    csv
}

/// The evaluation as a Markdown report: per bitstream delta-PSNR, per configuration BD-rate.
pub fn markdown(rows: &[EvalRow], qps: &[u32]) -> String {
    let mut s = String::new();
    s.push_str("| sequence | cfg | QP | frames | kbps | PSNR Y/U/V (anchor) | dPSNR Y | dPSNR U | dPSNR V | ns/sample |\n");
    s.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {:.1} | {:.3} / {:.3} / {:.3} | {:+.4} | {:+.4} | {:+.4} | {:.1} |\n",
            r.sequence,
            r.config,
            r.qp,
            r.frames,
            r.kbps,
            r.psnr_anchor[0],
            r.psnr_anchor[1],
            r.psnr_anchor[2],
            r.psnr_test[0] - r.psnr_anchor[0],
            r.psnr_test[1] - r.psnr_anchor[1],
            r.psnr_test[2] - r.psnr_anchor[2],
            r.ns_per_sample,
        ));
    }
    // Mean delta-PSNR per configuration and nominal QP.
    let mut keys: Vec<(String, u32)> = rows.iter().map(|r| (r.config.clone(), r.qp)).collect();
    keys.sort();
    keys.dedup();
    s.push_str(
        "\n| cfg | QP | mean dPSNR Y | mean dPSNR U | mean dPSNR V |\n|---|---|---|---|---|\n",
    );
    for (cfg, qp) in keys {
        let sel: Vec<&EvalRow> = rows
            .iter()
            .filter(|r| r.config == cfg && r.qp == qp)
            .collect();
        let mean = |c: usize| {
            sel.iter()
                .map(|r| r.psnr_test[c] - r.psnr_anchor[c])
                .sum::<f64>()
                / sel.len() as f64
        };
        s.push_str(&format!(
            "| {cfg} | {qp} | {:+.4} | {:+.4} | {:+.4} |\n",
            mean(0),
            mean(1),
            mean(2)
        ));
    }
    let mut bd: Vec<_> = bd_rates(rows, qps).into_iter().collect();
    bd.sort_by(|a, b| a.0.cmp(&b.0));
    s.push_str(&format!(
        "\nBD-rate (PCHIP, QPs {qps:?}; negative = saving)\n\n| cfg | sequence | Y | U | V | YUV |\n|---|---|---|---|---|---|\n"
    ));
    for (cfg, cmp) in bd {
        match cmp {
            Ok(c) => {
                for q in &c.sequences {
                    s.push_str(&format!(
                        "| {cfg} | {} | {:+.2} % | {:+.2} % | {:+.2} % | {:+.2} % |\n",
                        q.sequence, q.y, q.u, q.v, q.yuv
                    ));
                }
                let o = &c.overall;
                s.push_str(&format!(
                    "| {cfg} | **average** | **{:+.2} %** | **{:+.2} %** | **{:+.2} %** | **{:+.2} %** |\n",
                    o.y, o.u, o.v, o.yuv
                ));
            }
            Err(e) => s.push_str(&format!("| {cfg} | error: {e} | | | | |\n")),
        }
    }
    s
}
