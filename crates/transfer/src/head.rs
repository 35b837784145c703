//! Classifier heads put on a cut base, with Keras' initialisers.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use backbone::SummaryRow;
use backbone::batch_norm::{BatchNormalization, BatchNormalizationConfig};

use crate::dense::Dense;
use crate::error::{Result, TransferError};

/// How the base's feature map becomes a vector.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// Keras `Flatten` on the NHWC feature map: (row, col, channel) order.
    Flatten,
    /// Keras `GlobalAveragePooling2D`.
    GlobalAverage,
}

/// A head: pooling, optionally a batch norm of the pooled vector, hidden dense layers with
/// ReLU and dropout, and an output layer (1 unit + sigmoid for two classes, `classes` units +
/// softmax otherwise).
#[derive(Config, Debug)]
pub struct HeadConfig {
    /// Feature map to vector. Default: flatten, as the course.
    #[config(default = "Pooling::Flatten")]
    pub pooling: Pooling,
    /// A trainable `BatchNormalization()` of the pooled vector (Keras' defaults: gamma,
    /// epsilon 1e-3, momentum 0.99), as keras.io's EfficientNet fine-tuning example puts
    /// between its pooling and its dropout. Default: none.
    #[config(default = false)]
    pub batch_norm: bool,
    /// Units of each hidden `Dense(relu)` layer. Default: `[1024]`, as the course.
    #[config(default = "vec![1024]")]
    pub hidden: Vec<usize>,
    /// Dropout after the hidden layers. Default: 0.2, as the course.
    #[config(default = 0.2)]
    pub dropout: f64,
    /// Output units: 1 for binary (sigmoid), the number of classes otherwise (softmax).
    #[config(default = 1)]
    pub outputs: usize,
    /// Seed of the initial weights (drawn on the host, so identical on every backend).
    #[config(default = 0)]
    pub seed: u64,
}

impl HeadConfig {
    /// The course head: Flatten -> Dense(1024, relu) -> Dropout(0.2) -> Dense(1, sigmoid).
    pub fn course() -> Self {
        Self::new()
    }

    /// Global average pooling -> Dense(`classes`, softmax): the usual n-class head.
    pub fn global_average(classes: usize) -> Self {
        Self::new().with_pooling(Pooling::GlobalAverage).with_hidden(vec![]).with_dropout(0.0).with_outputs(classes)
    }

    /// Input features of the first dense layer for a `[rows, cols, channels]` feature map.
    pub fn input_features(&self, [rows, cols, channels]: [usize; 3]) -> usize {
        match self.pooling {
            Pooling::Flatten => rows * cols * channels,
            Pooling::GlobalAverage => channels,
        }
    }

    /// Checks the configuration before anything is allocated (dropout in Keras' `[0, 1)`, at
    /// least one output, no hidden layer of zero units) and returns the number of weights
    /// the head has on a `[rows, cols, channels]` feature map (an error where it overflows).
    pub fn check(&self, [rows, cols, channels]: [usize; 3]) -> Result<u64> {
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(TransferError::Config(format!("head dropout {} is not in [0, 1)", self.dropout)));
        }
        if self.outputs == 0 || self.hidden.contains(&0) {
            return Err(TransferError::Config(format!(
                "a head layer of zero units (hidden {:?}, outputs {})",
                self.hidden, self.outputs
            )));
        }
        let too_big = || {
            TransferError::Config(format!(
                "a head of hidden {:?} on a {rows}x{cols}x{channels} feature map has more weights than memory holds",
                self.hidden
            ))
        };
        let features = match self.pooling {
            Pooling::Flatten => (rows as u64).checked_mul(cols as u64).and_then(|n| n.checked_mul(channels as u64)),
            Pooling::GlobalAverage => Some(channels as u64),
        }
        .ok_or_else(too_big)?;
        let mut weights = if self.batch_norm { features.checked_mul(4).ok_or_else(too_big)? } else { 0 };
        let mut width = features;
        for &units in self.hidden.iter().chain([&self.outputs]) {
            let layer = width.checked_add(1).and_then(|w| w.checked_mul(units as u64)).ok_or_else(too_big)?;
            weights = weights.checked_add(layer).ok_or_else(too_big)?;
            width = units as u64;
        }
        Ok(weights)
    }

    /// Creates the head for a `[rows, cols, channels]` feature map, with Keras' `Dense`
    /// initialisation (glorot_uniform kernels, zero biases) drawn from `seed`.
    pub fn init(&self, feature_map: [usize; 3], device: &Device) -> Head {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut width = self.input_features(feature_map);
        let mut hidden = Vec::new();
        for &units in &self.hidden {
            hidden.push(glorot_dense(width, units, &mut rng, device));
            width = units;
        }
        let channels = self.input_features(feature_map);
        let batch_norm = self.batch_norm.then(|| {
            // Keras' batch norm of a vector is not the fused kernel: its moving variance
            // follows the biased batch variance.
            BatchNormalizationConfig::new(channels)
                .with_scale(true)
                .with_epsilon(1e-3)
                .with_momentum(0.99)
                .with_unbiased_moving_variance(false)
                .init(device)
        });
        Head {
            batch_norm,
            hidden,
            dropout: DropoutConfig::new(self.dropout).init(),
            output: glorot_dense(width, self.outputs, &mut rng, device),
            pooling: self.pooling,
        }
    }
}

