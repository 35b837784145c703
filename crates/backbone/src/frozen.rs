//! [`FrozenBase`]: a network (or its layers up to one) as frozen inference runs it, packed
//! for the CPU where the packed engine covers every layer, on Burn's path otherwise.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::cpu::{ConvAlgorithm, CpuInference, is_host_device};
use crate::error::{NetworkError, Result};
use crate::network::Network;

/// The frozen base of a model: batch norms on their moving statistics, no autodiff.
///
/// On host devices (flex, ndarray) the layers run packed into channels-last matrix
/// products ([`CpuInference`], ~2.5-5x Burn's generic convolutions); a layer the packed
/// engine does not cover sends the whole base to Burn's path instead, with one `log`
/// warning naming the layer (never an error). Elsewhere (wgpu, CUDA) it is a copy of the
/// network on the device.
#[derive(Debug, Clone)]
pub struct FrozenBase {
    /// The last layer it runs to.
    end: usize,
    engine: Engine,
}

#[derive(Debug, Clone)]
enum Engine {
    /// Packed for the CPU.
    Packed(Box<CpuInference>),
    /// The Burn model on a non-autodiff device.
    Device(Box<Network>),
}

impl FrozenBase {
    /// Prepares `network` (on any device) for inference on `device`.
    pub fn new(network: &Network, device: &Device) -> Result<Self> {
        Self::up_to(network, network.architecture().output(), device)
    }

    /// Prepares the layers of `network` up to the layer at `end` (the frozen part of a
    /// partly trainable base) for inference on `device`.
    pub fn up_to(network: &Network, end: usize, device: &Device) -> Result<Self> {
        let network = network.valid().to_device(device);
        network.architecture().layer(end)?;
        if !is_host_device(device) {
            return Ok(Self { end, engine: Engine::Device(Box::new(network)) });
        }
        let engine = match CpuInference::up_to(&network, end, ConvAlgorithm::Winograd) {
            Ok(packed) => Engine::Packed(Box::new(packed)),
            Err(NetworkError::Unsupported { layer, reason }) => {
                log::warn!(
                    "{}: the packed CPU engine cannot run layer `{layer}` ({reason}); the frozen base runs on \
                     Burn's path (same numbers, slower)",
                    network.architecture().name()
                );
                Engine::Device(Box::new(network))
            }
            Err(other) => return Err(other),
        };
        Ok(Self { end, engine })
    }

    /// The last layer it runs to.
    pub fn end(&self) -> usize {
        self.end
    }

    /// Whether it runs on the packed CPU engine.
    pub fn is_packed(&self) -> bool {
        matches!(self.engine, Engine::Packed(_))
    }

    /// The packed engine, when it runs on one (for channels-last batches and profiles).
    pub fn packed(&self) -> Option<&CpuInference> {
        match &self.engine {
            Engine::Packed(packed) => Some(packed),
            Engine::Device(_) => None,
        }
    }

    /// The network's description.
    pub fn architecture(&self) -> &crate::Architecture {
        match &self.engine {
            Engine::Packed(base) => base.architecture(),
            Engine::Device(base) => base.architecture(),
        }
    }

    /// Features of the layer it ends at.
    ///
    /// # Shapes
    /// - images: `[batch, 3, rows, cols]`; output: `[batch, channels, rows', cols']`
    pub fn forward(&self, images: Tensor<4>) -> Result<Tensor<4>> {
        Ok(self.forward_layers(images, &[self.end])?.remove(0))
    }

    /// Features of the layer it ends at as a training step runs layers that do not train:
    /// Keras' `Dropout` layers drop (in `fit` a frozen layer still drops: EfficientNet's
    /// drop-connect), the packed engine's draws made from `seed`, Burn's path's from the
    /// device's generator. The plain [`FrozenBase::forward`] for a base without dropouts.
    ///
    /// # Shapes
    /// - images: `[batch, 3, rows, cols]`; output: `[batch, channels, rows', cols']`
    pub fn forward_dropping(&self, images: Tensor<4>, seed: u64) -> Result<Tensor<4>> {
        match &self.engine {
            Engine::Packed(base) => base.forward_dropping(images, seed),
            Engine::Device(base) => Ok(base.forward_layers_dropping(images, &[self.end])?.remove(0)),
        }
    }

    /// Whether the layers it runs hold Keras `Dropout` layers (see
    /// [`FrozenBase::forward_dropping`]).
    pub fn has_dropouts(&self) -> bool {
        match &self.engine {
            // Known since packing: no walk of the graph in every training step.
            Engine::Packed(base) => base.has_dropouts(),
            Engine::Device(base) => {
                let architecture = base.architecture();
                let needed = architecture.ancestors(&[self.end]);
                architecture
                    .layers()
                    .iter()
                    .zip(needed)
                    .any(|(l, n)| n && matches!(l.kind, crate::LayerKind::Dropout { .. }))
            }
        }
    }

