//! A dense layer's product `x W` on the host for a short batch (the head's 20 x 37632
//! features times its 37632 x 1024 kernel): a general matrix product splits a 20-row
//! product badly (its work is along the 37632-long sum) and runs at a fraction of the
//! cores' speed. Here the sum is split into a fixed number of parts, each computed in
//! registers tile by tile (5 rows x 64 units with AVX-512, 32 rows of the kernel at a time),
//! and the parts are added in order: the same values whatever the number of threads.

use std::ops::Range;

#[cfg(target_arch = "x86_64")]
use backbone::cpu::vector::{Vector, Ymm, Zmm};
use rayon::prelude::*;

/// Parts the sum over the kernel's rows is split into (fixed, so that the order of the
/// additions does not depend on the number of threads).
const PARTS: usize = 8;

/// Kernel rows read per register tile pass.
const K_TILE: usize = 16;

/// The rows of `x` a product reads: `batch` rows of `inputs` values, row-major, of which
/// the kernel block multiplies columns `first_row .. first_row + kernel rows`.
#[derive(Clone, Copy)]
pub(crate) struct Rows<'a> {
    /// `[batch, inputs]`.
    pub x: &'a [f32],
    /// Values per row of `x`.
    pub inputs: usize,
    /// The first column of `x` the block multiplies.
    pub first_row: usize,
}

/// Adds `x[:, first_row ..] W` to `out` (`[batch, units]`), `W` one `[rows, units]` block of
/// a kernel, row-major.
pub(crate) fn add_product(rows: Rows, kernel: &[f32], units: usize, out: &mut [f32]) {
    let kernel_rows = kernel.len() / units.max(1);
    let part_rows = kernel_rows.div_ceil(PARTS).max(1);
    let parts: Vec<Vec<f32>> = (0..kernel_rows.div_ceil(part_rows))
        .into_par_iter()
        .map(|part| {
            let k = part * part_rows..((part + 1) * part_rows).min(kernel_rows);
            let mut partial = vec![0.0; out.len()];
            partial_product(rows, kernel, units, k, &mut partial);
            partial
        })
        .collect();
    for part in parts {
        out.iter_mut().zip(part).for_each(|(o, p)| *o += p);
    }
}

/// `out += sum over k in k_range of x[:, first_row + k] W[k]` (each output summed over `k`
/// in order, fused multiply-adds), with the widest vector instructions the CPU has.
fn partial_product(rows: Rows, kernel: &[f32], units: usize, k_range: Range<usize>, out: &mut [f32]) {
    assert!(rows.x.len() >= out.len() / units.max(1) * rows.inputs && rows.first_row + k_range.end <= rows.inputs);
    assert!(kernel.len() >= k_range.end * units);
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above; the reads are in
            // bounds (checked above).
            return unsafe { partial_product_avx512(rows, kernel, units, k_range, out) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: as above, with AVX2 and FMA.
            return unsafe { partial_product_avx2(rows, kernel, units, k_range, out) };
        }
    }
    partial_units(rows, kernel, units, k_range, 0, out)
}

/// [`partial_product`] with AVX-512: tiles of 5 batch rows x 64 units (20 registers).
///
/// # Safety
/// The CPU must have AVX-512F; the bounds checked by [`partial_product`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn partial_product_avx512(rows: Rows, kernel: &[f32], units: usize, k_range: Range<usize>, out: &mut [f32]) {
    // SAFETY: the caller's contract.
    unsafe { partial_product_with::<Zmm, 5>(rows, kernel, units, k_range, out) }
}

/// [`partial_product`] with AVX2: tiles of 3 batch rows x 32 units (12 registers).
///
/// # Safety
/// The CPU must have AVX2 and FMA; the bounds checked by [`partial_product`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn partial_product_avx2(rows: Rows, kernel: &[f32], units: usize, k_range: Range<usize>, out: &mut [f32]) {
    // SAFETY: the caller's contract.
    unsafe { partial_product_with::<Ymm, 3>(rows, kernel, units, k_range, out) }
}

/// [`partial_product`] in register tiles of `I` batch rows x 4 vectors of units, summed
/// over [`K_TILE`] kernel rows at a time; the units past the last full tile one by one.
///
/// # Safety
/// The CPU has `V`'s instruction set; the bounds checked by [`partial_product`].
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn partial_product_with<V: Vector, const I: usize>(
    rows: Rows,
    kernel: &[f32],
    units: usize,
    k_range: Range<usize>,
    out: &mut [f32],
) {
    let batch = out.len() / units.max(1);
    let width = 4 * V::LANES;
    let blocked = units - units % width;
    for k0 in k_range.clone().step_by(K_TILE) {
        let k_tile = k0..(k0 + K_TILE).min(k_range.end);
        for u0 in (0..blocked).step_by(width) {
            let mut i0 = 0;
            // SAFETY (both calls): rows `i0 ..` of `x` and `out`, kernel rows `k_tile` and
            // units `u0 .. u0 + width` are within the slices (the caller's bounds).
            while i0 + I <= batch {
                unsafe { product_tile::<V, I>(rows, kernel, units, k_tile.clone(), (i0, u0), out) };
                i0 += I;
            }
            while i0 < batch {
                unsafe { product_tile::<V, 1>(rows, kernel, units, k_tile.clone(), (i0, u0), out) };
                i0 += 1;
            }
        }
        partial_units(rows, kernel, units, k_tile, blocked, out);
    }
}

