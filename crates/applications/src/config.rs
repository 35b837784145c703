//! [`BackboneConfig`]: any registered backbone selected by name, with the options Keras
//! builds it from and where it is cut; what transfer models and checkpoints record.

use std::path::Path;

use backbone::{Architecture, Backbone, BackboneOptions, Flavor, Network, NetworkError, Preprocess, Result, Summary};
use burn::tensor::Device;
use inception::InceptionV3Config;
use mobilenet::MobileNetV2Config;
use serde::{Deserialize, Serialize};

use crate::registry::REGISTRY;

/// The safetensors header key under which [`BackboneConfig::save`] records the configuration.
pub const CONFIG_KEY: &str = "backbone.config";

/// A backbone by registry name (`inception_v3`, `mobilenet_v2`, `resnet50`, `vgg16`, `xception`) with
/// Keras' options and an optional cut: serialisable, so checkpoints rebuild it.
///
/// ```
/// use applications::BackboneConfig;
/// let config = BackboneConfig::new("resnet50").unwrap();
/// let architecture = config.architecture().unwrap();
/// assert_eq!(architecture.len(), 175);
/// assert_eq!(config.preprocess(), Some(backbone::Preprocess::Caffe));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackboneConfig {
    /// The registry name.
    pub model: String,
    /// Keras or torchvision numerics. Default: Keras.
    pub flavor: Flavor,
    /// Width multiplier (MobileNetV2's `alpha`). Default: 1.0.
    pub alpha: f64,
    /// Whether the network ends in its classification top. Default: false.
    pub include_top: bool,
    /// Classes of the top. Default: 1000.
    pub classes: usize,
    /// Input `[rows, cols]` the network is built for. Default: the backbone's (224x224;
    /// 299x299 for InceptionV3).
    pub input_size: [usize; 2],
    /// The last layer the network holds (any Keras layer name). Default: the whole network.
    pub cut: Option<String>,
}

impl BackboneConfig {
    /// The backbone `model` (a registry name), Keras flavour, no top, whole, at its
    /// default input size; an unknown name is an error listing the registered ones.
    pub fn new(model: &str) -> Result<Self> {
        let backbone = REGISTRY.get(model)?;
        Ok(Self::of(backbone))
    }

    /// The default configuration of `backbone`.
    pub fn of(backbone: &dyn Backbone) -> Self {
        let options = backbone.default_options(backbone.flavors()[0]);
        Self {
            model: backbone.name().to_string(),
            flavor: options.flavor,
            alpha: options.alpha,
            include_top: options.include_top,
            classes: options.classes,
            input_size: options.input_size,
            cut: None,
        }
    }

    /// The backbone cut at the layer transfer-learning recipes use by default
    /// ([`Backbone::transfer_cut`]: `mixed7` for InceptionV3, the notop output elsewhere).
    pub fn for_transfer(model: &str) -> Result<Self> {
        let backbone = REGISTRY.get(model)?;
        Ok(Self::of(backbone).with_cut(Some(backbone.transfer_cut().to_string())))
    }

    /// With numerics of `flavor`.
    pub fn with_flavor(mut self, flavor: Flavor) -> Self {
        self.flavor = flavor;
        self
    }

    /// With width multiplier `alpha`.
    pub fn with_alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }

    /// With or without the classification top.
    pub fn with_include_top(mut self, include_top: bool) -> Self {
        self.include_top = include_top;
        self
    }

    /// With `classes` classes in the top.
    pub fn with_classes(mut self, classes: usize) -> Self {
        self.classes = classes;
        self
    }

    /// Built for inputs of `[rows, cols]`.
    pub fn with_input_size(mut self, input_size: [usize; 2]) -> Self {
        self.input_size = input_size;
        self
    }

    /// Cut at the layer `cut` (`None`: whole).
    pub fn with_cut(mut self, cut: Option<String>) -> Self {
        self.cut = cut;
        self
    }

    /// The registered backbone.
    pub fn backbone(&self) -> Result<&'static dyn Backbone> {
        REGISTRY.get(&self.model)
    }

    /// The options the backbone is built from.
    pub fn options(&self) -> BackboneOptions {
        BackboneOptions {
            flavor: self.flavor,
            alpha: self.alpha,
            include_top: self.include_top,
            classes: self.classes,
            input_size: self.input_size,
        }
    }

    /// The network this configuration builds, in Keras' `model.layers` order.
    pub fn architecture(&self) -> Result<Architecture> {
        backbone::build_architecture(self.backbone()?, &self.options(), self.cut.as_deref())
    }

    /// Creates the network with Burn's default initialisation (load weights afterwards).
    pub fn init(&self, device: &Device) -> Result<Network> {
        Ok(Network::init(self.architecture()?, device))
    }

    /// Creates the network and loads the weight file `path` (Keras `.h5`, a torchvision
    /// state dict where torchvision has the network, this project's safetensors) into it:
    /// every parameter, or a typed error.
    pub fn pretrained(&self, path: &Path, device: &Device) -> Result<Network> {
        backbone::load_backbone(self.backbone()?, self.options(), self.cut.as_deref(), path, device)
    }

    /// Saves `network` (built from this configuration) as this project's safetensors, the
    /// configuration in the header, replacing `path` atomically: [`BackboneConfig::load`]
    /// rebuilds both, and [`BackboneConfig::pretrained`] of the same backbone reads it too.
    pub fn save(&self, network: &Network, path: &Path) -> Result<()> {
        let json = serde_json::to_string(self).map_err(|e| NetworkError::BadConfig(e.to_string()))?;
        backbone::save_weights(network, path, &[(CONFIG_KEY, json)])
    }

    /// Loads a network saved by [`BackboneConfig::save`] with its configuration; a file
    /// without one (a Keras or torchvision weight file) is an error saying to use
    /// [`BackboneConfig::pretrained`].
    pub fn load(path: &Path, device: &Device) -> Result<(Self, Network)> {
        let bad = |reason: String| NetworkError::BadWeightFile { path: path.to_path_buf(), reason };
        let metadata = backbone::weights::safetensors_metadata(path)?;
        let json = metadata.get(CONFIG_KEY).ok_or_else(|| {
            bad(format!(
                "no `{CONFIG_KEY}` in the header: not saved by BackboneConfig::save (weight files of Keras or \
                 torchvision load with BackboneConfig::pretrained)"
            ))
        })?;
        let config: Self = serde_json::from_str(json).map_err(|e| bad(format!("`{CONFIG_KEY}`: {e}")))?;
        let network = config.pretrained(path, device)?;
        Ok((config, network))
    }

    /// Keras' `preprocess_input` of the backbone in this flavour.
    pub fn preprocess(&self) -> Option<Preprocess> {
        self.backbone().ok().and_then(|b| b.preprocess(self.flavor))
    }

    /// Keras' `model.summary()` of the network at `input` pixels, every layer trainable.
    pub fn summary(&self, input: [usize; 2]) -> Result<Summary> {
        Summary::of(&self.architecture()?, input, &|_| true)
    }

    /// A human name (`ResNet50 (keras)`, `MobileNetV2 (keras, alpha 0.35)`).
    pub fn describe(&self) -> String {
        let title = self.backbone().map_or(self.model.as_str(), |b| b.title());
        match self.alpha {
            1.0 => format!("{title} ({})", self.flavor.name()),
            alpha => format!("{title} ({}, alpha {alpha})", self.flavor.name()),
        }
    }
}

