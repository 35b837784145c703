//! `ImageDataGenerator` with Keras' parameter names: validated configuration, random
//! parameter draws in Keras' order, and `apply_transform` / `standardize`.

use burn::config::Config;
use rand::Rng;

use crate::affine::{FillMode, Geometry, Sampling, flip_horizontal, flip_vertical, warp, warp_mirrored_into};
use crate::color::{brightness, channel_shift};
use crate::decode::Interpolation;
use crate::error::{AugmentError, Result};
use crate::image::Image;
use crate::params::TransformParams;

/// A shift range as Keras accepts it for `width_shift_range` / `height_shift_range`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum ShiftRange {
    /// A float: `U(-r, r)`, a fraction of the size when `r < 1`, pixels otherwise.
    Uniform(f64),
    /// An int `n`: a whole number of pixels from `0..n`, with a random sign (Keras draws
    /// `np.random.choice(n) * np.random.choice([-1, 1])`).
    Pixels(u32),
    /// A list: one of the values, with a random sign; fractions when all are below 1.
    Choices(Vec<f64>),
}

impl Default for ShiftRange {
    fn default() -> Self {
        ShiftRange::Uniform(0.0)
    }
}

impl From<f64> for ShiftRange {
    /// Keras' float form.
    fn from(range: f64) -> Self {
        ShiftRange::Uniform(range)
    }
}

impl ShiftRange {
    fn is_off(&self) -> bool {
        match self {
            ShiftRange::Uniform(r) => *r == 0.0,
            ShiftRange::Pixels(n) => *n == 0,
            ShiftRange::Choices(c) => c.is_empty(),
        }
    }

    fn validate(&self, parameter: &'static str) -> Result<()> {
        let bad = |value: String, reason| Err(AugmentError::InvalidParameter { parameter, value, reason });
        match self {
            ShiftRange::Uniform(r) if !r.is_finite() || *r < 0.0 => bad(r.to_string(), "must be a finite value >= 0"),
            ShiftRange::Choices(c) if c.iter().any(|v| !v.is_finite()) => {
                bad(format!("{c:?}"), "choices must be finite")
            }
            _ => Ok(()),
        }
    }

    /// Draws a shift for an axis of `size` pixels (Keras' rules, one or two RNG draws).
    fn draw(&self, size: usize, rng: &mut impl Rng) -> f64 {
        let (value, max) = match self {
            ShiftRange::Uniform(r) => (uniform(rng, -r, *r), *r),
            ShiftRange::Pixels(n) => {
                let v = rng.random_range(0..*n) as f64;
                (v * sign(rng), *n as f64)
            }
            ShiftRange::Choices(c) => {
                let v = c[rng.random_range(0..c.len())];
                (v * sign(rng), c.iter().cloned().fold(f64::NEG_INFINITY, f64::max))
            }
        };
        if max < 1.0 { value * size as f64 } else { value }
    }
}

fn uniform(rng: &mut impl Rng, low: f64, high: f64) -> f64 {
    low + (high - low) * rng.random::<f64>()
}

fn sign(rng: &mut impl Rng) -> f64 {
    if rng.random_range(0..2) == 0 { -1.0 } else { 1.0 }
}

