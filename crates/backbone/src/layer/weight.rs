//! Each layer kind's weights: which it has, in Keras' order, with their Keras and
//! torchvision names, how many parameters they hold, and their layouts in Keras files.

use super::LayerKind;

/// One weight of a layer, typed (Keras' names in the comments).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Weight {
    /// `kernel` of a `Conv2D` or `Dense`.
    Kernel,
    /// `depthwise_kernel` of a `DepthwiseConv2D` or `SeparableConv2D`.
    DepthwiseKernel,
    /// `pointwise_kernel` of a `SeparableConv2D`.
    PointwiseKernel,
    /// `bias`.
    Bias,
    /// A batch norm's scale, `gamma`.
    Gamma,
    /// A batch norm's offset, `beta`.
    Beta,
    /// A batch norm's `moving_mean`.
    MovingMean,
    /// A batch norm's `moving_variance`.
    MovingVariance,
    /// A `Normalization` layer's `mean`.
    Mean,
    /// A `Normalization` layer's `variance`.
    Variance,
    /// A `Normalization` layer's `count` (of the samples `adapt` saw; a scalar).
    Count,
}

impl Weight {
    /// Keras' name (`kernel`, `moving_mean`), as `weight_names` in `.h5` files and this
    /// project's safetensors keys (`conv1_conv.kernel`) spell it.
    pub fn keras_name(self) -> &'static str {
        match self {
            Weight::Kernel => "kernel",
            Weight::DepthwiseKernel => "depthwise_kernel",
            Weight::PointwiseKernel => "pointwise_kernel",
            Weight::Bias => "bias",
            Weight::Gamma => "gamma",
            Weight::Beta => "beta",
            Weight::MovingMean => "moving_mean",
            Weight::MovingVariance => "moving_variance",
            Weight::Mean => "mean",
            Weight::Variance => "variance",
            Weight::Count => "count",
        }
    }

    /// torchvision's field name (`weight`, `running_var`).
    pub fn torch_name(self) -> &'static str {
        match self {
            Weight::Kernel | Weight::DepthwiseKernel | Weight::PointwiseKernel | Weight::Gamma => "weight",
            Weight::Bias | Weight::Beta => "bias",
            Weight::MovingMean => "running_mean",
            Weight::MovingVariance => "running_var",
            Weight::Mean => "mean",
            Weight::Variance => "variance",
            Weight::Count => "count",
        }
    }

    /// Whether Keras counts it as non-trainable whatever the layer's flag (moving
    /// statistics, a `Normalization` layer's statistics).
    pub fn is_statistic(self) -> bool {
        matches!(self, Weight::MovingMean | Weight::MovingVariance | Weight::Mean | Weight::Variance | Weight::Count)
    }
}

impl LayerKind {
    /// The layer's weights in Keras' order (`weight_names`).
    pub fn weights(&self) -> Vec<Weight> {
        let with_bias = |kernel: Weight, bias: bool| match bias {
            true => vec![kernel, Weight::Bias],
            false => vec![kernel],
        };
        match self {
            LayerKind::Conv2D { use_bias, .. } => with_bias(Weight::Kernel, *use_bias),
            LayerKind::DepthwiseConv2D { use_bias, .. } => with_bias(Weight::DepthwiseKernel, *use_bias),
            LayerKind::SeparableConv2D { use_bias, .. } => {
                let mut weights = vec![Weight::DepthwiseKernel];
                weights.extend(with_bias(Weight::PointwiseKernel, *use_bias));
                weights
            }
            LayerKind::BatchNormalization { scale: true, .. } => {
                vec![Weight::Gamma, Weight::Beta, Weight::MovingMean, Weight::MovingVariance]
            }
            LayerKind::BatchNormalization { scale: false, .. } => {
                vec![Weight::Beta, Weight::MovingMean, Weight::MovingVariance]
            }
            LayerKind::Dense { .. } => vec![Weight::Kernel, Weight::Bias],
            LayerKind::Normalization => vec![Weight::Mean, Weight::Variance, Weight::Count],
            _ => Vec::new(),
        }
    }

    /// Whether the layer holds weights.
    pub fn has_weights(&self) -> bool {
        !self.weights().is_empty()
    }

    /// The shape of `weight` in Keras' layout, for a layer with `in_channels` inputs and
    /// `out_channels` outputs: conv kernels `(rows, cols, in, out)` (depthwise
    /// `(rows, cols, channels, 1)`, pointwise `(1, 1, in, out)`), dense kernels `(in, out)`,
    /// vectors `(channels,)`, a normalization's `count` a scalar `()`.
    pub fn keras_shape(&self, weight: Weight, in_channels: usize, out_channels: usize) -> Vec<usize> {
        match (self, weight) {
            (LayerKind::Conv2D { kernel, .. }, Weight::Kernel) => vec![kernel[0], kernel[1], in_channels, out_channels],
            (
                LayerKind::DepthwiseConv2D { kernel, .. } | LayerKind::SeparableConv2D { kernel, .. },
                Weight::DepthwiseKernel,
            ) => vec![kernel[0], kernel[1], in_channels, 1],
            (LayerKind::SeparableConv2D { .. }, Weight::PointwiseKernel) => vec![1, 1, in_channels, out_channels],
            (LayerKind::Dense { .. }, Weight::Kernel) => vec![in_channels, out_channels],
            (_, Weight::Count) => Vec::new(),
            _ => vec![out_channels],
        }
    }

