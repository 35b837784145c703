//! Keras' `preprocess_input` modes: what a backbone's weights expect of 0..255 RGB pixels,
//! applied as the model's first step in training, evaluation, prediction and feature
//! extraction alike.

use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// ImageNet's channel means of `torch` mode (RGB, on 0..1).
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet's channel standard deviations of `torch` mode (RGB, on 0..1).
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];
/// The channel means `caffe` mode subtracts, in BGR order (Keras' `[103.939, 116.779, 123.68]`).
pub const CAFFE_MEAN_BGR: [f32; 3] = [103.939, 116.779, 123.68];

/// A fixed preprocessing of 0..255 RGB pixels (Keras' `imagenet_utils.preprocess_input`
/// modes, or a `Rescaling` in front of the model), with Keras' float32 operations in Keras'
/// order.
///
/// Serialised as `"tf"`, `"torch"`, `"caffe"`, or `{"scale": s, "offset": o}` (the form
/// checkpoints written before the modes existed hold).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(from = "Stored", into = "Stored")]
pub enum Preprocess {
    /// `x * scale + offset` (Keras `Rescaling(scale, offset)`; the course's `rescale=1/255`
    /// is `scale = 1/255`).
    Scale {
        /// The factor.
        scale: f64,
        /// Added after scaling.
        offset: f64,
    },
    /// Keras `mode="tf"`: `x / 127.5 - 1` (InceptionV3, MobileNetV2, Xception).
    Tf,
    /// Keras `mode="torch"`: `x / 255`, minus [`IMAGENET_MEAN`], over [`IMAGENET_STD`]
    /// (torchvision's networks, DenseNet).
    Torch,
    /// Keras `mode="caffe"`: RGB to BGR, minus [`CAFFE_MEAN_BGR`], no scaling (ResNet50,
    /// VGG16).
    Caffe,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Stored {
    Scale { scale: f64, offset: f64 },
    Mode(Mode),
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    Tf,
    Torch,
    Caffe,
}

impl From<Stored> for Preprocess {
    fn from(stored: Stored) -> Self {
        match stored {
            Stored::Scale { scale, offset } => Preprocess::Scale { scale, offset },
            Stored::Mode(Mode::Tf) => Preprocess::Tf,
            Stored::Mode(Mode::Torch) => Preprocess::Torch,
            Stored::Mode(Mode::Caffe) => Preprocess::Caffe,
        }
    }
}

impl From<Preprocess> for Stored {
    fn from(preprocess: Preprocess) -> Self {
        match preprocess {
            Preprocess::Scale { scale, offset } => Stored::Scale { scale, offset },
            Preprocess::Tf => Stored::Mode(Mode::Tf),
            Preprocess::Torch => Stored::Mode(Mode::Torch),
            Preprocess::Caffe => Stored::Mode(Mode::Caffe),
        }
    }
}

impl Preprocess {
    /// Keras' `preprocess_input` of InceptionV3 / MobileNetV2 / Xception (`mode="tf"`).
    pub fn preprocess_input() -> Self {
        Preprocess::Tf
    }

    /// `x * scale + offset`.
    pub fn scale(scale: f64, offset: f64) -> Self {
        Preprocess::Scale { scale, offset }
    }

    /// Keras' mode name (`tf`, `torch`, `caffe`; `rescale` for a plain scaling).
    pub fn name(&self) -> &'static str {
        match self {
            Preprocess::Scale { .. } => "rescale",
            Preprocess::Tf => "tf",
            Preprocess::Torch => "torch",
            Preprocess::Caffe => "caffe",
        }
    }

