//! Deterministic uniform numbers, bit-identical to tests/fixtures/detrand.py.

/// `u(stream, n)[i]`: top 24 bits of `splitmix64((stream << 32) + i)` over 2^24.
pub fn uniform(stream: u64, n: usize) -> Vec<f32> {
    (0..n as u64)
        .map(|i| {
            let mut z = (stream << 32).wrapping_add(i).wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 40) as f32 / 16_777_216.0
        })
        .collect()
}

/// `(2u - 1) * scale` in float32.
pub fn symmetric(stream: u64, n: usize, scale: f64) -> Vec<f32> {
    let scale = scale as f32;
    uniform(stream, n).into_iter().map(|u| (2.0f32 * u - 1.0) * scale).collect()
}

/// He-uniform kernel of conv unit `unit`, Keras layout `(rows, cols, in, out)`.
pub fn conv_kernel(unit: usize, [kh, kw, cin, cout]: [usize; 4]) -> Vec<f32> {
    let fan_in = (kh * kw * cin) as f64;
    symmetric(unit as u64 * 8, kh * kw * cin * cout, (6.0 / fan_in).sqrt())
}

/// torchvision-flavour batch-norm scale `0.75 + 0.5u`.
pub fn gamma(unit: usize, channels: usize) -> Vec<f32> {
    uniform(unit as u64 * 8 + 1, channels).into_iter().map(|u| 0.75f32 + 0.5f32 * u).collect()
}

/// NHWC input in [0, 1).
pub fn image(height: usize, width: usize, batch: usize, salt: u64) -> Vec<f32> {
    let stream = (1u64 << 24) + (height * 1000 + width) as u64 + salt * 7919;
    uniform(stream, batch * height * width * 3)
}
