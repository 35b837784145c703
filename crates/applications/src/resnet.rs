//! ResNet50, written down once as `keras.applications.resnet` (Keras 2.15) builds it: v1
//! bottlenecks (`block1`) with the stride on the first 1x1 and on the shortcut,
//! convolutions with biases, batch norms with gamma and epsilon 1.001e-5, `conv1_pad` /
//! `pool1_pad` zero paddings; `preprocess_input` is Keras' `caffe` mode.
//!
//! torchvision's `resnet50` is v1.5 (the stride on the 3x3): another topology, whose
//! weights do not fit this one.

use backbone::weights::KerasWeightFile;
use backbone::{
    Activation, Architecture, Backbone, BackboneOptions, Flavor, LayerKind, NetworkBuilder, Node, OfficialWeights,
    Padding, Preprocess, Result, ZeroPadding,
};

/// Keras' `obtain_input_shape(min_size=32)`.
pub const MIN_INPUT: usize = 32;

/// Keras' `ResNet50` as a backbone plug-in (`resnet50`).
#[derive(Debug, Clone, Copy)]
pub struct ResNet50;

struct Writer {
    builder: NetworkBuilder,
}

impl Writer {
    fn conv(&mut self, x: Node, name: &str, filters: usize, kernel: usize, strides: usize, padding: Padding) -> Node {
        let kind = LayerKind::Conv2D {
            filters,
            kernel: [kernel, kernel],
            strides: [strides, strides],
            padding,
            use_bias: true,
            activation: Activation::Linear,
        };
        self.builder.named(name, kind, &[x])
    }

    fn batch_norm(&mut self, x: Node, name: &str) -> Node {
        let kind =
            LayerKind::BatchNormalization { epsilon: 1.001e-5, momentum: 0.99, scale: true, tensorflow_order: true };
        self.builder.named(name, kind, &[x])
    }

    fn relu(&mut self, x: Node, name: &str) -> Node {
        self.builder.named(name, LayerKind::Activation(Activation::Relu), &[x])
    }

    /// Keras' `block1`: a residual bottleneck; `conv_shortcut` projects the shortcut.
    fn block1(&mut self, x: Node, filters: usize, stride: usize, conv_shortcut: bool, name: &str) -> Node {
        let shortcut = match conv_shortcut {
            true => {
                let shortcut = self.conv(x, &format!("{name}_0_conv"), 4 * filters, 1, stride, Padding::Valid);
                self.batch_norm(shortcut, &format!("{name}_0_bn"))
            }
            false => x,
        };
        let x = self.conv(x, &format!("{name}_1_conv"), filters, 1, stride, Padding::Valid);
        let x = self.batch_norm(x, &format!("{name}_1_bn"));
        let x = self.relu(x, &format!("{name}_1_relu"));
        let x = self.conv(x, &format!("{name}_2_conv"), filters, 3, 1, Padding::Same);
        let x = self.batch_norm(x, &format!("{name}_2_bn"));
        let x = self.relu(x, &format!("{name}_2_relu"));
        let x = self.conv(x, &format!("{name}_3_conv"), 4 * filters, 1, 1, Padding::Valid);
        let x = self.batch_norm(x, &format!("{name}_3_bn"));
        let x = self.builder.named(&format!("{name}_add"), LayerKind::Add, &[shortcut, x]);
        self.relu(x, &format!("{name}_out"))
    }

    /// Keras' `stack1`: `blocks` bottlenecks, the first projecting with `stride1`.
    fn stack1(&mut self, x: Node, filters: usize, blocks: usize, stride1: usize, name: &str) -> Node {
        let mut x = self.block1(x, filters, stride1, true, &format!("{name}_block1"));
        for i in 2..=blocks {
            x = self.block1(x, filters, 1, false, &format!("{name}_block{i}"));
        }
        x
    }
}

/// ResNet50 (Keras' `ResNet(stack_fn, preact=False, use_bias=True, "resnet50")`), with the
/// top (`avg_pool`, `predictions` softmax over `classes`) or without (ends at
/// `conv5_block3_out`).
pub fn resnet50(include_top: bool, classes: usize) -> Architecture {
    let (builder, input) = NetworkBuilder::new("resnet50", 3, MIN_INPUT);
    let mut w = Writer { builder };
    let pad = |p: usize| LayerKind::ZeroPadding2D { padding: ZeroPadding::Fixed([[p, p], [p, p]]) };
    let x = w.builder.named("conv1_pad", pad(3), &[input]);
    let x = w.conv(x, "conv1_conv", 64, 7, 2, Padding::Valid);
    let x = w.batch_norm(x, "conv1_bn");
    let x = w.relu(x, "conv1_relu");
    let x = w.builder.named("pool1_pad", pad(1), &[x]);
    let pool = LayerKind::MaxPooling2D { pool: [3, 3], strides: [2, 2], padding: Padding::Valid };
    let x = w.builder.named("pool1_pool", pool, &[x]);
    let x = w.stack1(x, 64, 3, 1, "conv2");
    let x = w.stack1(x, 128, 4, 2, "conv3");
    let x = w.stack1(x, 256, 6, 2, "conv4");
    let mut x = w.stack1(x, 512, 3, 2, "conv5");
    if include_top {
        x = w.builder.named("avg_pool", LayerKind::GlobalAveragePooling2D, &[x]);
        let dense = LayerKind::Dense { units: classes, activation: Activation::Softmax };
        x = w.builder.named("predictions", dense, &[x]);
    }
    w.builder.finish(x)
}

impl Backbone for ResNet50 {
    fn name(&self) -> &'static str {
        "resnet50"
    }

    fn title(&self) -> &'static str {
        "ResNet50"
    }

    fn transfer_cut(&self) -> &'static str {
        "conv5_block3_out"
    }

    fn describe(&self, options: &BackboneOptions) -> Result<Architecture> {
        Ok(resnet50(options.include_top, options.classes))
    }

    fn preprocess(&self, _flavor: Flavor) -> Option<Preprocess> {
        Some(Preprocess::Caffe)
    }

    fn recognises_keras(&self, file: &KerasWeightFile) -> bool {
        let has = |name: &str| file.layers.iter().any(|l| l.name == name);
        // ResNet101 / 152 have more conv4 blocks; the v2 networks a `post_bn`.
        has("conv1_conv") && has("conv2_block1_1_conv") && !has("conv4_block7_1_conv") && !has("post_bn")
    }

    fn notop_weights(&self) -> OfficialWeights {
        OfficialWeights {
            file: "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
            url: "https://storage.googleapis.com/tensorflow/keras-applications/resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        }
    }
}
