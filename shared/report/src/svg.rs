//! The page's charts, as inline SVG. Every chart draws in a 100 × 100 box that CSS stretches to
//! its size (`preserveAspectRatio="none"`, strokes `vector-effect: non-scaling-stroke`), so a
//! chart is a few paths of short coordinates (heights to 1%), and its labels are HTML around it.
//! The detail section's histogram reuses the row's paths (`<use href="#...">`) instead of
//! repeating them. (Bars of a single value, the drift gauge and a category's pair of shares,
//! are HTML `<meter>`s.) Only numbers and fixed names go into the markup written here: nothing
//! to escape.

use std::fmt::Write;

use modelmon_engine::checks::{CategoryBars, Histogram, LargestGap};

/// A coordinate to one decimal, without a trailing `.0`.
fn coordinate(value: f64) -> String {
    let rounded = (value * 10.0).round() / 10.0;
    let text = format!("{rounded:.1}");
    match text.strip_suffix(".0") {
        Some("-0") => "0".to_string(),
        Some(whole) => whole.to_string(),
        None => text,
    }
}

/// A height on the 0–100 scale, to the whole unit (1% of a chart's height: a pixel at most).
fn level(value: f64) -> String {
    format!("{}", value.round().clamp(0.0, 100.0) as u32)
}

/// Each count as a fraction of the side's total.
fn shares(counts: &[u64]) -> Vec<f64> {
    let total: u64 = counts.iter().sum();
    counts
        .iter()
        .map(|&c| if total == 0 { 0.0 } else { c as f64 / total as f64 })
        .collect()
}

/// The y coordinate of `share` when `top` reaches the top of the box.
fn height(share: f64, top: f64) -> f64 {
    if top > 0.0 {
        100.0 - share / top * 100.0
    } else {
        100.0
    }
}

/// A step outline over equal-width bins from the bottom left to the bottom right; `closed`
/// makes it an area.
fn steps(shares: &[f64], top: f64, closed: bool) -> String {
    let mut path = String::from("M0 100");
    let mut last = String::from("100");
    let mut run = 0usize;
    let flush = |path: &mut String, run: usize| {
        if run > 0 {
            let _ = write!(path, "h{}", coordinate(100.0 / shares.len() as f64 * run as f64));
        }
    };
    for &share in shares {
        let y = level(height(share, top));
        if y != last {
            flush(&mut path, run);
            run = 0;
            let _ = write!(path, "V{y}");
            last = y;
        }
        run += 1;
    }
    flush(&mut path, run);
    if last != "100" {
        path.push_str("V100");
    }
    if closed {
        path.push('Z');
    }
    path
}

