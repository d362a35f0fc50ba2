//! The benchmark report: per-point table, delta-PSNR per QP, BD-rates per sequence, class and
//! overall (JVET conventions: PCHIP, Y/U/V and YUV weighted 6:1:1), as Markdown, CSV and JSON,
//! and RD-curve plots ([`plot`]).

pub mod maps;
pub mod plot;

use std::collections::BTreeMap;

use lut_filter::bdrate::{self, Comparison, Method, RdPoint, RdSample};
use serde::Serialize;

use crate::evaluate::{CtuSwitch, EvalRow};

/// Everything the report shows.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// What was measured (container path or "embedded default").
    pub container: String,
    /// The container's CRC-32.
    pub crc32: u32,
    /// The container's size in bytes.
    pub bytes: usize,
    /// The QPs of the BD-rate.
    pub bd_qps: Vec<u32>,
    /// One row per RD point (configuration, sequence, QP order).
    pub rows: Vec<EvalRow>,
    /// Per configuration: the BD-rate comparison (filter always on), or why there is none.
    pub bd_rate: BTreeMap<String, Result<Comparison, String>>,
    /// Per configuration: the BD-rate with the CTU on/off emulation (flags in the rate).
    pub bd_rate_switched: BTreeMap<String, Result<Comparison, String>>,
    /// The CTU on/off emulation's parameters.
    pub ctu_switch: CtuSwitch,
    /// Per configuration and sequence: luma BD-PSNR (dB, PCHIP), when computable.
    pub bd_psnr_y: BTreeMap<String, BTreeMap<String, f64>>,
    /// Wall time of the whole run, seconds.
    pub wall_s: f64,
    /// Worker threads.
    pub threads: usize,
}

impl Report {
    /// Builds the report (rows are sorted by configuration, sequence, QP).
    pub fn new(
        container: String,
        crc32: u32,
        bytes: usize,
        mut rows: Vec<EvalRow>,
        bd_qps: &[u32],
        ctu_switch: CtuSwitch,
    ) -> Self {
        rows.sort_by(|a, b| (&a.config, &a.sequence, a.qp).cmp(&(&b.config, &b.sequence, b.qp)));
        let mut bd_rate = BTreeMap::new();
        let mut bd_rate_switched = BTreeMap::new();
        let mut bd_psnr_y: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
        for cfg in configs(&rows) {
            let sel: Vec<&EvalRow> = rows
                .iter()
                .filter(|r| r.config == cfg && bd_qps.contains(&r.qp))
                .collect();
            let sample = |r: &EvalRow, kbps: f64, p: [f64; 3]| RdSample {
                sequence: r.sequence.clone(),
                class: r.class.clone(),
                qp: r.qp as i32,
                kbps,
                psnr_y: p[0],
                psnr_u: p[1],
                psnr_v: p[2],
            };
            let a: Vec<RdSample> = sel
                .iter()
                .map(|r| sample(r, r.kbps, r.psnr_anchor))
                .collect();
            let t: Vec<RdSample> = sel.iter().map(|r| sample(r, r.kbps, r.psnr_test)).collect();
            let sw: Vec<RdSample> = sel
                .iter()
                .map(|r| sample(r, r.kbps_switched, r.psnr_switched))
                .collect();
            bd_rate.insert(
                cfg.clone(),
                bdrate::compare(&a, &t, Method::Pchip).map_err(|e| e.to_string()),
            );
            bd_rate_switched.insert(
                cfg.clone(),
                bdrate::compare(&a, &sw, Method::Pchip).map_err(|e| e.to_string()),
            );
            for seq in sequences(&rows, &cfg) {
                let pts = |f: fn(&EvalRow) -> f64| -> Vec<RdPoint> {
                    sel.iter()
                        .filter(|r| r.sequence == seq)
                        .map(|r| RdPoint::new(r.kbps, f(r)))
                        .collect()
                };
                if let Ok(r) = bdrate::bd_psnr(
                    &pts(|r| r.psnr_anchor[0]),
                    &pts(|r| r.psnr_test[0]),
                    Method::Pchip,
                ) {
                    bd_psnr_y
                        .entry(cfg.clone())
                        .or_default()
                        .insert(seq, r.value);
                }
            }
        }
        Self {
            container,
            crc32,
            bytes,
            bd_qps: bd_qps.to_vec(),
            rows,
            bd_rate,
            bd_rate_switched,
            ctu_switch,
            bd_psnr_y,
            wall_s: 0.0,
            threads: rayon::current_num_threads(),
        }
    }

