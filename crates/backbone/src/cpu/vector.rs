//! The few vector operations the register-tiled kernels need, behind one trait for the
//! instruction sets they run on (AVX-512's 16 lanes, AVX2's 8): a kernel is written once,
//! generic over the vector, and compiled for each inside a `target_feature` function.

/// The vector operations a register tile needs, for one instruction set.
#[cfg(target_arch = "x86_64")]
pub trait Vector: Copy {
    /// `f32` lanes.
    const LANES: usize;
    /// All zeros.
    fn zero() -> Self;
    /// # Safety
    /// `LANES` values readable at `from`; the CPU has the instruction set.
    unsafe fn load(from: *const f32) -> Self;
    /// # Safety
    /// `LANES` values writable at `to`; the CPU has the instruction set.
    unsafe fn store(self, to: *mut f32);
    /// # Safety
    /// The CPU has the instruction set.
    unsafe fn splat(value: f32) -> Self;
    /// `self * b + c`, fused.
    ///
    /// # Safety
    /// The CPU has the instruction set.
    unsafe fn mul_add(self, b: Self, c: Self) -> Self;
    /// # Safety
    /// The CPU has the instruction set.
    unsafe fn add(self, b: Self) -> Self;
    /// Asks for the cache line holding `at` to be brought into the first-level cache (a
    /// hint: any address, nothing is read).
    #[inline(always)]
    fn prefetch(at: *const f32) {
        // SAFETY: a prefetch never faults, whatever the address; SSE is in x86-64's baseline.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(at.cast()) }
    }
}

#[cfg(target_arch = "x86_64")]
mod vectors {
    use std::arch::x86_64::*;

    use super::Vector;

    /// AVX-512's 16 lanes.
    #[derive(Clone, Copy)]
    pub struct Zmm(__m512);

    /// AVX2's 8 lanes (with FMA).
    #[derive(Clone, Copy)]
    pub struct Ymm(__m256);

    // SAFETY (every method): the callers' contracts (`Vector`'s), run only inside the
    // `target_feature` functions that checked the instruction set.
    impl Vector for Zmm {
        const LANES: usize = 16;
        #[inline(always)]
        fn zero() -> Self {
            Self(unsafe { _mm512_setzero_ps() })
        }
        #[inline(always)]
        unsafe fn load(from: *const f32) -> Self {
            Self(unsafe { _mm512_loadu_ps(from) })
        }
        #[inline(always)]
        unsafe fn store(self, to: *mut f32) {
            unsafe { _mm512_storeu_ps(to, self.0) }
        }
        #[inline(always)]
        unsafe fn splat(value: f32) -> Self {
            Self(unsafe { _mm512_set1_ps(value) })
        }
        #[inline(always)]
        unsafe fn mul_add(self, b: Self, c: Self) -> Self {
            Self(unsafe { _mm512_fmadd_ps(self.0, b.0, c.0) })
        }
        #[inline(always)]
        unsafe fn add(self, b: Self) -> Self {
            Self(unsafe { _mm512_add_ps(self.0, b.0) })
        }
    }

    impl Vector for Ymm {
        const LANES: usize = 8;
        #[inline(always)]
        fn zero() -> Self {
            Self(unsafe { _mm256_setzero_ps() })
        }
        #[inline(always)]
        unsafe fn load(from: *const f32) -> Self {
            Self(unsafe { _mm256_loadu_ps(from) })
        }
        #[inline(always)]
        unsafe fn store(self, to: *mut f32) {
            unsafe { _mm256_storeu_ps(to, self.0) }
        }
        #[inline(always)]
        unsafe fn splat(value: f32) -> Self {
            Self(unsafe { _mm256_set1_ps(value) })
        }
        #[inline(always)]
        unsafe fn mul_add(self, b: Self, c: Self) -> Self {
            Self(unsafe { _mm256_fmadd_ps(self.0, b.0, c.0) })
        }
        #[inline(always)]
        unsafe fn add(self, b: Self) -> Self {
            Self(unsafe { _mm256_add_ps(self.0, b.0) })
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub use vectors::{Ymm, Zmm};
