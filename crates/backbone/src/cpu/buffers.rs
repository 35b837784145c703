//! Feature-map buffers kept from pass to pass: a fresh zeroed buffer costs a write over
//! all of it (and page faults when the system hands it out again), as much memory traffic
//! as many of the layers themselves.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::nhwc::NhwcBatch;

/// The most free buffers kept (a pass of InceptionV3 holds a few dozen at once).
const MAX_FREE: usize = 64;

/// Buffers returned by finished layers, handed to the next layers that write every value.
#[derive(Debug, Clone, Default)]
pub(crate) struct Buffers {
    pool: Arc<Mutex<Pool>>,
}

#[derive(Debug, Default)]
struct Pool {
    /// Free buffers; every one initialised up to its length.
    free: Vec<Vec<f32>>,
    /// Buffers handed out: (address, capacity) -> how many values were initialised.
    lent: HashMap<(usize, usize), usize>,
}

impl Buffers {
    fn pool(&self) -> std::sync::MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A batch of `shape` whose values are left over from earlier layers or passes: only
    /// for outputs that write every value.
    pub fn take(&self, shape: [usize; 4]) -> NhwcBatch {
        let len = shape.iter().product();
        let mut pool = self.pool();
        let best = pool.free.iter().enumerate().filter(|(_, b)| b.len() >= len).min_by_key(|(_, b)| b.len());
        let mut data = match best.map(|(i, _)| i) {
            Some(i) => pool.free.swap_remove(i),
            None => vec![0.0; len],
        };
        pool.lent.insert((data.as_ptr() as usize, data.capacity()), data.len());
        data.truncate(len);
        NhwcBatch { data, shape }
    }

    /// Keeps `batch`'s memory for later layers and passes.
    pub fn give(&self, batch: NhwcBatch) {
        let mut data = batch.data;
        let mut pool = self.pool();
        match pool.lent.remove(&(data.as_ptr() as usize, data.capacity())) {
            // SAFETY: this allocation (same address and capacity: never reallocated) had
            // `initialised` values written when it was lent; truncating and overwriting
            // values since then left them initialised.
            Some(initialised) if initialised > data.len() => unsafe { data.set_len(initialised) },
            _ => {}
        }
        pool.free.push(data);
        // A pass hands back what it took; keep the pool to what one pass uses at most.
        if pool.free.len() > MAX_FREE {
            let smallest = pool.free.iter().enumerate().min_by_key(|(_, b)| b.len()).map(|(i, _)| i);
            smallest.map(|i| pool.free.swap_remove(i));
        }
    }
}
