//! Backbones as plug-ins: what a network supplies ([`Backbone`]: its description for a set
//! of [`BackboneOptions`], its `preprocess_input`, how its weight files look), and what is
//! written once for every network on top of that: the registry that finds a backbone by
//! name or by weight file ([`Registry`]), building, loading and saving.
//!
//! A network is a description (a function of [`NetworkBuilder`](crate::NetworkBuilder)
//! calls) plus a small `impl Backbone`; loading every weight format, cutting at any layer,
//! summaries, the packed CPU engine and training come from the description.

use std::path::Path;

use burn::tensor::Device;

use crate::architecture::Architecture;
use crate::error::{NetworkError, Result};
use crate::flavor::Flavor;
use crate::network::Network;
use crate::preprocess::Preprocess;
use crate::weights::keras_h5::{KerasWeightFile, load_keras_file};
use crate::weights::named::apply_named;
use crate::weights::native::{NETWORK_KEY, native_tensors, safetensors_metadata, save_network};
use crate::weights::torch::{read_state_dict, torch_tensors};
use crate::weights::{WeightFormat, detect_format};

/// The options every backbone is built from (Keras' `include_top`, `classes`, `input_shape`,
/// MobileNet's `alpha`); a backbone reads the ones it has.
#[derive(Debug, Clone, PartialEq)]
pub struct BackboneOptions {
    /// Keras or torchvision numerics.
    pub flavor: Flavor,
    /// Width multiplier (MobileNet's `alpha`; 1.0 elsewhere).
    pub alpha: f64,
    /// Whether the network ends in its classification top.
    pub include_top: bool,
    /// Classes of the top.
    pub classes: usize,
    /// Input `[rows, cols]` the model is built for (names MobileNetV2 models, fixes the
    /// input of a flattening top).
    pub input_size: [usize; 2],
}

/// How a backbone's torchvision state dicts look.
#[derive(Debug, Clone, Copy)]
pub struct TorchKeys {
    /// A key prefix every file of the network has (`Conv2d_1a_3x3.`, `features.0.`).
    pub first: &'static str,
    /// Prefixes of keys of heads the network does not hold (`AuxLogits.`).
    pub ignored: &'static [&'static str],
}

/// One of Keras' official weight files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfficialWeights {
    /// Its file name (`resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5`).
    pub file: &'static str,
    /// Where to download it.
    pub url: &'static str,
}

/// A network as a plug-in: everything the library needs from it. Building, loading every
/// weight format, saving, summaries and training are written once, on top of these.
pub trait Backbone: Send + Sync + std::fmt::Debug {
    /// The registry name users select it by (`resnet50`, `inception_v3`).
    fn name(&self) -> &'static str;

    /// Keras' application name (`ResNet50`).
    fn title(&self) -> &'static str;