    /// The report as Markdown.
    pub fn markdown(&self) -> String {
        let mut s = format!(
            "# LUT filter benchmark\n\ncontainer: {} (crc32 {:08x}, {} bytes)\n\n",
            self.container, self.crc32, self.bytes
        );
        s.push_str(&format!(
            "## BD-rate (PCHIP over QPs {:?}; negative = bit saving at equal PSNR)\n\n",
            self.bd_qps
        ));
        s.push_str("| cfg | sequence | class | Y | U | V | YUV (6:1:1) | BD-PSNR Y (dB) |\n|---|---|---|---|---|---|---|---|\n");
        s.push_str(&bd_table_rows(&self.bd_rate, &|cfg, seq| {
            self.bd_psnr_y
                .get(cfg)
                .and_then(|m| m.get(seq))
                .map_or("-".into(), |v| format!("{v:+.4}"))
        }));
        if self
            .bd_rate
            .values()
            .flatten()
            .any(|c| c.sequences.iter().any(|q| !q.small_overlap.is_empty()))
        {
            s.push_str("\n⚠: PSNR ranges of anchor and test overlap little for some component; read with care.\n");
        }
        s.push_str(&format!(
            "\n## BD-rate with CTU on/off (what an encoder keeps)\n\nPer picture and component the \
             encoder emulation keeps off / all on / per-CTU flags (CTU {} luma, {} chroma) by \
             J = D + lambda R, lambda = {} * 2^(sliceQP/3); every flag is counted as {} bit in the \
             rate.{}\n\n| cfg | sequence | class | Y | U | V | YUV (6:1:1) | |\n|---|---|---|---|---|---|---|---|\n",
            self.ctu_switch.ctu,
            self.ctu_switch.ctu / 2,
            self.ctu_switch.lambda_factor,
            self.ctu_switch.flag_bits,
            if self.ctu_switch.qp_offsets.len() > 1 {
                format!(
                    " Candidate models: those selected at slice QP + {:?}, chosen per picture or \
                     per CTU, the index coded.",
                    self.ctu_switch.qp_offsets
                )
            } else {
                String::new()
            }
        ));
        s.push_str(&bd_table_rows(&self.bd_rate_switched, &|_, _| {
            String::new()
        }));
        s.push_str("\n## Mean delta-PSNR per QP (dB)\n\n| cfg | QP | sequences | Y | U | V |\n|---|---|---|---|---|---|\n");
        let mut keys: Vec<(&str, u32)> = self
            .rows
            .iter()
            .map(|r| (r.config.as_str(), r.qp))
            .collect();
        keys.sort();
        keys.dedup();
        for (cfg, qp) in keys {
            let sel: Vec<&EvalRow> = self
                .rows
                .iter()
                .filter(|r| r.config == cfg && r.qp == qp)
                .collect();
            let m = |c: usize| sel.iter().map(|r| r.delta()[c]).sum::<f64>() / sel.len() as f64;
            s.push_str(&format!(
                "| {cfg} | {qp} | {} | {:+.4} | {:+.4} | {:+.4} |\n",
                sel.len(),
                m(0),
                m(1),
                m(2)
            ));
        }
        s.push_str("\n## Every RD point\n\n| cfg | sequence | QP | frames | kbps | PSNR Y/U/V (anchor) | dPSNR Y | dPSNR U | dPSNR V | CTU on/off: dPSNR Y, CTUs on Y/U/V, flag kbps | ns/sample (1 thread) |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
        for r in &self.rows {
            let d = r.delta();
            let on = r.ctus_on.map(|f| (f * 100.0).round());
            s.push_str(&format!(
                "| {} | {} | {} | {} | {:.1} | {:.3} / {:.3} / {:.3} | {:+.4} | {:+.4} | {:+.4} | {:+.4}, {}/{}/{} %, {:.2} | {:.1} |\n",
                r.config, r.sequence, r.qp, r.frames, r.kbps,
                r.psnr_anchor[0], r.psnr_anchor[1], r.psnr_anchor[2],
                d[0], d[1], d[2],
                r.delta_switched()[0], on[0], on[1], on[2], r.kbps_switched - r.kbps,
                r.ns_per_sample,
            ));
        }
        let (ns, n) = self
            .rows
            .iter()
            .fold((0.0, 0), |(s, n), r| (s + r.ns_per_sample, n + 1));
        s.push_str(&format!(
            "\nfilter time: mean {:.1} ns/sample over {n} points (one thread per point, {} points in parallel)\n",
            ns / f64::from(n.max(1)),
            self.threads
        ));
        if self.wall_s > 0.0 {
            s.push_str(&format!("wall time {:.1} s\n", self.wall_s));
        }
        s
    }

    /// The points as CSV (one row per RD point).
    pub fn points_csv(&self) -> String {
        let mut csv = String::from(
            "config,sequence,class,qp,frames,kbps,psnr_y,psnr_u,psnr_v,psnr_y_filtered,\
             psnr_u_filtered,psnr_v_filtered,kbps_ctu_switched,psnr_y_ctu_switched,\
             psnr_u_ctu_switched,psnr_v_ctu_switched,ns_per_sample\n",
        );
        for r in &self.rows {
            let [a, t] = [r.psnr_anchor, r.psnr_test];
            csv.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
                r.config,
                r.sequence,
                r.class.as_deref().unwrap_or(""),
                r.qp,
                r.frames,
                r.kbps,
                a[0],
                a[1],
                a[2],
                t[0],
                t[1],
                t[2],
                r.kbps_switched,
                r.psnr_switched[0],
                r.psnr_switched[1],
                r.psnr_switched[2],
                r.ns_per_sample
            ));
        }
        csv
    }

    /// The BD-rates as CSV: `variant,config,kind,name,class,y,u,v,yuv` (variant `always_on`
    /// or `ctu_switched`).
    pub fn bd_csv(&self) -> String {
        let mut out = String::from("variant,config,kind,name,class,y,u,v,yuv\n");
        for (variant, map) in [
            ("always_on", &self.bd_rate),
            ("ctu_switched", &self.bd_rate_switched),
        ] {
            for (cfg, c) in map {
                if let Ok(c) = c {
                    for line in c.to_csv().lines().skip(1) {
                        out.push_str(&format!("{variant},{cfg},{line}\n"));
                    }
                }
            }
        }
        out
    }
}

