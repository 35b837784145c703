//! The named layers users ask for: Keras' block ends and the two inner concatenations.

use std::fmt;
use std::str::FromStr;

use crate::error::InceptionError;

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
        use LayerName::*;
        match self {
            Mixed0 => 256,
            Mixed1 | Mixed2 => 288,
            Mixed3 | Mixed4 | Mixed5 | Mixed6 | Mixed7 => 768,
            Mixed8 => 1280,
            Mixed9_0 | Mixed9_1 => 768,
            Mixed9 | Mixed10 => 2048,
        }
    }
}

impl fmt::Display for LayerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keras_name())
    }
}

impl FromStr for LayerName {
    type Err = InceptionError;

    /// Parses a Keras name (`mixed7`) or a torchvision block name (`Mixed_6e`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LayerName::ALL
            .into_iter()
            .find(|name| name.keras_name() == s || name.torchvision_name() == Some(s))
            .ok_or_else(|| InceptionError::UnknownLayer(s.to_string()))
    }
}

/// Spatial size `[rows, cols]` at the end of the stem and of each grid, for an input size.
pub(crate) fn grid_sizes(input: [usize; 2]) -> [[usize; 2]; 3] {
    let axis = |n: usize| {
        let stem = {
            let n = (n - 3) / 2 + 1; // 3x3/2 valid
            let n = n - 2; // 3x3 valid (then 3x3 same)
            let n = (n - 3) / 2 + 1; // max pool 3x3/2
            let n = n - 2; // 3x3 valid (after 1x1)
            (n - 3) / 2 + 1 // max pool 3x3/2
        };
        let g17 = (stem - 3) / 2 + 1;
        let g8 = (g17 - 3) / 2 + 1;
        [stem, g17, g8]
    };
    let (r, c) = (axis(input[0]), axis(input[1]));
    [[r[0], c[0]], [r[1], c[1]], [r[2], c[2]]]
}

/// Checks that an input size is at least 75x75.
pub(crate) fn check_input_size(height: usize, width: usize) -> Result<(), InceptionError> {
    if height < 75 || width < 75 {
        return Err(InceptionError::InputTooSmall { height, width });
    }
    Ok(())
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
    pub fn output_shape(self, input: [usize; 2]) -> Result<[usize; 3], InceptionError> {
        check_input_size(input[0], input[1])?;
        let [g35, g17, g8] = grid_sizes(input);
        let grid = match self {
            LayerName::Mixed0 | LayerName::Mixed1 | LayerName::Mixed2 => g35,
            LayerName::Mixed8 | LayerName::Mixed9_0 | LayerName::Mixed9 => g8,
            LayerName::Mixed9_1 | LayerName::Mixed10 => g8,
            _ => g17,
        };
        Ok([grid[0], grid[1], self.channels()])
    }
}
