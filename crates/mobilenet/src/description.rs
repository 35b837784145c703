//! MobileNetV2, written down once, as `keras.applications.mobilenet_v2` (Keras 2.15) builds
//! it: `Conv1` (3x3, stride 2, `same`), 17 inverted residual blocks (`expanded_conv_*`,
//! `block_1_*` .. `block_16_*`), `Conv_1` and `out_relu`, then the optional top; every
//! batch norm with gamma, epsilon 1e-3, momentum 0.999; every activation ReLU6; a
//! `ZeroPadding2D` by Keras' `correct_pad` before each stride-2 depthwise convolution.
//!
//! The torchvision flavour (`torchvision.models.mobilenet_v2`) has the same layers with the
//! same Keras names and channel rounding; it pads every 3x3 window by 1 on each side
//! (`Conv1` and the stride-2 depthwise convolutions included), its batch norms use
//! epsilon 1e-5 and PyTorch's momentum 0.1, and its top gives logits. Each weighted layer
//! records its torchvision key (`features.2.conv.1.0`).

use backbone::{Activation, Architecture, Flavor, LayerKind, NetworkBuilder, Node, Padding, ZeroPadding};

/// Keras' `obtain_input_shape(min_size=32)`.
pub const MIN_INPUT: usize = 32;

/// The width multipliers Keras has weights for.
pub const ALPHAS: [f64; 6] = [0.35, 0.5, 0.75, 1.0, 1.3, 1.4];

/// The inverted residual blocks: (filters, stride, expansion), `block_id` = position.
const BLOCKS: [(usize, usize, usize); 17] = [
    (16, 1, 1),
    (24, 2, 6),
    (24, 1, 6),
    (32, 2, 6),
    (32, 1, 6),
    (32, 1, 6),
    (64, 2, 6),
    (64, 1, 6),
    (64, 1, 6),
    (64, 1, 6),
    (96, 1, 6),
    (96, 1, 6),
    (96, 1, 6),
    (160, 2, 6),
    (160, 1, 6),
    (160, 1, 6),
    (320, 1, 6),
];

/// Keras' `_make_divisible(v, 8)`: the nearest multiple of 8, at least 8, and not more than
/// 10% below `v`.
pub fn make_divisible(v: f64) -> usize {
    let divisor = 8.0;
    let rounded = (((v + divisor / 2.0) / divisor).floor() * divisor).max(divisor);
    let rounded = if rounded < 0.9 * v { rounded + divisor } else { rounded };
    rounded as usize
}

/// Keras' model name: `mobilenetv2_1.00_224` (`'mobilenetv2_%0.2f_%s' % (alpha, rows)`).
pub fn model_name(alpha: f64, rows: usize) -> String {
    format!("mobilenetv2_{alpha:.2}_{rows}")
}

struct Writer {
    builder: NetworkBuilder,
    flavor: Flavor,
}

impl Writer {
    /// A convolution without bias whose weights torchvision keeps at `torch`.
    fn conv(&mut self, x: Node, name: &str, filters: usize, kernel: usize, strides: usize, torch: &str) -> Node {
        let padding = match (self.flavor, kernel) {
            (Flavor::Torchvision, 3) => Padding::Symmetric([1, 1]),
            _ => Padding::Same,
        };
        let kind = LayerKind::Conv2D {
            filters,
            kernel: [kernel, kernel],
            strides: [strides, strides],
            padding,
            use_bias: false,
            activation: Activation::Linear,
        };
        let conv = self.builder.named(name, kind, &[x]);
        self.builder.torch_path(conv, torch.to_string());
        conv
    }

    fn batch_norm(&mut self, x: Node, name: &str, torch: &str) -> Node {
        let kind = match self.flavor {
            Flavor::Keras => {
                LayerKind::BatchNormalization { epsilon: 1e-3, momentum: 0.999, scale: true, tensorflow_order: true }
            }
            Flavor::Torchvision => {
                LayerKind::BatchNormalization { epsilon: 1e-5, momentum: 0.9, scale: true, tensorflow_order: false }
            }
        };
        let norm = self.builder.named(name, kind, &[x]);
        self.builder.torch_path(norm, torch.to_string());
        norm
    }

