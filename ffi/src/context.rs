//! The opaque context: an opened container, its model names and a worker pool.

use std::ffi::{CStr, CString, c_char, c_void};
use std::sync::{Arc, RwLock};

use lut_filter::{Component, Container};

use crate::status::{Failure, FfiResult, guard, guard_result, lutf_status};
use crate::types::{lutf_component, lutf_model_info};
use lutf_status::*;

/// An opened, validated LUT container with its worker threads. Opaque to C; create it with
/// `lutf_open_file`, `lutf_open_memory` or `lutf_open_default`, free it with `lutf_close`.
/// Every function taking a `const lutf_ctx*` may be called from many threads at once.
pub struct lutf_ctx {
    pub(crate) container: Container,
    models: Vec<ModelEntry>,
    pool: RwLock<Arc<rayon::ThreadPool>>,
}

struct ModelEntry {
    name: CString,
    margin: i32,
}

impl std::fmt::Debug for lutf_ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("lutf_ctx")
            .field("container", &self.container)
            .field("threads", &self.pool().current_num_threads())
            .finish()
    }
}

fn build_pool(threads: usize) -> FfiResult<Arc<rayon::ThreadPool>> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("lutf-{i}"))
        .build()
        .map(Arc::new)
        .map_err(|e| {
            Failure::new(
                LUTF_ERR_THREADS,
                format!("cannot start worker threads: {e}"),
            )
        })
}

impl lutf_ctx {
    fn new(container: Container) -> FfiResult<Self> {
        let models = container
            .models()
            .map(|m| {
                let name = CString::new(m.description().name.as_bytes())
                    .unwrap_or_else(|_| c"<invalid name>".to_owned());
                let margin = i32::try_from(m.margin()).unwrap_or(i32::MAX);
                ModelEntry { name, margin }
            })
            .collect();
        Ok(lutf_ctx {
            container,
            models,
            pool: RwLock::new(build_pool(1)?),
        })
    }

    /// The current worker pool (cloned out of the lock, so calls never hold it while working).
    pub(crate) fn pool(&self) -> Arc<rayon::ThreadPool> {
        match self.pool.read() {
            Ok(p) => Arc::clone(&p),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }
}

/// Checks a context pointer and borrows it.
///
/// # Safety
/// A non-NULL `ctx` must come from a `lutf_open_*` call and not be closed yet.
pub(crate) unsafe fn ctx_ref<'a>(ctx: *const lutf_ctx) -> FfiResult<&'a lutf_ctx> {
    // SAFETY: the caller guarantees a non-NULL ctx is a live context created by Box::into_raw.
    unsafe { ctx.as_ref() }.ok_or_else(|| Failure::new(LUTF_ERR_NULL_POINTER, "ctx is NULL"))
}

/// Maps a C component value.
pub(crate) fn component(value: i32) -> FfiResult<Component> {
    match value {
        0 => Ok(Component::Y),
        1 => Ok(Component::U),
        2 => Ok(Component::V),
        _ => Err(Failure::new(
            LUTF_ERR_COMPONENT,
            format!("component {value} is not 0 (Y), 1 (Cb) or 2 (Cr)"),
        )),
    }
}

fn component_value(c: Component) -> i32 {
    match c {
        Component::Y => lutf_component::LUTF_COMP_Y as i32,
        Component::U => lutf_component::LUTF_COMP_CB as i32,
        Component::V => lutf_component::LUTF_COMP_CR as i32,
    }
}

/// Checks the out-pointer of an open call and clears it; returns it as a reference.
///
/// # Safety
/// A non-NULL `out` must be valid for writing one pointer.
unsafe fn open_out<'a>(out: *mut *mut lutf_ctx) -> FfiResult<&'a mut *mut lutf_ctx> {
    // SAFETY: the caller guarantees a non-NULL `out` is writable and aligned.
    let out = unsafe { out.as_mut() }
        .ok_or_else(|| Failure::new(LUTF_ERR_NULL_POINTER, "ctx_out is NULL"))?;
    *out = std::ptr::null_mut();
    Ok(out)
}

fn finish_open(out: &mut *mut lutf_ctx, container: Container) -> FfiResult {
    let ctx = lutf_ctx::new(container)?;
    *out = Box::into_raw(Box::new(ctx));
    Ok(LUTF_OK)
}

/// Opens a container file. By default the file is memory-mapped (it must then not be
/// modified or truncated while the context is open); with `LUTF_OPEN_READ` in `flags` it is
/// read into memory. The whole file is validated (structure, checksum, every table) here.
///
/// On success `*ctx_out` receives the new context (1 worker thread, see `lutf_set_threads`);
/// on failure it is set to NULL when `ctx_out` is not NULL.
///
/// # Safety
/// `path` must be NULL or a NUL-terminated string (bytes of the file name on Unix, UTF-8
/// elsewhere); `ctx_out` must be NULL or valid for writing one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_open_file(
    path: *const c_char,
    flags: u32,
    ctx_out: *mut *mut lutf_ctx,
) -> lutf_status {
    guard(|| {
        // SAFETY: forwarded caller guarantee on ctx_out.
        let out = unsafe { open_out(ctx_out) }?;
        if path.is_null() {
            return Err(Failure::new(LUTF_ERR_NULL_POINTER, "path is NULL"));
        }
        if flags & !crate::types::LUTF_OPEN_READ != 0 {
            return Err(Failure::new(
                LUTF_ERR_INVALID_ARGUMENT,
                format!("unknown flags 0x{flags:x} (known: LUTF_OPEN_READ = 1)"),
            ));
        }
        // SAFETY: path is non-NULL and NUL-terminated by the caller's guarantee.
        let path = unsafe { CStr::from_ptr(path) };
        let path = c_path(path)?;
        let container = if flags & crate::types::LUTF_OPEN_READ != 0 {
            Container::read(&path)?
        } else {
            Container::open(&path)?
        };
        finish_open(out, container)
    })
}