impl From<InceptionV3Config> for BackboneConfig {
    fn from(config: InceptionV3Config) -> Self {
        let cut = (!config.include_top).then(|| config.cut.keras_name().to_string());
        Self::of(&inception::InceptionV3Backbone)
            .with_flavor(config.flavor)
            .with_include_top(config.include_top)
            .with_classes(config.classes)
            .with_cut(cut)
    }
}

impl From<MobileNetV2Config> for BackboneConfig {
    fn from(config: MobileNetV2Config) -> Self {
        Self::of(&mobilenet::MobileNetV2Backbone)
            .with_flavor(config.flavor)
            .with_alpha(config.alpha)
            .with_include_top(config.include_top)
            .with_classes(config.classes)
            .with_input_size(config.input_size)
            .with_cut(config.cut)
    }
}

/// What checkpoints hold: this configuration, or the per-network enum checkpoints held
/// before backbones were plug-ins (`{"InceptionV3": {...}}`, `{"MobileNetV2": {...}}`).
#[derive(Deserialize)]
#[serde(untagged)]
enum Stored {
    Current {
        model: String,
        flavor: Flavor,
        alpha: f64,
        include_top: bool,
        classes: usize,
        input_size: [usize; 2],
        cut: Option<String>,
    },
    Legacy(Legacy),
}

#[derive(Deserialize)]
enum Legacy {
    InceptionV3(InceptionV3Config),
    MobileNetV2(MobileNetV2Config),
}

impl<'de> Deserialize<'de> for BackboneConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        Ok(match Stored::deserialize(deserializer)? {
            Stored::Current { model, flavor, alpha, include_top, classes, input_size, cut } => {
                Self { model, flavor, alpha, include_top, classes, input_size, cut }
            }
            Stored::Legacy(Legacy::InceptionV3(config)) => config.into(),
            Stored::Legacy(Legacy::MobileNetV2(config)) => config.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations_round_trip_and_old_checkpoints_still_read() {
        let config = BackboneConfig::for_transfer("resnet50").unwrap().with_input_size([150, 150]);
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(serde_json::from_str::<BackboneConfig>(&json).unwrap(), config);
        let old = r#"{"InceptionV3":{"flavor":"Keras","cut":"mixed7","include_top":false,"classes":1000}}"#;
        let old: BackboneConfig = serde_json::from_str(old).unwrap();
        assert_eq!(old, BackboneConfig::for_transfer("inception_v3").unwrap());
        assert_eq!(old.architecture().unwrap().len(), 229);
    }

    #[test]
    fn a_saved_network_loads_with_its_configuration() {
        let device = burn::tensor::Device::flex();
        let config = BackboneConfig::new("resnet50")
            .unwrap()
            .with_input_size([64, 80])
            .with_cut(Some("conv2_block1_out".into()));
        let network = config.init(&device).unwrap();
        let path = std::env::temp_dir().join(format!("applications-save-{}.safetensors", std::process::id()));
        config.save(&network, &path).unwrap();
        let (loaded_config, loaded) = BackboneConfig::load(&path, &device).unwrap();
        assert_eq!(loaded_config, config);
        let x = burn::tensor::Tensor::<4>::ones([1, 3, 64, 80], &device);
        let output = |n: &Network| n.forward_layers(x.clone(), &[n.architecture().output()]).unwrap().remove(0);
        assert_eq!(output(&loaded).into_data(), output(&network).into_data());
        let vgg = BackboneConfig::new("vgg16").unwrap().with_cut(Some("block1_pool".into()));
        let err = vgg.pretrained(&path, &device).unwrap_err().to_string();
        assert!(err.contains("resnet50") && err.contains(&path.display().to_string()), "{err}");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn names_are_forgiving_and_unknown_ones_list_the_registry() {
        assert_eq!(BackboneConfig::new("ResNet-50").unwrap().model, "resnet50");
        let err = BackboneConfig::new("resnet18").unwrap_err().to_string();
        assert!(err.contains("inception_v3, mobilenet_v2, resnet50, vgg16, xception"), "{err}");
    }
}
