//! A dense kernel's gradient given to the optimizer by its factors.
//!
//! For `z = x W` (`x` `[batch, rows]`, `W` `[rows, units]`) the kernel's gradient is
//! `dW = xᵀ dz`. With a batch of 20 the factors are ~1% of the gradient: the course head's
//! 37632 x 1024 kernel has a 154 MB gradient, its factors 3.1 MB. The trainer hands a kernel
//! block its factors side by side, `[batch, rows + units]` = `[x | dz]`, where the optimizer
//! expects a `[rows, units]` gradient (a real gradient always has its parameter's shape,
//! so the two cannot be confused); Keras' RMSprop then computes `dW` a few rows at a time
//! in registers and applies each row at once (the gradient is never written out nor read
//! back), and any other use gets the gradient made whole.
//!
//! Every element of `dW` is the same sum in the same order on every CPU (`x[0] dz[0] +
//! x[1] dz[1] + ...`, each term a fused multiply-add): the fused update and the whole
//! gradient agree to the bit.

#[cfg(target_arch = "x86_64")]
use backbone::cpu::vector::{Vector, Ymm, Zmm};
use burn::tensor::{Tensor, TensorData};
use rayon::prelude::*;

/// The factors of a `[rows, units]` kernel's gradient.
pub(crate) struct FactoredGradient {
    batch: usize,
    rows: usize,
    units: usize,
    /// `xᵀ`, `[rows, batch]`: each row's multipliers together.
    x_transposed: Vec<f32>,
    /// `dz`, `[batch, units]`.
    dz: Vec<f32>,
}

/// Rows of `dW` computed, then applied, together: each slice of `dz` is read from the first
/// cache level once for all of them (16: 8% faster a course step than 4 on a Zen 4; the
/// chunk's 64 KB of gradient stay in the second level until applied).
const ROWS: usize = 16;

impl FactoredGradient {
    /// The factors of a `[rows, units]` block of a kernel whose layer saw `x` (`[batch,
    /// inputs]`, row-major) and got `dz` back (`[batch, units]`): the block's rows start at
    /// input `first_row`. As the `[batch, rows + units]` tensor the optimizer takes.
    pub(crate) fn tensor(
        x: &[f32],
        inputs: usize,
        dz: &[f32],
        units: usize,
        (first_row, rows): (usize, usize),
        device: &burn::tensor::Device,
    ) -> Tensor<2> {
        let batch = dz.len() / units.max(1);
        let mut values = Vec::with_capacity(batch * (rows + units));
        for (x_row, dz_row) in x.chunks_exact(inputs).zip(dz.chunks_exact(units)) {
            values.extend_from_slice(&x_row[first_row..first_row + rows]);
            values.extend_from_slice(dz_row);
        }
        Tensor::from_data(TensorData::new(values, [batch, rows + units]), device)
    }

    /// Reads `grad` as the factors of the gradient of a parameter of shape `param` when
    /// their shapes say so (a rank-2 `[batch, rows + units]` against `[rows, units]`).
    pub(crate) fn recognise<const D: usize>(param: &[usize; D], grad: &Tensor<D>) -> Option<Self> {
        let dims = grad.dims();
        if D != 2 || dims[..] == param[..] || dims[1] != param[0] + param[1] {
            return None;
        }
        let (batch, rows, units) = (dims[0], param[0], param[1]);
        let values = grad.clone().into_data().convert::<f32>().try_into_vec::<f32>().ok()?;
        let mut x_transposed = vec![0.0; rows * batch];
        let mut dz = Vec::with_capacity(batch * units);
        for (i, row) in values.chunks_exact(rows + units).enumerate() {
            row[..rows].iter().enumerate().for_each(|(r, &v)| x_transposed[r * batch + i] = v);
            dz.extend_from_slice(&row[rows..]);
        }
        Some(Self { batch, rows, units, x_transposed, dz })
    }