/// Keras' `ImageDataGenerator` arguments (same names, same defaults), as every
/// configuration of these crates: public fields, `new()` with Keras' defaults, `with_*`
/// setters (Burn's `Config`). Keras' shorthand forms have their own setters:
/// [`ImageDataGeneratorConfig::with_zoom`] (a float `z`), [`ShiftRange`]'s `From<f64>`.
///
/// ```
/// use augment::{FillMode, ImageDataGeneratorConfig};
/// let generator = ImageDataGeneratorConfig::new()
///     .with_rescale(Some(1.0 / 255.0))
///     .with_rotation_range(40.0)
///     .with_horizontal_flip(true)
///     .with_fill_mode(FillMode::Reflect)
///     .build()
///     .unwrap();
/// assert!(generator.augments());
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct ImageDataGeneratorConfig {
    /// Multiplies every value last (`1/255` in the course). Keras default: none.
    pub rescale: Option<f64>,
    /// Rotation drawn from `U(-degrees, degrees)`. Default 0.
    #[config(default = 0.0)]
    pub rotation_range: f64,
    /// Width shift (Keras' float, int or list forms). Default: none.
    #[config(default = "ShiftRange::Uniform(0.0)")]
    pub width_shift_range: ShiftRange,
    /// Height shift (Keras' float, int or list forms). Default: none.
    #[config(default = "ShiftRange::Uniform(0.0)")]
    pub height_shift_range: ShiftRange,
    /// Shear angle range in **degrees** (as Keras, despite its docs saying radians
    /// elsewhere). Default 0.
    #[config(default = 0.0)]
    pub shear_range: f64,
    /// Zoom drawn from `[lower, upper]` (Keras' float `z` is `[1 - z, 1 + z]`:
    /// [`ImageDataGeneratorConfig::with_zoom`]). Default `[1, 1]`: no zoom.
    #[config(default = "[1.0, 1.0]")]
    pub zoom_range: [f64; 2],
    /// Random left-right mirroring. Default false.
    #[config(default = false)]
    pub horizontal_flip: bool,
    /// Random top-bottom mirroring. Default false.
    #[config(default = false)]
    pub vertical_flip: bool,
    /// How to fill outside the image (with `cval` in [`FillMode::Constant`]). Default:
    /// nearest.
    #[config(default = "FillMode::Nearest")]
    pub fill_mode: FillMode,
    /// Channel shift drawn from `U(-range, range)`. Default 0.
    #[config(default = 0.0)]
    pub channel_shift_range: f64,
    /// Brightness factor drawn from `U(lower, upper)`. Default: none.
    pub brightness_range: Option<[f64; 2]>,
    /// The warp's sampling (Keras' `interpolation_order`: 1 bilinear, the default, or 0
    /// nearest; [`Interpolation::from_order`]).
    #[config(default = "Interpolation::Bilinear")]
    pub interpolation: Interpolation,
    /// Keras' exact geometry (default) or the corrected one.
    #[config(default = "Geometry::Keras")]
    pub geometry: Geometry,
}

impl Default for ImageDataGeneratorConfig {
    /// Keras' `ImageDataGenerator()`: no augmentation, no rescale.
    fn default() -> Self {
        Self::new()
    }
}

impl ImageDataGeneratorConfig {
    /// The course's training generator: `rescale=1/255, rotation_range=40,
    /// width_shift_range=0.2, height_shift_range=0.2, shear_range=0.2, zoom_range=0.2,
    /// horizontal_flip=True`.
    pub fn course() -> Self {
        Self::new()
            .with_rescale(Some(1.0 / 255.0))
            .with_rotation_range(40.0)
            .with_width_shift_range(0.2.into())
            .with_height_shift_range(0.2.into())
            .with_shear_range(0.2)
            .with_zoom(0.2)
            .with_horizontal_flip(true)
    }

    /// Keras' float `zoom_range=z`: zoom drawn from `[1 - z, 1 + z]`.
    pub fn with_zoom(self, z: f64) -> Self {
        self.with_zoom_range([1.0 - z, 1.0 + z])
    }

    /// Validates the configuration.
    pub fn build(self) -> Result<ImageDataGenerator> {
        fn bad<T>(parameter: &'static str, value: String, reason: &'static str) -> Result<T> {
            Err(AugmentError::InvalidParameter { parameter, value, reason })
        }
        let non_negative = |parameter, v: f64| match v.is_finite() && v >= 0.0 {
            true => Ok(()),
            false => bad(parameter, v.to_string(), "must be a finite value >= 0"),
        };
        non_negative("rotation_range", self.rotation_range)?;
        non_negative("shear_range", self.shear_range)?;
        non_negative("channel_shift_range", self.channel_shift_range)?;
        self.width_shift_range.validate("width_shift_range")?;
        self.height_shift_range.validate("height_shift_range")?;
        let [lo, hi] = self.zoom_range;
        if !lo.is_finite() || !hi.is_finite() || lo <= 0.0 {
            return bad(
                "zoom_range",
                format!("{:?}", self.zoom_range),
                "bounds must be finite and > 0 (a float z must be < 1)",
            );
        }
        if lo > hi {
            return bad("zoom_range", format!("{:?}", self.zoom_range), "pair is reversed: lower > upper");
        }
        if let Some([b0, b1]) = self.brightness_range
            && (!b0.is_finite() || !b1.is_finite() || b0 < 0.0 || b0 > b1)
        {
            return bad("brightness_range", format!("{:?}", [b0, b1]), "must be finite, >= 0 and ordered");
        }
        if let Some(r) = self.rescale
            && !r.is_finite()
        {
            return bad("rescale", r.to_string(), "must be finite");
        }
        if let FillMode::Constant(c) = self.fill_mode
            && !c.is_finite()
        {
            return bad("cval", c.to_string(), "must be finite");
        }
        Ok(ImageDataGenerator { config: self })
    }
}

/// A validated generator: draws and applies random transforms like Keras.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageDataGenerator {
    config: ImageDataGeneratorConfig,
}

impl ImageDataGenerator {
    /// A generator that does nothing but `rescale` (Keras `ImageDataGenerator(rescale=...)`).
    pub fn rescale_only(factor: f64) -> Self {
        Self { config: ImageDataGeneratorConfig::new().with_rescale(Some(factor)) }
    }

