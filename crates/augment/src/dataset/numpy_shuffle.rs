//! NumPy's legacy `np.random.RandomState(seed).shuffle(x)`, bit for bit: the Mersenne
//! Twister (MT19937) seeded as `mt19937_seed` does, and the Fisher-Yates walk from the end
//! with `random_interval` (masked rejection sampling). Keras' `image_dataset_from_directory`
//! orders its files with it, and so decides which files its `validation_split` takes.

const N: usize = 624;
const M: usize = 397;

/// NumPy's `RandomState` bit generator (MT19937).
pub struct RandomState {
    state: [u32; N],
    position: usize,
}

impl RandomState {
    /// `np.random.RandomState(seed)` for a seed in `0..2^32`.
    pub fn new(seed: u32) -> Self {
        let mut state = [0u32; N];
        state[0] = seed;
        for i in 1..N {
            let previous = state[i - 1];
            state[i] = 1_812_433_253u32.wrapping_mul(previous ^ (previous >> 30)).wrapping_add(i as u32);
        }
        Self { state, position: N }
    }

    fn regenerate(&mut self) {
        let twist = |upper: u32, lower: u32| {
            let y = (upper & 0x8000_0000) | (lower & 0x7fff_ffff);
            (y >> 1) ^ if y & 1 == 1 { 0x9908_b0df } else { 0 }
        };
        for i in 0..N {
            self.state[i] = self.state[(i + M) % N] ^ twist(self.state[i], self.state[(i + 1) % N]);
        }
        self.position = 0;
    }

    /// The next 32 random bits (`genrand_int32`).
    pub fn next_u32(&mut self) -> u32 {
        if self.position >= N {
            self.regenerate();
        }
        let mut y = self.state[self.position];
        self.position += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// NumPy's `random_interval(max)`: uniform in `0..=max`.
    fn random_interval(&mut self, max: u32) -> u32 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        for shift in [1, 2, 4, 8, 16] {
            mask |= mask >> shift;
        }
        loop {
            let value = self.next_u32() & mask;
            if value <= max {
                return value;
            }
        }
    }

    /// `rng.shuffle(items)` (lists of fewer than 2^32 items).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.random_interval(i as u32) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values printed by NumPy 1.26 for the same calls.
    #[test]
    fn matches_numpy_random_state() {
        let mut rng = RandomState::new(5489);
        assert_eq!([rng.next_u32(), rng.next_u32()], [3_499_211_612, 581_869_302]);
        let mut items: Vec<usize> = (0..10).collect();
        RandomState::new(42).shuffle(&mut items);
        assert_eq!(items, [8, 1, 5, 0, 7, 2, 9, 4, 3, 6]);
    }
}