    fn relu6(&mut self, x: Node, name: &str) -> Node {
        self.builder.named(name, LayerKind::ReLU(Activation::Relu6), &[x])
    }

    /// Keras' `_inverted_res_block`.
    fn inverted_res_block(
        &mut self,
        inputs: Node,
        expansion: usize,
        stride: usize,
        alpha: f64,
        filters: usize,
        block_id: usize,
    ) -> Node {
        let in_channels = self.builder.channels(inputs);
        let pointwise_filters = make_divisible((filters as f64 * alpha).trunc());
        let mut x = inputs;
        let prefix = match block_id {
            0 => "expanded_conv_".to_string(),
            id => format!("block_{id}_"),
        };
        // torchvision's `features.{block_id + 1}.conv`: [expand (conv, bn)], depthwise (conv,
        // bn), project conv, project bn.
        let torch = |i: usize| {
            let i = if block_id == 0 { i - 1 } else { i };
            format!("features.{}.conv.{i}", block_id + 1)
        };
        if block_id > 0 {
            x = self.conv(x, &format!("{prefix}expand"), expansion * in_channels, 1, 1, &format!("{}.0", torch(0)));
            x = self.batch_norm(x, &format!("{prefix}expand_BN"), &format!("{}.1", torch(0)));
            x = self.relu6(x, &format!("{prefix}expand_relu"));
        }
        let padding = match (stride, self.flavor) {
            (2, flavor) => {
                let padding = match flavor {
                    Flavor::Keras => ZeroPadding::Correct { kernel: [3, 3] },
                    Flavor::Torchvision => ZeroPadding::Fixed([[1, 1], [1, 1]]),
                };
                let pad = LayerKind::ZeroPadding2D { padding };
                x = self.builder.named(&format!("{prefix}pad"), pad, &[x]);
                Padding::Valid
            }
            (_, Flavor::Keras) => Padding::Same,
            (_, Flavor::Torchvision) => Padding::Symmetric([1, 1]),
        };
        let depthwise =
            LayerKind::DepthwiseConv2D { kernel: [3, 3], strides: [stride, stride], padding, use_bias: false };
        x = self.builder.named(&format!("{prefix}depthwise"), depthwise, &[x]);
        self.builder.torch_path(x, format!("{}.0", torch(1)));
        x = self.batch_norm(x, &format!("{prefix}depthwise_BN"), &format!("{}.1", torch(1)));
        x = self.relu6(x, &format!("{prefix}depthwise_relu"));
        x = self.conv(x, &format!("{prefix}project"), pointwise_filters, 1, 1, &torch(2));
        x = self.batch_norm(x, &format!("{prefix}project_BN"), &torch(3));
        match in_channels == pointwise_filters && stride == 1 {
            true => self.builder.named(&format!("{prefix}add"), LayerKind::Add, &[inputs, x]),
            false => x,
        }
    }
}

/// The whole MobileNetV2 of `flavor` and width `alpha` with its classification top of
/// `classes` (cut it at `out_relu` for the base), named for `rows`-row inputs as Keras
/// names it.
pub fn mobilenet_v2(flavor: Flavor, alpha: f64, classes: usize, rows: usize) -> Architecture {
    let (builder, input) = NetworkBuilder::new(&model_name(alpha, rows), 3, MIN_INPUT);
    let mut w = Writer { builder, flavor };
    let first_block_filters = make_divisible(32.0 * alpha);
    let x = w.conv(input, "Conv1", first_block_filters, 3, 2, "features.0.0");
    let x = w.batch_norm(x, "bn_Conv1", "features.0.1");
    let mut x = w.relu6(x, "Conv1_relu");
    for (block_id, (filters, stride, expansion)) in BLOCKS.into_iter().enumerate() {
        x = w.inverted_res_block(x, expansion, stride, alpha, filters, block_id);
    }
    let last_block_filters = match alpha > 1.0 {
        true => make_divisible(1280.0 * alpha),
        false => 1280,
    };
    let x = w.conv(x, "Conv_1", last_block_filters, 1, 1, "features.18.0");
    let x = w.batch_norm(x, "Conv_1_bn", "features.18.1");
    let x = w.relu6(x, "out_relu");
    let pooled = w.builder.layer(LayerKind::GlobalAveragePooling2D, &[x]);
    let activation = match flavor {
        Flavor::Keras => Activation::Softmax,
        Flavor::Torchvision => Activation::Linear,
    };
    let predictions = w.builder.named("predictions", LayerKind::Dense { units: classes, activation }, &[pooled]);
    // torchvision: `classifier = Sequential(Dropout(0.2), Linear(...))`.
    w.builder.torch_path(predictions, "classifier.1");
    w.builder.finish(predictions)
}