/// The row's overlay of a numerical feature (baseline as an area, current as a line, both as
/// shares of their side), with ids for [`histogram_detail`] to reuse.
pub fn histogram_spark(id: &str, histogram: &Histogram) -> String {
    let (baseline, current) = (shares(&histogram.baseline), shares(&histogram.current));
    let top = baseline.iter().chain(&current).copied().fold(0.0, f64::max);
    let mut svg = String::from(r#"<svg class=sp viewBox="0 0 100 100" preserveAspectRatio=none aria-hidden=true>"#);
    if !baseline.is_empty() {
        let _ = write!(
            svg,
            r#"<path id="b-{id}" class=b d="{}"/>"#,
            steps(&baseline, top, true)
        );
    }
    if !current.is_empty() {
        let _ = write!(
            svg,
            r#"<path id="c-{id}" class=c d="{}"/>"#,
            steps(&current, top, false)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The detail's histogram: the row's paths, larger.
pub fn histogram_detail(id: &str, histogram: &Histogram) -> String {
    let mut svg = String::from(r#"<svg class=ch viewBox="0 0 100 100" preserveAspectRatio=none>"#);
    if !histogram.baseline.is_empty() {
        let _ = write!(svg, r##"<use href="#b-{id}"/>"##);
    }
    if !histogram.current.is_empty() {
        let _ = write!(svg, r##"<use href="#c-{id}"/>"##);
    }
    svg.push_str("</svg>");
    svg
}

/// The cumulative share at each bin edge, with the point of the largest gap inserted at `at`.
fn cdf_points(counts: &[u64], gap: Option<(f64, f64)>) -> Vec<(f64, f64)> {
    let bins = counts.len() as f64;
    let mut points = vec![(0.0, 0.0)];
    let mut cumulative = 0.0;
    for (i, share) in shares(counts).into_iter().enumerate() {
        cumulative += share;
        points.push(((i + 1) as f64 / bins * 100.0, cumulative));
    }
    if let Some((x, y)) = gap {
        let at = points.partition_point(|&(px, _)| px < x);
        points.insert(at, (x, y));
    }
    points
}

fn polyline(points: &[(f64, f64)]) -> String {
    let mut path = String::new();
    for (i, &(x, y)) in points.iter().enumerate() {
        let command = match i {
            0 => "M",
            1 => "L",
            _ => " ",
        };
        let _ = write!(path, "{command}{} {}", coordinate(x), level(100.0 - y * 100.0));
    }
    path
}

/// Where `value` falls on the histogram's axis, 0 to 100.
pub fn axis_position(histogram: &Histogram, value: f64) -> f64 {
    let span = histogram.max - histogram.min;
    if span > 0.0 {
        ((value - histogram.min) / span * 100.0).clamp(0.0, 100.0)
    } else {
        50.0
    }
}

/// Both CDFs on the histogram's bins, and the largest gap between them as a dashed line.
pub fn cdf_chart(histogram: &Histogram) -> String {
    let gap = histogram.largest_gap;
    let x = gap.map(|g: LargestGap| axis_position(histogram, g.at));
    let mut svg = String::from(r#"<svg class=ch viewBox="0 0 100 100" preserveAspectRatio=none>"#);
    if !histogram.baseline.is_empty() {
        let points = cdf_points(&histogram.baseline, x.zip(gap.map(|g| g.baseline)));
        let _ = write!(svg, r#"<path class=bl d="{}"/>"#, polyline(&points));
    }
    if !histogram.current.is_empty() {
        let points = cdf_points(&histogram.current, x.zip(gap.map(|g| g.current)));
        let _ = write!(svg, r#"<path class=cl d="{}"/>"#, polyline(&points));
    }
    if let (Some(gap), Some(x)) = (gap, x) {
        let _ = write!(
            svg,
            r#"<path class=g d="M{x} {}V{}"/>"#,
            level(100.0 - gap.baseline * 100.0),
            level(100.0 - gap.current * 100.0),
            x = coordinate(x)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The shares of the categories shown (top, then "other" if any), per side.
pub fn category_shares(bars: &CategoryBars) -> Vec<(f64, f64)> {
    let share = |count: u64, total: u64| if total == 0 { 0.0 } else { count as f64 / total as f64 };
    let mut shares: Vec<(f64, f64)> = bars
        .top
        .iter()
        .map(|bar| {
            (
                share(bar.baseline, bars.baseline_total),
                share(bar.current, bars.current_total),
            )
        })
        .collect();
    if bars.other.categories > 0 {
        shares.push((
            share(bars.other.baseline, bars.baseline_total),
            share(bars.other.current, bars.current_total),
        ));
    }
    shares
}

/// The row's paired bars of a categorical feature: baseline left, current right, per category.
pub fn category_spark(bars: &CategoryBars) -> String {
    let shares = category_shares(bars);
    let top = shares.iter().map(|&(b, c)| b.max(c)).fold(0.0, f64::max);
    let slot = 100.0 / shares.len().max(1) as f64;
    let mut baseline = String::new();
    let mut current = String::new();
    for (i, &(b, c)) in shares.iter().enumerate() {
        let x = i as f64 * slot;
        let width = coordinate(slot * 0.4);
        let _ = write!(
            baseline,
            "M{} 100V{}h{width}V100Z",
            coordinate(x + slot * 0.1),
            level(height(b, top))
        );
        let _ = write!(
            current,
            "M{} 100V{}h{width}V100Z",
            coordinate(x + slot * 0.5),
            level(height(c, top))
        );
    }
    let mut svg = String::from(r#"<svg class=sp viewBox="0 0 100 100" preserveAspectRatio=none aria-hidden=true>"#);
    let _ = write!(svg, r#"<path class=b d="{baseline}"/>"#);
    if bars.current_total > 0 {
        let _ = write!(svg, r#"<path class=cb d="{current}"/>"#);
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram(baseline: Vec<u64>, current: Vec<u64>) -> Histogram {
        Histogram {
            min: 0.0,
            max: 10.0,
            baseline,
            current,
            largest_gap: None,
        }
    }

    #[test]
    fn coordinates_are_short() {
        assert_eq!(coordinate(5.0), "5");
        assert_eq!(coordinate(33.333), "33.3");
        assert_eq!(coordinate(-0.01), "0");
        assert_eq!(coordinate(99.96), "100");
    }

    #[test]
    fn steps_merge_equal_neighbours() {
        // Shares .25 .25 .5 with .5 at the top: y 50 50 0.
        assert_eq!(steps(&[0.25, 0.25, 0.5], 0.5, true), "M0 100V50h66.7V0h33.3V100Z");
        assert_eq!(steps(&[0.0, 1.0], 1.0, false), "M0 100h50V0h50V100");
        // Ending on an empty bin: no second drop to the baseline.
        assert_eq!(steps(&[1.0, 0.0], 1.0, true), "M0 100V0h50V100h50Z");
    }

    #[test]
    fn the_detail_reuses_the_rows_paths() {
        let h = histogram(vec![1, 3], vec![2, 2]);
        let spark = histogram_spark("age", &h);
        assert!(
            spark.contains(r#"id="b-age""#) && spark.contains(r#"id="c-age""#),
            "{spark}"
        );
        let detail = histogram_detail("age", &h);
        assert!(detail.contains(r##"href="#b-age""##) && detail.contains(r##"href="#c-age""##));
        // A side without numbers has no path.
        let spark = histogram_spark("x", &histogram(vec![1, 3], vec![]));
        assert!(!spark.contains("c-x"), "{spark}");
    }

    #[test]
    fn the_cdf_passes_through_the_largest_gap() {
        let mut h = histogram(vec![1, 1, 2], vec![2, 1, 1]);
        h.max = 3.0;
        h.largest_gap = Some(LargestGap {
            at: 1.5,
            baseline: 0.375,
            current: 0.625,
        });
        let svg = cdf_chart(&h);
        // x of 1.5 on [0, 3] is 50; the baseline passes (50, 0.375), i.e. y 62.5, drawn at 63.
        assert!(svg.contains("L33.3 75 50 63 66.7 50 100 0"), "{svg}");
        assert!(svg.contains(r#"<path class=g d="M50 63V38"/>"#), "{svg}");
    }
}
