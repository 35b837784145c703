//! [`CpuInference`]: an [`InceptionV3`] packed for fast frozen inference on the CPU, asked
//! for its layers by name (the engine itself is [`backbone::CpuInference`]).

use backbone::cpu::{ConvAlgorithm, NhwcBatch};
use backbone::{NetworkError, Result};
use burn::tensor::Tensor;

use crate::layer_name::LayerName;
use crate::model::InceptionV3;

/// An [`InceptionV3`]'s weights packed for inference on the CPU (see
/// [`backbone::CpuInference`]): same numbers as [`InceptionV3::forward_to`] within float32
/// rounding, about 2.5x faster than Burn's generic CPU convolutions.
///
/// ```no_run
/// # fn main() -> backbone::Result<()> {
/// use burn::tensor::{Device, Tensor};
/// use inception::{CpuInference, Flavor, InceptionV3Config, LayerName};
/// let device = Device::flex();
/// let model = InceptionV3Config::new(Flavor::Keras).with_cut(LayerName::Mixed7).init(&device)?;
/// let fast = CpuInference::new(&model)?;
/// let images = Tensor::<4>::zeros([2, 3, 150, 150], &device);
/// let features = fast.forward_to(images, LayerName::Mixed7)?; // [2, 768, 7, 7]
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct CpuInference {
    engine: backbone::CpuInference,
    cut: LayerName,
}

impl CpuInference {
    /// Packs `model`'s current weights (read from whatever device it lives on), with
    /// Winograd 3x3 convolutions ([`ConvAlgorithm::Winograd`]).
    pub fn new(model: &InceptionV3) -> Result<Self> {
        Self::with_algorithm(model, ConvAlgorithm::Winograd)
    }

    /// Packs `model`'s current weights with the given algorithm for 3x3 convolutions.
    pub fn with_algorithm(model: &InceptionV3, algorithm: ConvAlgorithm) -> Result<Self> {
        Self::packing(model, model.cut, algorithm)
    }

    /// Packs only the layers of `model` up to `last` (the frozen part of a partly trainable
    /// base), with Winograd 3x3 convolutions.
    pub fn up_to(model: &InceptionV3, last: LayerName) -> Result<Self> {
        Self::packing(model, last.min(model.cut), ConvAlgorithm::Winograd)
    }

    fn packing(model: &InceptionV3, last: LayerName, algorithm: ConvAlgorithm) -> Result<Self> {
        let end = model.layer_index(last)?;
        Ok(Self { engine: backbone::CpuInference::up_to(&model.network, end, algorithm)?, cut: last })
    }

    /// The last layer the packed model holds.
    pub fn cut(&self) -> LayerName {
        self.cut
    }

    /// The engine, for layers asked for by index.
    pub fn engine(&self) -> &backbone::CpuInference {
        &self.engine
    }

    fn index(&self, layer: LayerName) -> Result<usize> {
        if layer > self.cut {
            return Err(NetworkError::LayerCutAway { layer: layer.to_string(), cut: self.cut.to_string() });
        }
        self.engine.architecture().index_of(layer.keras_name())
    }

    /// Runs the network up to `layer` on a channels-last batch of `[batch, rows, cols, 3]`.
    ///
    /// # Shapes
    /// - input: `[batch, rows, cols, 3]`, rows and cols >= 75
    /// - output: `[batch, rows', cols', channels]` as [`LayerName::output_shape`] gives
    pub fn forward_nhwc(&self, input: &NhwcBatch, layer: LayerName) -> Result<NhwcBatch> {
        Ok(self.engine.forward_nhwc(input, &[self.index(layer)?])?.remove(0))
    }

    /// [`InceptionV3::forward_to`] on Burn tensors, returned on the input's device.
    ///
    /// # Shapes
    /// - input: `[batch, 3, rows, cols]`; output: `[batch, channels, rows', cols']`
    pub fn forward_to(&self, input: Tensor<4>, layer: LayerName) -> Result<Tensor<4>> {
        Ok(self.engine.forward_layers(input, &[self.index(layer)?])?.remove(0))
    }

    /// Runs the whole packed model: the output of the layer it was cut at.
    pub fn forward(&self, input: Tensor<4>) -> Result<Tensor<4>> {
        self.forward_to(input, self.cut)
    }
}
