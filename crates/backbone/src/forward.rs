//! Running a [`Network`] with Burn's tensor operations, layer by layer in Keras order: the
//! path for training (autodiff) and for devices other than the CPU.

use burn::nn::PaddingConfig2d;
use burn::nn::pool::{AvgPool2dConfig, MaxPool2dConfig};
use burn::tensor::activation::{relu, sigmoid, softmax};
use burn::tensor::module::conv2d;
use burn::tensor::ops::{ConvOptions, PadMode};
use burn::tensor::{Distribution, Tensor};

use crate::error::{NetworkError, Result};
use crate::host_train;
use crate::layer::{Activation, LayerKind, Padding};
use crate::network::{ConvParams, LayerParams, Network};

fn activate(x: Tensor<4>, activation: Activation) -> Tensor<4> {
    match activation {
        Activation::Linear => x,
        Activation::Relu | Activation::Relu6 if host_train::applies(&x) => {
            host_train::relu_clamp(x, if activation == Activation::Relu6 { 6.0 } else { f32::INFINITY })
        }
        Activation::Relu => relu(x),
        Activation::Relu6 => x.clamp(0.0, 6.0),
        Activation::Softmax => softmax(x, 1),
        // TensorFlow's `silu`: `x * sigmoid(x)`.
        Activation::Swish => x.clone() * sigmoid(x),
        Activation::Sigmoid => sigmoid(x),
    }
}

/// `values` (one, or one per channel) as a `[1, channels, 1, 1]` tensor to broadcast.
fn per_channel(values: Vec<f32>, like: &Tensor<4>) -> Tensor<4> {
    let n = values.len();
    Tensor::<1>::from_floats(values.as_slice(), &like.device()).reshape([1, n, 1, 1])
}

/// Keras' `Dropout` in a training step (see [`LayerKind::Dropout`]).
fn dropout(x: Tensor<4>, rate: f64, per_image: bool) -> Tensor<4> {
    if rate <= 0.0 {
        return x;
    }
    let dims = x.dims();
    let mask_dims = match per_image {
        true => [dims[0], 1, 1, 1],
        false => dims,
    };
    let keep = 1.0 - rate;
    let mask = Tensor::<4>::random(mask_dims, Distribution::Bernoulli(keep), &x.device()).div_scalar(keep);
    x * mask.expand(dims)
}

/// Pads `x` by `[[top, bottom], [left, right]]` with zeros.
fn zero_pad(x: Tensor<4>, [[top, bottom], [left, right]]: [[usize; 2]; 2]) -> Tensor<4> {
    match top + bottom + left + right {
        0 => x,
        _ => x.pad((left, right, top, bottom), PadMode::Constant(0.0)),
    }
}

fn convolve(x: Tensor<4>, conv: &ConvParams, strides: [usize; 2], padding: Padding, groups: usize) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    let [_, _, kh, kw] = conv.kernel.dims();
    let pad = padding.explicit([h, w], [kh, kw], strides).unwrap_or([[0, 0], [0, 0]]);
    // The Flex backend's own operations where they apply (`host_train`), Burn's otherwise.
    let kernel = conv.kernel.val();
    let own = match groups {
        1 if strides == [1, 1] && pad == [[0, 0], [0, 0]] && [kh, kw] == [1, 1] && host_train::applies(&x) => {
            Some(host_train::pointwise_conv2d(x.clone(), kernel.clone()))
        }
        1 => host_train::conv_window(&x, &kernel, strides, pad)
            .map(|window| host_train::conv2d(x.clone(), kernel.clone(), window)),
        _ => host_train::depthwise_window(&x, &kernel, strides, pad)
            .map(|window| host_train::depthwise_conv2d(x.clone(), kernel.clone(), window)),
    };
    if let Some(y) = own {
        return match &conv.bias {
            Some(bias) => {
                let filters = y.dims()[1];
                y.add(bias.val().reshape([1, filters, 1, 1]))
            }
            None => y,
        };
    }
    let symmetric = pad[0][0] == pad[0][1] && pad[1][0] == pad[1][1];
    let (x, pad) = match symmetric {
        true => (x, [pad[0][0], pad[1][0]]),
        false => (zero_pad(x, pad), [0, 0]),
    };
    let options = ConvOptions::new(strides, pad, [1, 1], groups);
    conv2d(x, kernel, conv.bias.as_ref().map(|b| b.val()), options)
}

fn explicit(padding: Padding, x: &Tensor<4>, pool: [usize; 2], strides: [usize; 2]) -> PaddingConfig2d {
    let [_, _, h, w] = x.dims();
    let [[top, bottom], [left, right]] = padding.explicit([h, w], pool, strides).unwrap_or([[0, 0], [0, 0]]);
    PaddingConfig2d::Explicit(top, left, bottom, right)
}

impl Network {
    /// Checks an input batch: rank-4 `[batch, 3, height, width]`, large enough.
    pub fn check_input(&self, input: &Tensor<4>) -> Result<()> {
        let [_, channels, height, width] = input.dims();
        let expected = match self.architecture().layers()[0].kind {
            LayerKind::Input { channels } => channels,
            _ => 3,
        };
        if channels != expected {
            return Err(NetworkError::InputChannels { channels });
        }
        self.architecture().check_input_size([height, width])
    }

