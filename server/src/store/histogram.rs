//! Latency histograms with logarithmic buckets 1% wide, from 1 µs to an hour: any percentile read
//! from one is within 0.5% of the true value. In memory a plain array (merging is adding arrays);
//! stored sparsely (only non-empty buckets), so a rollup row costs a few bytes.

const GROWTH: f64 = 1.01;
/// Buckets cover 1 µs .. 3600 s: ln(3.6e9) / ln(1.01) ≈ 2211.
const BUCKETS: u16 = 2212;

#[derive(Debug, Clone, Default)]
pub struct LatencyHistogram {
    /// Count per bucket once anything is recorded or merged into it; empty until then (an empty
    /// histogram allocates nothing).
    counts: Vec<u64>,
    /// A decoded histogram stays sparse — its non-empty buckets, ascending — until something is
    /// added to it: a metrics call merges hundreds of stored rows, and each merge then touches only
    /// that row's buckets instead of all 2,212. At most one of `counts` and `sparse` is non-empty.
    sparse: Vec<(u16, u64)>,
    total: u64,
}

impl PartialEq for LatencyHistogram {
    fn eq(&self, other: &Self) -> bool {
        self.total == other.total && self.buckets().eq(other.buckets())
    }
}

impl Eq for LatencyHistogram {}

fn bucket_of(latency_us: i64) -> u16 {
    let us = latency_us.max(1) as f64;
    ((us.ln() / GROWTH.ln()).floor() as u64).min(u64::from(BUCKETS - 1)) as u16
}

/// The middle (geometric) of a bucket, in microseconds.
fn middle_us(bucket: u16) -> f64 {
    GROWTH.powf(f64::from(bucket) + 0.5)
}

impl LatencyHistogram {
    /// The dense counts, made from the sparse ones if needed.
    fn dense(&mut self) -> &mut Vec<u64> {
        if self.counts.is_empty() {
            self.counts = vec![0; usize::from(BUCKETS)];
            for (bucket, count) in self.sparse.drain(..) {
                self.counts[usize::from(bucket)] += count;
            }
            self.sparse = Vec::new();
        }
        &mut self.counts
    }

    pub fn record(&mut self, latency_us: i64) {
        self.dense()[usize::from(bucket_of(latency_us))] += 1;
        self.total += 1;
    }

    pub fn add(&mut self, other: &LatencyHistogram) {
        if other.total == 0 {
            return;
        }
        let counts = self.dense();
        if other.sparse.is_empty() {
            for (mine, theirs) in counts.iter_mut().zip(&other.counts) {
                *mine += theirs;
            }
        } else {
            for &(bucket, count) in &other.sparse {
                counts[usize::from(bucket)] += count;
            }
        }
        self.total += other.total;
    }

    /// Non-empty buckets, ascending.
    fn buckets(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
        self.sparse.iter().copied().chain(
            self.counts
                .iter()
                .enumerate()
                .filter(|(_, count)| **count > 0)
                .map(|(bucket, count)| (bucket as u16, *count)),
        )
    }

    pub fn len(&self) -> u64 {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The nearest-rank percentile (0..=100), in milliseconds; 0 when empty.
    pub fn percentile_ms(&self, percentile: f64) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let rank = ((percentile / 100.0 * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (bucket, count) in self.buckets() {
            seen += count;
            if seen >= rank {
                return middle_us(bucket) / 1000.0;
            }
        }
        0.0
    }

    /// `(bucket u16 LE, count LEB128)*`
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (bucket, count) in self.buckets() {
            out.extend_from_slice(&bucket.to_le_bytes());
            let mut n = count;
            loop {
                let byte = (n & 0x7f) as u8;
                n >>= 7;
                if n == 0 {
                    out.push(byte);
                    break;
                }
                out.push(byte | 0x80);
            }
        }
        out
    }

    /// The inverse of `encode`; a damaged value decodes as far as it is readable (and is logged).
    pub fn decode(bytes: &[u8]) -> Self {
        let mut histogram = Self::default();
        let mut rest = bytes;
        while rest.len() >= 3 {
            let bucket = u16::from_le_bytes([rest[0], rest[1]]);
            rest = &rest[2..];
            let mut count = 0u64;
            let mut shift = 0;
            loop {
                let Some((&byte, tail)) = rest.split_first() else {
                    tracing::warn!("truncated latency histogram in a rollup");
                    return histogram;
                };
                rest = tail;
                count |= u64::from(byte & 0x7f) << shift.min(63);
                shift += 7;
                if byte & 0x80 == 0 {
                    break;
                }
            }
            if bucket < BUCKETS && count > 0 {
                histogram.sparse.push((bucket, count));
                histogram.total += count;
            }
        }
        // `encode` writes ascending buckets; anything else (a damaged value) is made dense, which
        // orders and sums it.
        if !histogram.sparse.windows(2).all(|w| w[0].0 < w[1].0) {
            histogram.dense();
        }
        histogram
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_within_half_a_percent() {
        let mut h = LatencyHistogram::default();
        let values: Vec<i64> = (1..=1000).map(|i| i * 137).collect();
        for v in &values {
            h.record(*v);
        }
        for p in [50.0, 95.0, 99.0, 100.0] {
            let rank = (p / 100.0 * 1000.0_f64).ceil() as usize;
            let truth = values[rank - 1] as f64 / 1000.0;
            let got = h.percentile_ms(p);
            assert!(
                (got - truth).abs() / truth < 0.005,
                "p{p}: {got} vs {truth}"
            );
        }
    }

    #[test]
    fn encode_decode_merge() {
        let mut a = LatencyHistogram::default();
        let mut b = LatencyHistogram::default();
        for v in [1, 5, 5, 1000, 3_000_000_000_000] {
            a.record(v);
        }
        for v in [7, 1000, 1_000_000] {
            b.record(v);
        }
        let back = LatencyHistogram::decode(&a.encode());
        assert_eq!(back, a);
        let mut merged = back;
        merged.add(&LatencyHistogram::decode(&b.encode()));
        assert_eq!(merged.len(), 8);
        assert!(LatencyHistogram::decode(b"\x01").is_empty());
        // Merging a decoded (sparse) one into an empty one, and a dense one into a decoded one.
        let mut from_empty = LatencyHistogram::default();
        from_empty.add(&LatencyHistogram::decode(&a.encode()));
        assert_eq!(from_empty, a);
        let mut into_decoded = LatencyHistogram::decode(&a.encode());
        into_decoded.add(&b);
        assert_eq!(into_decoded.len(), 8);
        assert_eq!(
            into_decoded.percentile_ms(100.0),
            merged.percentile_ms(100.0)
        );
        assert_eq!(into_decoded, merged);
    }

    #[test]
    fn a_damaged_value_out_of_order_is_ordered_and_summed() {
        // buckets 5 (1), 3 (2), 5 (1): not as `encode` writes them
        let bytes = [5, 0, 1, 3, 0, 2, 5, 0, 1];
        let histogram = LatencyHistogram::decode(&bytes);
        assert_eq!(
            histogram.buckets().collect::<Vec<_>>(),
            vec![(3, 2), (5, 2)]
        );
        assert_eq!(histogram.len(), 4);
        assert_eq!(LatencyHistogram::default().percentile_ms(99.0), 0.0);
    }
}
