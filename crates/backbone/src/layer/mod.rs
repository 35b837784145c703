//! One Keras layer of a network description: its name, kind and parameters, its inputs, and
//! where its weights live in torchvision's state dict. Each kind's facts live here: its
//! Keras names and output channels (this file), output size (`shape`), weights, parameter
//! counts and weight layouts (`weight`).

use serde::{Deserialize, Serialize};

mod shape;
mod weight;

pub use shape::OutputError;
pub use weight::Weight;

/// How a convolution or pooling pads its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Padding {
    /// No padding (Keras `padding='valid'`).
    Valid,
    /// TensorFlow's `same`: output `ceil(n / stride)`, the padding split with the smaller
    /// half before (asymmetric when the total is odd).
    Same,
    /// The same padding `[rows, cols]` on both sides of each axis (PyTorch's `padding=`).
    Symmetric([usize; 2]),
}

impl Padding {
    /// The padding `[before, after]` of one axis of `size` for a window of `kernel` moved
    /// by `stride`, or `None` if the window does not fit.
    pub fn axis(self, size: usize, kernel: usize, stride: usize) -> Option<[usize; 2]> {
        match self {
            Padding::Valid => (size >= kernel).then_some([0, 0]),
            Padding::Same => {
                let out = size.div_ceil(stride);
                let total = ((out.max(1) - 1) * stride + kernel).saturating_sub(size);
                Some([total / 2, total - total / 2])
            }
            Padding::Symmetric(p) => {
                let p = p[0];
                (size + 2 * p >= kernel).then_some([p, p])
            }
        }
    }

    /// Padding `[[top, bottom], [left, right]]` for an input of `[rows, cols]`, or `None`
    /// if the window does not fit.
    pub fn explicit(self, size: [usize; 2], kernel: [usize; 2], stride: [usize; 2]) -> Option<[[usize; 2]; 2]> {
        let (rows, cols) = match self {
            Padding::Symmetric([r, c]) => (Padding::Symmetric([r, r]), Padding::Symmetric([c, c])),
            other => (other, other),
        };
        Some([rows.axis(size[0], kernel[0], stride[0])?, cols.axis(size[1], kernel[1], stride[1])?])
    }
}

/// The zero padding of a `ZeroPadding2D` layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ZeroPadding {
    /// The same `[[top, bottom], [left, right]]` for every input size.
    Fixed([[usize; 2]; 2]),
    /// Keras' `imagenet_utils.correct_pad(x, kernel)` for the input's size: `kernel / 2` on
    /// each side, one less before on an axis of even size (so a stride-2 window covers the
    /// image as TensorFlow's `same` padding would).
    Correct {
        /// The window of the convolution after it.
        kernel: [usize; 2],
    },
}

impl ZeroPadding {
    /// `[[top, bottom], [left, right]]` for an input of `[rows, cols]`.
    pub fn resolve(self, [h, w]: [usize; 2]) -> [[usize; 2]; 2] {
        match self {
            ZeroPadding::Fixed(padding) => padding,
            ZeroPadding::Correct { kernel } => {
                let axis = |size: usize, k: usize| [k / 2 - (1 - size % 2).min(k / 2), k / 2];
                [axis(h, kernel[0]), axis(w, kernel[1])]
            }
        }
    }
}

/// Output size of one axis: input `size`, padding `[before, after]`, window and stride.
pub fn window_output(size: usize, pad: [usize; 2], kernel: usize, stride: usize) -> usize {
    (size + pad[0] + pad[1] - kernel) / stride + 1
}

fn linear() -> Activation {
    Activation::Linear
}