/// Batch rows `i0 .. i0 + I`, units `u0 .. u0 + 4 V::LANES` of `out`: summed over `k_tile`
/// in registers, added to what `out` holds.
///
/// # Safety
/// The CPU has `V`'s instruction set; those rows, units and kernel rows are in bounds.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn product_tile<V: Vector, const I: usize>(
    rows: Rows,
    kernel: &[f32],
    units: usize,
    k_tile: Range<usize>,
    (i0, u0): (usize, usize),
    out: &mut [f32],
) {
    let lanes = V::LANES;
    let out = out[i0 * units + u0..].as_mut_ptr();
    let x = rows.x[i0 * rows.inputs + rows.first_row..].as_ptr();
    let kernel = kernel.as_ptr().wrapping_add(u0);
    // SAFETY (all): in bounds by the caller's contract.
    unsafe {
        let mut sums: [[V; 4]; I] =
            std::array::from_fn(|q| std::array::from_fn(|j| V::load(out.add(q * units + j * lanes))));
        for k in k_tile {
            let w = kernel.add(k * units);
            if i0 == 0 {
                // The first rows' tile reads this slice of the kernel first: bring in the
                // next slice of the row meanwhile, for the next tile (the slices of a tile
                // are a row of the kernel apart, a page each for the course's head, which
                // the hardware's prefetchers do not follow).
                let next = w.wrapping_add(4 * lanes);
                (0..4 * lanes).step_by(16).for_each(|at| V::prefetch(next.wrapping_add(at)));
            }
            let w: [V; 4] = std::array::from_fn(|j| V::load(w.add(j * lanes)));
            for (q, sum) in sums.iter_mut().enumerate() {
                let a = V::splat(*x.add(q * rows.inputs + k));
                for j in 0..4 {
                    sum[j] = a.mul_add(w[j], sum[j]);
                }
            }
        }
        for (q, sum) in sums.iter().enumerate() {
            for (j, value) in sum.iter().enumerate() {
                value.store(out.add(q * units + j * lanes));
            }
        }
    }
}

/// Units `from ..` of every batch row of `out`, summed over `k_range` one by one (the same
/// fused multiply-adds in the same order as the register tiles).
fn partial_units(rows: Rows, kernel: &[f32], units: usize, k_range: Range<usize>, from: usize, out: &mut [f32]) {
    for (i, out_row) in out.chunks_exact_mut(units.max(1)).enumerate() {
        let x = &rows.x[i * rows.inputs + rows.first_row..];
        for (u, value) in out_row.iter_mut().enumerate().skip(from) {
            let mut sum = *value;
            for k in k_range.clone() {
                sum = x[k].mul_add(kernel[k * units + u], sum);
            }
            *value = sum;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kernel the CPU has (portable, AVX2, AVX-512) against a plain f64 sum, with
    /// partial tiles in every direction, and the same values, to the bit, in each.
    #[test]
    fn the_product_matches_the_plain_sum_in_every_kernel() {
        let (batch, inputs, first_row, kernel_rows, units) = (7, 300, 40, 211, 70);
        let x: Vec<f32> = (0..batch * inputs).map(|i| ((i * 37 % 101) as f32 - 50.0) / 64.0).collect();
        let kernel: Vec<f32> = (0..kernel_rows * units).map(|i| ((i * 53 % 97) as f32 - 48.0) / 32.0).collect();
        let rows = Rows { x: &x, inputs, first_row };
        let mut whole = vec![1.0; batch * units];
        add_product(rows, &kernel, units, &mut whole);
        for i in 0..batch {
            for u in 0..units {
                let expected: f64 = 1.0
                    + (0..kernel_rows)
                        .map(|k| x[i * inputs + first_row + k] as f64 * kernel[k * units + u] as f64)
                        .sum::<f64>();
                let got = whole[i * units + u] as f64;
                assert!((got - expected).abs() < 1e-3, "row {i} unit {u}: {got} vs {expected}");
            }
        }
        let run = |kernel_fn: &dyn Fn(&mut [f32])| {
            let mut out = vec![0.5; batch * units];
            kernel_fn(&mut out);
            out
        };
        let k = 3..kernel_rows;
        let portable = run(&|out| partial_units(rows, &kernel, units, k.clone(), 0, out));
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU has AVX2 and FMA; the slices hold every row read.
                let avx2 = run(&|out| unsafe { partial_product_avx2(rows, &kernel, units, k.clone(), out) });
                assert_eq!(avx2, portable, "AVX2");
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: as above, with AVX-512F.
                let avx512 = run(&|out| unsafe { partial_product_avx512(rows, &kernel, units, k.clone(), out) });
                assert_eq!(avx512, portable, "AVX-512");
            }
        }
    }
}
