//! Keras' RMSprop, exactly: `v = rho v + (1 - rho) g^2; p -= lr g / sqrt(v + eps)` with eps
//! **inside** the square root, `rho = 0.9`, `eps = 1e-7`, no momentum, `v` starting at 0.
//! (Burn's `RmsProp` puts eps outside and adds momentum: with the tiny gradients of a head
//! on frozen features it steps up to 100x differently.)

use backbone::cpu::is_host_device;
use burn::optim::{LearningRate, ModuleOptimizer, Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{DType, Device, Tensor, TensorData};

use crate::optim::StateTensor;
use crate::optim::factored::FactoredGradient;
use rayon::prelude::*;

/// Keras `RMSprop` hyper-parameters (the learning rate is given at each step).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KerasRmsProp {
    /// Discount of the squared-gradient average. Keras default: 0.9.
    pub rho: f64,
    /// Added to the average under the square root. Keras default: 1e-7.
    pub epsilon: f64,
}

impl Default for KerasRmsProp {
    fn default() -> Self {
        Self { rho: 0.9, epsilon: 1e-7 }
    }
}

/// The running average of squared gradients of one parameter (Keras' `velocity`).
#[derive(Clone)]
pub struct KerasRmsPropState<const D: usize> {
    /// `v`.
    pub velocity: StateTensor<D>,
}

impl<const D: usize> RecordState for KerasRmsPropState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_tensor(prefix, "velocity", self.velocity.data());
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, _device: &Device) -> Option<Self> {
        Some(Self { velocity: StateTensor::Host(src.take_tensor(prefix, "velocity")?) })
    }
}

impl Optimizer for KerasRmsProp {
    type State<const D: usize> = KerasRmsPropState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let host = is_host_device(&tensor.device()) && tensor.dtype() == DType::F32 && grad.dtype() == DType::F32;
        match (FactoredGradient::recognise(&tensor.dims(), &grad), host) {
            (Some(factored), true) => self.step_factored(lr, tensor, &factored, state),
            (Some(factored), false) => {
                let grad = factored.whole(&tensor.device());
                self.step_with_tensor_ops(lr, tensor, grad, state)
            }
            (None, true) => {
                let grad = grad.into_data();
                self.step_in_place(lr, tensor, grad.as_slice::<f32>().expect("an f32 tensor reads as f32"), state)
            }
            (None, false) => self.step_with_tensor_ops(lr, tensor, grad, state),
        }
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        KerasRmsPropState { velocity: state.velocity.to_device(device) }
    }
}

impl KerasRmsProp {
    /// [`Optimizer::step`] with Burn tensor operations (any device).
    fn step_with_tensor_ops<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<KerasRmsPropState<D>>,
    ) -> (Tensor<D>, Option<KerasRmsPropState<D>>) {
        let squared = grad.clone().square().mul_scalar(1.0 - self.rho);
        let velocity = match state {
            Some(state) => state.velocity.on(&tensor.device()).mul_scalar(self.rho).add(squared),
            None => squared,
        };
        let step = grad.div(velocity.clone().add_scalar(self.epsilon).sqrt()).mul_scalar(lr);
        (tensor.sub(step), Some(KerasRmsPropState { velocity: StateTensor::Device(velocity) }))
    }

    /// [`Optimizer::step`] on a host device (the gradient's values `grad`) as one pass over
    /// the parameter, its gradient and velocity, updating the buffers in place (Burn's tensor ops would make nine passes and
    /// allocate a fresh buffer for most of them: 150 MB each for the course head's kernel).
    /// Same operations in the same order as the tensor version, so the same values.
    fn step_in_place<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: &[f32],
        state: Option<KerasRmsPropState<D>>,
    ) -> (Tensor<D>, Option<KerasRmsPropState<D>>) {
        self.update_host(lr, tensor, state, |param, velocity, update| {
            const CHUNK: usize = 1 << 16;
            param
                .par_chunks_mut(CHUNK)
                .zip(velocity.par_chunks_mut(CHUNK))
                .zip(grad.par_chunks(CHUNK))
                .for_each(|((param, velocity), grad)| update.apply(param, velocity, grad));
        })
    }

    /// [`KerasRmsProp::step_in_place`] for a dense kernel whose gradient comes as its
    /// factors: each few rows of the gradient are computed in registers and applied at once
    /// (the same values as the whole gradient's step: the same sums, the same update).
    fn step_factored<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        factored: &FactoredGradient,
        state: Option<KerasRmsPropState<D>>,
    ) -> (Tensor<D>, Option<KerasRmsPropState<D>>) {
        self.update_host(lr, tensor, state, |param, velocity, update| {
            factored.apply_by_rows(param, velocity, |param, velocity, grad| update.apply(param, velocity, grad));
        })
    }

    /// Runs `update(param, velocity, step)` on the parameter's and velocity's values on the
    /// host, in place: their buffers are reused when the tensors own them (a copy otherwise).
    fn update_host<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        state: Option<KerasRmsPropState<D>>,
        update: impl FnOnce(&mut [f32], &mut [f32], RmsPropUpdate),
    ) -> (Tensor<D>, Option<KerasRmsPropState<D>>) {
        let (device, shape) = (tensor.device(), tensor.shape());
        let owned = |t: Tensor<D>| t.into_data().try_into_vec::<f32>().expect("an f32 tensor reads as f32");
        let mut param = owned(tensor);
        let (mut velocity, first) = match state {
            Some(state) => (owned(state.velocity.on(&device)), false),
            None => (vec![0.0; param.len()], true),
        };
        let step = RmsPropUpdate {
            rho: self.rho as f32,
            keep_new: (1.0 - self.rho) as f32,
            epsilon: self.epsilon as f32,
            lr: lr as f32,
            first,
        };
        update(&mut param, &mut velocity, step);
        let back = |values: Vec<f32>| Tensor::from_data(TensorData::new(values, shape.clone()), &device);
        (back(param), Some(KerasRmsPropState { velocity: StateTensor::Device(back(velocity)) }))
    }

    /// The module optimizer that applies this update to every trainable parameter.
    pub fn init(self) -> ModuleOptimizer {
        ModuleOptimizer::from(self)
    }
}

