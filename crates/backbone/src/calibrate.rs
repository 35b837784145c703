//! Data-dependent initialisation of a randomly initialised network's batch norms.

use burn::module::{Module, Param};
use burn::tensor::Tensor;

use crate::error::Result;
use crate::network::{LayerParams, Network};

impl Network {
    /// Sets every batch norm's moving statistics to the batch statistics of `images` (one
    /// forward pass in training mode with momentum 0), so that a randomly initialised
    /// network gives activations of order 1 instead of vanishing or exploding ones.
    /// Pretrained weights do not need it. Returns the network on `images`' device, every
    /// layer's `trainable` flag as it was.
    ///
    /// # Shapes
    /// - images: `[batch, 3, rows, cols]`, a few representative images
    pub fn calibrate_batch_norm(self, images: Tensor<4>) -> Result<Network> {
        let device = images.device();
        let trainable: Vec<bool> = (0..self.architecture().len()).map(|i| self.is_trainable(i)).collect();
        let mut model = self.fork(&device.clone().autodiff()).train();
        let mut momenta = Vec::new();
        for params in &mut model.params {
            if let LayerParams::Norm(bn) = params {
                momenta.push(std::mem::replace(&mut bn.momentum, 0.0));
                bn.training = Param::from_bool(true);
            }
        }
        let output = model.architecture().output();
        model.forward_layers(images.autodiff(), &[output])?;
        let mut momenta = momenta.into_iter();
        for params in &mut model.params {
            if let LayerParams::Norm(bn) = params {
                bn.momentum = momenta.next().unwrap_or(bn.momentum);
            }
        }
        Ok(model.valid().with_trainable(|i| Some(trainable[i])))
    }
}
