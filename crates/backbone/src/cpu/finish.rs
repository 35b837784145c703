//! What follows a convolution on each output pixel while the tile is still in cache
//! ([`Finish`]): its bias, the batch norm on its moving statistics and the activation, in
//! the reference's order of operations; and the activations themselves.

use super::nhwc::host_values;
use crate::batch_norm::BatchNormalization;
use crate::error::Result;
use crate::layer::Activation;

/// What follows a convolution on each output pixel while it is still in cache: its bias,
/// the batch norm after it (in the reference's order of operations, see
/// [`crate::batch_norm::BatchNormalization::forward_inference`]) and the activation after that.
#[derive(Debug, Clone, Default)]
pub(crate) struct Finish {
    bias: Option<Vec<f32>>,
    norm: Normalization,
    activation: Option<Activation>,
}

/// A batch norm on its moving statistics.
#[derive(Debug, Clone, Default)]
enum Normalization {
    /// None.
    #[default]
    Identity,
    /// TensorFlow: `(x - mean) * factor + beta`.
    Centered { mean: Vec<f32>, factor: Vec<f32>, beta: Vec<f32> },
    /// PyTorch: `x * scale + shift`.
    Affine { scale: Vec<f32>, shift: Vec<f32> },
}

/// ReLU that keeps NaN (as TensorFlow's and PyTorch's do).
#[inline(always)]
fn relu(v: f32) -> f32 {
    if v < 0.0 { 0.0 } else { v }
}

/// ReLU6 (`clamp` keeps NaN).
#[inline(always)]
fn relu6(v: f32) -> f32 {
    v.clamp(0.0, 6.0)
}

/// `exp(x)` of a finite `x` to within 2 ulps (Cephes' `expf`: `2^n * e^r` with
/// `|r| <= ln 2 / 2` and a degree-7 polynomial), with no call, branch or float-to-integer
/// conversion so that loops over channels vectorise; `x` is clamped to where the result is
/// a normal float.
#[inline(always)]
fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding 1.5 * 2^23 rounds to the nearest integer, which then sits in the low bits.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.3, 88.3);
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    let two_to_n = f32::from_bits(t.to_bits().wrapping_sub(ROUND.to_bits()).wrapping_add(127) << 23);
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    e * two_to_n
}

/// The logistic sigmoid, `1 / (1 + exp(-v))`.
#[inline(always)]
pub(crate) fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + exp(-v))
}

/// Swish (TensorFlow's `silu`): `v * sigmoid(v)`.
#[inline(always)]
pub(crate) fn swish(v: f32) -> f32 {
    v * sigmoid(v)
}

impl Finish {
    /// The bias of a convolution, to which a batch norm and an activation may be added.
    pub fn with_bias(bias: Option<Vec<f32>>) -> Self {
        Self { bias, ..Self::default() }
    }

    /// Adds the batch norm `bn` (read from any device).
    pub fn with_norm(mut self, bn: &BatchNormalization) -> Result<Self> {
        let epsilon = bn.epsilon as f32;
        let mean = host_values(bn.moving_mean.value())?;
        let inv_std: Vec<f32> =
            host_values(bn.moving_variance.value())?.iter().map(|v| (v + epsilon).sqrt().recip()).collect();
        let beta = host_values(bn.beta.val())?;
        let factor = match &bn.gamma {
            None => inv_std,
            Some(gamma) => host_values(gamma.val())?.iter().zip(&inv_std).map(|(g, s)| g * s).collect(),
        };
        self.norm = match bn.tensorflow_order {
            true => Normalization::Centered { mean, factor, beta },
            false => {
                let shift = beta.iter().zip(&mean).zip(&factor).map(|((b, m), a)| b - m * a).collect();
                Normalization::Affine { scale: factor, shift }
            }
        };
        Ok(self)
    }

    /// This finish followed by `norm`'s batch norm (a finish holding only that).
    pub fn then(mut self, norm: &Finish) -> Self {
        self.norm = norm.norm.clone();
        self
    }

    /// Adds the activation `activation` (not softmax, which is not per channel).
    pub fn with_activation(mut self, activation: Activation) -> Self {
        self.activation = Some(activation);
        self
    }

    /// Applies bias, batch norm and activation to one pixel's channels in place.
    #[inline(always)]
    pub fn apply(&self, values: &mut [f32]) {
        self.apply_from(values, 0)
    }

    /// Applies bias, batch norm and activation to channels `first .. first + values.len()`
    /// of one pixel, in place.
    #[inline(always)]
    pub fn apply_from(&self, values: &mut [f32], first: usize) {
        match self.activation {
            Some(Activation::Swish | Activation::Sigmoid) => self.apply_transcendental(values, first),
            _ => self.apply_inline(values, first),
        }
    }

    /// [`Finish::apply_from`] with a swish or sigmoid: on AVX2 where the machine has it (the
    /// same operations, 8 channels at a time; no FMA, so the same rounding).
    #[inline(never)]
    fn apply_transcendental(&self, values: &mut [f32], first: usize) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the machine has AVX2 (checked on the line above).
            return unsafe { self.apply_avx2(values, first) };
        }
        self.apply_inline(values, first)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn apply_avx2(&self, values: &mut [f32], first: usize) {
        self.apply_inline(values, first)
    }

    #[inline(always)]
    fn apply_inline(&self, values: &mut [f32], first: usize) {
        if let Some(bias) = &self.bias {
            values.iter_mut().zip(&bias[first..]).for_each(|(v, b)| *v += b);
        }
        match self.activation {
            Some(Activation::Relu) => self.normalize_then(values, first, relu),
            Some(Activation::Relu6) => self.normalize_then(values, first, relu6),
            Some(Activation::Swish) => self.normalize_then(values, first, swish),
            Some(Activation::Sigmoid) => self.normalize_then(values, first, sigmoid),
            _ => self.normalize_then(values, first, |v| v),
        }
    }

    #[inline(always)]
    fn normalize_then(&self, values: &mut [f32], first: usize, activation: impl Fn(f32) -> f32) {
        match &self.norm {
            Normalization::Identity => values.iter_mut().for_each(|v| *v = activation(*v)),
            Normalization::Centered { mean, factor, beta } => {
                let (mean, factor, beta) = (&mean[first..], &factor[first..], &beta[first..]);
                for (((v, m), s), b) in values.iter_mut().zip(mean).zip(factor).zip(beta) {
                    *v = activation((*v - m) * s + b);
                }
            }
            Normalization::Affine { scale, shift } => {
                for ((v, a), b) in values.iter_mut().zip(&scale[first..]).zip(&shift[first..]) {
                    *v = activation(*v * a + b);
                }
            }
        }
    }
}

#[cfg(test)]
mod activation_tests {
    #[test]
    fn exp_is_within_two_ulps_of_the_libm_one() {
        for i in -8700..=8800 {
            let x = i as f32 * 0.01 + 0.0031;
            let (ours, libm) = (super::exp(x), x.exp());
            let ulps = (ours.to_bits() as i64 - libm.to_bits() as i64).abs();
            assert!(ulps <= 2, "exp({x}) = {ours}, libm {libm} ({ulps} ulps)");
        }
        assert!(super::sigmoid(-200.0) < 1e-38 && super::swish(-200.0).abs() < 1e-35);
    }
}
