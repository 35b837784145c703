//! MobileNetV2 as a backbone plug-in ([`MobileNetV2Backbone`], registry name `mobilenet_v2`).

use std::path::Path;

use backbone::weights::{KerasWeightFile, WeightFormat, detect_format};
use backbone::{
    Architecture, Backbone, BackboneOptions, Flavor, NetworkError, OfficialWeights, Preprocess, Result, TorchKeys,
};

use crate::model::MobileNetV2Config;
use crate::weights::{keras_file_config, native_config, torchvision_file_config};

/// Keras' `MobileNetV2` (and torchvision's `mobilenet_v2`) as a backbone plug-in.
#[derive(Debug, Clone, Copy)]
pub struct MobileNetV2Backbone;

fn config_of(options: &BackboneOptions) -> MobileNetV2Config {
    MobileNetV2Config::new()
        .with_flavor(options.flavor)
        .with_alpha(options.alpha)
        .with_include_top(options.include_top)
        .with_classes(options.classes)
        .with_input_size(options.input_size)
}

impl Backbone for MobileNetV2Backbone {
    fn name(&self) -> &'static str {
        "mobilenet_v2"
    }

    fn title(&self) -> &'static str {
        "MobileNetV2"
    }

    fn flavors(&self) -> &'static [Flavor] {
        &[Flavor::Keras, Flavor::Torchvision]
    }

    fn transfer_cut(&self) -> &'static str {
        "out_relu"
    }

    fn describe(&self, options: &BackboneOptions) -> Result<Architecture> {
        config_of(options).architecture()
    }

    /// Keras' `mode="tf"`; torchvision's ImageNet mean / std (`mode="torch"`).
    fn preprocess(&self, flavor: Flavor) -> Option<Preprocess> {
        Some(match flavor {
            Flavor::Keras => Preprocess::Tf,
            Flavor::Torchvision => Preprocess::Torch,
        })
    }

    fn recognises_keras(&self, file: &KerasWeightFile) -> bool {
        file.layers.iter().any(|l| l.name == "Conv1" || l.name == "block_16_project")
    }

    fn recognises_model_name(&self, model: &str) -> bool {
        model.starts_with("mobilenetv2_")
    }

    fn torch_keys(&self) -> Option<TorchKeys> {
        Some(TorchKeys { first: "features.17.conv.2.weight", ignored: &[] })
    }

    fn notop_weights(&self) -> OfficialWeights {
        OfficialWeights {
            file: "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
            url: "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
        }
    }

    /// The width (and, for a file with a top, the classes) the file was saved with; a file
    /// of the other flavour is an error (the flavours' weights have the same shapes but pad
    /// and normalise differently).
    fn options_for_file(&self, path: &Path, options: BackboneOptions) -> Result<BackboneOptions> {
        let file = match detect_format(path)? {
            WeightFormat::KerasH5 => keras_file_config(path, options.input_size)?,
            WeightFormat::Torchvision => torchvision_file_config(path, options.input_size)?,
            WeightFormat::Native => match native_config(path)? {
                Some(config) => config,
                None => return Ok(options),
            },
        };
        if file.flavor != options.flavor {
            return Err(NetworkError::OtherArchitecture {
                path: path.to_path_buf(),
                network: format!("MobileNetV2 ({} flavour)", options.flavor.name()),
                reason: format!("the file holds {} weights: ask for that flavour", file.flavor.name()),
            });
        }
        let classes = if options.include_top && file.include_top { file.classes } else { options.classes };
        Ok(BackboneOptions { alpha: file.alpha, classes, ..options })
    }
}