    /// Runs the network on `input` and returns the outputs of the layers at `outputs` (one
    /// pass, each layer computed once).
    ///
    /// # Shapes
    /// - input: `[batch, 3, rows, cols]` (NCHW, scaled as the weights expect)
    /// - outputs: `[batch, channels, rows', cols']`; vectors (after global pooling or a
    ///   dense layer) as `[batch, features, 1, 1]`
    pub fn forward_layers(&self, input: Tensor<4>, outputs: &[usize]) -> Result<Vec<Tensor<4>>> {
        self.check_input(&input)?;
        self.check_outputs(outputs)?;
        Ok(self.run(0, input, outputs, false))
    }

    /// [`Network::forward_layers`] as a training step runs layers that do not train: Keras'
    /// `Dropout` layers drop (in `fit` a frozen layer still drops: EfficientNet's
    /// drop-connect), on any device; batch norms as their flags say.
    pub fn forward_layers_dropping(&self, input: Tensor<4>, outputs: &[usize]) -> Result<Vec<Tensor<4>>> {
        self.check_input(&input)?;
        self.check_outputs(outputs)?;
        Ok(self.run(0, input, outputs, true))
    }

    /// Continues the network from the output of the layer at `after` (a split point, see
    /// [`crate::Architecture::is_split_point`]), as [`Network::forward_layers`] gives it, to
    /// the layers at `outputs`: how a partly frozen network runs its frozen part elsewhere
    /// (e.g. packed for the CPU) and only the rest here.
    pub fn forward_from(&self, features: Tensor<4>, after: usize, outputs: &[usize]) -> Result<Vec<Tensor<4>>> {
        self.check_outputs(outputs)?;
        let architecture = self.architecture();
        let layer = architecture.layer(after)?;
        if !architecture.is_split_point(after) {
            return Err(NetworkError::UnusableLayer {
                layer: layer.name.clone(),
                reason: "later layers read layers before it: continue from a block end".into(),
            });
        }
        if let Some(&early) = outputs.iter().find(|&&o| o < after) {
            return Err(NetworkError::UnusableLayer {
                layer: architecture.layers()[early].name.clone(),
                reason: format!("it comes before `{}`, where the features come from", layer.name),
            });
        }
        let channels = features.dims()[1];
        if channels != architecture.channels(after) {
            return Err(NetworkError::FeatureChannels {
                layer: layer.name.clone(),
                expected: architecture.channels(after),
                channels,
            });
        }
        Ok(self.run(after, features, outputs, false))
    }

    /// The vector the network ends in (its classification top): `[batch, features]`. Fails
    /// with [`NetworkError::NoTop`] if it ends in a feature map.
    ///
    /// # Shapes
    /// - input: `[batch, 3, rows, cols]`; output `[batch, features]`
    pub fn classify(&self, input: Tensor<4>) -> Result<Tensor<2>> {
        let output = self.architecture().output();
        if !matches!(
            self.architecture().layers()[output].kind,
            LayerKind::Dense { .. } | LayerKind::GlobalAveragePooling2D
        ) {
            return Err(NetworkError::NoTop);
        }
        let scores = self.forward_layers(input, &[output])?.remove(0);
        let [batch, features, ..] = scores.dims();
        Ok(scores.reshape([batch, features]))
    }

    /// Keras' `model.summary()` for an input of `[rows, cols]`, each layer counted as its
    /// `trainable` flag says.
    pub fn summary(&self, input: [usize; 2]) -> Result<crate::Summary> {
        crate::Summary::of(self.architecture(), input, &|i| self.is_trainable(i))
    }

    fn check_outputs(&self, outputs: &[usize]) -> Result<()> {
        for &o in outputs {
            self.architecture().layer(o)?;
        }
        Ok(())
    }

    /// Runs from the layer at `start` (whose output is `seed`) to `outputs`; dropouts drop on
    /// an autodiff device, or everywhere with `dropping`.
    fn run(&self, start: usize, seed: Tensor<4>, outputs: &[usize], dropping: bool) -> Vec<Tensor<4>> {
        let architecture = self.architecture();
        let layers = architecture.layers();
        let needed = architecture.ancestors(outputs);
        let last = outputs.iter().copied().max().unwrap_or(start);
        let mut uses = vec![0usize; layers.len()];
        for (i, layer) in layers.iter().enumerate().take(last + 1).skip(start + 1) {
            if needed[i] {
                for &input in &layer.inputs {
                    uses[input] += 1;
                }
            }
        }
        for &o in outputs {
            uses[o] += 1;
        }
        let mut values: Vec<Option<Tensor<4>>> = vec![None; layers.len()];
        values[start] = Some(seed);
        for i in start + 1..=last {
            if !needed[i] {
                continue;
            }
            let inputs: Vec<Tensor<4>> = layers[i]
                .inputs
                .iter()
                .map(|&j| {
                    uses[j] -= 1;
                    let value = values[j].as_ref().expect("inputs come first in Keras order").clone();
                    if uses[j] == 0 {
                        values[j] = None;
                    }
                    value
                })
                .collect();
            values[i] = Some(self.apply(i, inputs, dropping));
        }
        outputs.iter().map(|&o| values[o].clone().expect("computed")).collect()
    }

