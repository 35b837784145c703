//! The photometric transforms of Keras' `apply_transform`: channel shift and brightness.

use crate::image::Image;

/// Keras `apply_channel_shift`: `x = clip(x + intensity, min(x), max(x))` with the minimum
/// and maximum of the whole image (all channels).
pub fn channel_shift(image: &mut Image, intensity: f64) {
    let (lo, hi) = image.data.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let shift = intensity as f32;
    for v in &mut image.data {
        *v = (*v + shift).clamp(lo, hi);
    }
}

/// Keras `apply_brightness_shift(x, brightness, scale=False)` as `apply_transform` calls it:
/// the image goes through 8-bit Pillow and `ImageEnhance.Brightness`, so values become
/// whole numbers `trunc(b * trunc(v))` clipped to 0..255. An image outside 0..255 is
/// min-max scaled to 0..255 first and scaled back after, as Keras does.
pub fn brightness(image: &mut Image, factor: f64) {
    let (lo, hi) = image.data.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let rescaled = lo < 0.0 || hi > 255.0;
    let span = hi - lo;
    let alpha = factor as f32;
    for v in &mut image.data {
        let x = if rescaled {
            // array_to_img(scale=True): x - min, / max, * 255, then uint8.
            let mut x = *v - lo;
            if span != 0.0 {
                x /= span;
            }
            x * 255.0
        } else {
            *v
        };
        let byte = x as u8 as f32; // astype('uint8') truncates
        let blended = alpha * byte; // Pillow blend with black, in float
        let out = if blended <= 0.0 {
            0.0
        } else if blended >= 255.0 {
            255.0
        } else {
            blended.trunc()
        };
        *v = if rescaled { out / 255.0 * span + lo } else { out };
    }
}