/// An elementwise activation or the activation of a dense layer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Activation {
    /// Identity (Keras `activation=None` / `'linear'`).
    Linear,
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, 0), 6)` (Keras `ReLU(6.)`, PyTorch `ReLU6`).
    Relu6,
    /// Softmax over the features (Keras `activation='softmax'`).
    Softmax,
    /// `x * sigmoid(x)` (Keras `'swish'`, TensorFlow's `tf.nn.silu`; EfficientNet's).
    Swish,
    /// `1 / (1 + exp(-x))` (Keras `'sigmoid'`).
    Sigmoid,
}

/// What a layer computes, with Keras' parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LayerKind {
    /// The image input, channels last.
    Input {
        /// Channels (3).
        channels: usize,
    },
    /// `Conv2D`.
    Conv2D {
        /// Output channels.
        filters: usize,
        /// Window `[rows, cols]`.
        kernel: [usize; 2],
        /// Stride `[rows, cols]`.
        strides: [usize; 2],
        /// Padding.
        padding: Padding,
        /// Whether it adds a bias.
        use_bias: bool,
        /// The activation Keras applies inside the layer (`Conv2D(..., activation='relu')`,
        /// VGG16's); [`Activation::Linear`] for none.
        #[serde(default = "linear")]
        activation: Activation,
    },
    /// `DepthwiseConv2D` with `depth_multiplier=1`.
    DepthwiseConv2D {
        /// Window `[rows, cols]`.
        kernel: [usize; 2],
        /// Stride `[rows, cols]`.
        strides: [usize; 2],
        /// Padding.
        padding: Padding,
        /// Whether it adds a bias.
        use_bias: bool,
    },
    /// `SeparableConv2D` with `depth_multiplier=1`: a depthwise convolution (the window,
    /// strides and padding) then a pointwise 1x1 one to `filters` channels, with the bias
    /// (if any) after the pointwise one.
    SeparableConv2D {
        /// Output channels.
        filters: usize,
        /// Window `[rows, cols]` of the depthwise step.
        kernel: [usize; 2],
        /// Stride `[rows, cols]` of the depthwise step.
        strides: [usize; 2],
        /// Padding of the depthwise step.
        padding: Padding,
        /// Whether it adds a bias.
        use_bias: bool,
    },
    /// `BatchNormalization` over the channels.
    BatchNormalization {
        /// Added to the variance before the square root.
        epsilon: f64,
        /// Keras momentum of the moving statistics (weight of the old value).
        momentum: f64,
        /// Whether it has a learnable scale `gamma` (Keras `scale=True`).
        scale: bool,
        /// TensorFlow's order of operations, `(x - mean) * (gamma * rsqrt(var + eps)) + beta`,
        /// rather than PyTorch's `x * a + (beta - mean * a)`: the reference's rounding.
        tensorflow_order: bool,
    },
    /// Keras `Activation(...)`.
    Activation(Activation),
    /// Keras `ReLU(max_value)`: [`Activation::Relu6`] with 6, [`Activation::Relu`] without.
    ReLU(Activation),
    /// `ZeroPadding2D`.
    ZeroPadding2D {
        /// How much, on which sides.
        padding: ZeroPadding,
    },
    /// `MaxPooling2D`.
    MaxPooling2D {
        /// Window.
        pool: [usize; 2],
        /// Stride.
        strides: [usize; 2],
        /// Padding.
        padding: Padding,
    },
    /// `AveragePooling2D`.
    AveragePooling2D {
        /// Window.
        pool: [usize; 2],
        /// Stride.
        strides: [usize; 2],
        /// Padding.
        padding: Padding,
        /// Whether padded zeros count in the divisor (PyTorch's default; Keras never).
        count_include_pad: bool,
    },
    /// `Concatenate` along the channels.
    Concatenate,
    /// `Add` of same-shaped inputs.
    Add,
    /// `GlobalAveragePooling2D`: one value per channel.
    GlobalAveragePooling2D,
    /// `Flatten` of a feature map into a vector in Keras' `(rows, cols, channels)` order.
    /// The vector's length is fixed when the network is described (the input size of a
    /// model with a flattening top is fixed too, as in Keras).
    Flatten {
        /// `rows * cols * channels` of the map it flattens.
        features: usize,
    },
    /// `Dense` on a vector.
    Dense {
        /// Output features.
        units: usize,
        /// Activation after it.
        activation: Activation,
    },
    /// Keras `Rescaling(scale, offset)`: `x * scale + offset`, the scale one value for every
    /// channel or one per channel (EfficientNet's `Rescaling(1 / sqrt(stddev))`).
    Rescaling {
        /// One factor, or one per channel.
        scale: Vec<f64>,
        /// Added after scaling.
        offset: f64,
    },
    /// Keras `Normalization(axis=-1)` with its statistics as weights (`mean`, `variance`,
    /// `count`, non-trainable): `(x - mean) / max(sqrt(variance), 1e-7)`.
    Normalization,
    /// Keras `Reshape((rows, cols, channels))` (row-major, channels last, as Keras reads
    /// its input): EfficientNet's `se_reshape` of a pooled vector to a 1x1 map.
    Reshape {
        /// The target `(rows, cols, channels)`.
        shape: [usize; 3],
    },
    /// Keras `Multiply` of its inputs, those after the first broadcast from 1x1 maps
    /// (EfficientNet's `se_excite`: a feature map times its per-channel gates).
    Multiply,
    /// Keras `Dropout(rate)`: the identity at inference; in a training step each value (or,
    /// with `per_image`, each image's whole input: `noise_shape=(None, 1, 1, 1)`,
    /// EfficientNet's drop-connect) is zeroed with probability `rate` and the rest scaled
    /// by `1 / (1 - rate)`.
    Dropout {
        /// Fraction dropped, in `[0, 1)`.
        rate: f64,
        /// One draw per image (`noise_shape=(None, 1, 1, 1)`) rather than per value.
        per_image: bool,
    },
}

impl LayerKind {
    /// Keras' class name and the prefix of its automatic names.
    fn keras_names(&self) -> (&'static str, &'static str) {
        match self {
            LayerKind::Input { .. } => ("InputLayer", "input"),
            LayerKind::Conv2D { .. } => ("Conv2D", "conv2d"),
            LayerKind::DepthwiseConv2D { .. } => ("DepthwiseConv2D", "depthwise_conv2d"),
            LayerKind::SeparableConv2D { .. } => ("SeparableConv2D", "separable_conv2d"),
            LayerKind::BatchNormalization { .. } => ("BatchNormalization", "batch_normalization"),
            LayerKind::Activation(_) => ("Activation", "activation"),
            LayerKind::ReLU(_) => ("ReLU", "re_lu"),
            LayerKind::ZeroPadding2D { .. } => ("ZeroPadding2D", "zero_padding2d"),
            LayerKind::MaxPooling2D { .. } => ("MaxPooling2D", "max_pooling2d"),
            LayerKind::AveragePooling2D { .. } => ("AveragePooling2D", "average_pooling2d"),
            LayerKind::Concatenate => ("Concatenate", "concatenate"),
            LayerKind::Add => ("Add", "add"),
            LayerKind::GlobalAveragePooling2D => ("GlobalAveragePooling2D", "global_average_pooling2d"),
            LayerKind::Flatten { .. } => ("Flatten", "flatten"),
            LayerKind::Dense { .. } => ("Dense", "dense"),
            LayerKind::Rescaling { .. } => ("Rescaling", "rescaling"),
            LayerKind::Normalization => ("Normalization", "normalization"),
            LayerKind::Reshape { .. } => ("Reshape", "reshape"),
            LayerKind::Multiply => ("Multiply", "multiply"),
            LayerKind::Dropout { .. } => ("Dropout", "dropout"),
        }
    }

    /// Keras' class name (`Conv2D`), as `model.summary()` prints it.
    pub fn class_name(&self) -> &'static str {
        self.keras_names().0
    }

    /// The prefix of Keras' automatic names (`conv2d`, `conv2d_1`, ...): the class name in
    /// snake case, `input` for the input (whose names count from 1: `input_1`).
    pub fn auto_name_prefix(&self) -> &'static str {
        self.keras_names().1
    }

    /// Output channels (features for vectors) for inputs of `inputs` channels.
    pub fn output_channels(&self, inputs: &[usize]) -> usize {
        match self {
            LayerKind::Input { channels } => *channels,
            LayerKind::Conv2D { filters, .. } | LayerKind::SeparableConv2D { filters, .. } => *filters,
            LayerKind::Dense { units, .. } => *units,
            LayerKind::Flatten { features } => *features,
            LayerKind::Reshape { shape } => shape[2],
            LayerKind::Concatenate => inputs.iter().sum(),
            _ => inputs.first().copied().unwrap_or(0),
        }
    }
}

/// One layer of a network: a node of its graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    /// Keras layer name (`conv2d_5`, `mixed0`, `block_1_expand`).
    pub name: String,
    /// What it computes.
    pub kind: LayerKind,
    /// The layers it reads, as indices into the [`crate::Architecture`] holding it.
    pub inputs: Vec<usize>,
    /// Whether `name` is a Keras automatic name (`conv2d_N`), whose counter depends on the
    /// session that built the model: weight files are then matched by the counter's rank.
    pub auto_named: bool,
    /// Module path of the layer's weights in torchvision's state dict (`Mixed_5b.branch1x1.conv`),
    /// for weighted layers of networks torchvision has.
    pub torch_path: Option<String>,
}
