//! Deterministic pseudo-random numbers (splitmix64: Steele, Lea & Flood 2014) for generated data:
//! the demo, tests. Seeded explicitly, identical on every platform; nothing in the engine's
//! computations is random.

#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in (0, 1]: never 0, so `ln` is always finite.
    pub fn open01(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller, one of the pair).
    pub fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.open01(), self.open01());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// One of `weighted`'s values, with probability proportional to its weight.
    pub fn choose<'a>(&mut self, weighted: &[(&'a str, f64)]) -> &'a str {
        let mut pick = self.uniform() * weighted.iter().map(|(_, w)| w).sum::<f64>();
        for (value, weight) in weighted {
            if pick < *weight {
                return value;
            }
            pick -= weight;
        }
        weighted.last().map_or("", |(value, _)| value)
    }
}