    /// The flavours it has; the first is the default.
    fn flavors(&self) -> &'static [Flavor] {
        &[Flavor::Keras]
    }

    /// Keras' default input `[rows, cols]` (224x224 for most).
    fn default_input(&self) -> [usize; 2] {
        [224, 224]
    }

    /// The layer transfer-learning recipes cut the base at by default (the course's
    /// `mixed7` for InceptionV3; the notop output elsewhere).
    fn transfer_cut(&self) -> &'static str;

    /// The whole network for `options` (with its top when `options.include_top`).
    fn describe(&self, options: &BackboneOptions) -> Result<Architecture>;

    /// Keras' `preprocess_input` for this network in `flavor` (`None`: raw 0..255 pixels,
    /// as for a network that preprocesses inside).
    fn preprocess(&self, flavor: Flavor) -> Option<Preprocess>;

    /// Whether a Keras `.h5` file holds this network (by its weighted layers' names).
    fn recognises_keras(&self, file: &KerasWeightFile) -> bool;

    /// Which network of this one's family a Keras file it does not recognise holds
    /// (`EfficientNetB3 (width 1.2, depth 1.4: 26 blocks)`), for the error that names both;
    /// `None` (the default) when the family has one member or the file none.
    fn keras_file_holds(&self, _file: &KerasWeightFile) -> Option<String> {
        None
    }

    /// Whether a safetensors file of this project recording the model name `model` holds
    /// this network (default: the name of the default description).
    fn recognises_model_name(&self, model: &str) -> bool {
        self.describe(&self.default_options(Flavor::Keras)).is_ok_and(|a| a.name() == model)
    }

    /// Its torchvision state dicts, if torchvision has the same topology.
    fn torch_keys(&self) -> Option<TorchKeys> {
        None
    }

    /// Keras' official notop weight file (the default width and size where there are
    /// several): what examples look for and messages point to.
    fn notop_weights(&self) -> OfficialWeights;

    /// The options a weight file was saved with, starting from `options` (MobileNetV2
    /// reads its width from the file): what [`load_backbone`] builds before loading.
    fn options_for_file(&self, _path: &Path, options: BackboneOptions) -> Result<BackboneOptions> {
        Ok(options)
    }

    /// The default options in `flavor`: no top, 1000 classes, the default input.
    fn default_options(&self, flavor: Flavor) -> BackboneOptions {
        BackboneOptions { flavor, alpha: 1.0, include_top: false, classes: 1000, input_size: self.default_input() }
    }
}

/// `ResNet50`, `resnet_50` and `resnet50` alike: lower case without separators.
fn normalised(name: &str) -> String {
    name.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect()
}

/// The backbones a program can select by name, and find from a weight file.
#[derive(Debug, Clone, Copy)]
pub struct Registry {
    backbones: &'static [&'static dyn Backbone],
}

impl Registry {
    /// A registry of `backbones`.
    pub const fn new(backbones: &'static [&'static dyn Backbone]) -> Self {
        Self { backbones }
    }

    /// Every backbone, in registration order.
    pub fn all(&self) -> &'static [&'static dyn Backbone] {
        self.backbones
    }

    /// The registered names, comma-separated (for messages and `--help`).
    pub fn names(&self) -> String {
        self.backbones.iter().map(|b| b.name()).collect::<Vec<_>>().join(", ")
    }

    /// The backbone called `name` (case, `_` and `-` ignored), or an error listing the names.
    pub fn get(&self, name: &str) -> Result<&'static dyn Backbone> {
        let wanted = normalised(name);
        self.backbones
            .iter()
            .copied()
            .find(|b| normalised(b.name()) == wanted || normalised(b.title()) == wanted)
            .ok_or_else(|| NetworkError::UnknownBackbone { name: name.to_string(), valid: self.names() })
    }

    /// The backbone a weight file holds: a Keras `.h5` by its layer names, this project's
    /// safetensors by the model it records, a torchvision state dict by its keys.
    pub fn detect(&self, path: &Path) -> Result<&'static dyn Backbone> {
        let unknown = |reason: String| NetworkError::BadWeightFile {
            path: path.to_path_buf(),
            reason: format!("{reason}; the backbones are {}", self.names()),
        };
        match detect_format(path)? {
            WeightFormat::KerasH5 => {
                let file = KerasWeightFile::read_declared(path)?;
                self.backbones.iter().copied().find(|b| b.recognises_keras(&file)).ok_or_else(|| {
                    let first: Vec<&str> = file.layers.iter().take(3).map(|l| l.name.as_str()).collect();
                    unknown(format!("no backbone has the layers of this Keras file (first: {first:?})"))
                })
            }
            WeightFormat::Native => {
                let metadata = safetensors_metadata(path)?;
                let model = metadata.get(NETWORK_KEY).cloned().unwrap_or_default();
                self.backbones
                    .iter()
                    .copied()
                    .find(|b| b.recognises_model_name(&model))
                    .ok_or_else(|| unknown(format!("the file holds `{model}`")))
            }
            WeightFormat::Torchvision => {
                let state = read_state_dict(path)?;
                self.backbones
                    .iter()
                    .copied()
                    .find(|b| b.torch_keys().is_some_and(|k| state.keys().any(|key| key.starts_with(k.first))))
                    .ok_or_else(|| {
                        let first: Vec<&String> = state.keys().take(3).collect();
                        unknown(format!("no backbone has the torchvision keys of this file (first: {first:?})"))
                    })
            }
        }
    }
}

