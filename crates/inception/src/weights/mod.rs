//! Weight files: Keras `.h5`, torchvision / timm `.pth` and `.safetensors`, and this crate's
//! own safetensors. Every load sets every parameter or fails with a typed error.

mod keras_h5;
mod named;
mod native;
mod torchvision;

pub use keras_h5::{KerasLayer, KerasWeight, KerasWeightFile, keras_tensors};
pub use named::{NamedTensor, apply_named};
pub use native::{native_config, safetensors_metadata};
pub use torchvision::{StateDict, looks_like_torchvision, read_state_dict, torchvision_tensors};

use std::io::Read;
use std::path::Path;

use burn::tensor::Device;

use crate::error::{InceptionError, Result};
use crate::flavor::Flavor;
use crate::model::{InceptionV3, InceptionV3Config};

/// The kinds of weight file this crate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightFormat {
    /// A Keras `.h5` weight file (HDF5).
    KerasH5,
    /// A torchvision / timm state dict (`.pth`, `.pt`, `.bin` or `.safetensors` with
    /// torchvision keys).
    Torchvision,
    /// A safetensors file written by [`InceptionV3::save_safetensors`].
    Native,
}

impl WeightFormat {
    /// The flavour a file of this format was made for (Native files record theirs).
    pub fn flavor(self) -> Option<Flavor> {
        match self {
            WeightFormat::KerasH5 => Some(Flavor::Keras),
            WeightFormat::Torchvision => Some(Flavor::Torchvision),
            WeightFormat::Native => None,
        }
    }
}

/// Tells a weight file's format from its first bytes and, for safetensors, its header.
pub fn detect_format(path: &Path) -> Result<WeightFormat> {
    let io = |source| InceptionError::Io { path: path.to_path_buf(), source };
    let mut magic = [0u8; 8];
    let mut file = std::fs::File::open(path).map_err(io)?;
    let read = file.read(&mut magic).map_err(io)?;
    if read == 8 && &magic == b"\x89HDF\r\n\x1a\n" {
        return Ok(WeightFormat::KerasH5);
    }
    if path.extension().is_some_and(|e| e == "safetensors") {
        if native_config(path)?.is_some() {
            return Ok(WeightFormat::Native);
        }
        return Ok(WeightFormat::Torchvision);
    }
    if read >= 2 && (magic[..2] == *b"PK" || magic[0] == 0x80) {
        return Ok(WeightFormat::Torchvision);
    }
    Err(InceptionError::BadWeightFile {
        path: path.to_path_buf(),
        reason: "neither HDF5 (Keras .h5), a PyTorch checkpoint nor safetensors".into(),
    })
}

/// The flavour a weight file was made for.
pub fn detect_flavor(path: &Path) -> Result<Flavor> {
    match detect_format(path)? {
        WeightFormat::Native => Ok(native_config(path)?.map_or(Flavor::Keras, |c| c.flavor)),
        format => Ok(format.flavor().unwrap_or(Flavor::Keras)),
    }
}

impl InceptionV3 {
    /// Loads weights from any supported file into this model (built with the matching
    /// flavour and any cut), setting every parameter or failing.
    pub fn load_weights(self, path: &Path) -> Result<InceptionV3> {
        let tensors = match detect_format(path)? {
            WeightFormat::KerasH5 => keras_tensors(&self, &KerasWeightFile::read(path)?, path)?,
            WeightFormat::Torchvision => {
                let state = read_state_dict(path)?;
                if !looks_like_torchvision(state.keys()) {
                    return Err(InceptionError::OtherArchitecture {
                        path: path.to_path_buf(),
                        reason: format!(
                            "no `Conv2d_1a_3x3.*` key (first keys: {:?})",
                            state.keys().take(3).collect::<Vec<_>>()
                        ),
                    });
                }
                torchvision_tensors(&self, &state, path)?
            }
            WeightFormat::Native => {
                let state = read_state_dict(path)?;
                // A file of a model cut later holds blocks this one does not: leave them out.
                let file_reaches_further = native_config(path)?.is_some_and(|c| c.cut > self.cut);
                let held = named::parameter_shapes(&self);
                state
                    .into_iter()
                    .filter(|(key, _)| !file_reaches_further || held.contains_key(key))
                    .map(|(key, (shape, values))| NamedTensor::new(key.clone(), &key, shape, values))
                    .collect()
            }
        };
        apply_named(self, tensors, path)
    }

    /// Builds a model with `config` and loads `path` into it: the usual way to get a
    /// pretrained network.
    ///
    /// ```no_run
    /// use inception::{Flavor, InceptionV3, InceptionV3Config, LayerName};
    /// let device = burn::tensor::Device::default();
    /// let config = InceptionV3Config::new(Flavor::Keras).with_cut(LayerName::Mixed7);
    /// let path = std::path::Path::new("weights/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5");
    /// let base = InceptionV3::pretrained(&config, path, &device)?;
    /// # Ok::<(), inception::InceptionError>(())
    /// ```
    pub fn pretrained(config: &InceptionV3Config, path: &Path, device: &Device) -> Result<InceptionV3> {
        config.init(device)?.load_weights(path)
    }
}