    /// Weights as Keras counts them: `(learned, fixed)` (fixed = batch-norm moving
    /// statistics), for a layer whose first input has `in_channels` and output `out_channels`.
    pub fn parameter_counts(&self, in_channels: usize, out_channels: usize) -> (usize, usize) {
        let mut counts = (0, 0);
        for weight in self.weights() {
            let size: usize = self.keras_shape(weight, in_channels, out_channels).iter().product();
            match weight.is_statistic() {
                true => counts.1 += size,
                false => counts.0 += size,
            }
        }
        counts
    }

    /// `weight`'s values from a Keras file's layout (`keras`, its shape there) to Burn's:
    /// conv and pointwise kernels HWIO to OIHW (depthwise `(rows, cols, channels, 1)` to
    /// `[channels, 1, rows, cols]`); the rest as they are (Burn's `Linear` is `[in, out]`).
    pub fn to_burn_layout(&self, weight: Weight, values: &[f32], keras: &[usize]) -> Vec<f32> {
        let (&[rows, cols, cin, cout], Weight::Kernel | Weight::DepthwiseKernel | Weight::PointwiseKernel) =
            (keras, weight)
        else {
            return values.to_vec();
        };
        // Depthwise (rows, cols, channels, 1) is HWIO with in = channels, out = 1 read as
        // [channels, 1, rows, cols]: the same transposition with `in` and `out` swapped.
        let depthwise = weight == Weight::DepthwiseKernel;
        let mut out = vec![0.0; values.len()];
        for r in 0..rows {
            for c in 0..cols {
                for i in 0..cin {
                    for o in 0..cout {
                        let burn = match depthwise {
                            false => ((o * cin + i) * rows + r) * cols + c,
                            true => ((i * cout + o) * rows + r) * cols + c,
                        };
                        out[burn] = values[((r * cols + c) * cin + i) * cout + o];
                    }
                }
            }
        }
        out
    }

    /// The shape of `weight` in Keras' layout from its shape in Burn's (see
    /// [`LayerKind::to_burn_layout`]).
    pub fn keras_shape_of(&self, weight: Weight, burn: &[usize]) -> Vec<usize> {
        match (weight, burn) {
            (Weight::Kernel | Weight::PointwiseKernel, [o, i, r, c]) => vec![*r, *c, *i, *o],
            (Weight::DepthwiseKernel, [ch, _, r, c]) => vec![*r, *c, *ch, 1],
            // Keras' scalar, held by Burn as one value.
            (Weight::Count, [1]) => Vec::new(),
            _ => burn.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::{Activation, Padding};

    #[test]
    fn kernel_layout_is_transposed() {
        let conv = LayerKind::Conv2D {
            filters: 2,
            kernel: [1, 2],
            strides: [1, 1],
            padding: Padding::Valid,
            use_bias: false,
            activation: Activation::Linear,
        };
        // rows=1, cols=2, in=1, out=2: HWIO [[[[a, b]], [[c, d]]]] -> OIHW [[[[a, c]]], [[[b, d]]]]
        let values = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(conv.to_burn_layout(Weight::Kernel, &values, &[1, 2, 1, 2]), vec![1.0, 3.0, 2.0, 4.0]);
        let depthwise =
            LayerKind::DepthwiseConv2D { kernel: [1, 2], strides: [1, 1], padding: Padding::Valid, use_bias: false };
        // rows=1, cols=2, channels=2: (1, 2, 2, 1) [[[a], [b]], [[c], [d]]] -> [2, 1, 1, 2] [[[[a, c]]], [[[b, d]]]]
        let burn = depthwise.to_burn_layout(Weight::DepthwiseKernel, &values, &[1, 2, 2, 1]);
        assert_eq!(burn, vec![1.0, 3.0, 2.0, 4.0]);
    }

    #[test]
    fn parameters_are_counted_as_keras_counts_them() {
        let norm =
            LayerKind::BatchNormalization { epsilon: 1e-3, momentum: 0.99, scale: false, tensorflow_order: true };
        assert_eq!(norm.parameter_counts(64, 64), (64, 128));
        let conv = LayerKind::Conv2D {
            filters: 64,
            kernel: [7, 7],
            strides: [2, 2],
            padding: Padding::Valid,
            use_bias: true,
            activation: Activation::Linear,
        };
        assert_eq!(conv.parameter_counts(3, 64), (9472, 0)); // ResNet50's conv1_conv
        assert_eq!(LayerKind::Dense { units: 10, activation: Activation::Softmax }.parameter_counts(5, 10), (60, 0));
        let separable = LayerKind::SeparableConv2D {
            filters: 128,
            kernel: [3, 3],
            strides: [1, 1],
            padding: Padding::Same,
            use_bias: false,
        };
        // Xception's block2_sepconv1: 3 * 3 * 64 + 64 * 128.
        assert_eq!(separable.parameter_counts(64, 128), (8768, 0));
        assert_eq!(separable.weights(), vec![Weight::DepthwiseKernel, Weight::PointwiseKernel]);
    }
}