/// `Dense(units)` with Keras' defaults: kernel `U(-l, l)`, `l = sqrt(6 / (in + out))`, bias 0.
fn glorot_dense(input: usize, units: usize, rng: &mut ChaCha8Rng, device: &Device) -> Dense {
    let limit = (6.0 / (input + units) as f64).sqrt() as f32;
    let kernel: Vec<f32> = (0..input * units).map(|_| rng.random_range(-limit..limit)).collect();
    Dense::from_values(kernel, input, units, vec![0.0; units], device)
}

/// What a head on a cut base is: any Burn module that turns the base's feature map into
/// logits. [`Head`] (Keras' Flatten / GlobalAveragePooling2D -> Dense layers) is the
/// built-in one; a head of one's own (attention pooling, a different stack) implements this
/// and goes into [`TransferModelConfig::init_with_head`](crate::TransferModelConfig::init_with_head),
/// then trains, evaluates and predicts through the same [`Trainer`](crate::Trainer) and
/// callbacks; `summary()` lists the rows it reports ([`ClassifierHead::summary_rows`]).
/// (Checkpoints and `config()` record the built-in head's configuration, so they are for
/// [`Head`]; save a head of one's own with Burn's stores.)
pub trait ClassifierHead: Module + burn::module::ModuleDisplay + core::fmt::Debug + 'static {
    /// Logits `[batch, outputs]` from the base's features `[batch, channels, rows, cols]`.
    fn forward(&self, features: Tensor<4>) -> Tensor<2>;

    /// Output units: 1 for binary (sigmoid), the number of classes otherwise (softmax).
    fn outputs(&self) -> usize;

    /// Whether the head only takes the feature map of the model's input size (true of a
    /// `Flatten` head); batches of other image sizes are then refused before the base runs.
    fn needs_input_size(&self) -> bool {
        false
    }

    /// Its rows of Keras' `model.summary()` on a `[rows, cols, channels]` feature map. By
    /// default one row, `head`, of the head's type, its output units and every parameter
    /// counted as trainable; a head of one's own overrides it for Keras' rows.
    fn summary_rows(&self, feature_map: [usize; 3]) -> Vec<SummaryRow> {
        let _ = feature_map;
        let type_name = std::any::type_name::<Self>();
        let short = type_name.split('<').next().unwrap_or(type_name).rsplit("::").next().unwrap_or(type_name);
        vec![SummaryRow {
            name: "head".into(),
            layer_type: short.into(),
            output_shape: vec![self.outputs()],
            trainable: Module::num_params(self),
            non_trainable: 0,
        }]
    }

    /// This head as the built-in [`Head`], if it is one: on a host device the trainer then
    /// computes the gradient of its first kernel by factors (the same values, a few rows at
    /// a time). Heads of one's own keep the default, `None`.
    fn as_builtin_mut(&mut self) -> Option<&mut Head> {
        None
    }

    /// Logits to probabilities: sigmoid for one output, softmax otherwise.
    fn probabilities(&self, logits: Tensor<2>) -> Tensor<2> {
        match self.outputs() {
            1 => burn::tensor::activation::sigmoid(logits),
            _ => burn::tensor::activation::softmax(logits, 1),
        }
    }
}

