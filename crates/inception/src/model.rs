//! The InceptionV3 network: configuration, construction (whole or cut at a named layer) and
//! forward passes up to any named layer.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};

use crate::blocks::{
    InceptionA, InceptionAConfig, InceptionB, InceptionBConfig, InceptionC, InceptionCConfig,
    InceptionD, InceptionDConfig, InceptionE, InceptionEConfig, InceptionEPart, Stem, StemConfig,
};
use crate::error::{InceptionError, Result};
use crate::flavor::Flavor;
use crate::layer_name::{LayerName, check_input_size};

/// Configuration of an [`InceptionV3`]: flavour, where it ends, and the optional top.
///
/// ```
/// use inception::{Flavor, InceptionV3Config, LayerName};
/// let config = InceptionV3Config::new(Flavor::Keras).with_cut(LayerName::Mixed7);
/// assert_eq!(config.cut, LayerName::Mixed7);
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

/// The classification top: global average pooling then a dense layer (Keras `predictions`,
/// softmax; torchvision `fc`, logits).
#[derive(Module, Debug)]
pub struct ClassifierTop {
    /// Dense layer, weight `[2048, classes]`.
    pub fc: Linear,
}

/// InceptionV3, possibly cut at a named layer, with no backend type parameter: it runs on
/// whatever [`Device`] its tensors live on.
///
/// Blocks after [`InceptionV3::cut`] are `None`: a cut model neither holds nor loads them.
#[derive(Module, Debug)]
pub struct InceptionV3 {
    /// Convolutions and pools before the first Inception block.
    pub stem: Stem,
    /// 35x35 block, 256 channels.
    pub mixed0: Option<InceptionA>,
    /// 35x35 block, 288 channels.
    pub mixed1: Option<InceptionA>,
    /// 35x35 block, 288 channels.
    pub mixed2: Option<InceptionA>,
    /// Reduction to 17x17, 768 channels.
    pub mixed3: Option<InceptionB>,
    /// 17x17 block, c7 = 128.
    pub mixed4: Option<InceptionC>,
    /// 17x17 block, c7 = 160.
    pub mixed5: Option<InceptionC>,
    /// 17x17 block, c7 = 160.
    pub mixed6: Option<InceptionC>,
    /// 17x17 block, c7 = 192.
    pub mixed7: Option<InceptionC>,
    /// Reduction to 8x8, 1280 channels.
    pub mixed8: Option<InceptionD>,
    /// 8x8 block, 2048 channels (only its 3x3 branch when cut at `mixed9_0`).
    pub mixed9: Option<InceptionE>,
    /// 8x8 block, 2048 channels (only its 3x3 branch when cut at `mixed9_1`).
    pub mixed10: Option<InceptionE>,
    /// Classification top, when built with `include_top`.
    pub top: Option<ClassifierTop>,
    /// Keras or torchvision numerics.
    #[module(skip)]
    pub flavor: Flavor,
    /// The last layer this model holds.
    #[module(skip)]
    pub cut: LayerName,
}

impl InceptionV3Config {
    /// Creates the network with Burn's default initialisation; load weights afterwards with
    /// [`crate::weights`]. Fails if a top is asked for on a cut model.
    pub fn init(&self, device: &Device) -> Result<InceptionV3> {
        if self.include_top && self.cut != LayerName::Mixed10 {
            return Err(InceptionError::LayerCutAway {
                layer: "predictions (the top)".into(),
                cut: self.cut.to_string(),
            });
        }
        let f = self.flavor;
        let holds = |name: LayerName| name <= self.cut;
        let a = |name, c, pool| holds(name).then(|| InceptionAConfig::new(c, pool, f).init(device));
        let c = |name, c7| holds(name).then(|| InceptionCConfig::new(768, c7, f).init(device));
        let e = |inner: LayerName, c| {
            let part = match inner < self.cut {
                true => InceptionEPart::Full,
                false => InceptionEPart::Branch3x3,
            };
            holds(inner).then(|| InceptionEConfig::new(c, f).with_part(part).init(device))
        };
        Ok(InceptionV3 {
            stem: StemConfig::new(f).init(device),
            mixed0: a(LayerName::Mixed0, 192, 32),
            mixed1: a(LayerName::Mixed1, 256, 64),
            mixed2: a(LayerName::Mixed2, 288, 64),
            mixed3: holds(LayerName::Mixed3).then(|| InceptionBConfig::new(288, f).init(device)),
            mixed4: c(LayerName::Mixed4, 128),
            mixed5: c(LayerName::Mixed5, 160),
            mixed6: c(LayerName::Mixed6, 160),
            mixed7: c(LayerName::Mixed7, 192),
            mixed8: holds(LayerName::Mixed8).then(|| InceptionDConfig::new(768, f).init(device)),
            mixed9: e(LayerName::Mixed9_0, 1280),
            mixed10: e(LayerName::Mixed9_1, 2048),
            top: self.include_top.then(|| ClassifierTop {
                fc: LinearConfig::new(2048, self.classes).init(device),
            }),
            flavor: f,
            cut: self.cut,
        })
    }
}

/// The block a model must hold to reach `layer`, or the error saying it was cut away.
fn held<T>(block: &Option<T>, layer: LayerName, cut: LayerName) -> Result<&T> {
    block.as_ref().ok_or_else(|| InceptionError::LayerCutAway {
        layer: layer.to_string(),
        cut: cut.to_string(),
    })
}

