//! Keeping freed memory for reuse on the CPU: an explicit, process-wide choice of the
//! program, never made by the library on its own.
//!
//! A forward pass at 299x299 allocates and frees feature maps of 100+ MB (the stem's at
//! batch 32), and training the course head a 150 MB gradient every step. glibc's `malloc`
//! serves blocks over 32 MB with a fresh `mmap` and returns them to the system on `free`, so
//! every pass pays ~40,000 page faults per such buffer. [`keep_freed_memory`] tells `malloc`
//! to serve them from its heap and keep freed memory, as TensorFlow's and PyTorch's caching
//! allocators do: the process holds on to its peak memory instead of returning it between
//! passes. It changes the allocator of the whole process, so the library never calls it: a
//! program (a binary, not a library) calls it once at its start, as the examples and benches
//! do. The README gives the measured cost of each choice. The same setting without code:
//! `GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=2147483647`.

/// Makes this process's `malloc` keep freed memory for reuse (glibc on Linux: no `mmap`ed
/// blocks, no trimming of the heap). Returns whether the setting was applied (`false` on
/// other platforms, where it is not needed or not possible). Process-wide and permanent:
/// call it from a program's `main`, not from a library; calling it again does nothing more.
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` only changes allocator tunables; it is safe to call at any time
        // from any thread (glibc takes the allocator's lock).
        unsafe { libc::mallopt(libc::M_MMAP_MAX, 0) == 1 && libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
