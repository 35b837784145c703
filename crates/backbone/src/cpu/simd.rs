//! Running a loop compiled for the widest vector unit the CPU has.
//!
//! The crate is compiled for the baseline x86-64 (SSE2, 4 lanes); the loops of the packed
//! engine that are not matrix products (depthwise convolutions, batch norm and activation
//! after a convolution) are written so the compiler vectorises them, and [`vectorized`]
//! runs them compiled again for AVX-512 or AVX2 when the CPU has it (checked once per call,
//! a cached flag). No floating-point contraction is enabled, so results are bit-identical
//! on every CPU.

/// Lanes of a vector register with AVX-512 (two registers with AVX2): the width the
/// engine's loops work in.
pub(crate) const LANES: usize = 16;

/// Runs `work` with AVX-512 (or AVX2) code generation where the CPU supports it. `work`
/// and what it calls must be `#[inline(always)]` so that they are compiled inside: a
/// closure too (`vectorized(#[inline(always)] || ...)`), or it stays a function of its own
/// compiled for SSE2 (as every call site was until this was found in a profile: 4-lane
/// `mulps` in the depthwise loop).
#[inline(always)]
pub(crate) fn vectorized<R>(work: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            return unsafe { with_avx512(work) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { with_avx2(work) };
        }
    }
    work()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn with_avx512<R>(work: impl FnOnce() -> R) -> R {
    work()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn with_avx2<R>(work: impl FnOnce() -> R) -> R {
    work()
}
