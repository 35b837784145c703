//! [`Network`]: the Burn module of any described network, one parameter set per weighted
//! layer, and which layers are trainable.

use std::sync::Arc;

use burn::module::{Module, Param, RunningState};
use burn::nn::conv::Conv2dConfig;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use crate::architecture::Architecture;
use crate::batch_norm::{BatchNormalization, BatchNormalizationConfig};
use crate::error::{NetworkError, Result};
use crate::layer::{LayerKind, Weight};

/// The weights of a convolution (plain or depthwise).
#[derive(Module, Debug)]
pub struct ConvParams {
    /// Kernel `[out, in / groups, rows, cols]` (depthwise: `[channels, 1, rows, cols]`).
    pub kernel: Param<Tensor<4>>,
    /// Bias `[out]`, when the layer has one.
    pub bias: Option<Param<Tensor<1>>>,
}

/// The weights of a separable convolution: a depthwise convolution without a bias, then a
/// pointwise (1x1) one holding the layer's bias, if any.
#[derive(Module, Debug)]
pub struct SeparableParams {
    /// `depthwise_kernel` as `[channels, 1, rows, cols]`.
    pub depthwise: ConvParams,
    /// `pointwise_kernel` as `[out, in, 1, 1]`, with the layer's `bias`.
    pub pointwise: ConvParams,
}

/// The statistics of a Keras `Normalization` layer (never trained).
#[derive(Module, Debug)]
pub struct NormalizationParams {
    /// `mean` per channel.
    pub mean: RunningState<Tensor<1>>,
    /// `variance` per channel.
    pub variance: RunningState<Tensor<1>>,
    /// `count` of the samples `adapt` saw (Keras' int64 scalar), as one value.
    pub count: RunningState<Tensor<1>>,
}

/// The weights of one weighted layer.
#[derive(Module, Debug)]
pub enum LayerParams {
    /// `Conv2D` or `DepthwiseConv2D`.
    Conv(ConvParams),
    /// `BatchNormalization`.
    Norm(BatchNormalization),
    /// `Dense` (weight `[in, out]`).
    Dense(Linear),
    /// `SeparableConv2D`.
    Separable(SeparableParams),
    /// `Normalization`.
    Normalization(NormalizationParams),
}

/// A described network as a Burn module: it holds the weights of every weighted layer of
/// its [`Architecture`] and runs on whatever device they live on.
///
/// Each layer has Keras' `trainable` flag: a frozen layer gets no gradient and its batch
/// norm runs on its moving statistics (Keras `layer.trainable = False`). What a trainable
/// batch norm does in a training step is Keras' `training` argument of the call that runs
/// the network ([`Network::with_batch_norm_training`]): batch statistics with the moving
/// ones updated (`training=True`, Keras' default inside `fit` and a new network's), or the
/// moving statistics, never updated, while gamma and beta train (`base(x,
/// training=False)`, as the Keras guide and TensorFlow's fine-tuning tutorial call it).
#[derive(Module, Debug)]
pub struct Network {
    /// One entry per weighted layer, in layer order.
    pub params: Vec<LayerParams>,
    /// The description.
    #[module(skip)]
    architecture: Arc<Architecture>,
    /// The entry of `params` of each layer (`None` for layers without weights).
    #[module(skip)]
    slots: Arc<Vec<Option<usize>>>,
    /// Keras' `trainable` flag of each layer.
    #[module(skip)]
    trainable: Vec<bool>,
    /// Keras' `training` argument for the trainable batch norms (see [`Network`]).
    #[module(skip)]
    batch_norm_training: bool,
}