    /// Whether any random transform is configured.
    pub fn augments(&self) -> bool {
        let c = &self.config;
        c.rotation_range != 0.0
            || !c.width_shift_range.is_off()
            || !c.height_shift_range.is_off()
            || c.shear_range != 0.0
            || c.zoom_range != [1.0, 1.0]
            || c.horizontal_flip
            || c.vertical_flip
            || c.channel_shift_range != 0.0
            || c.brightness_range.is_some()
    }

    /// The `rescale` factor, if any.
    pub fn rescale_factor(&self) -> Option<f64> {
        self.config.rescale
    }

    /// Keras `get_random_transform` for an image of `height x width`: draws in Keras' order
    /// (rotation, tx from the height range, ty from the width range, shear, zx, zy,
    /// horizontal flip, vertical flip, channel shift, brightness), from `rng`.
    pub fn random_transform(&self, height: usize, width: usize, rng: &mut impl Rng) -> TransformParams {
        let c = &self.config;
        let mut p = TransformParams::default();
        if c.rotation_range != 0.0 {
            p.theta = uniform(rng, -c.rotation_range, c.rotation_range);
        }
        if !c.height_shift_range.is_off() {
            p.tx = c.height_shift_range.draw(height, rng);
        }
        if !c.width_shift_range.is_off() {
            p.ty = c.width_shift_range.draw(width, rng);
        }
        if c.shear_range != 0.0 {
            p.shear = uniform(rng, -c.shear_range, c.shear_range);
        }
        if c.zoom_range != [1.0, 1.0] {
            p.zx = uniform(rng, c.zoom_range[0], c.zoom_range[1]);
            p.zy = uniform(rng, c.zoom_range[0], c.zoom_range[1]);
        }
        p.flip_horizontal = rng.random::<f64>() < 0.5 && c.horizontal_flip;
        p.flip_vertical = rng.random::<f64>() < 0.5 && c.vertical_flip;
        if c.channel_shift_range != 0.0 {
            p.channel_shift_intensity = Some(uniform(rng, -c.channel_shift_range, c.channel_shift_range));
        }
        if let Some([b0, b1]) = c.brightness_range {
            p.brightness = Some(uniform(rng, b0, b1));
        }
        p
    }

    /// Keras `apply_transform` with this generator's fill mode, interpolation and geometry.
    pub fn apply_transform(&self, image: &Image, p: &TransformParams) -> Image {
        apply_transform(image, p, self.config.fill_mode, self.config.interpolation, self.config.geometry)
    }

    /// Keras `standardize` as configured here: `x *= rescale`.
    pub fn standardize(&self, image: &mut Image) {
        if let Some(r) = self.config.rescale {
            let r = r as f32;
            image.data.iter_mut().for_each(|v| *v *= r);
        }
    }

    /// Draw, apply and standardize: what `flow` does to one image.
    pub fn augment(&self, image: &Image, rng: &mut impl Rng) -> Image {
        let p = match self.augments() {
            true => self.random_transform(image.height, image.width, rng),
            false => TransformParams::default(),
        };
        if p.channel_shift_intensity.is_some() || p.brightness.is_some() {
            let mut out = self.apply_transform(image, &p);
            self.standardize(&mut out);
            return out;
        }
        // Only geometry and flips: fold `rescale` into the warp's single pass.
        let c = &self.config;
        let scale = c.rescale.unwrap_or(1.0) as f32;
        let mut out = Image::filled(image.height, image.width, image.channels, 0.0);
        let (fill, interpolation, geometry) = (c.fill_mode, c.interpolation, c.geometry);
        warp_mirrored_into(
            image,
            &p,
            Sampling { fill, interpolation, geometry },
            scale,
            p.flip_horizontal,
            &mut out.data,
        );
        if p.flip_vertical {
            flip_vertical(&mut out);
        }
        out
    }
}

/// Keras `apply_transform`: affine warp, channel shift, horizontal flip, vertical flip,
/// brightness, in that order.
pub fn apply_transform(
    image: &Image,
    p: &TransformParams,
    fill: FillMode,
    interpolation: Interpolation,
    geometry: Geometry,
) -> Image {
    let mut out = warp(image, p, fill, interpolation, geometry);
    if let Some(intensity) = p.channel_shift_intensity {
        channel_shift(&mut out, intensity);
    }
    if p.flip_horizontal {
        flip_horizontal(&mut out);
    }
    if p.flip_vertical {
        flip_vertical(&mut out);
    }
    if let Some(b) = p.brightness {
        brightness(&mut out, b);
    }
    out
}
