//! The InceptionV3 network: configuration, construction (whole or cut at a named layer) and
//! forward passes up to any named layer, all through its one description.

use backbone::{Architecture, Network, NetworkError, Result, Summary};
use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::description::inception_v3;
use crate::layer_name::LayerName;
use backbone::Flavor;

/// Configuration of an [`InceptionV3`]: flavour, where it ends, and the optional top.
///
/// ```
/// use inception::{Flavor, InceptionV3Config, LayerName};
/// let config = InceptionV3Config::new(Flavor::Keras).with_cut(LayerName::Mixed7);
/// assert_eq!(config.cut, LayerName::Mixed7);
/// assert_eq!(config.architecture().unwrap().len(), 229);
/// ```
#[derive(Config, Debug)]
pub struct InceptionV3Config {
    /// Keras or torchvision numerics.
    pub flavor: Flavor,
    /// The last layer the model holds. Default: `mixed10` (the whole base).
    #[config(default = "LayerName::Mixed10")]
    pub cut: LayerName,
    /// Whether to add the classification top (global average pooling + dense). Needs the
    /// model uncut. Default: false (Keras `include_top=False`).
    #[config(default = false)]
    pub include_top: bool,
    /// Classes of the top. Default: 1000 (ImageNet).
    #[config(default = 1000)]
    pub classes: usize,
}

impl InceptionV3Config {
    /// The network this configuration builds, layer by layer in Keras' `model.layers` order.
    pub fn architecture(&self) -> Result<Architecture> {
        if self.include_top && self.cut != LayerName::Mixed10 {
            return Err(NetworkError::LayerCutAway {
                layer: "predictions (the top)".into(),
                cut: self.cut.to_string(),
            });
        }
        let whole = inception_v3(self.flavor, self.classes);
        match self.include_top {
            true => Ok(whole),
            false => whole.cut_at(self.cut.keras_name()),
        }
    }

    /// Creates the network with Burn's default initialisation; load weights afterwards with
    /// [`InceptionV3::load_weights`]. Fails if a top is asked for on a cut model.
    pub fn init(&self, device: &Device) -> Result<InceptionV3> {
        Ok(InceptionV3 { network: Network::init(self.architecture()?, device), flavor: self.flavor, cut: self.cut })
    }
}

/// InceptionV3, possibly cut at a named layer, with no backend type parameter: it runs on
/// whatever [`Device`] its tensors live on. A cut model neither holds nor loads the layers
/// after its cut.
#[derive(Module, Debug)]
pub struct InceptionV3 {
    /// The network: its description, weights and trainable flags.
    pub network: Network,
    /// Keras or torchvision numerics.
    #[module(skip)]
    pub flavor: Flavor,
    /// The last layer of the base this model holds (`mixed10` with the top).
    #[module(skip)]
    pub cut: LayerName,
}

impl InceptionV3 {
    /// The configuration this model was built from.
    pub fn config(&self) -> InceptionV3Config {
        let architecture = self.network.architecture();
        let include_top = architecture.layers()[architecture.output()].name == "predictions";
        InceptionV3Config::new(self.flavor).with_cut(self.cut).with_include_top(include_top).with_classes(
            match include_top {
                true => architecture.channels(architecture.output()),
                false => 1000,
            },
        )
    }

    /// The description of the network it holds.
    pub fn architecture(&self) -> &Architecture {
        self.network.architecture()
    }

    /// The Keras index of a named layer, or why the model does not have it.
    pub fn layer_index(&self, layer: LayerName) -> Result<usize> {
        self.architecture().index_of(layer.keras_name())
    }

    /// Checks an input batch: rank-4 `[batch, 3, height, width]`, at least 75x75.
    pub fn check_input(&self, input: &Tensor<4>) -> Result<()> {
        self.network.check_input(input)
    }

    /// Runs the network up to `layer` and returns that layer's output.
    ///
    /// # Shapes
    /// - input: `[batch, 3, height, width]` (NCHW, values as the weights expect: `[0, 1]` in
    ///   the course, `[-1, 1]` for Keras' `preprocess_input`), height and width >= 75
    /// - output: `[batch, channels, rows, cols]`, see [`LayerName::output_shape`]
    pub fn forward_to(&self, input: Tensor<4>, layer: LayerName) -> Result<Tensor<4>> {
        Ok(self.forward_layers(input, &[layer])?.remove(0))
    }

    /// The outputs of several named layers in one pass.
    ///
    /// # Shapes
    /// - input: `[batch, 3, height, width]`; outputs: `[batch, channels, rows, cols]` each
    pub fn forward_layers(&self, input: Tensor<4>, layers: &[LayerName]) -> Result<Vec<Tensor<4>>> {
        let indices = layers.iter().map(|&l| self.layer_index(l)).collect::<Result<Vec<_>>>()?;
        self.network.forward_layers(input, &indices)
    }

    /// Continues the network from the output of the block end `after` (as
    /// [`InceptionV3::forward_to`] gives it) to the layer the model was cut at: how a
    /// partly frozen base runs its frozen part elsewhere (e.g. [`backbone::FrozenBase`]) and
    /// only the rest here.
    ///
    /// # Shapes
    /// - features: `[batch, after.channels(), rows, cols]`; output as [`InceptionV3::forward`]
    pub fn forward_from(&self, features: Tensor<4>, after: LayerName) -> Result<Tensor<4>> {
        let after = self.layer_index(after)?;
        let cut = self.layer_index(self.cut)?;
        Ok(self.network.forward_from(features, after, &[cut])?.remove(0))
    }

    /// Runs the base: the output of the layer it was cut at.
    ///
    /// # Shapes
    /// - input: `[batch, 3, height, width]`; output `[batch, channels, rows, cols]`
    pub fn forward(&self, input: Tensor<4>) -> Result<Tensor<4>> {
        self.forward_to(input, self.cut)
    }

    /// Class scores from the top: softmax probabilities in the Keras flavour (Keras
    /// `classifier_activation='softmax'`), logits in the torchvision flavour.
    ///
    /// # Shapes
    /// - input: `[batch, 3, height, width]`; output `[batch, classes]`
    pub fn classify(&self, input: Tensor<4>) -> Result<Tensor<2>> {
        self.network.classify(input)
    }

    /// Keras' `model.summary()` for an input of `[rows, cols]` pixels: TF2 fresh-session
    /// names, `model.layers` order, each layer's `trainable` flag.
    pub fn summary(&self, input: [usize; 2]) -> Result<Summary> {
        self.network.summary(input)
    }

    /// Sets every batch norm's moving statistics from the batch statistics of `images` (see
    /// [`Network::calibrate_batch_norm`]): how a randomly initialised stand-in base gives
    /// activations of order 1.
    ///
    /// # Shapes
    /// - images: `[batch, 3, rows, cols]`
    pub fn calibrate_batch_norm(self, images: Tensor<4>) -> Result<InceptionV3> {
        Ok(Self { network: self.network.calibrate_batch_norm(images)?, ..self })
    }
}

impl From<InceptionV3> for Network {
    fn from(model: InceptionV3) -> Self {
        model.network
    }
}
