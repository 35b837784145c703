//! Keeping freed memory for reuse on the CPU.
//!
//! Training the course head allocates and frees 150 MB buffers every step (the dense
//! kernel's gradient, the head's activations for backward). glibc's `malloc` serves blocks
//! that large with a fresh `mmap` and returns them to the system on `free`, so every step
//! pays for ~40,000 page faults per buffer: 60-80 ms each on a 2-core machine, more than the
//! arithmetic. [`keep_freed_memory`] tells `malloc` to serve them from its heap and keep
//! freed memory, as TensorFlow's and PyTorch's caching allocators do: the process holds on
//! to its peak memory instead of returning it between steps.

/// Makes this process's `malloc` keep freed memory for reuse (glibc on Linux: no `mmap`ed
/// blocks, no trimming of the heap). Returns whether the setting was applied (`false` on
/// other platforms, where it is not needed or not possible). [`crate::Trainer::new`] calls
/// it for host devices; calling it again does nothing more.
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