    /// Preprocesses a batch of 0..255 RGB images.
    ///
    /// # Shapes
    /// - images: `[batch, 3, rows, cols]` (NCHW, RGB); output the same shape (BGR for
    ///   `caffe`)
    pub fn apply(self, images: Tensor<4>) -> Tensor<4> {
        let channels = |values: [f32; 3], images: &Tensor<4>| {
            Tensor::<4>::from_data(TensorData::new(values.to_vec(), [1, 3, 1, 1]), &images.device())
        };
        match self {
            Preprocess::Scale { scale, offset } => images.mul_scalar(scale as f32).add_scalar(offset as f32),
            Preprocess::Tf => images.div_scalar(127.5).sub_scalar(1.0),
            Preprocess::Torch => {
                let (mean, std) = (channels(IMAGENET_MEAN, &images), channels(IMAGENET_STD, &images));
                images.div_scalar(255.0).sub(mean).div(std)
            }
            Preprocess::Caffe => {
                let mean = channels(CAFFE_MEAN_BGR, &images);
                images.flip([1]).sub(mean)
            }
        }
    }

    /// Preprocesses channels-last RGB pixels in place (`[.., 3]`, channel fastest), the
    /// same float32 operations as [`Preprocess::apply`].
    pub fn apply_nhwc(self, pixels: &mut [f32]) {
        for pixel in pixels.chunks_exact_mut(3) {
            match self {
                Preprocess::Scale { scale, offset } => {
                    pixel.iter_mut().for_each(|v| *v = *v * scale as f32 + offset as f32)
                }
                Preprocess::Tf => pixel.iter_mut().for_each(|v| *v = *v / 127.5 - 1.0),
                Preprocess::Torch => {
                    for (c, v) in pixel.iter_mut().enumerate() {
                        *v = (*v / 255.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
                    }
                }
                Preprocess::Caffe => {
                    let [r, g, b] = [pixel[0], pixel[1], pixel[2]];
                    pixel.copy_from_slice(&[b - CAFFE_MEAN_BGR[0], g - CAFFE_MEAN_BGR[1], r - CAFFE_MEAN_BGR[2]]);
                }
            }
        }
    }
}

impl std::str::FromStr for Preprocess {
    type Err = crate::NetworkError;

    /// `tf`, `torch`, `caffe`, or `rescale` (1/255, the course's).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "tf" => Ok(Preprocess::Tf),
            "torch" => Ok(Preprocess::Torch),
            "caffe" => Ok(Preprocess::Caffe),
            "rescale" => Ok(Preprocess::scale(1.0 / 255.0, 0.0)),
            _ => Err(crate::NetworkError::BadConfig(format!(
                "unknown preprocessing `{s}`: expected tf, torch, caffe or rescale"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_round_trip_and_old_scalings_still_read() {
        for mode in [Preprocess::Tf, Preprocess::Torch, Preprocess::Caffe, Preprocess::scale(0.5, -1.0)] {
            let json = serde_json::to_string(&mode).unwrap();
            assert_eq!(serde_json::from_str::<Preprocess>(&json).unwrap(), mode, "{json}");
        }
        assert_eq!(serde_json::to_string(&Preprocess::Caffe).unwrap(), "\"caffe\"");
        let old: Preprocess = serde_json::from_str(r#"{"scale":0.00784313725490196,"offset":-1.0}"#).unwrap();
        assert_eq!(old, Preprocess::scale(1.0 / 127.5, -1.0));
    }

    #[test]
    fn caffe_swaps_to_bgr_and_subtracts_the_means() {
        let mut pixel = [10.0, 20.0, 30.0];
        Preprocess::Caffe.apply_nhwc(&mut pixel);
        assert_eq!(pixel, [30.0 - 103.939, 20.0 - 116.779, 10.0 - 123.68]);
    }

    #[test]
    fn tensor_and_channels_last_forms_agree() {
        let device = burn::tensor::Device::flex();
        let rgb = [12.0f32, 200.0, 77.0];
        for mode in [Preprocess::Tf, Preprocess::Torch, Preprocess::Caffe, Preprocess::scale(1.0 / 255.0, 0.0)] {
            let mut expected = rgb;
            mode.apply_nhwc(&mut expected);
            let tensor = Tensor::<4>::from_data(TensorData::new(rgb.to_vec(), [1, 3, 1, 1]), &device);
            let got = mode.apply(tensor).into_data().try_to_vec::<f32>().unwrap();
            assert_eq!(got, expected.to_vec(), "{mode:?}");
        }
    }
}
