#!/bin/sh
# Installs the lutfilter C library (what `cargo cinstall` would do, without cargo-c):
#   cargo build -p lut-filter-ffi --release
#   ffi/scripts/install.sh /usr/local            # or any prefix, e.g. $HOME/.local
# Copies liblutfilter.a and the shared library to PREFIX/lib, lutfilter.h to PREFIX/include
# and writes PREFIX/lib/pkgconfig/lutfilter.pc from ffi/lutfilter.pc.in.
# Optional second argument: the folder holding the built libraries (default target/release).
set -eu
if [ $# -lt 1 ]; then
    echo "usage: $0 PREFIX [LIBRARY_DIR]" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")/.." && pwd)        # ffi/
root=$(cd "$here/.." && pwd)                   # workspace
prefix=$1
libs=${2:-${CARGO_TARGET_DIR:-$root/target}/release}
case $(uname -s) in
    Darwin) shared=liblutfilter.dylib ;;
    *) shared=liblutfilter.so ;;
esac
for f in liblutfilter.a "$shared"; do
    if [ ! -f "$libs/$f" ]; then
        echo "$libs/$f not found: run 'cargo build -p lut-filter-ffi --release' first" >&2
        exit 1
    fi
done
version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)
mkdir -p "$prefix/lib/pkgconfig" "$prefix/include"
cp "$libs/liblutfilter.a" "$libs/$shared" "$prefix/lib/"
cp "$here/include/lutfilter.h" "$prefix/include/"
sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" "$here/lutfilter.pc.in" \
    > "$prefix/lib/pkgconfig/lutfilter.pc"
echo "installed lutfilter $version to $prefix"