/// A classifier head; outputs **logits** (the sigmoid / softmax is in the loss and in
/// [`Head::probabilities`]).
#[derive(Module, Debug)]
pub struct Head {
    /// The batch norm of the pooled vector, if the head has one (trainable: batch
    /// statistics in training steps, moving ones otherwise).
    pub batch_norm: Option<BatchNormalization>,
    /// Hidden dense layers (ReLU).
    pub hidden: Vec<Dense>,
    /// Dropout after the hidden layers (Keras applies it once, before the output layer).
    pub dropout: Dropout,
    /// Output dense layer.
    pub output: Dense,
    /// Feature map to vector.
    #[module(skip)]
    pub pooling: Pooling,
}

/// The first hidden layer's kernel product, left out of the autodiff graph by
/// [`Head::forward_kernel_apart`]: the trainer gives that kernel its gradient by its
/// factors (the layer's input and the product's gradient).
pub(crate) struct KernelApart {
    /// The layer's input `x`, `[batch, inputs]` row-major.
    pub input: Vec<f32>,
    /// Values per row of `input`.
    pub inputs: usize,
    /// `x W`, a leaf of the graph: its gradient is `dz`.
    pub product: Tensor<2>,
    /// The kernel's blocks: parameter id, first row and rows of each.
    pub blocks: Vec<(burn::module::ParamId, usize, usize)>,
}

impl Head {
    /// The base's feature map as a vector per sample, through the head's batch norm.
    fn pooled(&self, features: Tensor<4>) -> Tensor<2> {
        let x = match self.pooling {
            // Keras flattens NHWC: (row, col, channel) order.
            Pooling::Flatten => features.permute([0, 2, 3, 1]).flatten(1, 3),
            Pooling::GlobalAverage => features.mean_dim(3).mean_dim(2).flatten(1, 3),
        };
        let Some(bn) = &self.batch_norm else { return x };
        let [batch, channels] = x.dims();
        let x = x.reshape([batch, channels, 1, 1]);
        let y = match bn.uses_batch_statistics(&x.device()) {
            true => bn.forward_batch_statistics(x),
            false => bn.forward_inference(x),
        };
        y.reshape([batch, channels])
    }

    /// From the hidden layers after the first on: the rest of the forward pass.
    fn after_first_hidden(&self, mut x: Tensor<2>) -> Tensor<2> {
        for dense in self.hidden.iter().skip(1) {
            x = relu(dense.forward(x));
        }
        self.output.forward(self.dropout.forward(x))
    }

    /// [`ClassifierHead::forward`] with the first hidden layer's kernel product left out of
    /// the autodiff graph (`None` without a hidden layer): the same logits. The product is
    /// computed on the host from the kernel's own buffers: call it on host devices only.
    pub(crate) fn forward_kernel_apart(&mut self, features: Tensor<4>) -> Result<(Tensor<2>, Option<KernelApart>)> {
        let x = self.pooled(features);
        let Some(first) = self.hidden.first_mut() else {
            return Ok((self.output.forward(self.dropout.forward(x)), None));
        };
        let kernel = first.take_kernel();
        let inputs = x.dims()[1];
        let forward = first.forward_with_host_kernel(x, &kernel);
        first.put_kernel(kernel);
        let (z, product, input) = forward?;
        let blocks = first.kernel_blocks();
        let logits = self.after_first_hidden(relu(z));
        Ok((logits, Some(KernelApart { input, inputs, product, blocks })))
    }
}

impl ClassifierHead for Head {
    /// # Shapes
    /// - features: `[batch, channels, rows, cols]` (NCHW, as the base gives it)
    /// - output: `[batch, outputs]` logits
    fn forward(&self, features: Tensor<4>) -> Tensor<2> {
        let x = self.pooled(features);
        match self.hidden.first() {
            Some(first) => self.after_first_hidden(relu(first.forward(x))),
            None => self.output.forward(self.dropout.forward(x)),
        }
    }

    fn outputs(&self) -> usize {
        self.output.units()
    }

