//! Where a convolution's window goes over its input.

use crate::layer::{Padding, ZeroPadding, window_output};

/// No zero padding before a convolution.
pub(crate) const NO_PADDING: ZeroPadding = ZeroPadding::Fixed([[0, 0], [0, 0]]);

/// A convolution's window: kernel, strides, its own padding, and the zero padding of a
/// `ZeroPadding2D` folded in before it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Window {
    /// `[rows, cols]`.
    pub kernel: [usize; 2],
    /// `[rows, cols]`.
    pub strides: [usize; 2],
    /// The convolution's own padding.
    pub padding: Padding,
    /// The zero padding before it.
    pub extra: ZeroPadding,
}

impl Window {
    /// A window with no zero padding before it.
    pub fn new(kernel: [usize; 2], strides: [usize; 2], padding: Padding) -> Self {
        Self { kernel, strides, padding, extra: NO_PADDING }
    }

    /// Total padding `[[top, bottom], [left, right]]` over an input of `[rows, cols]`.
    pub fn pads(&self, [h, w]: [usize; 2]) -> [[usize; 2]; 2] {
        let extra = self.extra.resolve([h, w]);
        let size = [h + extra[0][0] + extra[0][1], w + extra[1][0] + extra[1][1]];
        let own = self.padding.explicit(size, self.kernel, self.strides).unwrap_or([[0, 0], [0, 0]]);
        [0, 1].map(|a| [own[a][0] + extra[a][0], own[a][1] + extra[a][1]])
    }

    /// Output `[rows, cols]` for an input of `[rows, cols]`.
    pub fn output_size(&self, size: [usize; 2]) -> [usize; 2] {
        let pads = self.pads(size);
        [0, 1].map(|a| window_output(size[a], pads[a], self.kernel[a], self.strides[a]))
    }
}