    /// Features of the layers at `layers` (each at most [`FrozenBase::end`]), in one pass.
    ///
    /// # Shapes
    /// - images: `[batch, 3, rows, cols]`; outputs: `[batch, channels, rows', cols']`
    pub fn forward_layers(&self, images: Tensor<4>, layers: &[usize]) -> Result<Vec<Tensor<4>>> {
        if let Some(&late) = layers.iter().find(|&&l| l > self.end) {
            let architecture = self.architecture();
            let name = |i: usize| architecture.layer(i).map(|l| l.name.clone()).unwrap_or_else(|_| i.to_string());
            return Err(NetworkError::LayerCutAway { layer: name(late), cut: name(self.end) });
        }
        match &self.engine {
            Engine::Packed(base) => base.forward_layers(images, layers),
            Engine::Device(base) => base.forward_layers(images, layers),
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Distribution;

    use super::*;
    use crate::{Activation, LayerKind, NetworkBuilder, Padding};

    /// A convolution, then an average pooling of a window the packed engine lacks (2x2).
    fn network(pool: [usize; 2], device: &Device) -> Network {
        let (mut builder, input) = NetworkBuilder::new("tiny", 3, 8);
        let conv = LayerKind::Conv2D {
            filters: 4,
            kernel: [3, 3],
            strides: [1, 1],
            padding: Padding::Same,
            use_bias: true,
            activation: Activation::Relu,
        };
        let x = builder.named("conv", conv, &[input]);
        let pooling =
            LayerKind::AveragePooling2D { pool, strides: [1, 1], padding: Padding::Same, count_include_pad: false };
        let x = builder.named("pool", pooling, &[x]);
        Network::init(builder.finish(x), device).with_trainable(|_| Some(false))
    }

    #[test]
    fn a_layer_the_packed_engine_lacks_runs_on_burns_path() {
        let device = Device::flex();
        let images = Tensor::<4>::random([2, 3, 9, 9], Distribution::Uniform(0.0, 1.0), &device);
        let unusual = network([2, 2], &device);
        let frozen = FrozenBase::new(&unusual, &device).expect("never an error");
        assert!(!frozen.is_packed());
        let expected = unusual.forward_layers(images.clone(), &[2]).unwrap().remove(0);
        let got = frozen.forward(images.clone()).unwrap();
        assert_eq!(got.into_data(), expected.into_data());
        // The same network with Keras' usual 3x3 pooling runs packed.
        let usual = network([3, 3], &device);
        assert!(FrozenBase::new(&usual, &device).unwrap().is_packed());
    }

    /// A convolution, then drop-connect (Keras' `Dropout(0.5, noise_shape=(None, 1, 1, 1))`).
    fn dropping_network(device: &Device) -> Network {
        let (mut builder, input) = NetworkBuilder::new("drops", 3, 4);
        let conv = LayerKind::Conv2D {
            filters: 4,
            kernel: [1, 1],
            strides: [1, 1],
            padding: Padding::Same,
            use_bias: true,
            activation: Activation::Linear,
        };
        let x = builder.named("conv", conv, &[input]);
        let x = builder.named("drop", LayerKind::Dropout { rate: 0.5, per_image: true }, &[x]);
        Network::init(builder.finish(x), device).with_trainable(|_| Some(false))
    }

    #[test]
    fn a_training_steps_run_drops_whole_images_as_keras_and_inference_does_not() {
        let device = Device::flex();
        let network = dropping_network(&device);
        let frozen = FrozenBase::new(&network, &device).unwrap();
        assert!(frozen.is_packed() && frozen.has_dropouts());
        let images = Tensor::<4>::random([64, 3, 5, 5], Distribution::Uniform(0.5, 1.0), &device);
        let plain = frozen.forward(images.clone()).unwrap();
        let conv = network.forward_layers(images.clone(), &[1]).unwrap().remove(0);
        assert_eq!(plain.clone().into_data(), conv.into_data(), "inference: the identity");
        let dropped = frozen.forward_dropping(images.clone(), 7).unwrap();
        assert_eq!(dropped.clone().into_data(), frozen.forward_dropping(images, 7).unwrap().into_data());
        let values = |t: Tensor<4>| t.into_data().try_to_vec::<f32>().unwrap();
        let (plain, dropped) = (values(plain), values(dropped));
        let mut kept = 0;
        for (p, d) in plain.chunks(100).zip(dropped.chunks(100)) {
            let scaled = p.iter().zip(d).all(|(p, d)| (d - 2.0 * p).abs() <= 1e-6 * p.abs().max(1.0));
            let zero = d.iter().all(|&d| d == 0.0);
            assert!(scaled ^ zero, "each image kept and scaled by 1 / (1 - rate), or dropped whole");
            kept += usize::from(scaled);
        }
        assert!((20..=44).contains(&kept), "about half of 64 images kept: {kept}");
    }
}
