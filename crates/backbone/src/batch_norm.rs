//! Batch normalisation with Keras naming, with or without `gamma`.

use burn::config::Config;
use burn::module::{Flag, Module, Param, RunningState};
use burn::tensor::{Device, Tensor};

use crate::host_train;

/// Configuration of a [`BatchNormalization`] layer.
///
/// Keras' InceptionV3 builds every batch norm with `scale=False` (no `gamma`), torchvision's
/// with a learnable `gamma`; both use `epsilon = 1e-3`.
#[derive(Config, Debug)]
pub struct BatchNormalizationConfig {
    /// Number of channels normalised.
    pub num_features: usize,
    /// Whether the layer has a learnable scale `gamma` (Keras `scale=True`, torchvision always).
    #[config(default = false)]
    pub scale: bool,
    /// Added to the variance before the square root. Default: 1e-3, as both references.
    #[config(default = 1e-3)]
    pub epsilon: f64,
    /// Keras momentum of the moving statistics (weight of the old value). Default: 0.99.
    #[config(default = 0.99)]
    pub momentum: f64,
    /// Normalise in TensorFlow's order of operations (default) rather than PyTorch's; see
    /// [`BatchNormalization::forward_inference`].
    #[config(default = true)]
    pub tensorflow_order: bool,
    /// Whether the moving variance follows the batch's unbiased variance (default: Keras'
    /// batch norm of a feature map, TensorFlow's fused kernel, applies Bessel's correction)
    /// or its biased one (Keras' batch norm of a vector, not fused: a head's).
    #[config(default = true)]
    pub unbiased_moving_variance: bool,
}

/// Batch normalisation with Keras naming: `gamma` (optional), `beta`, `moving_mean`,
/// `moving_variance`.
///
/// Inference (or frozen) behaviour: `y = gamma * (x - moving_mean) / sqrt(moving_variance + eps) + beta`.
/// On an autodiff device with the training flag on (a trainable layer, Keras `training=True`),
/// batch statistics are used and the moving statistics updated with Keras' momentum.
#[derive(Module, Debug)]
pub struct BatchNormalization {
    /// Learnable scale, absent in the Keras flavour (`scale=False`).
    pub gamma: Option<Param<Tensor<1>>>,
    /// Learnable offset.
    pub beta: Param<Tensor<1>>,
    /// Moving mean (not trainable).
    pub moving_mean: RunningState<Tensor<1>>,
    /// Moving variance (not trainable).
    pub moving_variance: RunningState<Tensor<1>>,
    /// Whether the layer may use batch statistics (cleared by `freeze`, as Keras `trainable=False`).
    pub training: Param<Flag>,
    /// Keras momentum (weight of the old moving statistic).
    pub momentum: f64,
    /// Added to the variance before the square root.
    pub epsilon: f64,
    /// TensorFlow's order of operations rather than PyTorch's.
    pub tensorflow_order: bool,
    /// Whether the moving variance follows the unbiased batch variance (see
    /// [`BatchNormalizationConfig::unbiased_moving_variance`]).
    pub unbiased_moving_variance: bool,
}

impl BatchNormalizationConfig {
    /// Creates the layer with Keras' initial values: gamma 1, beta 0, mean 0, variance 1.
    pub fn init(&self, device: &Device) -> BatchNormalization {
        let n = self.num_features;
        BatchNormalization {
            gamma: self.scale.then(|| Param::from_tensor(Tensor::ones([n], device))),
            beta: Param::from_tensor(Tensor::zeros([n], device)),
            moving_mean: RunningState::new(Tensor::zeros([n], device)),
            moving_variance: RunningState::new(Tensor::ones([n], device)),
            training: Param::from_bool(true),
            momentum: self.momentum,
            epsilon: self.epsilon,
            tensorflow_order: self.tensorflow_order,
            unbiased_moving_variance: self.unbiased_moving_variance,
        }
    }
}