    /// The whole gradient `[rows, units]`, as a tensor on `device`.
    pub(crate) fn whole<const D: usize>(&self, device: &burn::tensor::Device) -> Tensor<D> {
        let mut values = vec![0.0; self.rows * self.units];
        values
            .par_chunks_mut(ROWS * self.units)
            .enumerate()
            .for_each(|(chunk, rows)| self.rows_into(chunk * ROWS, rows));
        let data = TensorData::new(values, [self.rows, self.units]);
        Tensor::<2>::from_data(data, device).reshape(dims_of::<D>(self.rows, self.units))
    }

    /// Calls `apply(param_rows, state_rows, gradient_rows)` over the whole parameter, a few
    /// rows at a time (on every core), each time with those rows of the gradient just
    /// computed: `param` and `state` are `[rows, units]` row-major.
    pub(crate) fn apply_by_rows(
        &self,
        param: &mut [f32],
        state: &mut [f32],
        apply: impl Fn(&mut [f32], &mut [f32], &[f32]) + Sync,
    ) {
        let chunk = ROWS * self.units;
        param.par_chunks_mut(chunk).zip(state.par_chunks_mut(chunk)).enumerate().for_each_init(
            || vec![0.0; chunk],
            |gradient, (index, (param, state))| {
                let gradient = &mut gradient[..param.len()];
                self.rows_into(index * ROWS, gradient);
                apply(param, state, gradient);
            },
        );
    }

