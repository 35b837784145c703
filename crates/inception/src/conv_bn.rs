//! The unit InceptionV3 is made of: convolution without bias, batch norm, ReLU
//! (Keras `conv2d_bn`, torchvision `BasicConv2d`).

use burn::config::Config;
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::Tensor;
use burn::tensor::activation::relu;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::Device;

use crate::batch_norm::{BatchNormalization, BatchNormalizationConfig};

/// Keras padding mode of a convolution.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Padding {
    /// No padding (`padding='valid'`).
    Valid,
    /// Output keeps the input size (`padding='same'`; stride 1, odd kernel: symmetric `(k-1)/2`).
    Same,
}

/// Configuration of a [`BasicConv2d`] unit.
#[derive(Config, Debug)]
pub struct BasicConv2dConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels (Keras `filters`).
    pub out_channels: usize,
    /// Kernel `[rows, cols]` (Keras `num_row, num_col`).
    pub kernel: [usize; 2],
    /// Stride, the same on both axes. Default: 1.
    #[config(default = 1)]
    pub stride: usize,
    /// Padding mode. Default: same.
    #[config(default = "Padding::Same")]
    pub padding: Padding,
    /// Whether the batch norm has a learnable `gamma` (torchvision) or not (Keras).
    #[config(default = false)]
    pub scale: bool,
}

/// `relu(batch_norm(conv(x)))` with a bias-free convolution. The batch norm runs on its
/// moving statistics unless it is trainable on an autodiff device (see [`BatchNormalization`]).
#[derive(Module, Debug)]
pub struct BasicConv2d {
    /// The convolution, weight `[out, in, rows, cols]`, no bias.
    pub conv: Conv2d,
    /// The batch normalisation after it.
    pub bn: BatchNormalization,
    /// Symmetric zero padding `[rows, cols]` of the convolution.
    pub padding: [usize; 2],
}

impl BasicConv2dConfig {
    /// Creates the unit with Burn's default initialisation (weights are normally loaded).
    pub fn init(&self, device: &Device) -> BasicConv2d {
        let padding = match self.padding {
            Padding::Valid => [0, 0],
            Padding::Same => [(self.kernel[0] - 1) / 2, (self.kernel[1] - 1) / 2],
        };
        BasicConv2d {
            conv: Conv2dConfig::new([self.in_channels, self.out_channels], self.kernel)
                .with_stride([self.stride, self.stride])
                .with_padding(PaddingConfig2d::Explicit(padding[0], padding[1], padding[0], padding[1]))
                .with_bias(false)
                .init(device),
            bn: BatchNormalizationConfig::new(self.out_channels)
                .with_scale(self.scale)
                .init(device),
            padding,
        }
    }

}

impl BasicConv2d {
    /// Applies convolution, batch norm and ReLU.
    ///
    /// # Shapes
    /// - input: `[batch, in_channels, height, width]`
    /// - output: `[batch, out_channels, height', width']`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let options = ConvOptions::new(self.conv.stride, self.padding, [1, 1], 1);
        let y = conv2d(x, self.conv.weight.val(), None, options);
        match self.bn.uses_batch_statistics(&y.device()) {
            true => relu(self.bn.forward_batch_statistics(y)),
            false => relu(self.bn.forward_inference(y)),
        }
    }

    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.conv.weight.dims()[0]
    }
}