#[cfg(unix)]
fn c_path(path: &CStr) -> FfiResult<std::path::PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    Ok(std::ffi::OsStr::from_bytes(path.to_bytes()).into())
}

#[cfg(not(unix))]
fn c_path(path: &CStr) -> FfiResult<std::path::PathBuf> {
    path.to_str()
        .map(Into::into)
        .map_err(|_| Failure::new(LUTF_ERR_INVALID_ARGUMENT, "path is not valid UTF-8"))
}

/// Opens a container held in memory: the `len` bytes at `data` are copied (the caller may free
/// them after the call) and validated.
///
/// # Safety
/// `data` must be NULL or address `len` readable bytes; `ctx_out` must be NULL or valid for
/// writing one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_open_memory(
    data: *const c_void,
    len: usize,
    ctx_out: *mut *mut lutf_ctx,
) -> lutf_status {
    guard(|| {
        // SAFETY: forwarded caller guarantee on ctx_out.
        let out = unsafe { open_out(ctx_out) }?;
        if data.is_null() {
            return Err(Failure::new(LUTF_ERR_NULL_POINTER, "data is NULL"));
        }
        if len == 0 || len > isize::MAX as usize {
            return Err(Failure::new(
                LUTF_ERR_SIZE,
                format!("container length {len} is not a valid buffer size"),
            ));
        }
        // SAFETY: data is non-NULL and addresses `len` readable bytes (caller guarantee);
        // len <= isize::MAX was checked; the slice is copied before returning.
        let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) }.to_vec();
        finish_open(out, Container::from_bytes(bytes)?)
    })
}

/// Opens the container embedded in the library (no file needed, nothing copied). See
/// `lutf_default_is_identity`.
///
/// # Safety
/// `ctx_out` must be NULL or valid for writing one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_open_default(ctx_out: *mut *mut lutf_ctx) -> lutf_status {
    guard(|| {
        // SAFETY: forwarded caller guarantee on ctx_out.
        let out = unsafe { open_out(ctx_out) }?;
        finish_open(out, lut_filter::default_model::open()?)
    })
}

/// Frees a context (NULL is ignored). No call on it may be running or follow.
///
/// # Safety
/// `ctx` must be NULL or a context from `lutf_open_*` not closed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_close(ctx: *mut lutf_ctx) {
    let _ = guard(|| {
        if !ctx.is_null() {
            // SAFETY: ctx came from Box::into_raw in finish_open and is closed only once.
            drop(unsafe { Box::from_raw(ctx) });
        }
        Ok(LUTF_OK)
    });
}

/// Returns 1 if the container embedded in this build is the identity placeholder (all-zero
/// tables: filtering with `lutf_open_default` returns its input unchanged), else 0.
#[unsafe(no_mangle)]
pub extern "C" fn lutf_default_is_identity() -> i32 {
    crate::status::guard_value(1, || {
        i32::from(lut_filter::default_model::IS_IDENTITY_PLACEHOLDER)
    })
}