    /// Rows `first ..` of the gradient into `out` (whole rows), with the widest vector
    /// instructions the CPU has: each element `sum_i x[i][row] dz[i][unit]`, summed over
    /// `i` in order with fused multiply-adds.
    fn rows_into(&self, first: usize, out: &mut [f32]) {
        let count = out.len() / self.units.max(1);
        assert!(first + count <= self.rows && out.len() == count * self.units);
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU supports AVX-512F, checked just above; the rows are in
                // bounds (checked above).
                return unsafe { self.rows_into_avx512(first, out) };
            }
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                // SAFETY: as above, with AVX2 and FMA.
                return unsafe { self.rows_into_avx2(first, out) };
            }
        }
        self.units_into(first, 0, out)
    }

    /// [`FactoredGradient::rows_into`] with AVX-512: 4 rows x 64 units in registers.
    ///
    /// # Safety
    /// The CPU must have AVX-512F; the rows are in bounds.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn rows_into_avx512(&self, first: usize, out: &mut [f32]) {
        // SAFETY: the caller's contract.
        unsafe { self.rows_into_with::<Zmm, 4>(first, out) }
    }

    /// [`FactoredGradient::rows_into`] with AVX2: 3 rows x 32 units in registers.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA; the rows are in bounds.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn rows_into_avx2(&self, first: usize, out: &mut [f32]) {
        // SAFETY: the caller's contract.
        unsafe { self.rows_into_with::<Ymm, 3>(first, out) }
    }

    /// Register tiles of `R` rows x 4 vectors of units (rows left over one at a time), the
    /// units past the last full tile one by one.
    ///
    /// # Safety
    /// The CPU has `V`'s instruction set; the rows are in bounds.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn rows_into_with<V: Vector, const R: usize>(&self, first: usize, out: &mut [f32]) {
        let units = self.units;
        let count = out.len() / units.max(1);
        let width = 4 * V::LANES;
        let blocked = units - units % width;
        for u0 in (0..blocked).step_by(width) {
            let mut q0 = 0;
            // SAFETY (both): rows `first + q0 ..` and units `u0 .. u0 + width` are in bounds.
            while q0 + R <= count {
                unsafe { self.gradient_tile::<V, R>(first + q0, u0, &mut out[q0 * units..]) };
                q0 += R;
            }
            while q0 < count {
                unsafe { self.gradient_tile::<V, 1>(first + q0, u0, &mut out[q0 * units..]) };
                q0 += 1;
            }
        }
        self.units_into(first, blocked, out);
    }

    /// Gradient rows `row ..  row + R`, units `u0 .. u0 + 4 V::LANES`, into `out` (whose
    /// rows are `units` apart, from its start).
    ///
    /// # Safety
    /// The CPU has `V`'s instruction set; those rows and units are in bounds.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn gradient_tile<V: Vector, const R: usize>(&self, row: usize, u0: usize, out: &mut [f32]) {
        let (batch, units, lanes) = (self.batch, self.units, V::LANES);
        let multipliers = self.x_transposed[row * batch..(row + R) * batch].as_ptr();
        let dz = self.dz[u0..].as_ptr();
        let out = out[u0..].as_mut_ptr();
        // SAFETY (all): in bounds by the caller's contract.
        unsafe {
            let mut sums = [[V::zero(); 4]; R];
            for i in 0..batch {
                let d: [V; 4] = std::array::from_fn(|j| V::load(dz.add(i * units + j * lanes)));
                for (q, sum) in sums.iter_mut().enumerate() {
                    let a = V::splat(*multipliers.add(q * batch + i));
                    for j in 0..4 {
                        sum[j] = a.mul_add(d[j], sum[j]);
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

    /// Units `from ..` of gradient rows `first ..` into `out`, one by one (the same fused
    /// multiply-adds in the same order as the register tiles).
    fn units_into(&self, first: usize, from: usize, out: &mut [f32]) {
        let (batch, units) = (self.batch, self.units);
        for (q, out_row) in out.chunks_exact_mut(units.max(1)).enumerate() {
            let multipliers = &self.x_transposed[(first + q) * batch..][..batch];
            for (u, value) in out_row.iter_mut().enumerate().skip(from) {
                *value =
                    multipliers.iter().enumerate().fold(0.0f32, |sum, (i, a)| a.mul_add(self.dz[i * units + u], sum));
            }
        }
    }
}

/// `[rows, units]` as the dimensions of a rank-`D` tensor (`D` is 2 wherever a factored
/// gradient is recognised).
fn dims_of<const D: usize>(rows: usize, units: usize) -> [usize; D] {
    let mut dims = [1; D];
    dims[D - 2] = rows;
    dims[D - 1] = units;
    dims
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    /// The factored gradient, made whole or row by row, is `xᵀ dz` summed in order, to
    /// the bit, for full and partial register blocks.
    #[test]
    fn factors_give_x_transposed_times_dz() {
        let device = Device::flex();
        let (batch, inputs, units) = (5, 23, 70);
        let x: Vec<f32> = (0..batch * inputs).map(|i| ((i * 37 % 101) as f32 - 50.0) / 64.0).collect();
        let dz: Vec<f32> = (0..batch * units).map(|i| ((i * 53 % 97) as f32 - 48.0) / 32.0).collect();
        let block = (3, 17);
        let tensor = FactoredGradient::tensor(&x, inputs, &dz, units, block, &device);
        let factored = FactoredGradient::recognise(&[block.1, units], &tensor).expect("factored");
        let expected: Vec<f32> = (0..block.1 * units)
            .map(|k| {
                let (r, u) = (k / units, k % units);
                (0..batch).fold(0.0f32, |sum, i| x[i * inputs + block.0 + r].mul_add(dz[i * units + u], sum))
            })
            .collect();
        let whole = factored.whole::<2>(&device).into_data().try_into_vec::<f32>().unwrap();
        assert_eq!(whole, expected);
        let mut param = vec![0.0; block.1 * units];
        let mut state = vec![0.0; block.1 * units];
        factored.apply_by_rows(&mut param, &mut state, |p, s, g| {
            p.copy_from_slice(g);
            s.iter_mut().for_each(|s| *s += 1.0);
        });
        assert_eq!(param, expected);
        assert!(state.iter().all(|&s| s == 1.0));
        assert!(FactoredGradient::recognise(&[block.1, units], &factored.whole::<2>(&device)).is_none());
        // Every kernel the CPU has, to the bit.
        let rows = |kernel_fn: &dyn Fn(&mut [f32])| {
            let mut out = vec![f32::NAN; 6 * units];
            kernel_fn(&mut out);
            out
        };
        let portable = rows(&|out| factored.units_into(5, 0, out));
        assert_eq!(portable, expected[5 * units..11 * units]);
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU has AVX2 and FMA; rows 5..11 of 17 are in bounds.
                assert_eq!(rows(&|out| unsafe { factored.rows_into_avx2(5, out) }), portable, "AVX2");
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: as above, with AVX-512F.
                assert_eq!(rows(&|out| unsafe { factored.rows_into_avx512(5, out) }), portable, "AVX-512");
            }
        }
    }
}