impl BatchNormalization {
    /// Number of channels.
    pub fn num_features(&self) -> usize {
        self.beta.shape().dims::<1>()[0]
    }

    /// Whether a forward pass on `device` normalises with batch statistics (trainable layer
    /// on an autodiff device) rather than the moving statistics.
    pub fn uses_batch_statistics(&self, device: &Device) -> bool {
        device.is_autodiff() && self.training.is_enabled()
    }

    /// The per-channel factor and how it is applied, in the reference's order of
    /// operations: TensorFlow's fused batch norm computes `(x - mean) * f + beta` with
    /// `f = gamma * rsqrt(var + eps)` (`rsqrt` alone without gamma); PyTorch's CPU kernel
    /// `x * a + (beta - mean * a)` with `a = gamma * rsqrt(var + eps)`. Keeping the order
    /// (rather than folding the batch norm into the convolution) halves the float32
    /// difference from the reference on deep layers.
    ///
    /// # Shapes
    /// - input and output: `[batch, channels, height, width]`
    pub fn forward_inference(&self, input: Tensor<4>) -> Tensor<4> {
        let device = input.device();
        let n = self.num_features();
        let per_channel = |t: Tensor<1>| t.reshape([1, n, 1, 1]);
        let mean = self.moving_mean.value().to_device(&device);
        let inv_std = self.moving_variance.value().to_device(&device).add_scalar(self.epsilon).sqrt().recip();
        let factor = match &self.gamma {
            None => inv_std,
            Some(gamma) => gamma.val().mul(inv_std),
        };
        if host_train::applies(&input) {
            return match self.tensorflow_order {
                true => host_train::channel_affine(input, mean, factor, self.beta.val()),
                false => {
                    let shift = self.beta.val().sub(mean.clone().mul(factor.clone()));
                    host_train::channel_affine(input, mean.zeros_like(), factor, shift)
                }
            };
        }
        match self.tensorflow_order {
            true => input.sub(per_channel(mean)).mul(per_channel(factor)).add(per_channel(self.beta.val())),
            false => {
                let shift = self.beta.val().sub(mean.mul(factor.clone()));
                input.mul(per_channel(factor)).add(per_channel(shift))
            }
        }
    }

    /// Normalises `[batch, channels, height, width]` with batch statistics and updates the
    /// moving statistics (Keras `training=True` on a trainable layer).
    ///
    /// # Shapes
    /// - input and output: `[batch, channels, height, width]`
    pub fn forward_batch_statistics(&self, input: Tensor<4>) -> Tensor<4> {
        let device = input.device();
        let n = self.num_features();
        let gamma = match &self.gamma {
            Some(gamma) => gamma.val(),
            None => Tensor::ones([n], &device),
        };
        let result = burn::tensor::module::batch_norm_train(input, gamma, self.beta.val(), self.epsilon);
        let keep = self.momentum;
        let mean = self.moving_mean.value_sync().to_device(&device);
        let var = self.moving_variance.value_sync().to_device(&device);
        let mean = mean.mul_scalar(keep).add(result.mean.detach().mul_scalar(1.0 - keep));
        // The moving variance follows the batch's unbiased variance (TensorFlow's fused batch
        // norm returns it with Bessel's correction; the output is normalised by the biased one),
        // unless the layer is Keras' unfused one.
        let [batch, _, rows, cols] = result.output.dims();
        let count = (batch * rows * cols) as f64;
        let bessel = match count > 1.0 && self.unbiased_moving_variance {
            true => count / (count - 1.0),
            false => 1.0,
        };
        let var = var.mul_scalar(keep).add(result.variance.detach().mul_scalar((1.0 - keep) * bessel));
        self.moving_mean.update(mean.detach());
        self.moving_variance.update(var.detach());
        // Committed now: `RunningState` keeps a thread's update aside until its next read on
        // that thread, so `value()` (inference, packing, checkpoints) would otherwise lag a step.
        self.moving_mean.value_sync();
        self.moving_variance.value_sync();
        result.output
    }
}