/// Returns 1 if no model of `ctx` changes any sample (all residual scales are 0, or there are
/// no models), 0 otherwise, or a negative `lutf_status` on error.
///
/// # Safety
/// `ctx` must be NULL or a live context.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_is_identity(ctx: *const lutf_ctx) -> i32 {
    guard_result(|| {
        // SAFETY: forwarded caller guarantee.
        let ctx = unsafe { ctx_ref(ctx) }?;
        Ok(i32::from(
            ctx.container
                .models()
                .all(|m| m.description().output.scale == 0),
        ))
    })
    .unwrap_or_else(|s| s as i32)
}

/// Writes the number of models of `ctx` to `*count`.
///
/// # Safety
/// `ctx` must be NULL or a live context; `count` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_model_count(ctx: *const lutf_ctx, count: *mut i32) -> lutf_status {
    guard(|| {
        // SAFETY: forwarded caller guarantee.
        let ctx = unsafe { ctx_ref(ctx) }?;
        // SAFETY: a non-NULL count is writable (caller guarantee).
        let count = unsafe { count.as_mut() }
            .ok_or_else(|| Failure::new(LUTF_ERR_NULL_POINTER, "count is NULL"))?;
        *count = i32::try_from(ctx.models.len()).unwrap_or(i32::MAX);
        Ok(LUTF_OK)
    })
}

/// Describes model `index` (0 ≤ index < count) of `ctx` in `*info`.
///
/// # Safety
/// `ctx` must be NULL or a live context; `info` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_get_model_info(
    ctx: *const lutf_ctx,
    index: i32,
    info: *mut lutf_model_info,
) -> lutf_status {
    guard(|| {
        // SAFETY: forwarded caller guarantee.
        let ctx = unsafe { ctx_ref(ctx) }?;
        if info.is_null() {
            return Err(Failure::new(LUTF_ERR_NULL_POINTER, "info is NULL"));
        }
        let i = usize::try_from(index)
            .ok()
            .filter(|&i| i < ctx.models.len())
            .ok_or_else(|| {
                Failure::new(
                    LUTF_ERR_INVALID_ARGUMENT,
                    format!(
                        "model index {index} is out of range (the context has {} models)",
                        ctx.models.len()
                    ),
                )
            })?;
        let model = ctx
            .container
            .models()
            .nth(i)
            .ok_or_else(|| Failure::new(LUTF_ERR_INTERNAL, "model list changed"))?;
        let d = model.description();
        let value = lutf_model_info {
            name: ctx.models[i].name.as_ptr(),
            component: component_value(d.component),
            qp_min: d.qp_range[0],
            qp_max: d.qp_range[1],
            bit_depth_min: i32::from(d.bit_depths[0]),
            bit_depth_max: i32::from(d.bit_depths[1]),
            margin: ctx.models[i].margin,
            is_identity: i32::from(d.output.scale == 0),
        };
        // SAFETY: info is non-NULL and writable (caller guarantee); plain data, no drop.
        unsafe { info.write(value) };
        Ok(LUTF_OK)
    })
}

/// The index of the model the filter uses for `component` at slice QP `qp` (the model whose QP
/// range contains `qp`, else the nearest range; ties: the lower range). Returns `LUTF_OK` with
/// `*index` set, or `LUTF_NOT_FILTERED` with `*index = -1` when the context has no model for
/// the component.
///
/// # Safety
/// `ctx` must be NULL or a live context; `index` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_select_model(
    ctx: *const lutf_ctx,
    component: i32,
    qp: i32,
    index: *mut i32,
) -> lutf_status {
    // SAFETY: forwarded caller guarantees.
    guard(|| unsafe { select_model_into(ctx, component, qp, None, index) })
}

/// `lutf_select_model` for a picture of kind `kind` (shared with `lutf_select_model_slice`).
///
/// # Safety
/// `ctx` must be NULL or a live context; `index` NULL or writable.
pub(crate) unsafe fn select_model_into(
    ctx: *const lutf_ctx,
    component: i32,
    qp: i32,
    kind: Option<lut_filter::PictureKind>,
    index: *mut i32,
) -> FfiResult {
    // SAFETY: forwarded caller guarantee.
    let ctx = unsafe { ctx_ref(ctx) }?;
    // SAFETY: a non-NULL index is writable (caller guarantee).
    let index = unsafe { index.as_mut() }
        .ok_or_else(|| Failure::new(LUTF_ERR_NULL_POINTER, "index is NULL"))?;
    *index = -1;
    let c = self::component(component)?;
    match ctx.selected_index(c, qp, kind) {
        Some(i) => {
            *index = i32::try_from(i).unwrap_or(i32::MAX);
            Ok(LUTF_OK)
        }
        None => Ok(LUTF_NOT_FILTERED),
    }
}

