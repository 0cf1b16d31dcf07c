//! A counter-based pseudo-random generator: record `n` of a task always gets the same numbers,
//! so a restarted task regenerates exactly the sequence it would have produced, with no state to
//! store beyond the record count.

/// SplitMix64's finalizer over `seed + n * golden ratio`: cheap, and good enough for demo data.
#[inline]
pub fn mix(seed: u64, n: u64) -> u64 {
    let mut z = seed.wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Several independent numbers from one draw, each in `[0, bound)`.
#[derive(Debug, Clone, Copy)]
pub struct Draw(u64);

impl Draw {
    /// The numbers of record `n` under `seed`.
    #[inline]
    pub fn new(seed: u64, n: u64) -> Draw {
        Draw(mix(seed, n))
    }

    /// The next number in `[0, bound)` (`bound` > 0); re-mixes once the bits run low.
    #[inline]
    pub fn below(&mut self, bound: u64) -> u64 {
        let v = self.0 % bound;
        self.0 /= bound;
        if self.0 < 1 << 20 {
            self.0 = mix(self.0 ^ v, bound);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_inputs_same_numbers_and_bounds_hold() {
        assert_eq!(mix(1, 2), mix(1, 2));
        assert_ne!(mix(1, 2), mix(1, 3));
        assert_ne!(mix(1, 2), mix(2, 2));
        let mut seen = [0u32; 10];
        for n in 0..10_000 {
            let mut d = Draw::new(7, n);
            for _ in 0..5 {
                let v = d.below(10);
                assert!(v < 10);
                seen[v as usize] += 1;
            }
        }
        // Roughly uniform: each bucket near 5000.
        assert!(seen.iter().all(|&c| (4000..6000).contains(&c)), "{seen:?}");
    }
}
