//! The two numerically different InceptionV3 variants in the wild.

use burn::config::Config;

/// Which reference implementation the network reproduces.
///
/// Topology, kernels and the batch-norm epsilon (1e-3) are the same; two details differ.
#[derive(Config, Debug, Copy, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// `keras.applications.InceptionV3`: batch norm without `gamma` (`scale=False`) and
    /// 3x3 average pooling that divides by the number of real pixels (padding excluded).
    Keras,
    /// `torchvision.models.inception_v3`: batch norm with `gamma` and average pooling that
    /// counts the padded zeros (`count_include_pad=True`, always divides by 9).
    Torchvision,
}

impl Flavor {
    /// Whether every batch norm has a learnable `gamma`.
    pub fn batch_norm_has_gamma(self) -> bool {
        self == Flavor::Torchvision
    }

    /// Whether the branch-pool average pooling counts padded zeros.
    pub fn avg_pool_counts_padding(self) -> bool {
        self == Flavor::Torchvision
    }

    /// Lower-case name, as the command-line flags spell it.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Keras => "keras",
            Flavor::Torchvision => "torchvision",
        }
    }
}

impl std::str::FromStr for Flavor {
    type Err = crate::InceptionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "keras" | "tf" | "tensorflow" => Ok(Flavor::Keras),
            "torchvision" | "torch" | "pytorch" | "timm" => Ok(Flavor::Torchvision),
            _ => Err(crate::InceptionError::UnknownFlavor(s.to_string())),
        }
    }
}
