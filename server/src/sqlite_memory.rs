//! SQLite's memory from the process's allocator (mimalloc, `main`) instead of glibc's `malloc`.
//!
//! Every value SQLite hands out is copied into memory of its own (sqlx keeps each column's value),
//! so a read of many rows allocates and frees on SQLite's threads at the rate of columns. With
//! glibc's `malloc` behind it, and SQLite's own count of memory in use (a global mutex around each
//! allocation), that was ~22% of the busy CPU while the posts were exported as CSV:
//! `malloc_consolidate`, `malloc`, `free` and `pthread_mutex_lock`/`unlock` under SQLite's
//! threads (`perf record` of `bench large`). Both are SQLite's documented settings
//! (`sqlite3_config`), made once, before SQLite starts.

use std::alloc::{Layout, alloc, dealloc, realloc};
use std::ffi::{c_int, c_void};
use std::ptr::null_mut;

/// Ahead of each block: its size (SQLite asks a block's size back, `x_size`). Sixteen bytes keep
/// the block itself as aligned as `malloc`'s.
const HEADER: usize = 16;

/// Routes SQLite's allocations to the process's allocator and turns its memory count off. Must
/// run before the first database is opened (SQLite refuses once it has started); when it cannot,
/// SQLite keeps its own defaults, which work the same, only slower. Returns what went wrong.
pub fn use_process_allocator() -> Result<(), String> {
    let methods = libsqlite3_sys::sqlite3_mem_methods {
        xMalloc: Some(x_malloc),
        xFree: Some(x_free),
        xRealloc: Some(x_realloc),
        xSize: Some(x_size),
        xRoundup: Some(x_roundup),
        xInit: Some(x_init),
        xShutdown: Some(x_shutdown),
        pAppData: null_mut(),
    };
    // SAFETY: both calls happen before SQLite is initialised (or are refused with SQLITE_MISUSE,
    // changing nothing); SQLite copies `methods` before the call returns; the functions below keep
    // the contract of `sqlite3_mem_methods` (sizes kept in a header, blocks aligned to 16 bytes).
    let (memstatus, malloc) = unsafe {
        (
            libsqlite3_sys::sqlite3_config(libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS, 0 as c_int),
            libsqlite3_sys::sqlite3_config(
                libsqlite3_sys::SQLITE_CONFIG_MALLOC,
                &methods as *const libsqlite3_sys::sqlite3_mem_methods,
            ),
        )
    };
    match (memstatus, malloc) {
        (libsqlite3_sys::SQLITE_OK, libsqlite3_sys::SQLITE_OK) => Ok(()),
        codes => Err(format!(
            "SQLite refused its memory settings (codes {codes:?}): it had already started"
        )),
    }
}

/// A block of at least `size` bytes, rounded up as `x_roundup` rounds (so `x_size` tells what
/// SQLite's realloc compares with the rounded size it asks for), with its header.
fn layout(size: usize) -> Option<Layout> {
    let rounded = size.checked_add(7)? & !7;
    Layout::from_size_align(rounded.checked_add(HEADER)?, HEADER).ok()
}

unsafe extern "C" fn x_malloc(size: c_int) -> *mut c_void {
    let Some(layout) = usize::try_from(size).ok().and_then(layout) else {
        return null_mut();
    };
    // SAFETY: `layout` is never zero-sized (it holds the header); the header is written inside
    // the block, which is aligned for a usize.
    unsafe {
        let block = alloc(layout);
        if block.is_null() {
            return null_mut();
        }
        block.cast::<usize>().write(layout.size() - HEADER);
        block.add(HEADER).cast()
    }
}

/// The block's start and its layout, from what SQLite holds.
///
/// # Safety
/// `p` came from `x_malloc` or `x_realloc` and was not freed.
unsafe fn block_of(p: *mut c_void) -> (*mut u8, Layout) {
    // SAFETY: per the contract, the header lies HEADER bytes before `p` and holds a size that made
    // a valid layout when the block was allocated.
    unsafe {
        let block = p.cast::<u8>().sub(HEADER);
        let size = block.cast::<usize>().read();
        (
            block,
            Layout::from_size_align_unchecked(size + HEADER, HEADER),
        )
    }
}

unsafe extern "C" fn x_free(p: *mut c_void) {
    if p.is_null() {
        return;
    }
    // SAFETY: SQLite frees only what its xMalloc / xRealloc gave, once.
    unsafe {
        let (block, layout) = block_of(p);
        dealloc(block, layout);
    }
}

unsafe extern "C" fn x_realloc(p: *mut c_void, size: c_int) -> *mut c_void {
    if p.is_null() {
        // SAFETY: as `x_malloc` (SQLite never asks this: sqlite3Realloc calls xMalloc then).
        return unsafe { x_malloc(size) };
    }
    let Some(new_layout) = usize::try_from(size).ok().and_then(layout) else {
        return null_mut();
    };
    // SAFETY: `p` is SQLite's live block; `realloc` keeps the alignment of `layout`, and on
    // failure leaves the old block as it was (SQLite then keeps it).
    unsafe {
        let (block, layout) = block_of(p);
        let moved = realloc(block, layout, new_layout.size());
        if moved.is_null() {
            return null_mut();
        }
        moved.cast::<usize>().write(new_layout.size() - HEADER);
        moved.add(HEADER).cast()
    }
}

unsafe extern "C" fn x_size(p: *mut c_void) -> c_int {
    if p.is_null() {
        return 0;
    }
    // SAFETY: SQLite asks only about its live blocks.
    let (_, layout) = unsafe { block_of(p) };
    c_int::try_from(layout.size() - HEADER).unwrap_or(c_int::MAX)
}

/// Sizes as SQLite's own allocator rounds them (to 8): SQLite skips a reallocation whose rounded
/// size is the block's size already.
unsafe extern "C" fn x_roundup(size: c_int) -> c_int {
    size.saturating_add(7) & !7
}

unsafe extern "C" fn x_init(_: *mut c_void) -> c_int {
    libsqlite3_sys::SQLITE_OK
}

unsafe extern "C" fn x_shutdown(_: *mut c_void) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_keep_their_size_and_content_through_a_reallocation() {
        // SAFETY: the functions' own contract: blocks from x_malloc / x_realloc, freed once.
        unsafe {
            let p = x_malloc(13);
            assert!(!p.is_null());
            assert_eq!(p as usize % HEADER, 0, "aligned as malloc's");
            assert_eq!(x_size(p), 16, "rounded up to 8");
            std::ptr::copy_nonoverlapping(b"thirteen byte".as_ptr(), p.cast::<u8>(), 13);
            let q = x_realloc(p, 4000);
            assert_eq!(x_size(q), 4000);
            assert_eq!(
                std::slice::from_raw_parts(q.cast::<u8>(), 13),
                b"thirteen byte"
            );
            let r = x_realloc(q, 5);
            assert_eq!(std::slice::from_raw_parts(r.cast::<u8>(), 5), b"thirt");
            x_free(r);
            x_free(null_mut());
            assert!(x_malloc(-1).is_null(), "a negative size is refused");
            assert_eq!(x_roundup(13), 16);
            assert_eq!(x_roundup(16), 16);
        }
    }
}
