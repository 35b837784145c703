//! Choosing the compute backend by name (`--backend flex|ndarray|wgpu|cuda`): each is a cargo
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
    /// NVIDIA GPUs through CUDA (feature `cuda`; the driver and CUDA libraries are loaded
    /// when the backend is first used, so it builds without the CUDA toolkit).
    Cuda,
}

/// A backend that was asked for but cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// Not a backend name.
    #[error("unknown backend `{0}`: expected flex, ndarray, wgpu or cuda")]
    Unknown(String),
    /// Known, but this binary was built without its feature.
    #[error(
        "backend `{0}` is not compiled in: rebuild with `--features {0}` (as a dependency: `inception-transfer = {{ features = [\"{0}\"] }}`)"
    )]
    NotCompiled(&'static str),
    /// Compiled in, but no usable device (no GPU, no driver).
    #[error("backend `{backend}` has no usable device: {reason}")]
    Unavailable {
        /// The backend.
        backend: &'static str,
        /// What failed.
        reason: String,
    },
}

impl Backend {
    /// The name used on the command line and as the cargo feature.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Ndarray => "ndarray",
            Backend::Wgpu => "wgpu",
            Backend::Cuda => "cuda",
        }
    }

    /// Whether this binary was built with the backend's feature.
    pub fn is_compiled(self) -> bool {
        match self {
            Backend::Flex => cfg!(feature = "flex"),
            Backend::Ndarray => cfg!(feature = "ndarray"),
            Backend::Wgpu => cfg!(feature = "wgpu"),
            Backend::Cuda => cfg!(feature = "cuda"),
        }
    }

    /// The backends compiled into this binary, fastest CPU one first.
    pub fn compiled() -> Vec<Backend> {
        [Backend::Flex, Backend::Ndarray, Backend::Wgpu, Backend::Cuda]
            .into_iter()
            .filter(|b| b.is_compiled())
            .collect()
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
    /// `CUBECL_WGPU_DEFAULT_DEVICE` environment variable; for cuda: GPU 0). A GPU backend
    /// is tried on a one-element tensor first, so a machine without the GPU or its driver
    /// gets [`BackendError::Unavailable`] instead of a panic later.
    pub fn device(self) -> Result<Device, BackendError> {
        match self {
            #[cfg(feature = "flex")]
            Backend::Flex => Ok(Device::flex()),
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)]
            Backend::Ndarray => Ok(Device::ndarray()),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => usable(self, || Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
            #[cfg(feature = "cuda")]
            Backend::Cuda => usable(self, || Device::cuda(0)),
            #[allow(unreachable_patterns)]
            other => Err(BackendError::NotCompiled(other.name())),
        }
    }
}

/// The device `make` gives, once a tiny computation on it has worked. Burn's GPU runtimes
/// panic when there is no adapter or driver; the panic is caught here (its message kept
/// for the error, the default report silenced for the probe).
#[cfg(any(feature = "wgpu", feature = "cuda"))]
fn usable(backend: Backend, make: impl FnOnce() -> Device + std::panic::UnwindSafe) -> Result<Device, BackendError> {
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let probe = std::panic::catch_unwind(|| {
        let device = make();
        let sum = burn::tensor::Tensor::<1>::ones([1], &device).sum().into_scalar::<f32>();
        (device, sum)
    });
    std::panic::set_hook(previous_hook);
    match probe {
        Ok((device, 1.0)) => Ok(device),
        Ok((_, sum)) => Err(BackendError::Unavailable { backend: backend.name(), reason: format!("1 + 0 gave {sum}") }),
        Err(panic) => {
            let reason = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the runtime panicked".into());
            let hint = match backend {
                Backend::Cuda => {
                    "check the NVIDIA driver (`nvidia-smi`) and that libcuda and libnvrtc are on the library path"
                }
                _ => "check the GPU driver (`vulkaninfo --summary`) and CUBECL_WGPU_DEFAULT_DEVICE",
            };
            Err(BackendError::Unavailable { backend: backend.name(), reason: format!("{reason} ({hint})") })
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
            "cuda" => Ok(Backend::Cuda),
            _ => Err(BackendError::Unknown(s.to_string())),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
