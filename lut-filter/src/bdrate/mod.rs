//! Bjøntegaard-delta rate and PSNR (DESIGN §4). Being written (issue 6).
