//! A [`TransferModel`] prepared for inference: what `evaluate`, `predict` and a frozen base
//! during training run.

use backbone::FrozenBase;
use burn::tensor::{Device, Tensor};

use crate::data::BatchSource;
use crate::error::Result;
use crate::evaluation::Predictions;
use crate::head::{ClassifierHead, Head};
use crate::model::TransferModel;
use crate::scaling::InputScaling;

/// Base and head for inference: no autodiff, no dropout, batch norms on moving statistics.
#[derive(Debug)]
pub struct InferenceModel<H: ClassifierHead = Head> {
    /// The base.
    pub base: FrozenBase,
    /// The head (dropout off).
    pub head: H,
    /// The scaling applied to the input first.
    pub input_scaling: Option<InputScaling>,
}

impl<H: ClassifierHead> InferenceModel<H> {
    /// Prepares `model` (on any device, autodiff or not) for inference on the plain `device`.
    pub fn new(model: &TransferModel<H>, device: &Device) -> Result<Self> {
        Ok(Self {
            base: FrozenBase::new(&model.base, device)?,
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
        Ok(self.base.forward(images)?)
    }

    /// Probabilities for a batch: sigmoid for one output, softmax otherwise.
    pub fn probabilities(&self, images: Tensor<4>) -> Result<Tensor<2>> {
        Ok(self.head.probabilities(self.forward(images)?))
    }

    /// Predictions on `steps` batches of `source` (default: one pass): each sample's
    /// probabilities with its file and true class, in file order for a source that does not
    /// augment; `class_names` name the classes where the source does not
    /// ([`Predictions::report`] then gives scikit-learn's metrics). `device`: the one the
    /// model was prepared on.
    pub fn predictions(
        &self,
        source: &mut dyn BatchSource,
        steps: Option<usize>,
        class_names: Option<&[String]>,
        device: &Device,
    ) -> Result<Predictions> {
        crate::evaluation::collect(self, source, steps, class_names, device, &|_, _| Ok(()))
    }
}
