//! Keras' RMSprop, exactly: `v = rho v + (1 - rho) g^2; p -= lr g / sqrt(v + eps)` with eps
//! **inside** the square root, `rho = 0.9`, `eps = 1e-7`, no momentum, `v` starting at 0.
//! (Burn's `RmsProp` puts eps outside and adds momentum: with the tiny gradients of a head
//! on frozen features it steps up to 100x differently.)

use burn::optim::{LearningRate, ModuleOptimizer, Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor};

/// Keras `RMSprop` hyper-parameters (the learning rate is given at each step).
#[derive(Debug, Clone, Copy, PartialEq)]
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
    pub velocity: Tensor<D>,
}

impl<const D: usize> RecordState for KerasRmsPropState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_tensor(prefix, "velocity", self.velocity.clone().into_data());
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        Some(Self { velocity: Tensor::from_data(src.take_tensor(prefix, "velocity")?, device) })
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
        let squared = grad.clone().square().mul_scalar(1.0 - self.rho);
        let velocity = match state {
            Some(state) => state.velocity.mul_scalar(self.rho).add(squared),
            None => squared,
        };
        let step = grad.div(velocity.clone().add_scalar(self.epsilon).sqrt()).mul_scalar(lr);
        (tensor.sub(step), Some(KerasRmsPropState { velocity }))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        KerasRmsPropState { velocity: state.velocity.to_device(device) }
    }
}

impl KerasRmsProp {
    /// The module optimizer that applies this update to every trainable parameter.
    pub fn init(self) -> ModuleOptimizer {
        ModuleOptimizer::from(self)
    }
}
