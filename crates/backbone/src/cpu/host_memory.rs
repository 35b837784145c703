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
//! [`use_one_heap`] adds one heap for all threads: less memory held, for jobs whose
//! threads allocate little.

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

/// Makes every thread of this process allocate from one `malloc` heap (glibc on Linux:
/// `M_ARENA_MAX` 1), so that a large block one thread freed serves the next allocation of
/// any thread, instead of each thread's heap keeping its own peak (what
/// [`keep_freed_memory`] makes every heap do). Returns whether it was applied. Measured on
/// the Intel kind (2 cores, 2026-12-08), `cats_vs_dogs --epochs 3 --steps-per-epoch 20
/// --validation-steps 10` on 400 + 200 JPEGs: peak RSS 1.22 -> 0.99 GB with the same epoch
/// times; but `train/mobilenet_v2_finetune100_b32`, whose autodiff graph allocates many
/// tensors from several threads at once, runs 3-6% slower on the shared heap's lock. So
/// the course's frozen-base examples call it, the fine-tuning ones do not. The same
/// setting without code: `GLIBC_TUNABLES=glibc.malloc.arena_max=1`. Process-wide and
/// permanent: call it from a program's `main`, before its threads start.
pub fn use_one_heap() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: as for `keep_freed_memory`: an allocator tunable, safe from any thread.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