impl Network {
    /// Creates the network with Burn's default initialisation (load weights afterwards),
    /// every layer trainable (Keras' default).
    pub fn init(architecture: Architecture, device: &Device) -> Self {
        let mut params = Vec::new();
        let mut slots = Vec::with_capacity(architecture.len());
        for (i, layer) in architecture.layers().iter().enumerate() {
            let in_channels = layer.inputs.first().map_or(0, |&j| architecture.channels(j));
            let param = match &layer.kind {
                LayerKind::Conv2D { filters, kernel, use_bias, .. } => {
                    Some(LayerParams::Conv(conv_params([in_channels, *filters], *kernel, 1, *use_bias, device)))
                }
                LayerKind::DepthwiseConv2D { kernel, use_bias, .. } => Some(LayerParams::Conv(conv_params(
                    [in_channels, in_channels],
                    *kernel,
                    in_channels,
                    *use_bias,
                    device,
                ))),
                LayerKind::SeparableConv2D { filters, kernel, use_bias, .. } => {
                    Some(LayerParams::Separable(SeparableParams {
                        depthwise: conv_params([in_channels, in_channels], *kernel, in_channels, false, device),
                        pointwise: conv_params([in_channels, *filters], [1, 1], 1, *use_bias, device),
                    }))
                }
                LayerKind::BatchNormalization { epsilon, momentum, scale, tensorflow_order } => {
                    Some(LayerParams::Norm(
                        BatchNormalizationConfig::new(architecture.channels(i))
                            .with_scale(*scale)
                            .with_tensorflow_order(*tensorflow_order)
                            .with_epsilon(*epsilon)
                            .with_momentum(*momentum)
                            .init(device),
                    ))
                }
                LayerKind::Dense { units, .. } => {
                    Some(LayerParams::Dense(LinearConfig::new(in_channels, *units).init(device)))
                }
                // Keras' initial values: mean 0, variance 1, count 0.
                LayerKind::Normalization => Some(LayerParams::Normalization(NormalizationParams {
                    mean: RunningState::new(Tensor::zeros([in_channels], device)),
                    variance: RunningState::new(Tensor::ones([in_channels], device)),
                    count: RunningState::new(Tensor::zeros([1], device)),
                })),
                _ => None,
            };
            slots.push(param.map(|p| {
                params.push(p);
                params.len() - 1
            }));
        }
        let trainable = vec![true; architecture.len()];
        let architecture = Arc::new(architecture);
        Self { params, architecture, slots: Arc::new(slots), trainable, batch_norm_training: true }
    }

    /// The description of the network.
    pub fn architecture(&self) -> &Architecture {
        &self.architecture
    }

    /// The weights of the layer at `index`, if it has any.
    pub fn params_of(&self, index: usize) -> Option<&LayerParams> {
        self.slots.get(index).copied().flatten().map(|slot| &self.params[slot])
    }

    /// The weights of the layer at `index`, mutably.
    pub fn params_of_mut(&mut self, index: usize) -> Option<&mut LayerParams> {
        self.slots.get(index).copied().flatten().map(|slot| &mut self.params[slot])
    }

    /// The module path of `weight` of the layer at `index`, as Burn names it
    /// (`params.12.Conv.kernel`), if the layer holds it.
    pub fn param_path(&self, index: usize, weight: Weight) -> Option<String> {
        let slot = self.slots.get(index).copied().flatten()?;
        let field = match (&self.params[slot], weight) {
            (LayerParams::Conv(_), Weight::Kernel | Weight::DepthwiseKernel) => "Conv.kernel",
            (LayerParams::Conv(conv), Weight::Bias) if conv.bias.is_some() => "Conv.bias",
            (LayerParams::Norm(bn), Weight::Gamma) if bn.gamma.is_some() => "Norm.gamma",
            (LayerParams::Norm(_), Weight::Beta) => "Norm.beta",
            (LayerParams::Norm(_), Weight::MovingMean) => "Norm.moving_mean",
            (LayerParams::Norm(_), Weight::MovingVariance) => "Norm.moving_variance",
            (LayerParams::Dense(_), Weight::Kernel) => "Dense.weight",
            (LayerParams::Dense(_), Weight::Bias) => "Dense.bias",
            (LayerParams::Separable(_), Weight::DepthwiseKernel) => "Separable.depthwise.kernel",
            (LayerParams::Separable(_), Weight::PointwiseKernel) => "Separable.pointwise.kernel",
            (LayerParams::Separable(sep), Weight::Bias) if sep.pointwise.bias.is_some() => "Separable.pointwise.bias",
            (LayerParams::Normalization(_), Weight::Mean) => "Normalization.mean",
            (LayerParams::Normalization(_), Weight::Variance) => "Normalization.variance",
            (LayerParams::Normalization(_), Weight::Count) => "Normalization.count",
            _ => return None,
        };
        Some(format!("params.{slot}.{field}"))
    }