    /// The output of the layer at `index` for its `inputs`.
    fn apply(&self, index: usize, inputs: Vec<Tensor<4>>, dropping: bool) -> Tensor<4> {
        let kind = &self.architecture().layers()[index].kind;
        let params = self.params_of(index);
        match kind {
            LayerKind::Concatenate => return Tensor::cat(inputs, 1),
            LayerKind::Add => return inputs.into_iter().reduce(|sum, y| sum.add(y)).expect("Add has inputs"),
            LayerKind::Multiply => {
                return inputs
                    .into_iter()
                    .reduce(|product, y| {
                        let dims = product.dims();
                        product * y.expand(dims)
                    })
                    .expect("Multiply has inputs");
            }
            _ => {}
        }
        let x = inputs.into_iter().next().expect("every layer but the input has an input");
        match (kind, params) {
            (LayerKind::Conv2D { strides, padding, activation, .. }, Some(LayerParams::Conv(conv))) => {
                activate(convolve(x, conv, *strides, *padding, 1), *activation)
            }
            (LayerKind::DepthwiseConv2D { strides, padding, .. }, Some(LayerParams::Conv(conv))) => {
                let groups = x.dims()[1];
                convolve(x, conv, *strides, *padding, groups)
            }
            (LayerKind::SeparableConv2D { strides, padding, .. }, Some(LayerParams::Separable(sep))) => {
                let groups = x.dims()[1];
                let depthwise = convolve(x, &sep.depthwise, *strides, *padding, groups);
                convolve(depthwise, &sep.pointwise, [1, 1], Padding::Valid, 1)
            }
            (LayerKind::BatchNormalization { .. }, Some(LayerParams::Norm(bn))) => {
                match bn.uses_batch_statistics(&x.device()) {
                    true => bn.forward_batch_statistics(x),
                    false => bn.forward_inference(x),
                }
            }
            (LayerKind::Activation(a) | LayerKind::ReLU(a), _) => activate(x, *a),
            (LayerKind::ZeroPadding2D { padding }, _) => {
                let [_, _, h, w] = x.dims();
                zero_pad(x, padding.resolve([h, w]))
            }
            (LayerKind::MaxPooling2D { pool, strides, padding }, _) => {
                let padding = explicit(*padding, &x, *pool, *strides);
                MaxPool2dConfig::new(*pool).with_strides(*strides).with_padding(padding).init().forward(x)
            }
            (LayerKind::AveragePooling2D { pool, strides, padding, count_include_pad }, _) => {
                let padding = explicit(*padding, &x, *pool, *strides);
                AvgPool2dConfig::new(*pool)
                    .with_strides(*strides)
                    .with_padding(padding)
                    .with_count_include_pad(*count_include_pad)
                    .init()
                    .forward(x)
            }
            (LayerKind::GlobalAveragePooling2D, _) => x.mean_dim(3).mean_dim(2),
            (LayerKind::Flatten { features }, _) => {
                // Keras flattens channels-last maps: (rows, cols, channels) order.
                let batch = x.dims()[0];
                x.permute([0, 2, 3, 1]).reshape([batch, *features, 1, 1])
            }
            (LayerKind::Dense { activation, .. }, Some(LayerParams::Dense(dense))) => {
                let [batch, features, ..] = x.dims();
                let y = dense.forward(x.reshape([batch, features]));
                let units = y.dims()[1];
                activate(y.reshape([batch, units, 1, 1]), *activation)
            }
            (LayerKind::Rescaling { scale, offset }, _) => {
                let scale = per_channel(scale.iter().map(|&s| s as f32).collect(), &x);
                let dims = x.dims();
                (x * scale.expand(dims)).add_scalar(*offset as f32)
            }
            (LayerKind::Normalization, Some(LayerParams::Normalization(stats))) => {
                let dims = x.dims();
                let n = dims[1];
                let mean = stats.mean.value().reshape([1, n, 1, 1]).expand(dims);
                let divisor = stats.variance.value().sqrt().clamp_min(1e-7).reshape([1, n, 1, 1]).expand(dims);
                (x - mean) / divisor
            }
            (LayerKind::Reshape { shape: [rows, cols, channels] }, _) => {
                // Keras reshapes channels-last values in row-major order.
                let batch = x.dims()[0];
                x.permute([0, 2, 3, 1]).reshape([batch, *rows, *cols, *channels]).permute([0, 3, 1, 2])
            }
            (LayerKind::Dropout { rate, per_image }, _) => match dropping || x.device().is_autodiff() {
                true => dropout(x, *rate, *per_image),
                false => x,
            },
            (LayerKind::Input { .. }, _) => x,
            (kind, _) => unreachable!("layer {index} ({}) has no weights of its kind", kind.class_name()),
        }
    }
}
