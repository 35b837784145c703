use applications::BackboneConfig;
use backbone::CpuInference;
use burn::tensor::{Device, Distribution, Tensor};
fn main() {
    let device = Device::flex();
    let config = BackboneConfig::new("efficientnet_b0").unwrap().with_input_size([224, 224]);
    let network = config.init(&device).unwrap();
    let x = Tensor::<4>::random([1, 3, 224, 224], Distribution::Uniform(0.0, 255.0), &device);
    let names = [
        "normalization",
        "rescaling_1",
        "stem_conv",
        "stem_activation",
        "block1a_dwconv",
        "block1a_activation",
        "block1a_se_squeeze",
        "block1a_se_reduce",
        "block1a_se_expand",
        "block1a_se_excite",
        "block1a_project_bn",
        "block2a_expand_activation",
        "block2a_dwconv",
        "block2a_activation",
        "block2a_project_bn",
        "block2b_add",
    ];
    let arch = network.architecture();
    let idx: Vec<usize> = names.iter().map(|n| arch.index_of(n).unwrap()).collect();
    let a = network.forward_layers(x.clone(), &idx).unwrap();
    let packed = CpuInference::new(&network).unwrap();
    let b = packed.forward_layers(x, &idx).unwrap();
    for ((n, a), b) in names.iter().zip(a).zip(b) {
        let d = (a.clone() - b).abs().max().into_scalar::<f32>();
        let m = a.abs().max().into_scalar::<f32>();
        println!("{n}: {d:.3e} (max {m:.3})");
    }
}
