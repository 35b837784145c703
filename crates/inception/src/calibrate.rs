//! Data-dependent initialisation of a randomly initialised network's batch norms.

use burn::module::Module;
use burn::tensor::Tensor;

use crate::error::Result;
use crate::model::InceptionV3;

impl InceptionV3 {
    /// Sets every batch norm's moving statistics to the batch statistics of `images`
    /// (one forward pass in training mode with momentum 0), so that a randomly initialised
    /// network gives activations of order 1 instead of vanishing ones. Pretrained weights
    /// do not need it. Returns the model on `images`' device, in inference mode.
    ///
    /// # Shapes
    /// - images: `[batch, 3, rows, cols]`, a few representative images
    pub fn calibrate_batch_norm(self, images: Tensor<4>) -> Result<InceptionV3> {
        let device = images.device();
        let mut model = self.fork(&device.clone().autodiff()).train();
        let momenta: Vec<f64> = model.conv_units_mut().into_iter().map(|u| std::mem::replace(&mut u.bn.momentum, 0.0)).collect();
        model.forward(images.autodiff())?;
        for (unit, momentum) in model.conv_units_mut().into_iter().zip(momenta) {
            unit.bn.momentum = momentum;
        }
        Ok(model.valid())
    }
}
