//! Matrix products on host values for the Flex operations (`gemm`, on the calling thread).

use std::mem::MaybeUninit;

use gemm::Parallelism;

/// A row-major `rows x cols` matrix, or its transpose, at `values`.
#[derive(Clone, Copy)]
pub(super) struct Matrix<'a> {
    values: &'a [f32],
    row_stride: isize,
    col_stride: isize,
}

impl<'a> Matrix<'a> {
    /// `values` as a row-major matrix `cols` wide.
    pub(super) fn rows(values: &'a [f32], cols: usize) -> Self {
        Self { values, row_stride: cols as isize, col_stride: 1 }
    }

    /// The transpose of `values` as a row-major matrix `cols` wide.
    pub(super) fn transposed(values: &'a [f32], cols: usize) -> Self {
        Self { values, row_stride: 1, col_stride: cols as isize }
    }
}

/// `out (m x n, row-major) = [out +] lhs (m x k) · rhs (k x n)`, on this thread; without
/// `accumulate`, `out` is only written (it may be uninitialised).
pub(super) fn product(out: &mut [MaybeUninit<f32>], [m, n, k]: [usize; 3], lhs: Matrix, rhs: Matrix, accumulate: bool) {
    assert!(out.len() >= m * n && lhs.values.len() >= m * k && rhs.values.len() >= k * n);
    // SAFETY: the three matrices lie inside their slices (the extents checked above for
    // the layouts built by `Matrix`), `out` is borrowed mutably, and gemm reads it only
    // with `accumulate` (where the callers pass initialised values).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr().cast::<f32>(),
            1,
            n as isize,
            accumulate,
            lhs.values.as_ptr(),
            lhs.col_stride,
            lhs.row_stride,
            rhs.values.as_ptr(),
            rhs.col_stride,
            rhs.row_stride,
            1.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        )
    }
}

/// Initialised values, to be accumulated into by [`product`].
pub(super) fn initialised(values: &mut [f32]) -> &mut [MaybeUninit<f32>] {
    // SAFETY: `MaybeUninit<f32>` has `f32`'s layout, and `product` writes only values.
    unsafe { &mut *(values as *mut [f32] as *mut [MaybeUninit<f32>]) }
}