    fn needs_input_size(&self) -> bool {
        self.pooling == Pooling::Flatten
    }

    fn as_builtin_mut(&mut self) -> Option<&mut Head> {
        Some(self)
    }

    /// Keras' rows: the pooling, the batch norm (gamma and beta trainable, the moving
    /// statistics not), each hidden `Dense`, the dropout, the output `Dense`.
    fn summary_rows(&self, [rows, cols, channels]: [usize; 3]) -> Vec<SummaryRow> {
        let mut width = match self.pooling {
            Pooling::Flatten => rows * cols * channels,
            Pooling::GlobalAverage => channels,
        };
        let (pool_name, pool_type) = match self.pooling {
            Pooling::Flatten => ("flatten", "Flatten"),
            Pooling::GlobalAverage => ("global_average_pooling2d", "GlobalAveragePooling2D"),
        };
        let row = |name: String, layer_type: &str, shape: usize, params: usize| SummaryRow {
            name,
            layer_type: layer_type.into(),
            output_shape: vec![shape],
            trainable: params,
            non_trainable: 0,
        };
        let mut rows = vec![row(pool_name.into(), pool_type, width, 0)];
        if self.batch_norm.is_some() {
            let statistics = SummaryRow {
                non_trainable: 2 * width,
                ..row("batch_normalization".into(), "BatchNormalization", width, 2 * width)
            };
            rows.push(statistics);
        }
        let dense_name = |n: usize| if n == 0 { "dense".to_string() } else { format!("dense_{n}") };
        for (dense, layer) in self.hidden.iter().enumerate() {
            let units = layer.units();
            rows.push(row(dense_name(dense), "Dense", units, width * units + units));
            width = units;
        }
        if self.dropout.prob > 0.0 {
            rows.push(row("dropout".into(), "Dropout", width, 0));
        }
        let outputs = self.outputs();
        rows.push(row(dense_name(self.hidden.len()), "Dense", outputs, width * outputs + outputs));
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::factored::FactoredGradient;
    use burn::tensor::Distribution;

    /// With the first kernel's product out of the graph, the logits, and the kernel's
    /// gradient made from its factors, are Burn's autodiff ones (within float32 rounding:
    /// other summation orders).
    #[test]
    fn the_kernel_apart_gives_the_graphs_logits_and_kernel_gradient() {
        let device = Device::flex().autodiff();
        let config = HeadConfig::new().with_hidden(vec![70, 9]).with_dropout(0.0).with_seed(3);
        let mut head = config.init([3, 3, 40], &device);
        let features = Tensor::<4>::random([5, 40, 3, 3], Distribution::Normal(0.0, 1.0), &device);
        let values = |t: Tensor<2>| t.without_autodiff().into_data().try_into_vec::<f32>().unwrap();
        let largest = |v: &[f32]| v.iter().fold(0.0f32, |m, x| m.max(x.abs()));

        let logits = head.forward(features.clone());
        let kernel = head.hidden[0].kernel[0].val();
        let gradients = (logits.clone() * logits.clone()).sum().backward();
        let expected_gradient = values(kernel.grad(&gradients).unwrap());

        let (apart_logits, apart) = head.forward_kernel_apart(features).unwrap();
        let apart = apart.unwrap();
        let mut gradients = (apart_logits.clone() * apart_logits.clone()).sum().backward();
        let dz = values(apart.product.grad_remove(&mut gradients).unwrap());
        let [(_, first_row, rows)] = apart.blocks[..] else { panic!("one block") };
        let factors = FactoredGradient::tensor(&apart.input, apart.inputs, &dz, 70, (first_row, rows), &device.clone());
        let gradient = FactoredGradient::recognise(&[rows, 70], &factors).unwrap().whole::<2>(&device);
        let gradient = values(gradient);

        let (expected_logits, apart_logits) = (values(logits), values(apart_logits));
        for (name, ours, expected) in
            [("logits", &apart_logits, &expected_logits), ("kernel gradient", &gradient, &expected_gradient)]
        {
            assert_eq!(ours.len(), expected.len());
            let scale = largest(expected);
            let error = ours.iter().zip(expected.iter()).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(scale > 0.0 && error <= 1e-5 * scale, "{name}: error {error}, scale {scale}");
        }
    }
}
