//! The committed C header must be what cbindgen generates from the current sources.
//!
//! Regenerate it with `LUTF_BLESS_HEADER=1 cargo test -p lut-filter-ffi --test header`.

use std::path::Path;

#[test]
fn committed_header_is_up_to_date() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("ffi/cbindgen.toml is readable");
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let temp = tempfile::tempdir().expect("temporary directory");
    let fresh = temp.path().join("lutfilter.h");
    bindings.write_to_file(&fresh);
    let fresh = portable(&std::fs::read_to_string(&fresh).expect("generated header"));
    let committed_path = crate_dir.join("include/lutfilter.h");
    if std::env::var_os("LUTF_BLESS_HEADER").is_some() {
        std::fs::create_dir_all(crate_dir.join("include")).expect("include/ exists");
        std::fs::write(&committed_path, &fresh).expect("header written");
        return;
    }
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    assert!(
        committed == fresh,
        "ffi/include/lutfilter.h is stale (the C API in ffi/src changed); run \
         `LUTF_BLESS_HEADER=1 cargo test -p lut-filter-ffi --test header` to regenerate it \
         and commit the result"
    );
}

/// cbindgen tests `__STDC_VERSION__` also when compiling C++, where it is undefined (a
/// `-Wundef` warning); guard those tests so the header is clean under every warning set.
fn portable(header: &str) -> String {
    header.replace(
        "__STDC_VERSION__ >= 202311L",
        "(defined(__STDC_VERSION__) && __STDC_VERSION__ >= 202311L)",
    )
}
