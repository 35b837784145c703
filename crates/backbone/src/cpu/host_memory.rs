//! Keeping freed memory for reuse on the CPU.
//!
//! A forward pass at 299x299 allocates and frees feature maps of 100+ MB (the stem's at
//! batch 32), and training the course head a 150 MB gradient every step. glibc's `malloc`
//! serves blocks over 32 MB with a fresh `mmap` and returns them to the system on `free`, so
//! every pass pays ~40,000 page faults per such buffer: 60-80 ms each on a 2-core machine,
//! more than the arithmetic. [`keep_freed_memory`] tells `malloc` to serve them from its
//! heap and keep freed memory, as TensorFlow's and PyTorch's caching allocators do: the
//! process holds on to its peak memory instead of returning it between passes.

/// Makes this process's `malloc` keep freed memory for reuse (glibc on Linux: no `mmap`ed
/// blocks, no trimming of the heap). Returns whether the setting was applied (`false` on
/// other platforms, where it is not needed or not possible). [`super::CpuInference`] calls
/// it when it packs a model (so does `transfer::Trainer::new` on host devices); calling it
/// again does nothing more.
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