/// One Keras RMSprop update in `f32`, in the order the tensor version computes it.
#[derive(Clone, Copy)]
struct RmsPropUpdate {
    rho: f32,
    keep_new: f32,
    epsilon: f32,
    lr: f32,
    /// No velocity yet: it starts at the first squared gradient's share.
    first: bool,
}

impl RmsPropUpdate {
    /// Updates a chunk, with the widest vector instructions the CPU has.
    fn apply(self, param: &mut [f32], velocity: &mut [f32], grad: &[f32]) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU supports AVX-512F, checked just above.
                return unsafe { self.apply_avx512(param, velocity, grad) };
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2, checked just above.
                return unsafe { self.apply_avx2(param, velocity, grad) };
            }
        }
        self.apply_portable(param, velocity, grad)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn apply_avx512(self, param: &mut [f32], velocity: &mut [f32], grad: &[f32]) {
        self.apply_portable(param, velocity, grad)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn apply_avx2(self, param: &mut [f32], velocity: &mut [f32], grad: &[f32]) {
        self.apply_portable(param, velocity, grad)
    }

    #[inline(always)]
    fn apply_portable(self, param: &mut [f32], velocity: &mut [f32], grad: &[f32]) {
        let values = param.iter_mut().zip(velocity.iter_mut()).zip(grad);
        match self.first {
            true => values.for_each(|((p, v), g)| {
                *v = g * g * self.keep_new;
                *p -= g / (*v + self.epsilon).sqrt() * self.lr;
            }),
            false => values.for_each(|((p, v), g)| {
                *v = *v * self.rho + g * g * self.keep_new;
                *p -= g / (*v + self.epsilon).sqrt() * self.lr;
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    #[test]
    fn the_in_place_update_equals_the_tensor_ops_bit_for_bit() {
        let device = Device::flex();
        let optimizer = KerasRmsProp::default();
        let param = Tensor::<2>::random([300, 257], Distribution::Normal(0.0, 0.05), &device);
        let grads: Vec<Tensor<2>> =
            (0..3).map(|_| Tensor::random([300, 257], Distribution::Normal(0.0, 1e-3), &device)).collect();
        let (mut fast, mut reference) = ((param.clone(), None), (param, None));
        for grad in grads {
            let values = grad.to_data().try_to_vec::<f32>().expect("f32 values");
            fast = optimizer.step_in_place(1e-4, fast.0, &values, fast.1);
            reference = optimizer.step_with_tensor_ops(1e-4, reference.0, grad, reference.1);
            assert_eq!(fast.0.to_data(), reference.0.to_data());
            let velocity = |s: &Option<KerasRmsPropState<2>>| s.as_ref().expect("state").velocity.data();
            assert_eq!(velocity(&fast.1), velocity(&reference.1));
        }
    }
}