    /// The weights the layer at `index` holds, in Keras' order.
    pub fn weights(&self, index: usize) -> Vec<Weight> {
        self.architecture.layers().get(index).map_or_else(Vec::new, |layer| layer.kind.weights())
    }

    /// Whether the layer at `index` is trainable (Keras `layer.trainable`).
    pub fn is_trainable(&self, index: usize) -> bool {
        self.trainable.get(index).copied().unwrap_or(false)
    }

    /// Sets Keras' `trainable` flag of the layer at `index` (see [`Network`]).
    pub fn set_trainable(self, index: usize, trainable: bool) -> Result<Self> {
        if index >= self.trainable.len() {
            return Err(NetworkError::LayerIndex {
                index,
                network: self.architecture.name().to_string(),
                layers: self.trainable.len(),
            });
        }
        Ok(self.with_trainable(|i| (i == index).then_some(trainable)))
    }

    /// Sets Keras' `training` argument for the trainable batch norms in training steps (on an
    /// autodiff device): `true` (Keras' default inside `fit`, and a new network's) normalises
    /// with the batch's statistics and updates the moving mean and variance with the layer's
    /// momentum; `false` (`base(x, training=False)`: the Keras transfer-learning guide and
    /// TensorFlow's fine-tuning tutorial) normalises with the moving statistics and never
    /// updates them, while gamma and beta still get gradients. Frozen batch norms always run
    /// on their moving statistics; layers unfrozen later follow this setting.
    pub fn with_batch_norm_training(mut self, training: bool) -> Self {
        self.batch_norm_training = training;
        for (index, slot) in self.slots.iter().enumerate() {
            if let Some(LayerParams::Norm(bn)) = slot.map(|slot| &mut self.params[slot]) {
                bn.training = bn.training.clone().with_value(training && self.trainable[index]);
            }
        }
        self
    }

    /// Keras' `training` argument for the trainable batch norms (see
    /// [`Network::with_batch_norm_training`]).
    pub fn batch_norm_training(&self) -> bool {
        self.batch_norm_training
    }

    /// Sets the `trainable` flag of every layer for which `trainable(index)` gives one.
    pub fn with_trainable(mut self, trainable: impl Fn(usize) -> Option<bool>) -> Self {
        let mut changes = vec![None; self.params.len()];
        for index in 0..self.trainable.len() {
            if let Some(flag) = trainable(index) {
                self.trainable[index] = flag;
                if let Some(slot) = self.slots[index] {
                    changes[slot] = Some(flag);
                }
            }
        }
        self.params = std::mem::take(&mut self.params)
            .into_iter()
            .zip(changes)
            .map(|(params, change)| match change {
                Some(true) => params.set_require_grad(true),
                Some(false) => params.freeze(),
                None => params,
            })
            .collect();
        // Unfrozen batch norms follow the network's `training` setting.
        let training = self.batch_norm_training;
        self.with_batch_norm_training(training)
    }

    /// Whether every layer is frozen.
    pub fn fully_frozen(&self) -> bool {
        self.trainable.iter().all(|t| !t)
    }
}

fn conv_params(channels: [usize; 2], kernel: [usize; 2], groups: usize, bias: bool, device: &Device) -> ConvParams {
    let conv = Conv2dConfig::new(channels, kernel).with_groups(groups).with_bias(bias).init(device);
    ConvParams { kernel: conv.weight, bias: conv.bias }
}
