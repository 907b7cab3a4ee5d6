//! Distributions: min, median, p99, max, by nearest rank.

use crate::Dist;

/// The value at quantile `q` (0..=1) of `sorted`, by nearest rank.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

pub fn dist(values: &[f64]) -> Dist {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return Dist::default();
    }
    Dist { n: v.len(), min: v[0], median: quantile(&v, 0.5), p99: quantile(&v, 0.99), max: v[v.len() - 1] }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let d = dist(&v);
        assert_eq!((d.n, d.min, d.median, d.p99, d.max), (100, 1.0, 50.0, 99.0, 100.0));
        assert_eq!(quantile(&[7.0], 0.99), 7.0);
        assert!(quantile(&[], 0.5).is_nan());
        assert_eq!(dist(&[3.0, f64::NAN, 1.0]).n, 2);
    }
}
