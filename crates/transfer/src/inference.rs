//! A [`TransferModel`] prepared for inference: what `evaluate`, `predict` and a frozen base
//! during training run.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use inception::cpu::is_host_device;
use inception::{CpuInference, InceptionV3, LayerName};

use crate::error::Result;
use crate::head::Head;
use crate::model::TransferModel;

/// The base (or its blocks up to a layer) as inference runs it: packed into channels-last
/// matrix products on host devices (flex, ndarray; ~2.5x Burn's generic convolutions
/// there), a copy on the plain device elsewhere (wgpu). Both run the batch norms on their
/// moving statistics.
#[derive(Debug, Clone)]
pub struct InferenceBase {
    /// The last layer it runs to.
    end: LayerName,
    engine: Engine,
}

#[derive(Debug, Clone)]
enum Engine {
    /// Packed for the CPU ([`CpuInference`]).
    Packed(CpuInference),
    /// The Burn model on a non-autodiff device.
    Device(Box<InceptionV3>),
}

impl InferenceBase {
    /// Prepares `base` (on any device) for inference on `device`.
    pub fn new(base: &InceptionV3, device: &Device) -> Result<Self> {
        Self::up_to(base, base.cut, device)
    }

    /// Prepares the blocks of `base` up to the layer `end` (the frozen part of a partly
    /// trainable base) for inference on `device`.
    pub fn up_to(base: &InceptionV3, end: LayerName, device: &Device) -> Result<Self> {
        let base = base.valid().to_device(device);
        let end = end.min(base.cut);
        let engine = match is_host_device(device) {
            true => Engine::Packed(CpuInference::up_to(&base, end)?),
            false => Engine::Device(Box::new(base)),
        };
        Ok(Self { end, engine })
    }

    /// The last layer it runs to.
    pub fn end(&self) -> LayerName {
        self.end
    }

    /// Features of the layer it ends at.
    ///
    /// # Shapes
    /// - images: `[batch, 3, rows, cols]`; output: `[batch, channels, rows', cols']`
    pub fn forward(&self, images: Tensor<4>) -> Result<Tensor<4>> {
        self.forward_to(images, self.end)
    }

    /// Features of `layer` (at most [`InferenceBase::end`]).
    ///
    /// # Shapes
    /// - images: `[batch, 3, rows, cols]`; output: `[batch, channels, rows', cols']`
    pub fn forward_to(&self, images: Tensor<4>, layer: LayerName) -> Result<Tensor<4>> {
        if layer > self.end {
            let (layer, cut) = (layer.to_string(), self.end.to_string());
            return Err(inception::InceptionError::LayerCutAway { layer, cut }.into());
        }
        Ok(match &self.engine {
            Engine::Packed(base) => base.forward_to(images, layer)?,
            Engine::Device(base) => base.forward_to(images, layer)?,
        })
    }
}

/// Base and head for inference: no autodiff, no dropout, batch norms on moving statistics.
#[derive(Debug)]
pub struct InferenceModel {
    /// The base.
    pub base: InferenceBase,
    /// The head (dropout off).
    pub head: Head,
}

impl InferenceModel {
    /// Prepares `model` (on any device, autodiff or not) for inference on the plain `device`.
    pub fn new(model: &TransferModel, device: &Device) -> Result<Self> {
        Ok(Self { base: InferenceBase::new(&model.base, device)?, head: model.head.valid().to_device(device) })
    }

    /// Logits for a batch of images on the model's device.
    ///
    /// # Shapes
    /// - images: `[batch, 3, rows, cols]`; output: `[batch, outputs]`
    pub fn forward(&self, images: Tensor<4>) -> Result<Tensor<2>> {
        Ok(self.head.forward(self.base.forward(images)?))
    }

    /// Probabilities for a batch: sigmoid for one output, softmax otherwise.
    pub fn probabilities(&self, images: Tensor<4>) -> Result<Tensor<2>> {
        Ok(self.head.probabilities(self.forward(images)?))
    }
}
