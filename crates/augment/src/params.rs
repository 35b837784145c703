//! The parameters of one random transform, named as the dict Keras'
//! `ImageDataGenerator.get_random_transform` returns and `apply_transform` takes.

use serde::{Deserialize, Serialize};

/// One image's transform, in Keras' units and with Keras' (quirky) meanings.
///
/// Missing fields mean identity, as in Keras' `apply_transform`.
///
/// # Quirks kept from Keras (the default, [`crate::Geometry::Keras`])
/// - `tx` is drawn from `height_shift_range` (scaled by the image **height**) but moves the
///   content **horizontally**: `tx = 15` gives `out[r, c] = in[r, c + 15]`; `ty` (from
///   `width_shift_range`, scaled by the width) moves it vertically.
/// - `shear` is in **degrees** (the course's `shear_range=0.2` is +-0.2 degrees).
/// - `zx` scales the sampling of columns, `zy` of rows: a zoom below 1 magnifies.
/// - The rotation/shear/zoom centre is `(rows/2 - 0.5, cols/2 - 0.5)` applied to
///   (column, row): on a non-square image the centre is off (the axes are swapped).
/// - Positive `theta` turns the picture counter-clockwise on screen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransformParams {
    /// Rotation in degrees.
    pub theta: f64,
    /// Shift, pixels (see the quirks above).
    pub tx: f64,
    /// Shift, pixels (see the quirks above).
    pub ty: f64,
    /// Shear angle in degrees.
    pub shear: f64,
    /// Zoom factor on the column axis.
    pub zx: f64,
    /// Zoom factor on the row axis.
    pub zy: f64,
    /// Mirror left-right (after the warp).
    pub flip_horizontal: bool,
    /// Mirror top-bottom (after the warp).
    pub flip_vertical: bool,
    /// Channel shift intensity, added to every channel and clipped to the image's range.
    pub channel_shift_intensity: Option<f64>,
    /// Brightness factor (Pillow `ImageEnhance.Brightness`), applied last.
    pub brightness: Option<f64>,
}

impl Default for TransformParams {
    fn default() -> Self {
        Self {
            theta: 0.0,
            tx: 0.0,
            ty: 0.0,
            shear: 0.0,
            zx: 1.0,
            zy: 1.0,
            flip_horizontal: false,
            flip_vertical: false,
            channel_shift_intensity: None,
            brightness: None,
        }
    }
}

impl TransformParams {
    /// Whether the geometric (affine) part is the identity.
    pub fn is_affine_identity(&self) -> bool {
        self.theta == 0.0 && self.tx == 0.0 && self.ty == 0.0 && self.shear == 0.0 && self.zx == 1.0 && self.zy == 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_parameter_names_are_errors_listing_the_valid_ones() {
        let err = serde_json::from_str::<TransformParams>(r#"{"thetta": 30}"#).unwrap_err().to_string();
        assert!(err.contains("unknown field `thetta`") && err.contains("`theta`"), "{err}");
        let params: TransformParams = serde_json::from_str(r#"{"theta": 30}"#).unwrap();
        assert_eq!(params.theta, 30.0);
    }
}
