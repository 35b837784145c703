//! A convolution on the register-tiled direct kernel ([`DirectConv`]): output pixels by
//! class of window taps, 12 at a time through every block of output channels, tiles across
//! threads, each pixel written once into the target.

use rayon::prelude::*;

use super::conv::{Finish, PackedConv};
use super::direct::{BLOCK, DirectConv, PIXELS, TILE_BLOCKS};
use super::nhwc::{ChannelSlice, NhwcBatch};
use super::simd::vectorized;
use super::window_classes::{Geometry, WindowClass};

/// The output of a convolution written by several threads, each pixel by one of them.
#[derive(Clone, Copy)]
struct SharedOutput(*mut f32);

// SAFETY: the threads write disjoint values (see `SharedOutput::write`'s contract).
unsafe impl Send for SharedOutput {}
// SAFETY: as above.
unsafe impl Sync for SharedOutput {}

impl SharedOutput {
    /// Copies `values` to `at ..` of the output.
    ///
    /// # Safety
    /// `at + values.len()` is within the output, and no other thread reads or writes
    /// those values meanwhile.
    #[inline(always)]
    unsafe fn write(self, at: usize, values: &[f32]) {
        // Copies of 16 values, whose fixed size compiles to vector moves (a copy of the
        // slice's length is a call to `memmove`, per pixel of every tile: 3.5% of a pass).
        const CHUNK: usize = 16;
        let whole = values.len() / CHUNK * CHUNK;
        for (k, chunk) in values[..whole].chunks_exact(CHUNK).enumerate() {
            // SAFETY: within `at .. at + values.len()`, the caller's contract.
            unsafe { self.0.add(at + k * CHUNK).cast::<[f32; CHUNK]>().write_unaligned(chunk.try_into().expect("16")) }
        }
        for (k, &value) in values[whole..].iter().enumerate() {
            // SAFETY: as above.
            unsafe { self.0.add(at + whole + k).write(value) }
        }
    }
}

impl PackedConv {
    /// The convolution by [`DirectConv`]: the output pixels by class of the taps on the
    /// input ([`WindowClass`], no padded copy), 12 at a time through every block of output
    /// channels, in chunks of tiles across threads, finished and written into the target's
    /// channels. (The product layout of the weights is kept too: a 1x1 convolution fused
    /// after a depthwise one multiplies with it.)
    pub(super) fn forward_direct(
        &self,
        direct: &DirectConv,
        input: &NhwcBatch,
        target: &mut ChannelSlice<'_>,
        finish: &Finish,
    ) {
        let [n, h, w, _] = input.shape;
        let output = self.output_size([h, w]);
        let [[top, _], [left, _]] = self.window().pads([h, w]);
        let geometry = Geometry {
            input: input.shape,
            output,
            kernel: self.window().kernel,
            strides: self.window().strides,
            padding: [top, left],
        };
        let classes = WindowClass::all(&geometry);
        let tiles: Vec<(usize, usize)> = (classes.iter().enumerate())
            .flat_map(|(k, class)| (0..class.len(n)).step_by(PIXELS).map(move |first| (k, first)))
            .collect();
        let threads = rayon::current_num_threads().max(1);
        let chunk = tiles.len().div_ceil(32 * threads).clamp(1, 4);
        let (stride, offset, outputs) = (target.stride, target.offset, self.out_channels());
        let pixels = n * output[0] * output[1];
        assert!(target.data.len() >= pixels * stride && offset + outputs <= stride);
        let out = SharedOutput(target.data.as_mut_ptr());
        tiles.par_chunks(chunk).for_each(|tiles| {
            vectorized(
                #[inline(always)]
                || {
                    let mut values = [[0.0; TILE_BLOCKS * BLOCK]; PIXELS];
                    // The output pixels of a tile and where their windows start.
                    let places = |&(k, first): &(usize, usize)| {
                        let class: &WindowClass = &classes[k];
                        let count = PIXELS.min(class.len(n) - first);
                        let (mut outputs_at, mut starts) = ([0; PIXELS], [0; PIXELS]);
                        for (i, place) in class.pixels(first, count, &geometry).enumerate() {
                            (outputs_at[i], starts[i]) = place;
                        }
                        (count, outputs_at, starts)
                    };
                    // Tile by tile, every block of channels: the tile's input stays in L1
                    // while the weights stream from L2; the next tile's input is asked for
                    // during the last block.
                    let mut next = places(&tiles[0]);
                    for (t, tile) in tiles.iter().enumerate() {
                        let (count, outputs_at, starts) = next;
                        let taps = &classes[tile.0].taps;
                        let ahead = tiles.get(t + 1).map(places);
                        let ahead_starts = ahead.as_ref().map_or(&[][..], |(count, _, starts)| &starts[..*count]);
                        for block in (0..direct.blocks()).step_by(TILE_BLOCKS) {
                            let last = block + TILE_BLOCKS >= direct.blocks();
                            let hint = if last { ahead_starts } else { &[] };
                            let blocks = direct.tile(&input.data, (&starts[..count], hint), taps, block, &mut values);
                            let channels = block * BLOCK..outputs.min((block + blocks) * BLOCK);
                            for (&pixel, values) in outputs_at[..count].iter().zip(&mut values) {
                                let values = &mut values[..channels.len()];
                                finish.apply_from(values, channels.start);
                                // SAFETY: `pixel` is below `pixels` and the channels within
                                // `offset + outputs <= stride` (checked above), so the write is
                                // in bounds; each output pixel is in one class, once, so in
                                // one tile: no other thread writes these values.
                                unsafe { out.write(pixel * stride + offset + channels.start, values) };
                            }
                        }
                        if let Some(ahead) = ahead {
                            next = ahead;
                        }
                    }
                },
            )
        });
    }
}