#[cfg(test)]
mod tests {
    use backbone::Summary;

    use super::*;

    #[test]
    fn channels_round_as_keras_does() {
        assert_eq!(make_divisible(32.0 * 0.35), 16);
        assert_eq!(make_divisible(11.0), 16);
        assert_eq!(make_divisible(32.0), 32);
        assert_eq!(make_divisible(1280.0 * 1.3), 1664);
        assert_eq!(make_divisible(1280.0 * 1.4), 1792);
        assert_eq!(make_divisible((16.0 * 0.75f64).trunc()), 16);
        assert_eq!(model_name(1.0, 160), "mobilenetv2_1.00_160");
        assert_eq!(model_name(0.35, 96), "mobilenetv2_0.35_96");
    }

    #[test]
    fn the_notop_base_has_keras_counts() {
        let base = mobilenet_v2(Flavor::Keras, 1.0, 1000, 160).cut_at("out_relu").unwrap();
        assert_eq!(base.len(), 154);
        let summary = Summary::of(&base, [160, 160], &|_| true).unwrap();
        assert_eq!(summary.total_params(), 2_257_984);
        assert_eq!(summary.non_trainable_params(), 34_112);
        assert_eq!(summary.rows[1].name, "Conv1");
        assert_eq!(summary.rows[1].output_shape, vec![80, 80, 32]);
        assert_eq!(summary.rows.last().unwrap().output_shape, vec![5, 5, 1280]);
        let whole = mobilenet_v2(Flavor::Keras, 1.0, 1000, 224);
        assert_eq!(Summary::of(&whole, [224, 224], &|_| true).unwrap().total_params(), 3_538_984);
    }

    /// torchvision's `mobilenet_v2()` has 3,504,872 parameters (its batch norms' running
    /// statistics are buffers, not parameters: 34,112 of them, as Keras' non-trainable ones).
    #[test]
    fn the_torchvision_flavour_has_the_same_layers_and_torchvision_keys() {
        let keras = mobilenet_v2(Flavor::Keras, 1.0, 1000, 224);
        let torch = mobilenet_v2(Flavor::Torchvision, 1.0, 1000, 224);
        let names = |a: &Architecture| a.layers().iter().map(|l| l.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&keras), names(&torch));
        let summary = Summary::of(&torch, [224, 224], &|_| true).unwrap();
        assert_eq!(summary.total_params() - summary.non_trainable_params(), 3_504_872);
        assert_eq!(summary.total_params(), 3_538_984);
        let path = |name: &str| torch.layers()[torch.index_of(name).unwrap()].torch_path.clone().unwrap();
        assert_eq!(path("Conv1"), "features.0.0");
        assert_eq!(path("expanded_conv_depthwise"), "features.1.conv.0.0");
        assert_eq!(path("expanded_conv_project_BN"), "features.1.conv.2");
        assert_eq!(path("block_1_expand"), "features.2.conv.0.0");
        assert_eq!(path("block_1_depthwise_BN"), "features.2.conv.1.1");
        assert_eq!(path("block_16_project"), "features.17.conv.2");
        assert_eq!(path("Conv_1_bn"), "features.18.1");
        assert_eq!(path("predictions"), "classifier.1");
        let weighted = torch.layers().iter().filter(|l| l.kind.has_weights());
        assert!(weighted.clone().all(|l| l.torch_path.is_some()), "every weighted layer has a key");
        assert_eq!(weighted.count(), 105);
    }
}
