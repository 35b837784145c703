//! Xception, written down once as `keras.applications.xception` (Keras 2.15) builds it: an
//! entry flow of two plain 3x3 convolutions and three blocks of separable convolutions
//! ending in a TF-`same` 3x3/2 max pooling, each added to a 1x1/2 convolution + batch-norm
//! shortcut (whose layers Keras names automatically: `conv2d`, `batch_normalization`,
//! `add` and their numbered siblings), eight middle blocks of three ReLU -> separable
//! convolution -> batch norm steps around an identity shortcut, and an exit flow. No
//! convolution has a bias; batch norms have gamma and epsilon 1e-3. `preprocess_input` is
//! Keras' `tf` mode.

use backbone::weights::KerasWeightFile;
use backbone::{
    Activation, Architecture, Backbone, BackboneOptions, Flavor, LayerKind, NetworkBuilder, Node, OfficialWeights,
    Padding, Preprocess, Result,
};

/// Keras' `obtain_input_shape(min_size=71)`.
pub const MIN_INPUT: usize = 71;

/// Keras' `Xception` as a backbone plug-in (`xception`).
#[derive(Debug, Clone, Copy)]
pub struct Xception;

struct Writer {
    builder: NetworkBuilder,
}

const BATCH_NORM: LayerKind =
    LayerKind::BatchNormalization { epsilon: 1e-3, momentum: 0.99, scale: true, tensorflow_order: true };

impl Writer {
    fn relu(&mut self, x: Node, name: &str) -> Node {
        self.builder.named(name, LayerKind::Activation(Activation::Relu), &[x])
    }

    /// `SeparableConv2D(filters, (3, 3), padding="same", use_bias=False, name=name)`, then its
    /// batch norm `{name}_bn`.
    fn separable(&mut self, x: Node, filters: usize, name: &str) -> Node {
        let kind = LayerKind::SeparableConv2D {
            filters,
            kernel: [3, 3],
            strides: [1, 1],
            padding: Padding::Same,
            use_bias: false,
        };
        let x = self.builder.named(name, kind, &[x]);
        self.builder.named(&format!("{name}_bn"), BATCH_NORM, &[x])
    }

    /// The automatically named shortcut: a 1x1/2 `same` convolution and its batch norm.
    fn shortcut(&mut self, x: Node, filters: usize) -> Node {
        let kind = LayerKind::Conv2D {
            filters,
            kernel: [1, 1],
            strides: [2, 2],
            padding: Padding::Same,
            use_bias: false,
            activation: Activation::Linear,
        };
        let x = self.builder.layer(kind, &[x]);
        self.builder.layer(BATCH_NORM, &[x])
    }

    /// An entry or exit block: (ReLU ->) separable -> ReLU -> separable -> 3x3/2 `same` max
    /// pooling, added to the shortcut (created first, as in the Keras source). Block 2 has no
    /// leading ReLU (it follows `block1_conv2_act`).
    fn downsampling_block(&mut self, x: Node, block: usize, filters: [usize; 2], leading_relu: bool) -> Node {
        let residual = self.shortcut(x, filters[1]);
        let mut x = x;
        if leading_relu {
            x = self.relu(x, &format!("block{block}_sepconv1_act"));
        }
        let x = self.separable(x, filters[0], &format!("block{block}_sepconv1"));
        let x = self.relu(x, &format!("block{block}_sepconv2_act"));
        let x = self.separable(x, filters[1], &format!("block{block}_sepconv2"));
        let pool = LayerKind::MaxPooling2D { pool: [3, 3], strides: [2, 2], padding: Padding::Same };
        let x = self.builder.named(&format!("block{block}_pool"), pool, &[x]);
        self.builder.layer(LayerKind::Add, &[x, residual])
    }

    /// A middle-flow block: three ReLU -> separable (728) steps around an identity shortcut.
    fn middle_block(&mut self, x: Node, block: usize) -> Node {
        let residual = x;
        let mut x = x;
        for step in 1..=3 {
            x = self.relu(x, &format!("block{block}_sepconv{step}_act"));
            x = self.separable(x, 728, &format!("block{block}_sepconv{step}"));
        }
        self.builder.layer(LayerKind::Add, &[x, residual])
    }

    fn conv_bn_relu(&mut self, x: Node, name: &str, filters: usize, strides: usize) -> Node {
        let kind = LayerKind::Conv2D {
            filters,
            kernel: [3, 3],
            strides: [strides, strides],
            padding: Padding::Valid,
            use_bias: false,
            activation: Activation::Linear,
        };
        let x = self.builder.named(name, kind, &[x]);
        let x = self.builder.named(&format!("{name}_bn"), BATCH_NORM, &[x]);
        self.relu(x, &format!("{name}_act"))
    }
}

/// Xception, with the top (`avg_pool`, `predictions` softmax over `classes`) or without
/// (ends at `block14_sepconv2_act`).
pub fn xception(include_top: bool, classes: usize) -> Architecture {
    let (builder, input) = NetworkBuilder::new("xception", 3, MIN_INPUT);
    let mut w = Writer { builder };
    let x = w.conv_bn_relu(input, "block1_conv1", 32, 2);
    let x = w.conv_bn_relu(x, "block1_conv2", 64, 1);
    let x = w.downsampling_block(x, 2, [128, 128], false);
    let x = w.downsampling_block(x, 3, [256, 256], true);
    let mut x = w.downsampling_block(x, 4, [728, 728], true);
    for block in 5..=12 {
        x = w.middle_block(x, block);
    }
    let x = w.downsampling_block(x, 13, [728, 1024], true);
    let x = w.separable(x, 1536, "block14_sepconv1");
    let x = w.relu(x, "block14_sepconv1_act");
    let x = w.separable(x, 2048, "block14_sepconv2");
    let mut x = w.relu(x, "block14_sepconv2_act");
    if include_top {
        x = w.builder.named("avg_pool", LayerKind::GlobalAveragePooling2D, &[x]);
        let dense = LayerKind::Dense { units: classes, activation: Activation::Softmax };
        x = w.builder.named("predictions", dense, &[x]);
    }
    w.builder.finish(x)
}

impl Backbone for Xception {
    fn name(&self) -> &'static str {
        "xception"
    }

    fn title(&self) -> &'static str {
        "Xception"
    }

    fn default_input(&self) -> [usize; 2] {
        [299, 299]
    }

    fn transfer_cut(&self) -> &'static str {
        "block14_sepconv2_act"
    }

    fn describe(&self, options: &BackboneOptions) -> Result<Architecture> {
        Ok(xception(options.include_top, options.classes))
    }

    fn preprocess(&self, _flavor: Flavor) -> Option<Preprocess> {
        Some(Preprocess::Tf)
    }

    fn recognises_keras(&self, file: &KerasWeightFile) -> bool {
        // VGG16 has a `block1_conv1` too, without a batch norm.
        file.layers.iter().any(|l| l.name == "block1_conv1_bn")
    }

    fn notop_weights(&self) -> OfficialWeights {
        OfficialWeights {
            file: "xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
            url: "https://storage.googleapis.com/tensorflow/keras-applications/xception/xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
        }
    }
}