impl lutf_ctx {
    /// The index of the model `select_for(c, qp, kind)` chooses.
    pub(crate) fn selected_index(
        &self,
        c: Component,
        qp: i32,
        kind: Option<lut_filter::PictureKind>,
    ) -> Option<usize> {
        let chosen = self.container.select_for(c, qp, kind)?;
        let name = &chosen.description().name;
        self.container
            .models()
            .position(|m| &m.description().name == name)
    }
}

/// Returns 1 if `lutf_filter_*` filters `component` at slice QP `qp` with `ctx` (the context has
/// a model for the component; QP ranges only choose among them), 0 if it copies it unchanged,
/// or a negative `lutf_status` on error.
///
/// # Safety
/// `ctx` must be NULL or a live context.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_has_model(ctx: *const lutf_ctx, component: i32, qp: i32) -> i32 {
    guard_result(|| {
        // SAFETY: forwarded caller guarantee.
        let ctx = unsafe { ctx_ref(ctx) }?;
        let c = self::component(component)?;
        Ok(i32::from(ctx.container.select(c, qp).is_some()))
    })
    .unwrap_or_else(|s| s as i32)
}

/// Sets the number of worker threads the filter calls of `ctx` use: 0 = one per CPU core
/// (or `RAYON_NUM_THREADS`), n > 0 = n threads. A new context uses 1. The threads are shared
/// by all callers of the context: concurrent filter calls on one context share them (with 1
/// thread they run one after the other); open one context per calling thread for independent
/// parallelism. Results are bit-identical for every setting. May be called at any time, also
/// while other threads filter with the context (running calls finish on the old threads).
///
/// # Safety
/// `ctx` must be NULL or a live context.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_set_threads(ctx: *mut lutf_ctx, threads: i32) -> lutf_status {
    guard(|| {
        // SAFETY: forwarded caller guarantee; only shared access is needed (the pool is
        // behind a lock).
        let ctx = unsafe { ctx_ref(ctx) }?;
        let n = usize::try_from(threads).map_err(|_| {
            Failure::new(
                LUTF_ERR_INVALID_ARGUMENT,
                format!("threads is {threads}, expected 0 (all cores) or a positive count"),
            )
        })?;
        let pool = build_pool(n)?;
        match ctx.pool.write() {
            Ok(mut p) => *p = pool,
            Err(poisoned) => *poisoned.into_inner() = pool,
        }
        Ok(LUTF_OK)
    })
}

/// Writes the number of worker threads `ctx` currently uses to `*threads`.
///
/// # Safety
/// `ctx` must be NULL or a live context; `threads` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_get_threads(ctx: *const lutf_ctx, threads: *mut i32) -> lutf_status {
    guard(|| {
        // SAFETY: forwarded caller guarantee.
        let ctx = unsafe { ctx_ref(ctx) }?;
        // SAFETY: a non-NULL threads is writable (caller guarantee).
        let threads = unsafe { threads.as_mut() }
            .ok_or_else(|| Failure::new(LUTF_ERR_NULL_POINTER, "threads is NULL"))?;
        *threads = i32::try_from(ctx.pool().current_num_threads()).unwrap_or(i32::MAX);
        Ok(LUTF_OK)
    })
}

/// Writes the CRC-32 of the container's tensor bytes (verified at open) to `*checksum`: an
/// identifier of the exact tables, e.g. for an encoder to signal and a decoder to check that
/// both use the same container.
///
/// # Safety
/// `ctx` must be NULL or a live context; `checksum` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lutf_get_checksum(
    ctx: *const lutf_ctx,
    checksum: *mut u32,
) -> lutf_status {
    guard(|| {
        // SAFETY: forwarded caller guarantee.
        let ctx = unsafe { ctx_ref(ctx) }?;
        // SAFETY: a non-NULL checksum is writable (caller guarantee).
        let checksum = unsafe { checksum.as_mut() }
            .ok_or_else(|| Failure::new(LUTF_ERR_NULL_POINTER, "checksum is NULL"))?;
        *checksum = ctx.container.checksum();
        Ok(LUTF_OK)
    })
}
