//! Each layer kind's output size.

use super::{LayerKind, Padding, window_output};

/// Why a layer cannot take its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputError {
    /// A window does not fit the input.
    TooSmall,
    /// A flattening layer gets another number of features than it was built for.
    Flatten {
        /// Features it was built for.
        expected: usize,
        /// Features its input has.
        found: usize,
    },
    /// A reshaping layer gets another number of values than its target shape holds.
    Reshape {
        /// Values of its target shape.
        expected: usize,
        /// Values its input has.
        found: usize,
    },
}

impl LayerKind {
    /// The output `[rows, cols]` for an input of shape `first` (`[rows, cols, channels]`
    /// of the first input; empty for the input layer, which gives the network's `input`), or
    /// `None` for a vector.
    pub fn output_spatial(&self, first: &[usize], input: [usize; 2]) -> Result<Option<[usize; 2]>, OutputError> {
        let windowed = |kernel: [usize; 2], strides: [usize; 2], padding: Padding| {
            let size = [first[0], first[1]];
            let pad = padding.explicit(size, kernel, strides).ok_or(OutputError::TooSmall)?;
            Ok(Some([0, 1].map(|a| window_output(size[a], pad[a], kernel[a], strides[a]))))
        };
        match self {
            LayerKind::Input { .. } => Ok(Some(input)),
            LayerKind::Conv2D { kernel, strides, padding, .. }
            | LayerKind::DepthwiseConv2D { kernel, strides, padding, .. }
            | LayerKind::SeparableConv2D { kernel, strides, padding, .. } => windowed(*kernel, *strides, *padding),
            LayerKind::MaxPooling2D { pool, strides, padding }
            | LayerKind::AveragePooling2D { pool, strides, padding, .. } => windowed(*pool, *strides, *padding),
            LayerKind::ZeroPadding2D { padding } => {
                let padding = padding.resolve([first[0], first[1]]);
                Ok(Some([first[0] + padding[0][0] + padding[0][1], first[1] + padding[1][0] + padding[1][1]]))
            }
            LayerKind::Flatten { features } => {
                let found: usize = first.iter().product();
                match found == *features {
                    true => Ok(None),
                    false => Err(OutputError::Flatten { expected: *features, found }),
                }
            }
            LayerKind::Reshape { shape } => {
                let (expected, found) = (shape.iter().product(), first.iter().product());
                match expected == found {
                    true => Ok(Some([shape[0], shape[1]])),
                    false => Err(OutputError::Reshape { expected, found }),
                }
            }
            LayerKind::GlobalAveragePooling2D | LayerKind::Dense { .. } => Ok(None),
            _ if first.len() == 3 => Ok(Some([first[0], first[1]])),
            _ => Ok(None),
        }
    }
}
