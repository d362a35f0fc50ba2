//! Arbitrary bytes as a `.lut` container: `Container::from_bytes` must return a typed error or
//! a container whose every model filters small random pictures (region = whole plane) without
//! panicking. Each input is tried as is and, when its header has a `crc32:` value, with that
//! value repaired, so mutations reach the description and table checks behind the checksum.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lut_filter_fuzz::{exercise_container, fix_checksum};

fuzz_target!(|data: &[u8]| {
    exercise_container(data);
    if let Some(fixed) = fix_checksum(data) {
        exercise_container(&fixed);
    }
});
