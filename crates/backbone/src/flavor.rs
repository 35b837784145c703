//! The two reference implementations a network reproduces.

use burn::config::Config;

/// Which reference implementation a network reproduces: Keras (`keras.applications`) or
/// torchvision. Each network says what differs (batch-norm gamma and epsilon, pooling,
/// padding); its layer names are Keras' in both.
#[derive(Config, Debug, Copy, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// `keras.applications` (TensorFlow 2.15).
    Keras,
    /// `torchvision.models`.
    Torchvision,
}

impl Flavor {
    /// Lower-case name, as the command-line flags spell it.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Keras => "keras",
            Flavor::Torchvision => "torchvision",
        }
    }
}

impl std::str::FromStr for Flavor {
    type Err = crate::NetworkError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "keras" | "tf" | "tensorflow" => Ok(Flavor::Keras),
            "torchvision" | "torch" | "pytorch" | "timm" => Ok(Flavor::Torchvision),
            _ => Err(crate::NetworkError::UnknownFlavor(s.to_string())),
        }
    }
}
