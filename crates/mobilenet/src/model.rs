//! The MobileNetV2 network: configuration, construction (whole or cut at any Keras layer)
//! and forward passes to any layers, all through its one description.

use backbone::{Architecture, Flavor, Network, NetworkError, Result, Summary};
use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::description::mobilenet_v2;

/// Configuration of a [`MobileNetV2`] (Keras `MobileNetV2(input_shape, alpha, include_top,
/// classes)`), possibly cut at a named layer.
///
/// ```
/// use mobilenet::MobileNetV2Config;
/// let config = MobileNetV2Config::new().with_input_size([160, 160]);
/// assert_eq!(config.architecture().unwrap().len(), 154);
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct MobileNetV2Config {
    /// Which reference it reproduces: Keras (`keras.applications.MobileNetV2`) or
    /// torchvision (`torchvision.models.mobilenet_v2`: symmetric padding, batch-norm
    /// epsilon 1e-5, a top that gives logits). Default: Keras.
    #[config(default = "Flavor::Keras")]
    pub flavor: Flavor,
    /// Width multiplier (Keras' weights exist for 0.35, 0.5, 0.75, 1.0, 1.3, 1.4). Default: 1.0.
    #[config(default = 1.0)]
    pub alpha: f64,
    /// Whether to add the classification top (global average pooling + dense, softmax).
    /// Default: false.
    #[config(default = false)]
    pub include_top: bool,
    /// Classes of the top. Default: 1000 (ImageNet).
    #[config(default = 1000)]
    pub classes: usize,
    /// Input `[rows, cols]` the model is built for (Keras `input_shape`): it names the
    /// model (`mobilenetv2_1.00_160`) and any size from 32x32 runs. Default: 224x224.
    #[config(default = "[224, 224]")]
    pub input_size: [usize; 2],
    /// The last layer the model holds (any Keras layer name). Default: `out_relu` without
    /// the top, `predictions` with it.
    #[config(default = "None")]
    pub cut: Option<String>,
}

impl MobileNetV2Config {
    /// The last layer of the model this configuration builds.
    pub fn last_layer(&self) -> &str {
        match (&self.cut, self.include_top) {
            (Some(cut), _) => cut,
            (None, true) => "predictions",
            (None, false) => "out_relu",
        }
    }

    /// The network this configuration builds, in Keras' `model.layers` order.
    pub fn architecture(&self) -> Result<Architecture> {
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(NetworkError::BadConfig(format!("MobileNetV2 alpha must be positive, got {}", self.alpha)));
        }
        if self.include_top && self.cut.as_deref().is_some_and(|c| c != "predictions") {
            return Err(NetworkError::LayerCutAway {
                layer: "predictions (the top)".into(),
                cut: self.last_layer().to_string(),
            });
        }
        let whole = mobilenet_v2(self.flavor, self.alpha, self.classes, self.input_size[0]);
        whole.check_input_size(self.input_size)?;
        whole.cut_at(self.last_layer())
    }

    /// Creates the network with Burn's default initialisation; load weights afterwards with
    /// [`MobileNetV2::load_weights`].
    pub fn init(&self, device: &Device) -> Result<MobileNetV2> {
        Ok(MobileNetV2 { network: Network::init(self.architecture()?, device), config: self.clone() })
    }
}

/// MobileNetV2 as Keras builds it, possibly cut at a named layer, on whatever [`Device`]
/// its tensors live on.
#[derive(Module, Debug)]
pub struct MobileNetV2 {
    /// The network: its description, weights and trainable flags.
    pub network: Network,
    /// The configuration it was built from.
    #[module(skip)]
    pub config: MobileNetV2Config,
}

impl MobileNetV2 {
    /// The description of the network it holds.
    pub fn architecture(&self) -> &Architecture {
        self.network.architecture()
    }

    /// The outputs of the layers named `layers` (Keras names), in one pass.
    ///
    /// # Shapes
    /// - input: `[batch, 3, rows, cols]` (NCHW, scaled to `[-1, 1]` as Keras'
    ///   `preprocess_input` does), rows and cols >= 32
    /// - outputs: `[batch, channels, rows', cols']` (`[batch, features, 1, 1]` for vectors)
    pub fn forward_layers(&self, input: Tensor<4>, layers: &[&str]) -> Result<Vec<Tensor<4>>> {
        let indices = layers.iter().map(|l| self.architecture().index_of(l)).collect::<Result<Vec<_>>>()?;
        self.network.forward_layers(input, &indices)
    }

    /// The output of the layer named `layer`.
    pub fn forward_to(&self, input: Tensor<4>, layer: &str) -> Result<Tensor<4>> {
        Ok(self.forward_layers(input, &[layer])?.remove(0))
    }

    /// The output of the last layer the model holds.
    pub fn forward(&self, input: Tensor<4>) -> Result<Tensor<4>> {
        let last = self.architecture().output();
        Ok(self.network.forward_layers(input, &[last])?.remove(0))
    }

    /// The top's output: class probabilities (softmax) in the Keras flavour, logits in the
    /// torchvision one.
    ///
    /// # Shapes
    /// - input: `[batch, 3, rows, cols]`; output `[batch, classes]`
    pub fn classify(&self, input: Tensor<4>) -> Result<Tensor<2>> {
        self.network.classify(input)
    }

    /// Keras' `model.summary()` for an input of `[rows, cols]`, each layer's `trainable` flag.
    pub fn summary(&self, input: [usize; 2]) -> Result<Summary> {
        self.network.summary(input)
    }

    /// Sets every batch norm's moving statistics from the batch statistics of `images` (see
    /// [`Network::calibrate_batch_norm`]).
    pub fn calibrate_batch_norm(self, images: Tensor<4>) -> Result<MobileNetV2> {
        Ok(Self { network: self.network.calibrate_batch_norm(images)?, ..self })
    }
}

/// Keras' `mobilenet_v2.preprocess_input`: `x / 127.5 - 1`, pixels 0..255 to `[-1, 1]`.
pub fn preprocess_input<const D: usize>(pixels: Tensor<D>) -> Tensor<D> {
    pixels.div_scalar(127.5).sub_scalar(1.0)
}

/// torchvision's `Normalize` mean of its ImageNet weights, per RGB channel (of pixels 0..1).
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// torchvision's `Normalize` standard deviation of its ImageNet weights, per RGB channel.
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// torchvision's ImageNet normalisation (`ToTensor` then `Normalize(mean, std)`), what its
/// pretrained MobileNetV2 expects: `(x / 255 - mean[c]) / std[c]` on NCHW pixels 0..255.
pub fn torchvision_normalize(pixels: Tensor<4>) -> Tensor<4> {
    let device = pixels.device();
    let scale = IMAGENET_STD.map(|s| 1.0 / (255.0 * s));
    let offset = [0, 1, 2].map(|c| -IMAGENET_MEAN[c] / IMAGENET_STD[c]);
    let column = |v: [f32; 3]| Tensor::<1>::from_floats(v, &device).reshape([1, 3, 1, 1]);
    pixels.mul(column(scale)).add(column(offset))
}

impl From<MobileNetV2> for Network {
    fn from(model: MobileNetV2) -> Self {
        model.network
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torchvision_normalisation_is_per_channel() {
        let device = Device::flex();
        let pixels = Tensor::<4>::full([1, 3, 1, 1], 255.0, &device);
        let values = torchvision_normalize(pixels).into_data().try_into_vec::<f32>().unwrap();
        for c in 0..3 {
            let expected = (1.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
            assert!((values[c] - expected).abs() < 1e-5, "{c}: {} vs {expected}", values[c]);
        }
    }
}
