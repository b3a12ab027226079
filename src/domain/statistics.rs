//! Statistics of scores and tasks: trend direction, summary statistics,
//! the score and progress distributions.

use super::performance::{round1, round2};

/// Where a score went over a period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trend {
    /// Score now minus score at the start of the period.
    pub change: f64,
}

impl Trend {
    /// From the score at the period's start (None: no score then) to now.
    pub fn between(then: Option<f64>, now: f64) -> Trend {
        Trend { change: round1(then.map_or(0.0, |then| now - then)) }
    }

    /// `↑`, `↓` or `→` (a change under 0.1 points is level).
    pub fn arrow(self) -> &'static str {
        if self.change >= 0.1 {
            "↑"
        } else if self.change <= -0.1 {
            "↓"
        } else {
            "→"
        }
    }

    /// The arrow in words, for screen readers and titles.
    pub fn words(self) -> &'static str {
        match self.arrow() {
            "↑" => "up",
            "↓" => "down",
            _ => "level",
        }
    }
}

/// Summary statistics of a set of scores.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Summary {
    /// How many.
    pub count: usize,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub median: f64,
    /// Population standard deviation.
    pub std_deviation: f64,
    /// Lowest.
    pub min: f64,
    /// Highest.
    pub max: f64,
}

impl Summary {
    /// The statistics of `values` (all zero when empty).
    pub fn of(values: &[f64]) -> Summary {
        if values.is_empty() {
            return Summary::default();
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let mean = sorted.iter().sum::<f64>() / n as f64;
        let median = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
        let variance = sorted.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
        Summary {
            count: n,
            mean: round2(mean),
            median: round2(median),
            std_deviation: round2(variance.sqrt()),
            min: sorted[0],
            max: sorted[n - 1],
        }
    }

    /// max − min.
    pub fn range(&self) -> f64 {
        round2(self.max - self.min)
    }
}

/// The seed's score buckets: 0–20, 20–40, 40–60, 60–80, 80–100 (100 in the last).
pub const SCORE_BUCKETS: [&str; 5] = ["0-20", "20-40", "40-60", "60-80", "80-100"];

/// How many scores fall in each of [`SCORE_BUCKETS`].
pub fn distribution(scores: &[f64]) -> [usize; 5] {
    let mut counts = [0; 5];
    for score in scores {
        let bucket = ((score.clamp(0.0, 100.0) / 20.0).floor() as usize).min(4);
        counts[bucket] += 1;
    }
    counts
}

/// The progress buckets of the Statistics page: 0–25, 25–50, 50–75, 75–100.
pub const PROGRESS_BUCKETS: [&str; 4] = ["0–25 %", "25–50 %", "50–75 %", "75–100 %"];

/// Which progress bucket a percentage falls in.
pub fn progress_bucket(progress: i32) -> usize {
    ((progress.clamp(0, 100) / 25) as usize).min(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trend_arrows_and_statistics() {
        assert_eq!(Trend::between(Some(80.0), 83.5).arrow(), "↑");
        assert_eq!(Trend::between(Some(80.0), 79.0).arrow(), "↓");
        assert_eq!(Trend::between(Some(80.0), 80.04).arrow(), "→");
        assert_eq!(Trend::between(None, 80.0).change, 0.0);
        let s = Summary::of(&[72.5, 92.1, 83.1, 80.0]);
        assert_eq!((s.min, s.max, s.median, s.count), (72.5, 92.1, 81.55, 4));
        assert_eq!(s.range(), 19.6);
        assert_eq!(Summary::of(&[]).count, 0);
        assert_eq!(distribution(&[0.0, 19.9, 20.0, 59.0, 80.0, 100.0]), [2, 1, 1, 0, 2]);
        assert_eq!(progress_bucket(100), 3);
        assert_eq!(progress_bucket(24), 0);
    }
}
