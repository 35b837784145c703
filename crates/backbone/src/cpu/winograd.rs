//! 3x3 stride-1 convolutions by Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray,
//! 2016): each 2x2 block of outputs comes from a 4x4 input patch with 16 multiplications per
//! channel pair instead of 36, the transformed patches of a group of blocks and the
//! transformed kernels meeting in 16 matrix products. The transforms only add, subtract and
//! halve, so the result stays within float32 rounding of the direct convolution.

use std::cell::RefCell;

use gemm::Parallelism;
use rayon::prelude::*;

use super::conv::Finish;
use super::nhwc::{ChannelSlice, NhwcBatch};
use super::simd::vectorized;

/// A 3x3 stride-1 convolution's kernels, transformed: 16 matrices `[in, out]`, one per
/// element of the 4x4 Winograd domain.
#[derive(Debug, Clone)]
pub(crate) struct Winograd3x3 {
    kernels: Vec<f32>,
    in_channels: usize,
    out_channels: usize,
    padding: [usize; 2],
}

/// Output blocks (2x2 pixels each) per group: the rows of the 16 matrix products.
const BLOCKS_PER_GROUP: usize = 96;

thread_local! {
    /// Each thread's transformed patches, products and transform scratch, reused.
    static SCRATCH: RefCell<(Vec<f32>, Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new(), Vec::new())) };
}

impl Winograd3x3 {
    /// Transforms the kernels `[out, in, 3, 3]` (`U = G g Gᵀ`, computed in f64).
    pub fn new(planar: &[f32], in_channels: usize, out_channels: usize, padding: [usize; 2]) -> Self {
        const G: [[f64; 3]; 4] = [[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]];
        let mut kernels = vec![0.0; 16 * in_channels * out_channels];
        for o in 0..out_channels {
            for c in 0..in_channels {
                let g = |ky: usize, kx: usize| planar[((o * in_channels + c) * 3 + ky) * 3 + kx] as f64;
                for (i, gi) in G.iter().enumerate() {
                    for (j, gj) in G.iter().enumerate() {
                        let u: f64 = (0..9).map(|k| gi[k / 3] * g(k / 3, k % 3) * gj[k % 3]).sum();
                        kernels[((i * 4 + j) * in_channels + c) * out_channels + o] = u as f32;
                    }
                }
            }
        }
        Self { kernels, in_channels, out_channels, padding }
    }

    /// Output `[rows, cols]` for an input of `[rows, cols]`.
    pub fn output_size(&self, [h, w]: [usize; 2]) -> [usize; 2] {
        [h + 2 * self.padding[0] - 2, w + 2 * self.padding[1] - 2]
    }

    /// Convolves `input` into `target`, then applies `finish` to each output pixel's channels.
    pub fn forward_into(&self, input: &NhwcBatch, target: &mut ChannelSlice<'_>, finish: &Finish) {
        let [n, h, w, _] = input.shape;
        let [oh, ow] = self.output_size([h, w]);
        let (stride, offset) = (target.stride, target.offset);
        let blocks_per_row = ow.div_ceil(2);
        let block_rows_per_group = (BLOCKS_PER_GROUP / blocks_per_row).max(1);
        let image_len = oh * ow * stride;
        let group_len = 2 * block_rows_per_group * ow * stride;
        target.data[..n * image_len].par_chunks_mut(image_len).enumerate().for_each(|(b, image)| {
            image.par_chunks_mut(group_len).enumerate().for_each(|(group, rows)| {
                let first_block_row = group * block_rows_per_group;
                let block_rows = (rows.len() / (ow * stride)).div_ceil(2);
                SCRATCH.with_borrow_mut(|(patches, products, scratch)| {
                    let blocks = block_rows * blocks_per_row;
                    patches.resize(16 * blocks * self.in_channels, 0.0);
                    products.resize(16 * blocks * self.out_channels, 0.0);
                    scratch.resize(17 * self.in_channels.max(self.out_channels), 0.0);
                    vectorized(
                        #[inline(always)]
                        || {
                            self.transform_patches(
                                input,
                                b,
                                first_block_row,
                                block_rows,
                                blocks_per_row,
                                patches,
                                scratch,
                            )
                        },
                    );
                    self.multiply(blocks, patches, products);
                    vectorized(
                        #[inline(always)]
                        || {
                            self.transform_outputs(rows, ow, blocks_per_row, stride, offset, products, scratch);
                            for pixel in rows.chunks_exact_mut(stride) {
                                finish.apply(&mut pixel[offset..offset + self.out_channels]);
                            }
                        },
                    );
                });
            });
        });
    }

