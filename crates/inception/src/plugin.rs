//! InceptionV3 as a backbone plug-in ([`InceptionV3Backbone`], registry name `inception_v3`).

use backbone::weights::KerasWeightFile;
use backbone::{Architecture, Backbone, BackboneOptions, Flavor, OfficialWeights, Preprocess, Result, TorchKeys};

use crate::description::inception_v3;

/// Keras' `InceptionV3` (and torchvision's `inception_v3`) as a backbone plug-in.
#[derive(Debug, Clone, Copy)]
pub struct InceptionV3Backbone;

impl Backbone for InceptionV3Backbone {
    fn name(&self) -> &'static str {
        "inception_v3"
    }

    fn title(&self) -> &'static str {
        "InceptionV3"
    }

    fn flavors(&self) -> &'static [Flavor] {
        &[Flavor::Keras, Flavor::Torchvision]
    }

    fn default_input(&self) -> [usize; 2] {
        [299, 299]
    }

    /// The course's cut.
    fn transfer_cut(&self) -> &'static str {
        "mixed7"
    }

    fn describe(&self, options: &BackboneOptions) -> Result<Architecture> {
        let whole = inception_v3(options.flavor, options.classes);
        match options.include_top {
            true => Ok(whole),
            false => whole.cut_at("mixed10"),
        }
    }

    /// Keras' `mode="tf"` in both flavours (torchvision's network takes the same range once
    /// its `transform_input` has run).
    fn preprocess(&self, _flavor: Flavor) -> Option<Preprocess> {
        Some(Preprocess::Tf)
    }

    /// Every weighted layer automatically named (`conv2d_N`, `batch_normalization_N`) but
    /// the top.
    fn recognises_keras(&self, file: &KerasWeightFile) -> bool {
        let auto = |name: &str| name.starts_with("conv2d") || name.starts_with("batch_normalization");
        file.layers.iter().any(|l| l.name.starts_with("conv2d"))
            && file.layers.iter().all(|l| auto(&l.name) || l.name == "predictions")
    }

    fn torch_keys(&self) -> Option<TorchKeys> {
        Some(TorchKeys { first: "Conv2d_1a_3x3.", ignored: &["AuxLogits."] })
    }

    fn notop_weights(&self) -> OfficialWeights {
        OfficialWeights {
            file: "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
            url: "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
        }
    }
}
