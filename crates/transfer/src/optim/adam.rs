//! Keras' Adam, exactly as Keras 2.15's `update_step` does it, in `f32`:
//! `m += (g - m)(1 - beta_1); v += (g^2 - v)(1 - beta_2)`; with `amsgrad`,
//! `v_hat = max(v_hat, v)` replaces `v` below; `alpha = lr sqrt(1 - beta_2^t) / (1 - beta_1^t)`;
//! `p -= m alpha / (sqrt(v) + epsilon)`, `t` counting this parameter's steps from 1, epsilon
//! 1e-7 **outside** the square root (Burn's `Adam` adds it elsewhere and by default 1e-5).

use burn::optim::{LearningRate, ModuleOptimizer, Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::optim::StateTensor;
use crate::optim::factored::FactoredGradient;

/// Keras `Adam` hyper-parameters (the learning rate is given at each step).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KerasAdam {
    /// Decay of the first-moment average. Keras default: 0.9.
    pub beta_1: f64,
    /// Decay of the second-moment average. Keras default: 0.999.
    pub beta_2: f64,
    /// Added to the square root of the second moment. Keras default: 1e-7.
    pub epsilon: f64,
    /// Use the largest second moment seen (AMSGrad). Keras default: false.
    pub amsgrad: bool,
}

impl Default for KerasAdam {
    fn default() -> Self {
        Self { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, amsgrad: false }
    }
}

/// Adam's state of one parameter: the moment averages and the steps taken.
#[derive(Clone)]
pub struct KerasAdamState<const D: usize> {
    /// First moment `m`.
    pub momentum: StateTensor<D>,
    /// Second moment `v`.
    pub velocity: StateTensor<D>,
    /// Largest second moment so far (AMSGrad only).
    pub velocity_hat: Option<StateTensor<D>>,
    /// Steps taken (Keras' `iterations` after them).
    pub steps: u64,
}

impl<const D: usize> RecordState for KerasAdamState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_tensor(prefix, "momentum", self.momentum.data());
        out.push_tensor(prefix, "velocity", self.velocity.data());
        if let Some(hat) = &self.velocity_hat {
            out.push_tensor(prefix, "velocity_hat", hat.data());
        }
        out.push_tensor(prefix, "steps", TensorData::new(vec![self.steps as i64], [1]));
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, _device: &Device) -> Option<Self> {
        let steps = src.take_tensor(prefix, "steps")?.convert::<i64>().try_to_vec::<i64>().ok()?;
        Some(Self {
            momentum: StateTensor::Host(src.take_tensor(prefix, "momentum")?),
            velocity: StateTensor::Host(src.take_tensor(prefix, "velocity")?),
            velocity_hat: src.take_tensor(prefix, "velocity_hat").map(StateTensor::Host),
            steps: u64::try_from(*steps.first()?).ok()?,
        })
    }
}

impl Optimizer for KerasAdam {
    type State<const D: usize> = KerasAdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let device = tensor.device();
        let grad = match FactoredGradient::recognise(&tensor.dims(), &grad) {
            Some(factored) => factored.whole(&device),
            None => grad,
        };
        let (momentum, velocity, velocity_hat, steps) = match state {
            Some(state) => (
                state.momentum.on(&device),
                state.velocity.on(&device),
                state.velocity_hat.map(|hat| hat.on(&device)),
                state.steps + 1,
            ),
            None => (grad.zeros_like(), grad.zeros_like(), self.amsgrad.then(|| grad.zeros_like()), 1),
        };
        // Keras takes `1 - beta` in Python (f64) and casts it; the powers use f32 betas.
        let (keep_1, keep_2) = ((1.0 - self.beta_1) as f32, (1.0 - self.beta_2) as f32);
        let (beta_1, beta_2) = (self.beta_1 as f32, self.beta_2 as f32);
        let momentum = momentum.clone().add(grad.clone().sub(momentum).mul_scalar(keep_1));
        let velocity = velocity.clone().add(grad.square().sub(velocity).mul_scalar(keep_2));
        let velocity_hat = velocity_hat.map(|hat| hat.max_pair(velocity.clone()));
        let denominator = velocity_hat.clone().unwrap_or_else(|| velocity.clone());
        let alpha = step_size(lr as f32, beta_1, beta_2, steps);
        let update = momentum.clone().mul_scalar(alpha).div(denominator.sqrt().add_scalar(self.epsilon as f32));
        let state = KerasAdamState {
            momentum: StateTensor::Device(momentum),
            velocity: StateTensor::Device(velocity),
            velocity_hat: velocity_hat.map(StateTensor::Device),
            steps,
        };
        (tensor.sub(update), Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        KerasAdamState {
            momentum: state.momentum.to_device(device),
            velocity: state.velocity.to_device(device),
            velocity_hat: state.velocity_hat.map(|hat| hat.to_device(device)),
            steps: state.steps,
        }
    }
}

/// Keras' `alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)` in `f32`.
fn step_size(lr: f32, beta_1: f32, beta_2: f32, steps: u64) -> f32 {
    let t = steps as f32;
    lr * (1.0 - beta_2.powf(t)).sqrt() / (1.0 - beta_1.powf(t))
}

impl KerasAdam {
    /// The module optimizer that applies this update to every trainable parameter.
    pub fn init(self) -> ModuleOptimizer {
        ModuleOptimizer::from(self)
    }
}
