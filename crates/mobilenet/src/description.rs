//! MobileNetV2, written down once, as `keras.applications.mobilenet_v2` (Keras 2.15) builds
//! it: `Conv1` (3x3, stride 2, `same`), 17 inverted residual blocks (`expanded_conv_*`,
//! `block_1_*` .. `block_16_*`), `Conv_1` and `out_relu`, then the optional top; every
//! batch norm with gamma, epsilon 1e-3, momentum 0.999; every activation ReLU6; a
//! `ZeroPadding2D` by Keras' `correct_pad` before each stride-2 depthwise convolution.

use backbone::{Activation, Architecture, LayerKind, NetworkBuilder, Node, Padding, ZeroPadding};

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
}

impl Writer {
    fn conv(&mut self, x: Node, name: &str, filters: usize, kernel: usize, strides: usize) -> Node {
        let kind = LayerKind::Conv2D {
            filters,
            kernel: [kernel, kernel],
            strides: [strides, strides],
            padding: Padding::Same,
            use_bias: false,
        };
        self.builder.named(name, kind, &[x])
    }

    fn batch_norm(&mut self, x: Node, name: &str) -> Node {
        let kind =
            LayerKind::BatchNormalization { epsilon: 1e-3, momentum: 0.999, scale: true, tensorflow_order: true };
        self.builder.named(name, kind, &[x])
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
        if block_id > 0 {
            x = self.conv(x, &format!("{prefix}expand"), expansion * in_channels, 1, 1);
            x = self.batch_norm(x, &format!("{prefix}expand_BN"));
            x = self.relu6(x, &format!("{prefix}expand_relu"));
        }
        let padding = match stride {
            2 => {
                let pad = LayerKind::ZeroPadding2D { padding: ZeroPadding::Correct { kernel: [3, 3] } };
                x = self.builder.named(&format!("{prefix}pad"), pad, &[x]);
                Padding::Valid
            }
            _ => Padding::Same,
        };
        let depthwise =
            LayerKind::DepthwiseConv2D { kernel: [3, 3], strides: [stride, stride], padding, use_bias: false };
        x = self.builder.named(&format!("{prefix}depthwise"), depthwise, &[x]);
        x = self.batch_norm(x, &format!("{prefix}depthwise_BN"));
        x = self.relu6(x, &format!("{prefix}depthwise_relu"));
        x = self.conv(x, &format!("{prefix}project"), pointwise_filters, 1, 1);
        x = self.batch_norm(x, &format!("{prefix}project_BN"));
        match in_channels == pointwise_filters && stride == 1 {
            true => self.builder.named(&format!("{prefix}add"), LayerKind::Add, &[inputs, x]),
            false => x,
        }
    }
}

/// The whole MobileNetV2 of width `alpha` with its classification top of `classes`
/// (cut it at `out_relu` for the base), named for `rows`-row inputs as Keras names it.
pub fn mobilenet_v2(alpha: f64, classes: usize, rows: usize) -> Architecture {
    let (builder, input) = NetworkBuilder::new(&model_name(alpha, rows), 3, MIN_INPUT);
    let mut w = Writer { builder };
    let first_block_filters = make_divisible(32.0 * alpha);
    let x = w.conv(input, "Conv1", first_block_filters, 3, 2);
    let x = w.batch_norm(x, "bn_Conv1");
    let mut x = w.relu6(x, "Conv1_relu");
    for (block_id, (filters, stride, expansion)) in BLOCKS.into_iter().enumerate() {
        x = w.inverted_res_block(x, expansion, stride, alpha, filters, block_id);
    }
    let last_block_filters = match alpha > 1.0 {
        true => make_divisible(1280.0 * alpha),
        false => 1280,
    };
    let x = w.conv(x, "Conv_1", last_block_filters, 1, 1);
    let x = w.batch_norm(x, "Conv_1_bn");
    let x = w.relu6(x, "out_relu");
    let pooled = w.builder.layer(LayerKind::GlobalAveragePooling2D, &[x]);
    let top = LayerKind::Dense { units: classes, activation: Activation::Softmax };
    let predictions = w.builder.named("predictions", top, &[pooled]);
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
        let base = mobilenet_v2(1.0, 1000, 160).cut_at("out_relu").unwrap();
        assert_eq!(base.len(), 154);
        let summary = Summary::of(&base, [160, 160], &|_| true).unwrap();
        assert_eq!(summary.total_params(), 2_257_984);
        assert_eq!(summary.non_trainable_params(), 34_112);
        assert_eq!(summary.rows[1].name, "Conv1");
        assert_eq!(summary.rows[1].output_shape, vec![80, 80, 32]);
        assert_eq!(summary.rows.last().unwrap().output_shape, vec![5, 5, 1280]);
        let whole = mobilenet_v2(1.0, 1000, 224);
        assert_eq!(Summary::of(&whole, [224, 224], &|_| true).unwrap().total_params(), 3_538_984);
    }
}