/// Markdown rows of a BD-rate table `| cfg | sequence | class | Y | U | V | YUV | extra |`:
/// per sequence (marked ⚠ when a PSNR overlap is small), per class and the average; `extra`
/// gives the last cell of a sequence row from its configuration and name.
fn bd_table_rows(
    table: &BTreeMap<String, Result<Comparison, String>>,
    extra: &dyn Fn(&str, &str) -> String,
) -> String {
    let mut s = String::new();
    for (cfg, cmp) in table {
        let c = match cmp {
            Ok(c) => c,
            Err(e) => {
                s.push_str(&format!("| {cfg} | no BD-rate: {e} | | | | | | |\n"));
                continue;
            }
        };
        for q in &c.sequences {
            let warn = if q.small_overlap.is_empty() {
                ""
            } else {
                " ⚠"
            };
            s.push_str(&format!(
                "| {cfg} | {}{warn} | {} | {:+.2} % | {:+.2} % | {:+.2} % | {:+.2} % | {} |\n",
                q.sequence,
                q.class.as_deref().unwrap_or("-"),
                q.y,
                q.u,
                q.v,
                q.yuv,
                extra(cfg, &q.sequence)
            ));
        }
        for a in c.classes.iter().chain([&c.overall]) {
            let name = if a.name == "overall" {
                "average".to_string()
            } else {
                format!("class {}", a.name)
            };
            s.push_str(&format!(
                "| {cfg} | **{name}** ({} seq.) | | **{:+.2} %** | **{:+.2} %** | **{:+.2} %** | **{:+.2} %** | |\n",
                a.sequences, a.y, a.u, a.v, a.yuv
            ));
        }
    }
    s
}

/// Configurations present, sorted.
pub fn configs(rows: &[EvalRow]) -> Vec<String> {
    let mut v: Vec<String> = rows.iter().map(|r| r.config.clone()).collect();
    v.sort();
    v.dedup();
    v
}

/// Sequences of a configuration, sorted.
pub fn sequences(rows: &[EvalRow], config: &str) -> Vec<String> {
    let mut v: Vec<String> = rows
        .iter()
        .filter(|r| r.config == config)
        .map(|r| r.sequence.clone())
        .collect();
    v.sort();
    v.dedup();
    v
}
