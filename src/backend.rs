//! Choosing the compute backend by name (`--backend flex|ndarray|wgpu`): each is a cargo
//! feature; the model code is the same on all of them.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

/// A Burn backend this crate can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Burn's pure-Rust CPU backend with im2col + GEMM convolutions (feature `flex`, default).
    Flex,
    /// The ndarray CPU backend (feature `ndarray`; direct convolutions, slower).
    Ndarray,
    /// The GPU backend through wgpu: Vulkan, Metal, DX12 (feature `wgpu`).
    Wgpu,
}

/// A backend that was asked for but cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// Not a backend name.
    #[error("unknown backend `{0}`: expected flex, ndarray or wgpu")]
    Unknown(String),
    /// Known, but this binary was built without its feature.
    #[error("backend `{0}` is not compiled in: rebuild with `--features {0}`")]
    NotCompiled(&'static str),
}

impl Backend {
    /// The name used on the command line and as the cargo feature.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Ndarray => "ndarray",
            Backend::Wgpu => "wgpu",
        }
    }

    /// Whether this binary was built with the backend's feature.
    pub fn is_compiled(self) -> bool {
        match self {
            Backend::Flex => cfg!(feature = "flex"),
            Backend::Ndarray => cfg!(feature = "ndarray"),
            Backend::Wgpu => cfg!(feature = "wgpu"),
        }
    }

    /// The backends compiled into this binary, fastest CPU one first.
    pub fn compiled() -> Vec<Backend> {
        [Backend::Flex, Backend::Ndarray, Backend::Wgpu].into_iter().filter(|b| b.is_compiled()).collect()
    }

    /// The default: flex when compiled (the faster CPU backend), else the first compiled.
    pub fn default_compiled() -> Option<Backend> {
        Self::compiled().into_iter().next()
    }

    /// The backend a `--backend` flag names, or the default one when the flag is absent.
    pub fn from_flag(flag: Option<&str>) -> Result<Backend, BackendError> {
        match flag {
            Some(name) => name.parse(),
            None => Self::default_compiled().ok_or(BackendError::NotCompiled("flex")),
        }
    }

    /// The device of this backend (for wgpu: the best adapter, or the one named by the
    /// `CUBECL_WGPU_DEFAULT_DEVICE` environment variable).
    pub fn device(self) -> Result<Device, BackendError> {
        match self {
            #[cfg(feature = "flex")]
            Backend::Flex => Ok(Device::flex()),
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)]
            Backend::Ndarray => Ok(Device::ndarray()),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
            #[allow(unreachable_patterns)]
            other => Err(BackendError::NotCompiled(other.name())),
        }
    }
}

impl FromStr for Backend {
    type Err = BackendError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "flex" => Ok(Backend::Flex),
            "ndarray" => Ok(Backend::Ndarray),
            "wgpu" | "gpu" | "vulkan" => Ok(Backend::Wgpu),
            _ => Err(BackendError::Unknown(s.to_string())),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
