//! The named layers users ask for most: Keras' block ends and the two inner concatenations
//! (any other layer is reached by its Keras name).

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use backbone::{Architecture, NetworkError};

use crate::description::inception_v3;
use backbone::Flavor;

/// A Keras layer name of InceptionV3 that ends a block or an inner concatenation, in network order.
///
/// `mixed9_0` is the 1x3/3x1 concatenation inside `mixed9`, `mixed9_1` the one inside `mixed10`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerName {
    /// First 35x35 block (torchvision `Mixed_5b`).
    Mixed0,
    /// Second 35x35 block (`Mixed_5c`).
    Mixed1,
    /// Third 35x35 block (`Mixed_5d`).
    Mixed2,
    /// Reduction to 17x17 (`Mixed_6a`).
    Mixed3,
    /// First 17x17 block (`Mixed_6b`).
    Mixed4,
    /// Second 17x17 block (`Mixed_6c`).
    Mixed5,
    /// Third 17x17 block (`Mixed_6d`).
    Mixed6,
    /// Fourth 17x17 block (`Mixed_6e`): where the course cuts.
    Mixed7,
    /// Reduction to 8x8 (`Mixed_7a`).
    Mixed8,
    /// Inner concatenation of mixed9's 1x3/3x1 branch.
    Mixed9_0,
    /// First 8x8 block (`Mixed_7b`).
    Mixed9,
    /// Inner concatenation of mixed10's 1x3/3x1 branch.
    Mixed9_1,
    /// Last block (`Mixed_7c`).
    Mixed10,
}

impl LayerName {
    /// Every named layer, in network order.
    pub const ALL: [LayerName; 13] = [
        LayerName::Mixed0,
        LayerName::Mixed1,
        LayerName::Mixed2,
        LayerName::Mixed3,
        LayerName::Mixed4,
        LayerName::Mixed5,
        LayerName::Mixed6,
        LayerName::Mixed7,
        LayerName::Mixed8,
        LayerName::Mixed9_0,
        LayerName::Mixed9,
        LayerName::Mixed9_1,
        LayerName::Mixed10,
    ];

    /// The Keras name (`mixed7`).
    pub fn keras_name(self) -> &'static str {
        use LayerName::*;
        match self {
            Mixed0 => "mixed0",
            Mixed1 => "mixed1",
            Mixed2 => "mixed2",
            Mixed3 => "mixed3",
            Mixed4 => "mixed4",
            Mixed5 => "mixed5",
            Mixed6 => "mixed6",
            Mixed7 => "mixed7",
            Mixed8 => "mixed8",
            Mixed9_0 => "mixed9_0",
            Mixed9 => "mixed9",
            Mixed9_1 => "mixed9_1",
            Mixed10 => "mixed10",
        }
    }

    /// The torchvision module name (`Mixed_6e`), for the block ends.
    pub fn torchvision_name(self) -> Option<&'static str> {
        use LayerName::*;
        Some(match self {
            Mixed0 => "Mixed_5b",
            Mixed1 => "Mixed_5c",
            Mixed2 => "Mixed_5d",
            Mixed3 => "Mixed_6a",
            Mixed4 => "Mixed_6b",
            Mixed5 => "Mixed_6c",
            Mixed6 => "Mixed_6d",
            Mixed7 => "Mixed_6e",
            Mixed8 => "Mixed_7a",
            Mixed9 => "Mixed_7b",
            Mixed10 => "Mixed_7c",
            Mixed9_0 | Mixed9_1 => return None,
        })
    }

    /// Output channels of the layer.
    pub fn channels(self) -> usize {
        let architecture = shapes_architecture();
        architecture.channels(architecture.index_of(self.keras_name()).expect("every LayerName is a layer"))
    }
}

/// The whole network, for questions of shape (which do not depend on the flavour).
fn shapes_architecture() -> &'static Architecture {
    static ARCHITECTURE: OnceLock<Architecture> = OnceLock::new();
    ARCHITECTURE.get_or_init(|| inception_v3(Flavor::Keras, 1000))
}

impl fmt::Display for LayerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keras_name())
    }
}

impl FromStr for LayerName {
    type Err = NetworkError;

    /// Parses a Keras name (`mixed7`) or a torchvision block name (`Mixed_6e`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LayerName::ALL.into_iter().find(|name| name.keras_name() == s || name.torchvision_name() == Some(s)).ok_or_else(
            || NetworkError::UnknownLayer {
                name: s.to_string(),
                network: "InceptionV3 (block ends)".into(),
                valid: LayerName::ALL.map(LayerName::keras_name).join(", ")
                    + " (or a torchvision name such as Mixed_6e)",
            },
        )
    }
}

impl LayerName {
    /// Output shape `[rows, cols, channels]` (Keras `get_layer(name).output_shape`, NHWC
    /// without the batch) for an input of `[rows, cols]` pixels.
    ///
    /// ```
    /// use inception::LayerName;
    /// assert_eq!(LayerName::Mixed7.output_shape([150, 150]).unwrap(), [7, 7, 768]);
    /// assert_eq!(LayerName::Mixed10.output_shape([299, 299]).unwrap(), [8, 8, 2048]);
    /// ```
    pub fn output_shape(self, input: [usize; 2]) -> Result<[usize; 3], NetworkError> {
        let architecture = shapes_architecture();
        let index = architecture.index_of(self.keras_name())?;
        let shape = architecture.output_shape(index, input)?;
        Ok([shape[0], shape[1], shape[2]])
    }
}

#[cfg(test)]
mod tests {
    use super::LayerName;

    /// Every block name reads back from its Keras spelling and its torchvision one; the
    /// channels are Keras' (`model.get_layer(name).output_shape[-1]`).
    #[test]
    fn names_round_trip_and_channels_are_keras() {
        for name in LayerName::ALL {
            assert_eq!(name.keras_name().parse::<LayerName>().unwrap(), name);
            assert_eq!(name.to_string(), name.keras_name());
            if let Some(torch) = name.torchvision_name() {
                assert_eq!(torch.parse::<LayerName>().unwrap(), name);
            }
        }
        assert_eq!("Mixed_6e".parse::<LayerName>().unwrap(), LayerName::Mixed7);
        let channels: Vec<usize> = LayerName::ALL.map(LayerName::channels).to_vec();
        assert_eq!(channels, [256, 288, 288, 768, 768, 768, 768, 768, 1280, 768, 2048, 768, 2048]);
        let err = "mixed11".parse::<LayerName>().unwrap_err().to_string();
        assert!(err.contains("mixed11") && err.contains("mixed10"), "{err}");
    }
}
