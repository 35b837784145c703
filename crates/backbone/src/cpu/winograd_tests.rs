//! Winograd's tiles against the direct convolution.

use super::*;

/// A small deterministic pseudo-random sequence in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

#[test]
fn matches_the_direct_convolution_on_odd_sizes_both_paddings_and_groupings_for_every_tile() {
    // One image (groups of block rows) and three (groups of whole images).
    for n in [1, 3] {
        let (h, w, ci, co) = (9, 14, 20, 24);
        let input = NhwcBatch { data: values(n * h * w * ci, 1), shape: [n, h, w, ci] };
        let tiles = [Tile::F2x2, Tile::F4x4, Tile::F2x2Of5x5];
        for (tile, pad) in tiles.into_iter().flat_map(|t| [(t, 0usize), (t, t.kernel() / 2)]) {
            let r = tile.kernel();
            let planar = values(co * ci * r * r, 2);
            let winograd = WinogradConv::new(tile, &planar, ci, co, [pad, pad]);
            let [oh, ow] = winograd.output_size([h, w]);
            // Write into the middle of a wider buffer, as a branch of a block does.
            let stride = co + 5;
            let mut data = vec![f32::NAN; n * oh * ow * stride];
            let mut target = ChannelSlice { data: &mut data, stride, offset: 3, width: co };
            winograd.forward_into(&input, &mut target, &Finish::default());
            let mut worst = 0.0f64;
            for b in 0..n {
                for oy in 0..oh {
                    for ox in 0..ow {
                        for o in 0..co {
                            let mut exact = 0.0f64;
                            for ky in 0..r {
                                for kx in 0..r {
                                    let (y, x) = ((oy + ky) as isize - pad as isize, (ox + kx) as isize - pad as isize);
                                    if y < 0 || x < 0 || y >= h as isize || x >= w as isize {
                                        continue;
                                    }
                                    for c in 0..ci {
                                        let v = input.data[((b * h + y as usize) * w + x as usize) * ci + c] as f64;
                                        exact += v * planar[((o * ci + c) * r + ky) * r + kx] as f64;
                                    }
                                }
                            }
                            let ours = data[((b * oh + oy) * ow + ox) * stride + 3 + o] as f64;
                            worst = worst.max((ours - exact).abs());
                        }
                    }
                }
            }
            println!("{tile:?}, padding {pad}: max |error| {worst:.2e}");
            let allowed = match tile {
                Tile::F2x2 => 2e-5,
                Tile::F4x4 => 6e-5,
                Tile::F2x2Of5x5 => 6e-5,
            };
            assert!(worst < allowed, "{tile:?}, padding {pad}: max |error| {worst}");
            assert!(
                data.chunks(stride).all(|p| p[..3].iter().chain(&p[3 + co..]).all(|v| v.is_nan())),
                "wrote outside its channels"
            );
        }
    }
}
