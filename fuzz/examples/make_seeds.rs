//! Writes the seed corpora under `corpus/<target>/` (run from the fuzz folder:
//! `cargo +nightly run --example make_seeds`). Deterministic: re-running rewrites the same
//! files.

use std::path::Path;

use lut_filter::Component;
use lut_filter_fuzz::{tiny_chroma_model, tiny_container, tiny_luma_model};

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    std::fs::create_dir_all(&dir).expect("corpus folder");
    std::fs::write(dir.join(name), bytes).expect("seed written");
}

fn main() {
    // container: a one-node luma model; luma + cross-component U and V; a truncated copy.
    let luma = tiny_container(&[tiny_luma_model("y", [0, 63])], 1);
    write("container", "luma-dfc", &luma);
    let all = tiny_container(
        &[
            tiny_luma_model("y-low", [0, 31]),
            tiny_luma_model("y-high", [32, 63]),
            tiny_chroma_model("u", Component::U, [0, 63]),
            tiny_chroma_model("v", Component::V, [20, 50]),
        ],
        2,
    );
    write("container", "yuv-cross-component", &all);
    write("container", "truncated", &luma[..luma.len() - 100]);
    write("container", "header-only", &luma[..64]);

    // ffi_filter: byte strings the harness decodes into calls (opcode first), plus an
    // open_memory case carrying a whole container.
    for (i, seed) in [
        &[0u8, 0, 20, 20, 1, 10, 0, 5, 4, 4, 4, 3, 3, 3, 9, 9][..],
        &[
            8, 1, 33, 17, 1, 10, 1, 37, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
        ],
        &[
            16, 2, 40, 40, 2, 12, 2, 22, 1, 2, 3, 0, 0, 0, 200, 100, 50, 25,
        ],
        &[4, 10, 10, 16, 16, 16, 1, 2, 3, 4, 5, 6, 7, 8],
        &[5, 8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
        &[7, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13],
    ]
    .iter()
    .enumerate()
    {
        write("ffi_filter", &format!("call-{i}"), seed);
    }
    let mut open = vec![6u8, 0, 0, 0, 0, 1, 37, 0, 0, 0];
    open.extend_from_slice(&luma);
    write("ffi_filter", "open-memory", &open);

    // y4m: small streams of each sample layout.
    let frame = |w: usize, h: usize, chroma: usize, bytes: usize, n: usize| {
        let mut out = Vec::new();
        for f in 0..n {
            out.extend_from_slice(if f == 1 { b"FRAME Ixyz\n" } else { b"FRAME\n" });
            for i in 0..(w * h + 2 * chroma) * bytes {
                out.push((i * 7 + f) as u8);
            }
        }
        out
    };
    let mut s = b"YUV4MPEG2 W8 H6 F25:1 Ip A1:1 C420jpeg XYSCSS=420JPEG\n".to_vec();
    s.extend(frame(8, 6, 12, 1, 2));
    write("y4m", "420-8bit", &s);
    let mut s = b"YUV4MPEG2 W5 H3 F30000:1001 C420p10\n".to_vec();
    s.extend(frame(5, 3, 6, 2, 1));
    write("y4m", "420p10-odd", &s);
    let mut s = b"YUV4MPEG2 W4 H4 F1:1 C444p12\n".to_vec();
    s.extend(frame(4, 4, 16, 2, 1));
    write("y4m", "444p12", &s);
    let mut s = b"YUV4MPEG2 W7 H2 Cmono\n".to_vec();
    s.extend(frame(7, 2, 0, 1, 2));
    write("y4m", "mono", &s);
    let mut s = b"YUV4MPEG2 W6 H4 C422p10\n".to_vec();
    s.extend(frame(6, 4, 12, 2, 1));
    s.truncate(s.len() - 5);
    write("y4m", "422p10-truncated", &s);

    // bdrate_logs: a VTM log, a VVenC log and points CSVs.
    write(
        "bdrate_logs",
        "vtm.log",
        b"VVCSoftware: VTM Encoder Version 23.0\n\
POC    0 LId:  0 TId: 0 ( IDR_N_LP, I-SLICE, QP 37 )      26536 bits [Y 32.2166 dB    U 40.3274 dB    V 40.8178 dB] [ET     1 ] [L0 ] [L1 ]\n\
POC    1 LId:  0 TId: 0 ( TRAIL, B-SLICE, QP 38 )       1234 bits [Y 31.0 dB    U 40.0 dB    V 40.5 dB] [ET     1 ] [L0 0 ] [L1 0 ]\n\
\n\
SUMMARY --------------------------------------------------------\n\
\tTotal Frames |   Bitrate     Y-PSNR    U-PSNR    V-PSNR    YUV-PSNR \n\
\t        2    a     829.0400   32.2166   40.3274   40.8178   33.8910\n\
\n\
I Slices--------------------------------------------------------\n\
\tTotal Frames |   Bitrate     Y-PSNR    U-PSNR    V-PSNR    YUV-PSNR \n\
\t        1    i    1592.0800   32.2166   40.3274   40.8178   33.8910\n",
    );
    write(
        "bdrate_logs",
        "vvenc.log",
        b"vvenc [info]: POC    0 LId:  0 TId: 0 ( IDR_W_RADL, I-SLICE, QP 32 )  12345 bits [Y 35.1 dB    U 41.2 dB    V 42.3 dB]\n\
vvenc [info]:\tTotal Frames |   Bitrate     Y-PSNR    U-PSNR    V-PSNR    YUV-PSNR \n\
vvenc [info]:\t        1    a     600.0000   35.1000   41.2000   42.3000   36.5\n",
    );
    write(
        "bdrate_logs",
        "points.csv",
        b"# anchor\nsequence,class,qp,kbps,psnr_y,psnr_u,psnr_v\n\
A,B,22,4000,40,44,45\nA,B,27,2000,37.5,42,43\nA,B,32,1000,35,40,41\nA,B,37,500,32.5,38,39\n",
    );
    write(
        "bdrate_logs",
        "points-reordered.csv",
        b"qp, Sequence ,kbps,psnr_y,psnr_u,psnr_v,time\n22,Foo,1000.5,40.1,44,45.5,12\n27,Foo,500,38,42,43,9\n",
    );
    let fixtures =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../lut-filter/tests/fixtures/bdrate");
    for name in ["anchor.csv", "test.csv", "vtm_foreman_qp37.log"] {
        let bytes = std::fs::read(fixtures.join(name)).expect("bdrate fixture");
        write("bdrate_logs", name, &bytes);
    }
    println!("seeds written");
}
