//! Weight files: Keras `.h5`, torchvision / timm `.pth` and `.safetensors`, and this
//! project's own safetensors. Every load sets every parameter or fails with a typed error.

pub(crate) mod keras_h5;
pub(crate) mod named;
pub(crate) mod native;
pub(crate) mod torch;

pub use keras_h5::keras_tensors;
pub use keras_h5::{KerasLayer, KerasWeight, KerasWeightFile};
pub use named::{NamedTensor, apply_named};
pub use native::{NETWORK_KEY, SafetensorsFile, native_tensors, read_safetensors, safetensors_metadata, save_network};
pub use torch::{StateDict, read_state_dict, torch_tensors};

use crate::files::regular_file;

use std::io::Read;
use std::path::Path;

use crate::error::{NetworkError, Result};

/// The kinds of weight file the networks read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightFormat {
    /// A Keras `.h5` weight file (HDF5).
    KerasH5,
    /// A torchvision / timm state dict (`.pth`, `.pt`, `.bin` or `.safetensors` with
    /// torchvision keys).
    Torchvision,
    /// A safetensors file written by this project (a network's `save`).
    Native,
}

/// Tells a weight file's format from its first bytes and, for safetensors, its header.
pub fn detect_format(path: &Path) -> Result<WeightFormat> {
    let io = |source| NetworkError::Io { path: path.to_path_buf(), source };
    regular_file(path).map_err(io)?;
    let mut magic = [0u8; 8];
    let mut file = std::fs::File::open(path).map_err(io)?;
    let read = file.read(&mut magic).map_err(io)?;
    if read == 8 && &magic == b"\x89HDF\r\n\x1a\n" {
        return Ok(WeightFormat::KerasH5);
    }
    if path.extension().is_some_and(|e| e == "safetensors") {
        return match safetensors_metadata(path)?.contains_key(NETWORK_KEY) {
            true => Ok(WeightFormat::Native),
            false => Ok(WeightFormat::Torchvision),
        };
    }
    if read >= 2 && (magic[..2] == *b"PK" || magic[0] == 0x80) {
        return Ok(WeightFormat::Torchvision);
    }
    Err(NetworkError::BadWeightFile {
        path: path.to_path_buf(),
        reason: "neither HDF5 (Keras .h5), a PyTorch checkpoint nor safetensors".into(),
    })
}
