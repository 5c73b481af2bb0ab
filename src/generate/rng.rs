//! Randomness: a seeded splitmix64 generator and the draws built on it.

/// splitmix64: small, fast, and the same on every platform.
#[derive(Clone, Debug)]
pub(super) struct Rng(u64);

impl Rng {
    /// An independent stream for one row and one purpose, so that adding a
    /// field or turning `messy` on does not shift the other rows' values.
    pub(super) fn stream(seed: u64, row: u64, purpose: u64) -> Rng {
        let mut r = Rng(seed ^ 0x6d69_616e_7368_656e);
        let a = r.next_u64();
        let mut r = Rng(a ^ row.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let b = r.next_u64();
        Rng(b ^ purpose.wrapping_mul(0xd1b5_4a32_d192_ed03))
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub(super) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo) as u64 + 1) as i64
    }

    /// Uniform in [0, 1).
    pub(super) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(super) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// In `lo..=hi`, crowded toward `lo`: `lo + (hi - lo)·u^power`. Only
    /// multiplications, which IEEE 754 rounds the same everywhere.
    pub(super) fn skewed(&mut self, lo: i64, hi: i64, power: u32) -> i64 {
        let u = self.unit();
        let mut x = 1.0;
        for _ in 0..power {
            x *= u;
        }
        (lo + ((hi - lo + 1) as f64 * x) as i64).min(hi)
    }

    pub(super) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    pub(super) fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u64 = items.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut n = self.below(total);
        for (item, w) in items {
            if n < u64::from(*w) {
                return item;
            }
            n -= u64::from(*w);
        }
        &items[items.len() - 1].0
    }
}