    /// `V = Bᵀ d B` for every 4x4 input patch of the group, into `patches[16][blocks][in]`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn transform_patches(
        &self,
        input: &NhwcBatch,
        b: usize,
        first_block_row: usize,
        block_rows: usize,
        blocks_per_row: usize,
        patches: &mut [f32],
        scratch: &mut [f32],
    ) {
        let [_, h, w, c] = input.shape;
        let blocks = block_rows * blocks_per_row;
        let (columns, zeros) = scratch[..17 * c].split_at_mut(16 * c);
        zeros.fill(0.0);
        let zeros: &[f32] = zeros;
        for block_row in 0..block_rows {
            for block_col in 0..blocks_per_row {
                let block = block_row * blocks_per_row + block_col;
                let y0 = 2 * (first_block_row + block_row) as isize - self.padding[0] as isize;
                let x0 = 2 * block_col as isize - self.padding[1] as isize;
                let pixel = |i: usize, j: usize| -> &[f32] {
                    let (y, x) = (y0 + i as isize, x0 + j as isize);
                    match (0..h as isize).contains(&y) && (0..w as isize).contains(&x) {
                        true => {
                            let at = ((b * h + y as usize) * w + x as usize) * c;
                            &input.data[at..at + c]
                        }
                        false => zeros,
                    }
                };
                // Bᵀ on each column j of the patch: columns[(j * 4 + i) * c..] = (Bᵀ d)[i][j].
                for j in 0..4 {
                    let column = [pixel(0, j), pixel(1, j), pixel(2, j), pixel(3, j)];
                    apply_b_transposed(column, &mut columns[j * 4 * c..(j + 1) * 4 * c]);
                }
                // Then B on each row i: V[i][0..4] from (Bᵀ d)[i][0..4].
                for i in 0..4 {
                    let t = |j: usize| &columns[(j * 4 + i) * c..(j * 4 + i + 1) * c];
                    let mut outputs = patches_of_row(patches, i, blocks, block, c);
                    let [v0, v1, v2, v3] = &mut outputs;
                    let (t0, t1, t2, t3) = (t(0), t(1), t(2), t(3));
                    for k in 0..c {
                        v0[k] = t0[k] - t2[k];
                        v1[k] = t1[k] + t2[k];
                        v2[k] = t2[k] - t1[k];
                        v3[k] = t1[k] - t3[k];
                    }
                }
            }
        }
    }

    /// The 16 products `M[e] = V[e] U[e]`, `[blocks, out]` each.
    fn multiply(&self, blocks: usize, patches: &[f32], products: &mut [f32]) {
        let (ci, co) = (self.in_channels, self.out_channels);
        for e in 0..16 {
            // SAFETY: patches[e] is `blocks x ci`, kernels[e] `ci x co`, products[e]
            // `blocks x co`, all row-major and in bounds.
            unsafe {
                gemm::gemm(
                    blocks,
                    co,
                    ci,
                    products.as_mut_ptr().add(e * blocks * co),
                    1,
                    co as isize,
                    false,
                    patches.as_ptr().add(e * blocks * ci),
                    1,
                    ci as isize,
                    self.kernels.as_ptr().add(e * ci * co),
                    1,
                    co as isize,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    Parallelism::None,
                )
            }
        }
    }

    /// `Y = Aᵀ M A` for every block of the group, written into the output rows.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn transform_outputs(
        &self,
        rows: &mut [f32],
        ow: usize,
        blocks_per_row: usize,
        stride: usize,
        offset: usize,
        products: &[f32],
        scratch: &mut [f32],
    ) {
        let co = self.out_channels;
        let row_count = rows.len() / (ow * stride);
        let blocks = row_count.div_ceil(2) * blocks_per_row;
        for block in 0..blocks {
            let (block_row, block_col) = (block / blocks_per_row, block % blocks_per_row);
            let m = |e: usize| &products[(e * blocks + block) * co..(e * blocks + block + 1) * co];
            // Aᵀ M: s0_j = m0j + m1j + m2j, s1_j = m1j - m2j - m3j.
            let (s0, s1) = scratch[..8 * co].split_at_mut(4 * co);
            for j in 0..4 {
                let (m0, m1, m2, m3) = (m(j), m(4 + j), m(8 + j), m(12 + j));
                let (a, b) = (&mut s0[j * co..(j + 1) * co], &mut s1[j * co..(j + 1) * co]);
                for k in 0..co {
                    a[k] = m0[k] + m1[k] + m2[k];
                    b[k] = m1[k] - m2[k] - m3[k];
                }
            }
            for (dy, s) in [s0, s1].into_iter().enumerate() {
                let y = 2 * block_row + dy;
                if y >= row_count {
                    continue;
                }
                for dx in 0..2 {
                    let x = 2 * block_col + dx;
                    if x >= ow {
                        continue;
                    }
                    let out = &mut rows[(y * ow + x) * stride + offset..(y * ow + x) * stride + offset + co];
                    let col = |j: usize| &s[j * co..(j + 1) * co];
                    match dx {
                        0 => {
                            let (a, b, c) = (col(0), col(1), col(2));
                            for k in 0..co {
                                out[k] = a[k] + b[k] + c[k];
                            }
                        }
                        _ => {
                            let (a, b, c) = (col(1), col(2), col(3));
                            for k in 0..co {
                                out[k] = a[k] - b[k] - c[k];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `Bᵀ` applied to a column of 4 pixels, channel by channel: `(d0 - d2, d1 + d2, d2 - d1,
/// d1 - d3)` into `out[4][c]`.
#[inline(always)]
fn apply_b_transposed([d0, d1, d2, d3]: [&[f32]; 4], out: &mut [f32]) {
    let c = d0.len();
    let (o0, rest) = out.split_at_mut(c);
    let (o1, rest) = rest.split_at_mut(c);
    let (o2, o3) = rest.split_at_mut(c);
    for k in 0..c {
        o0[k] = d0[k] - d2[k];
        o1[k] = d1[k] + d2[k];
        o2[k] = d2[k] - d1[k];
        o3[k] = d1[k] - d3[k];
    }
}

/// The four rows `V[i][0..4]` of one block in `patches[16][blocks][c]`, mutably.
#[inline(always)]
fn patches_of_row(patches: &mut [f32], i: usize, blocks: usize, block: usize, c: usize) -> [&mut [f32]; 4] {
    let plane = blocks * c;
    let (_, rest) = patches.split_at_mut(4 * i * plane);
    let (p0, rest) = rest.split_at_mut(plane);
    let (p1, rest) = rest.split_at_mut(plane);
    let (p2, rest) = rest.split_at_mut(plane);
    let p3 = &mut rest[..plane];
    let at = block * c;
    [&mut p0[at..at + c], &mut p1[at..at + c], &mut p2[at..at + c], &mut p3[at..at + c]]
}

#[cfg(test)]
mod tests {
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
    fn matches_the_direct_convolution_on_odd_sizes_and_both_paddings() {
        let (n, h, w, ci, co) = (2, 9, 11, 20, 24);
        let input = NhwcBatch { data: values(n * h * w * ci, 1), shape: [n, h, w, ci] };
        let planar = values(co * ci * 9, 2);
        for pad in [0usize, 1] {
            let winograd = Winograd3x3::new(&planar, ci, co, [pad, pad]);
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
                            for ky in 0..3 {
                                for kx in 0..3 {
                                    let (y, x) = ((oy + ky) as isize - pad as isize, (ox + kx) as isize - pad as isize);
                                    if y < 0 || x < 0 || y >= h as isize || x >= w as isize {
                                        continue;
                                    }
                                    for c in 0..ci {
                                        let v = input.data[((b * h + y as usize) * w + x as usize) * ci + c] as f64;
                                        exact += v * planar[((o * ci + c) * 3 + ky) * 3 + kx] as f64;
                                    }
                                }
                            }
                            let ours = data[((b * oh + oy) * ow + ox) * stride + 3 + o] as f64;
                            worst = worst.max((ours - exact).abs());
                        }
                    }
                }
            }
            println!("padding {pad}: max |error| {worst:.2e}");
            assert!(worst < 2e-5, "padding {pad}: max |error| {worst}");
            assert!(
                data.chunks(stride).all(|p| p[..3].iter().chain(&p[3 + co..]).all(|v| v.is_nan())),
                "wrote outside its channels"
            );
        }
    }
}