/// The network `backbone` describes for `options`, cut at `cut` (its last layer: the
/// whole network when `None`). A top with a cut elsewhere is an error naming both.
pub fn build_architecture(
    backbone: &dyn Backbone,
    options: &BackboneOptions,
    cut: Option<&str>,
) -> Result<Architecture> {
    if !backbone.flavors().contains(&options.flavor) {
        return Err(NetworkError::BadConfig(format!(
            "{} has no {} flavour (it has {})",
            backbone.title(),
            options.flavor.name(),
            backbone.flavors().iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
        )));
    }
    let whole = backbone.describe(options)?;
    whole.check_input_size(options.input_size)?;
    match cut {
        Some(cut) if options.include_top && cut != whole.layers()[whole.output()].name => {
            Err(NetworkError::LayerCutAway { layer: "predictions (the top)".into(), cut: cut.to_string() })
        }
        Some(cut) => whole.cut_at(cut),
        None => Ok(whole),
    }
}

/// Loads a weight file of any supported format into `network` (built from `backbone`):
/// every parameter set, or a typed error naming the file and what does not fit.
pub fn load_weights(backbone: &dyn Backbone, network: Network, path: &Path) -> Result<Network> {
    let other = |reason: String| NetworkError::OtherArchitecture {
        path: path.to_path_buf(),
        network: network.architecture().name().to_string(),
        reason,
    };
    let tensors = match detect_format(path)? {
        WeightFormat::KerasH5 => load_keras_file(&network, path, |file| {
            if backbone.recognises_keras(file) {
                return Ok(());
            }
            if let Some(held) = backbone.keras_file_holds(file) {
                return Err(other(format!("it holds {held}, not {}", backbone.title())));
            }
            let first: Vec<&str> = file.layers.iter().take(3).map(|l| l.name.as_str()).collect();
            Err(other(format!("its layers are not {}'s (first: {first:?})", backbone.title())))
        })?,
        WeightFormat::Torchvision => {
            let Some(keys) = backbone.torch_keys() else {
                return Err(other(format!(
                    "a torchvision state dict: torchvision has no {} of this topology; use Keras' {} ({})",
                    backbone.title(),
                    backbone.notop_weights().file,
                    backbone.notop_weights().url
                )));
            };
            let state = read_state_dict(path)?;
            if !state.keys().any(|k| k.starts_with(keys.first)) {
                let first: Vec<&String> = state.keys().take(3).collect();
                return Err(other(format!("no `{}*` key (first keys: {first:?})", keys.first)));
            }
            torch_tensors(&network, state, path, keys.ignored)?
        }
        WeightFormat::Native => {
            let model = safetensors_metadata(path)?.get(NETWORK_KEY).cloned().unwrap_or_default();
            if !backbone.recognises_model_name(&model) {
                return Err(other(format!("the file holds `{model}`")));
            }
            native_tensors(&network, read_state_dict(path)?, path)?
        }
    };
    apply_named(network, tensors, path)
}

/// Builds `backbone` for `options` cut at `cut` and loads `path` into it (the options
/// adjusted to the file first, see [`Backbone::options_for_file`]).
pub fn load_backbone(
    backbone: &dyn Backbone,
    options: BackboneOptions,
    cut: Option<&str>,
    path: &Path,
    device: &Device,
) -> Result<Network> {
    let options = backbone.options_for_file(path, options)?;
    let network = Network::init(build_architecture(backbone, &options, cut)?, device);
    load_weights(backbone, network, path)
}

/// Saves `network`'s weights as this project's safetensors (keyed `layer.weight`, the
/// model name and `metadata` in the header), replacing `path` atomically.
pub fn save_weights(network: &Network, path: &Path, metadata: &[(&str, String)]) -> Result<()> {
    save_network(network, path, metadata)
}
