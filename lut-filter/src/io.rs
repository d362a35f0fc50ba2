//! Small file helpers shared by the library and its command line.

use std::io::Write;
use std::path::Path;

use crate::Error;

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, flushed, then
/// renamed over `path`. On any error the temporary file is removed and `path` is untouched.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Like [`write_atomic`], with the content produced by `fill`.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<&std::fs::File>) -> std::io::Result<()>,
) -> Result<(), Error> {
    write_atomic_try(path, |w| {
        fill(w).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    })
}

/// Like [`write_atomic_with`], for producers with their own error type and a result: an
/// error from `fill` is returned as is (and nothing is left at `path`); I/O errors of the
/// temporary file or the rename become `E` through `From<Error>`.
pub fn write_atomic_try<R, E: From<Error>>(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<&std::fs::File>) -> Result<R, E>,
) -> Result<R, E> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io(std::io::Error::other("the output path names no file")))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let file = std::fs::File::create(&tmp).map_err(io)?;
    let outcome = (|| {
        let value = {
            let mut w = std::io::BufWriter::new(&file);
            let value = fill(&mut w)?;
            w.flush().map_err(io)?;
            value
        };
        file.sync_all().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)?;
        Ok(value)
    })();
    if outcome.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    outcome
}

/// A safetensors file from its JSON header (already serialised) and its tensor bytes: the
/// header length (u64, little endian), the header padded with spaces to a multiple of 8 bytes
/// (so the data stays 8-byte aligned), then the data. One framing for every file we write.
pub fn safetensors_bytes(mut header: Vec<u8>, data: &[u8]) -> Vec<u8> {
    while !header.len().is_multiple_of(8) {
        header.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + header.len() + data.len());
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(data);
    out
}
