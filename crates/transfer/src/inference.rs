//! A [`TransferModel`] prepared for inference: what `evaluate`, `predict` and a frozen base
//! during training run.

use backbone::cpu::{ConvAlgorithm, is_host_device};
use backbone::{CpuInference, Network, NetworkError};
use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::error::Result;
use crate::head::{ClassifierHead, Head};
use crate::model::TransferModel;
use crate::scaling::InputScaling;

/// The base (or its layers up to one) as inference runs it: packed into channels-last
/// matrix products on host devices (flex, ndarray; ~2.5x Burn's generic convolutions
/// there), a copy on the plain device elsewhere (wgpu). Both run the batch norms on their
/// moving statistics.
#[derive(Debug, Clone)]
pub struct InferenceBase {
    /// The last layer it runs to.
    end: usize,
    engine: Engine,
}

#[derive(Debug, Clone)]
enum Engine {
    /// Packed for the CPU ([`CpuInference`]).
    Packed(Box<CpuInference>),
    /// The Burn model on a non-autodiff device.
    Device(Box<Network>),
}

impl InferenceBase {
    /// Prepares `base` (on any device) for inference on `device`.
    pub fn new(base: &Network, device: &Device) -> Result<Self> {
        Self::up_to(base, base.architecture().output(), device)
    }

    /// Prepares the layers of `base` up to the layer at `end` (the frozen part of a partly
    /// trainable base) for inference on `device`.
    pub fn up_to(base: &Network, end: usize, device: &Device) -> Result<Self> {
        let base = base.valid().to_device(device);
        base.architecture().layer(end)?;
        let engine = match is_host_device(device) {
            true => Engine::Packed(Box::new(CpuInference::up_to(&base, end, ConvAlgorithm::Winograd)?)),
            false => Engine::Device(Box::new(base)),
        };
        Ok(Self { end, engine })
    }

    /// The last layer it runs to.
    pub fn end(&self) -> usize {
        self.end
    }

    /// Features of the layer it ends at.
    ///
    /// # Shapes
    /// - images: `[batch, 3, rows, cols]`; output: `[batch, channels, rows', cols']`
    pub fn forward(&self, images: Tensor<4>) -> Result<Tensor<4>> {
        Ok(self.forward_layers(images, &[self.end])?.remove(0))
    }

    /// Features of the layers at `layers` (each at most [`InferenceBase::end`]), in one pass.
    ///
    /// # Shapes
    /// - images: `[batch, 3, rows, cols]`; outputs: `[batch, channels, rows', cols']`
    pub fn forward_layers(&self, images: Tensor<4>, layers: &[usize]) -> Result<Vec<Tensor<4>>> {
        if let Some(&late) = layers.iter().find(|&&l| l > self.end) {
            let architecture = match &self.engine {
                Engine::Packed(base) => base.architecture(),
                Engine::Device(base) => base.architecture(),
            };
            let name = |i: usize| architecture.layer(i).map(|l| l.name.clone()).unwrap_or_else(|_| i.to_string());
            return Err(NetworkError::LayerCutAway { layer: name(late), cut: name(self.end) }.into());
        }
        Ok(match &self.engine {
            Engine::Packed(base) => base.forward_layers(images, layers)?,
            Engine::Device(base) => base.forward_layers(images, layers)?,
        })
    }
}

/// Base and head for inference: no autodiff, no dropout, batch norms on moving statistics.
#[derive(Debug)]
pub struct InferenceModel<H: ClassifierHead = Head> {
    /// The base.
    pub base: InferenceBase,
    /// The head (dropout off).
    pub head: H,
    /// The scaling applied to the input first.
    pub input_scaling: Option<InputScaling>,
}

impl<H: ClassifierHead> InferenceModel<H> {
    /// Prepares `model` (on any device, autodiff or not) for inference on the plain `device`.
    pub fn new(model: &TransferModel<H>, device: &Device) -> Result<Self> {
        Ok(Self {
            base: InferenceBase::new(&model.base, device)?,
            head: model.head.valid().to_device(device),
            input_scaling: model.input_scaling,
        })
    }

    /// Logits for a batch of images on the model's device.
    ///
    /// # Shapes
    /// - images: `[batch, 3, rows, cols]`; output: `[batch, outputs]`
    pub fn forward(&self, images: Tensor<4>) -> Result<Tensor<2>> {
        Ok(self.head.forward(self.features(images)?))
    }

    /// The base's features for a batch of images (the input scaling applied first): what
    /// the head reads.
    ///
    /// # Shapes
    /// - images: `[batch, 3, rows, cols]`; output: `[batch, channels, rows', cols']`
    pub fn features(&self, images: Tensor<4>) -> Result<Tensor<4>> {
        let images = match self.input_scaling {
            Some(scaling) => scaling.apply(images),
            None => images,
        };
        self.base.forward(images)
    }

    /// Probabilities for a batch: sigmoid for one output, softmax otherwise.
    pub fn probabilities(&self, images: Tensor<4>) -> Result<Tensor<2>> {
        Ok(self.head.probabilities(self.forward(images)?))
    }
}