impl InceptionV3 {
    /// The configuration this model was built from.
    pub fn config(&self) -> InceptionV3Config {
        InceptionV3Config::new(self.flavor)
            .with_cut(self.cut)
            .with_include_top(self.top.is_some())
            .with_classes(self.top.as_ref().map_or(1000, |top| top.fc.weight.dims()[1]))
    }

    /// Checks an input batch: rank-4 `[batch, 3, height, width]`, at least 75x75.
    pub fn check_input(input: &Tensor<4>) -> Result<()> {
        let [_, channels, height, width] = input.dims();
        if channels != 3 {
            return Err(InceptionError::InputChannels { channels });
        }
        check_input_size(height, width)
    }

    /// Runs the network up to `layer` and returns that layer's output.
    ///
    /// # Shapes
    /// - input: `[batch, 3, height, width]` (NCHW, values as the weights expect: `[0, 1]` in
    ///   the course, `[-1, 1]` for Keras' `preprocess_input`), height and width >= 75
    /// - output: `[batch, channels, rows, cols]`, see [`LayerName::output_shape`]
    pub fn forward_to(&self, input: Tensor<4>, layer: LayerName) -> Result<Tensor<4>> {
        if layer > self.cut {
            return Err(InceptionError::LayerCutAway { layer: layer.to_string(), cut: self.cut.to_string() });
        }
        Self::check_input(&input)?;
        self.run_blocks(self.stem.forward(input), None, layer)
    }

    /// Continues the network from the output of the trunk layer `after` (as
    /// [`InceptionV3::forward_to`] gives it) to the layer the model was cut at: how a
    /// partly frozen base runs its frozen part elsewhere (e.g. [`crate::CpuInference`]) and
    /// only the rest here.
    ///
    /// # Shapes
    /// - features: `[batch, after.channels(), rows, cols]`; output as [`InceptionV3::forward`]
    pub fn forward_from(&self, features: Tensor<4>, after: LayerName) -> Result<Tensor<4>> {
        if matches!(after, LayerName::Mixed9_0 | LayerName::Mixed9_1) {
            return Err(InceptionError::UnknownLayer(format!(
                "{after} is inside a block: continue from a block end (mixed0..mixed10)"
            )));
        }
        if after > self.cut {
            return Err(InceptionError::LayerCutAway { layer: after.to_string(), cut: self.cut.to_string() });
        }
        let channels = features.dims()[1];
        if channels != after.channels() {
            return Err(InceptionError::FeatureChannels { layer: after.to_string(), expected: after.channels(), channels });
        }
        match after == self.cut {
            true => Ok(features),
            false => self.run_blocks(features, Some(after), self.cut),
        }
    }

    /// Runs the blocks after `start` (all of them after the stem when `None`) up to `layer`.
    fn run_blocks(&self, mut x: Tensor<4>, start: Option<LayerName>, layer: LayerName) -> Result<Tensor<4>> {
        use LayerName::*;
        let cut = self.cut;
        let done = |name: LayerName| start.is_some_and(|start| name <= start);
        for (name, block) in [(Mixed0, &self.mixed0), (Mixed1, &self.mixed1), (Mixed2, &self.mixed2)] {
            if done(name) {
                continue;
            }
            x = held(block, layer, cut)?.forward(x);
            if layer == name {
                return Ok(x);
            }
        }
        if !done(Mixed3) {
            x = held(&self.mixed3, layer, cut)?.forward(x);
            if layer == Mixed3 {
                return Ok(x);
            }
        }
        let blocks_17 = [(Mixed4, &self.mixed4), (Mixed5, &self.mixed5), (Mixed6, &self.mixed6), (Mixed7, &self.mixed7)];
        for (name, block) in blocks_17 {
            if done(name) {
                continue;
            }
            x = held(block, layer, cut)?.forward(x);
            if layer == name {
                return Ok(x);
            }
        }
        if !done(Mixed8) {
            x = held(&self.mixed8, layer, cut)?.forward(x);
            if layer == Mixed8 {
                return Ok(x);
            }
        }
        for (inner, name, block) in [(Mixed9_0, Mixed9, &self.mixed9), (Mixed9_1, Mixed10, &self.mixed10)] {
            if done(name) {
                continue;
            }
            let block = held(block, layer, cut)?;
            if layer == inner {
                return Ok(block.forward_branch3x3(x));
            }
            x = block.forward(x).ok_or_else(|| InceptionError::LayerCutAway {
                layer: layer.to_string(),
                cut: cut.to_string(),
            })?;
            if layer == name {
                return Ok(x);
            }
        }
        unreachable!("every layer name returns inside the loops above")
    }

    /// Runs the whole model: the output of the layer it was cut at.
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
        let top = self.top.as_ref().ok_or(InceptionError::NoTop)?;
        let features = self.forward_to(input, LayerName::Mixed10)?;
        let pooled: Tensor<2> = features.mean_dim(3).mean_dim(2).flatten(1, 3);
        let scores = top.fc.forward(pooled);
        Ok(match self.flavor {
            Flavor::Keras => softmax(scores, 1),
            Flavor::Torchvision => scores,
        })
    }
}
