//! The registry of every backbone: one line per network.

use backbone::Registry;

/// Every backbone this project has, selected by name (`BackboneConfig::new("resnet50")`,
/// `features --model resnet50`, `cats_vs_dogs --model resnet50`) or found from a weight
/// file ([`Registry::detect`]). A new network is one entry here.
pub static REGISTRY: Registry = Registry::new(&[
    &inception::InceptionV3Backbone,
    &mobilenet::MobileNetV2Backbone,
    &crate::resnet::ResNet50,
    &crate::vgg::Vgg16,
    &crate::xception::Xception,
    &crate::efficientnet::EfficientNet::B0,
    &crate::efficientnet::EfficientNet::B1,
    &crate::efficientnet::EfficientNet::B2,
    &crate::efficientnet::EfficientNet::B3,
    &crate::efficientnet::EfficientNet::B4,
    &crate::efficientnet::EfficientNet::B5,
    &crate::efficientnet::EfficientNet::B6,
    &crate::efficientnet::EfficientNet::B7,
]);
