//! report.html: the page of a run or of a baseline, rendered on the server from the report's
//! JSON alone. Askama templates (`templates/`, checked at compile time, HTML-escaped) lay out
//! what the view models here compute: formatted numbers, the order of the features, the charts
//! ([`crate::svg`]).
//!
//! The page is one file: inline style and a small inline script (sorting and filtering; the
//! page reads the same without it), no request to anywhere (a `default-src 'none'` content
//! security policy that allows exactly that style and that script by their hashes).

use std::collections::{BTreeMap, HashMap, HashSet};

use askama::Template;
use modelmon_engine::analysis::Outcome;
use modelmon_engine::checks::{
    CategoryBars, Distributions, Drift, DriftKind, DriftMethod, FeatureCheck, Histogram, Measure, NumberSummary,
    Presence, Summary,
};
use modelmon_engine::profile::RecordAccount;
use modelmon_formats::{
    CategoricalDriftMethod, CheckType, ComparisonMethod, Constraints, FeatureConstraints, InferredType,
    MonitoringConfig, Statistics,
};

use crate::document::{BaselineReport, RunReport, VERSION};
use crate::format::{self, count, number};
use crate::svg;

pub const STYLE: &str = include_str!("../templates/style.css");
pub const SCRIPT: &str = include_str!("../templates/script.js");
/// `sha256-` of [`STYLE`] and [`SCRIPT`], base64 (a test checks them against the files).
pub const STYLE_HASH: &str = "sha256-ErbLmGZQ/UPX082lvuQ7b2FNCR1TBm6uDXKCVT4fA9o=";
pub const SCRIPT_HASH: &str = "sha256-suNYzGtVRBSHEdTSpGFl9j3B3Rduhe8DPHFklNFNWY8=";

/// Violating features whose details start open; the rest start closed, so a page with
/// hundreds of violations still opens quickly.
pub const MAX_OPEN_DETAILS: usize = 20;
/// Domain values a baseline's detail lists.
const MAX_DOMAIN_VALUES: usize = 30;

/// The content-security policy: nothing but the page's own style and script.
pub fn content_security_policy() -> String {
    format!(
        "default-src 'none'; style-src '{STYLE_HASH}'; script-src '{SCRIPT_HASH}'; base-uri 'none'; form-action 'none'"
    )
}

#[derive(Template)]
#[template(path = "run.html", whitespace = "minimize")]
struct RunPage<'a> {
    title: String,
    csp: String,
    style: &'static str,
    script: &'static str,
    verdict_class: &'static str,
    verdict: String,
    subtitle: String,
    by_check: Vec<(&'static str, usize)>,
    facts: Vec<(&'static str, String)>,
    records: String,
    rejections: Vec<Rejection<'a>>,
    settings: Vec<String>,
    exit_message: &'a str,
    files: Vec<&'static str>,
    version: String,
    feature_count: String,
    rows: Vec<Row<'a>>,
    details: Vec<Detail<'a>>,
}

struct Rejection<'a> {
    reason: &'static str,
    count: String,
    examples: &'a [String],
}

struct Row<'a> {
    id: String,
    name: &'a str,
    bad: bool,
    severity: String,
    completeness_key: String,
    types: String,
    /// The measured value, and the threshold it must reach or stay under.
    completeness: (String, String),
    drift: (String, String),
    /// The drift gauge's value: severity, full at 2 (the threshold at the middle).
    gauge: Option<String>,
    spark: String,
    failed: String,
}

struct Detail<'a> {
    id: String,
    name: &'a str,
    open: bool,
    bad: bool,
    types: String,
    failed: String,
    histogram: Option<HistogramView>,
    categories: Vec<CategoryRow>,
    stats: Vec<StatRow>,
    with_current: bool,
    type_mix: String,
    violations: Vec<(&'static str, &'a str)>,
    measures: Vec<String>,
    examples: Vec<(&'static str, &'a [String])>,
    notes: &'a [String],
}

struct HistogramView {
    chart: String,
    cdf: String,
    min: String,
    max: String,
    gap: String,
}

struct CategoryRow {
    value: String,
    /// The two shares as gauges, the larger of all at 1.
    bars: (String, String),
    baseline: String,
    current: String,
    flag: &'static str,
}

struct StatRow {
    label: &'static str,
    baseline: String,
    current: String,
    delta: String,
}

/// The page of a run's report.json.
pub fn run_page(report: &RunReport) -> String {
    let features = &report.checks.features;
    let mut order: Vec<(usize, &FeatureCheck)> = features.iter().enumerate().collect();
    // Violations first, then by distance ÷ threshold; otherwise in baseline order.
    order.sort_by(|(_, a), (_, b)| {
        a.violations
            .is_empty()
            .cmp(&b.violations.is_empty())
            .then_with(|| severity(b).total_cmp(&severity(a)))
    });
    let mut descriptions: HashMap<&str, Vec<(&'static str, &str)>> = HashMap::new();
    for violation in &report.checks.violations {
        descriptions
            .entry(violation.feature_name.as_str())
            .or_default()
            .push((violation.constraint_check_type.as_str(), violation.description.as_str()));
    }
    let ids = anchor_ids(features.iter().map(|f| f.name.as_str()));
    let mut rows = Vec::with_capacity(features.len());
    let mut details = Vec::with_capacity(features.len());
    let mut opened = 0;
    for (index, feature) in order {
        let id = ids[index].clone();
        let bad = !feature.violations.is_empty();
        let open = bad && opened < MAX_OPEN_DETAILS;
        opened += usize::from(open);
        rows.push(run_row(&id, feature));
        let violations = descriptions.remove(feature.name.as_str()).unwrap_or_default();
        details.push(run_detail(id, feature, open, violations));
    }

    let violations = &report.checks.violations;
    let mut by_check: BTreeMap<CheckType, usize> = BTreeMap::new();
    for violation in violations {
        *by_check.entry(violation.constraint_check_type).or_default() += 1;
    }
    let (verdict_class, verdict) = match report.outcome {
        Outcome::NoData => ("nodata", "No data".to_string()),
        Outcome::Completed => ("ok", "✓ OK: no violations".to_string()),
        Outcome::CompletedWithViolations => (
            "bad",
            match violations.len() {
                1 => "✗ 1 violation".to_string(),
                n => format!("✗ {} violations", count(n as u64)),
            },
        ),
    };
    let run = &report.run;
    let subtitle = [run.schedule.as_deref(), run.endpoint.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · ");
    let mut facts: Vec<(&'static str, String)> = Vec::new();
    if let Some(schedule) = &run.schedule {
        facts.push(("Schedule", schedule.clone()));
    }
    if let Some(endpoint) = &run.endpoint {
        facts.push(("Endpoint", endpoint.clone()));
    }
    if let Some(window) = &run.window {
        facts.push((
            "Window",
            format!(
                "{} – {} (inferenceTime in [start, end))",
                window.start.format("%Y-%m-%d %H:%M:%S UTC"),
                window.end.format("%Y-%m-%d %H:%M:%S UTC")
            ),
        ));
    }
    if let Some(time) = &run.scheduled_time {
        facts.push(("Scheduled", time.format("%Y-%m-%d %H:%M:%S UTC").to_string()));
    }
    let baseline: Vec<&str> = [run.baseline_statistics.as_deref(), run.baseline_constraints.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    if !baseline.is_empty() {
        facts.push(("Baseline", baseline.join(", ")));
    }
    if !run.inputs.is_empty() {
        let format = run
            .input_format
            .as_deref()
            .map(|f| format!(" ({f})"))
            .unwrap_or_default();
        facts.push(("Input", format!("{}{format}", run.inputs.join(", "))));
    }
    if let Some(capture) = &report.capture {
        facts.push((
            "Capture",
            format!(
                "{} files; {} records outside the window, {} shadow records skipped",
                count(capture.files),
                count(capture.outside_window),
                count(capture.shadow_skipped)
            ),
        ));
    }
    let files = match report.outcome {
        Outcome::NoData => vec!["report.json"],
        _ => vec!["statistics.json", "constraint_violations.json", "report.json"],
    };
    let title = match &run.schedule {
        Some(schedule) => format!("{verdict} · {schedule} · modelmon"),
        None => format!("{verdict} · modelmon"),
    };
    RunPage {
        title,
        csp: content_security_policy(),
        style: STYLE,
        script: SCRIPT,
        verdict_class,
        verdict,
        subtitle,
        by_check: by_check.into_iter().map(|(check, n)| (check.as_str(), n)).collect(),
        facts,
        records: records_line(&report.records),
        rejections: rejections(&report.records),
        settings: settings(&report.monitoring_config),
        exit_message: &report.exit_message,
        files,
        version: version_line(&report.modelmon_version),
        feature_count: count(features.len() as u64),
        rows,
        details,
    }
    .render()
    .expect("the page's template renders plain data")
}

fn records_line(records: &RecordAccount) -> String {
    format!(
        "read {}, analysed {}, rejected {}",
        count(records.read),
        count(records.analysed),
        count(records.rejected_total())
    )
}

/// The reasons for rejections, most frequent first, with the first few `file:line`s of each.
fn rejections(records: &RecordAccount) -> Vec<Rejection<'_>> {
    let mut tallies: Vec<_> = records.rejected.iter().collect();
    tallies.sort_by_key(|(_, tally)| std::cmp::Reverse(tally.count));
    tallies
        .into_iter()
        .map(|(reason, tally)| Rejection {
            reason: reason.as_str(),
            count: count(tally.count),
            examples: &tally.examples,
        })
        .collect()
}

fn version_line(written_by: &str) -> String {
    if written_by == VERSION {
        VERSION.to_string()
    } else {
        format!("{written_by} (this page rendered by {VERSION})")
    }
}

/// The global checks and thresholds in one line each.
fn settings(config: &MonitoringConfig) -> Vec<String> {
    let distribution = &config.distribution_constraints;
    let mut lines = Vec::new();
    if !config.evaluate_constraints.is_enabled() {
        lines.push("evaluate_constraints Disabled: nothing becomes a violation".to_string());
    }
    lines.push(format!(
        "data type: at least {} of the values of the baseline type",
        format::percent(config.datatype_check_threshold)
    ));
    lines.push("completeness: at least each feature's baseline completeness".to_string());
    if distribution.perform_comparison.is_enabled() {
        let numerical = match distribution.comparison_method {
            ComparisonMethod::Simple => "Simple",
            ComparisonMethod::Robust => "Robust (less 1.8·sqrt((n+m)/(n·m)))",
        };
        lines.push(format!(
            "numerical drift: L∞ distance of the KLL CDFs, {numerical}, at most {}",
            number(distribution.comparison_threshold)
        ));
        lines.push(match distribution.categorical_drift_method {
            CategoricalDriftMethod::LInfinity => format!(
                "categorical drift: L∞ distance of the category frequencies, {}, at most {}",
                match distribution.comparison_method {
                    ComparisonMethod::Simple => "Simple",
                    ComparisonMethod::Robust => "Robust",
                },
                number(distribution.categorical_comparison_threshold)
            ),
            CategoricalDriftMethod::ChiSquared => format!(
                "categorical drift: chi-squared p-value at least {}",
                number(distribution.categorical_comparison_threshold)
            ),
        });
    } else {
        lines.push("drift: not compared (perform_comparison Disabled)".to_string());
    }
    lines.push(format!(
        "domain: at least {} of the values in the baseline domain",
        format::percent(config.domain_content_threshold)
    ));
    if !config.emit_metrics.is_enabled() {
        lines.push("emit_metrics Disabled: no metrics".to_string());
    }
    lines.push("per-feature overrides show in each feature's thresholds".to_string());
    lines
}

/// How far past its threshold a feature's drift is: distance ÷ threshold, or threshold ÷
/// p-value for the chi-squared test (above 1 is a violation either way); 0 without drift.
fn severity(feature: &FeatureCheck) -> f64 {
    const CAP: f64 = 1e9;
    let Some(drift) = &feature.drift else {
        return 0.0;
    };
    let (over, under) = match drift.method {
        DriftMethod::ChiSquared => (drift.threshold, drift.value),
        DriftMethod::LinfSimple | DriftMethod::LinfRobust => (drift.value, drift.threshold),
    };
    match (over, under) {
        (o, _) if o <= 0.0 => 0.0,
        (o, u) if u <= 0.0 => CAP.max(o),
        (o, u) => (o / u).min(CAP),
    }
}

/// An HTML id per feature, from its name: unique, no whitespace, readable in a URL.
fn anchor_ids<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut taken = HashSet::new();
    names
        .map(|name| {
            let base: String = name
                .chars()
                .map(|c| {
                    if c.is_alphanumeric() || c == '-' || c == '_' || c == '.' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let mut id = if base.is_empty() { "_".to_string() } else { base };
            let stem = id.clone();
            let mut n = 2;
            while !taken.insert(id.clone()) {
                id = format!("{stem}~{n}");
                n += 1;
            }
            id
        })
        .collect()
}

fn type_name(t: Option<InferredType>) -> &'static str {
    t.map_or("no values", InferredType::as_str)
}

fn types_line(feature: &FeatureCheck) -> String {
    match feature.presence {
        Presence::MissingFromCurrent => format!("{} → missing", type_name(feature.expected_type)),
        Presence::NotInBaseline => format!("not in baseline → {}", type_name(feature.observed_type)),
        Presence::Both if feature.expected_type == feature.observed_type => {
            type_name(feature.expected_type).to_string()
        }
        Presence::Both => format!(
            "{} → {}",
            type_name(feature.expected_type),
            type_name(feature.observed_type)
        ),
    }
}

fn check_label(check: CheckType) -> &'static str {
    match check {
        CheckType::DataTypeCheck => "data type",
        CheckType::CompletenessCheck => "completeness",
        CheckType::BaselineDriftCheck => "drift",
        CheckType::MissingColumnCheck => "missing column",
        CheckType::ExtraColumnCheck => "extra column",
        CheckType::CategoricalValuesCheck => "domain",
    }
}

fn failed_line(feature: &FeatureCheck) -> String {
    feature
        .violations
        .iter()
        .map(|&c| check_label(c))
        .collect::<Vec<_>>()
        .join(", ")
}

fn method_name(drift: &Drift) -> &'static str {
    match (drift.kind, drift.method) {
        (DriftKind::Numerical, DriftMethod::LinfRobust) => "Robust L∞ distance of the CDFs",
        (DriftKind::Numerical, _) => "L∞ distance of the CDFs",
        (DriftKind::Categorical, DriftMethod::LinfRobust) => "Robust L∞ distance of the category frequencies",
        (DriftKind::Categorical, DriftMethod::ChiSquared) => "chi-squared p-value",
        (DriftKind::Categorical, DriftMethod::LinfSimple) => "L∞ distance of the category frequencies",
    }
}

/// `max 0.1` for a distance, `min 0.05` for a p-value.
fn drift_bound(drift: &Drift) -> &'static str {
    match drift.method {
        DriftMethod::ChiSquared => "min",
        _ => "max",
    }
}

fn run_row<'a>(id: &str, feature: &'a FeatureCheck) -> Row<'a> {
    let completeness = feature
        .completeness
        .map(|m| {
            let (value, threshold) = format::percent_against(m.value, m.threshold);
            (value, format!("min {threshold}"))
        })
        .unwrap_or_default();
    let drift = feature
        .drift
        .as_ref()
        .map(|d| {
            let (value, threshold) = format::against(d.value, d.threshold);
            (value, format!("{} {threshold}", drift_bound(d)))
        })
        .unwrap_or_default();
    let distributions = feature.distributions.as_ref();
    let spark = match (
        distributions.and_then(|d| d.histogram.as_ref()),
        distributions.and_then(|d| d.categories.as_ref()),
    ) {
        (Some(histogram), _) => svg::histogram_spark(id, histogram),
        (None, Some(bars)) => svg::category_spark(bars),
        (None, None) => String::new(),
    };
    let severity = severity(feature);
    Row {
        id: id.to_string(),
        name: &feature.name,
        bad: !feature.violations.is_empty(),
        severity: number(severity),
        completeness_key: feature.completeness.map(|m| number(m.value)).unwrap_or_default(),
        types: types_line(feature),
        completeness,
        gauge: feature.drift.as_ref().map(|_| gauge(severity.min(2.0))),
        drift,
        spark,
        failed: failed_line(feature),
    }
}

fn run_detail<'a>(
    id: String,
    feature: &'a FeatureCheck,
    open: bool,
    violations: Vec<(&'static str, &'a str)>,
) -> Detail<'a> {
    let distributions = feature.distributions.as_ref();
    let histogram = distributions
        .and_then(|d| d.histogram.as_ref())
        .map(|h| histogram_view(&id, h));
    let categories = distributions
        .and_then(|d| d.categories.as_ref())
        .map(category_rows)
        .unwrap_or_default();
    // The type, completeness and domain lines say more than the row only when a value is short
    // of 100%; the drift line always does (the method, the sample sizes).
    let mut measures = Vec::new();
    let informative = |m: &Measure| m.value < 1.0 || !m.met;
    if let Some(m) = feature.type_match.filter(informative) {
        let (value, threshold) = format::percent_against(m.value, m.threshold);
        measures.push(format!(
            "Data type: {value} of the present values are {}, min {threshold}",
            type_name(feature.expected_type)
        ));
    }
    if let Some(m) = feature.completeness {
        let (value, threshold) = format::percent_against(m.value, m.threshold);
        measures.push(format!(
            "Completeness: {value} of the records have a value, min {threshold}"
        ));
    }
    if let Some(d) = &feature.drift {
        let (value, threshold) = format::against(d.value, d.threshold);
        let mut line = format!(
            "Drift: {} {value}, {} {threshold} (baseline n={}, current n={}",
            method_name(d),
            drift_bound(d),
            count(d.baseline_count),
            count(d.current_count)
        );
        if let (Some(b), Some(c)) = (d.baseline_median, d.current_median) {
            line.push_str(&format!("; median {} → {}", number(b), number(c)));
        }
        if let Some(change) = &d.largest_change {
            line.push_str(&format!(
                "; most changed {:?}: {} → {}",
                change.value,
                format::percent(change.baseline_share),
                format::percent(change.current_share)
            ));
        }
        if let Some(test) = &d.chi_squared {
            line.push_str(&format!(
                "; χ² {} with {} degrees of freedom",
                number(test.statistic),
                test.degrees_of_freedom
            ));
        }
        line.push(')');
        measures.push(line);
    }
    if let Some(m) = feature.domain_compliance.filter(informative) {
        let (value, threshold) = format::percent_against(m.value, m.threshold);
        measures.push(format!(
            "Domain: {value} of the values in the baseline domain, min {threshold}"
        ));
    }
    if !feature.evaluated {
        measures.push("Constraints are not evaluated for this feature (evaluate_constraints).".to_string());
    }
    let mut examples: Vec<(&'static str, &[String])> = Vec::new();
    if !feature.other_type_examples.is_empty() {
        examples.push(("Values of another type", &feature.other_type_examples));
    }
    if !feature.outside_domain_examples.is_empty() {
        examples.push(("Values outside the baseline domain", &feature.outside_domain_examples));
    }
    Detail {
        name: &feature.name,
        open,
        bad: !feature.violations.is_empty(),
        types: types_line(feature),
        failed: failed_line(feature),
        histogram,
        categories,
        stats: distributions.map(stat_rows).unwrap_or_default(),
        with_current: distributions.is_some_and(|d| d.current.is_some()),
        type_mix: distributions
            .and_then(|d| d.current.as_ref())
            .map(type_mix)
            .unwrap_or_default(),
        violations,
        measures,
        examples,
        notes: &feature.notes,
        id,
    }
}

fn histogram_view(id: &str, histogram: &Histogram) -> HistogramView {
    let gap = match &histogram.largest_gap {
        Some(gap) => format!(
            "CDFs; largest gap at {}: baseline {}, current {} (L∞ {}, before any correction)",
            number(gap.at),
            number(gap.baseline),
            number(gap.current),
            number((gap.baseline - gap.current).abs())
        ),
        None => "CDF".to_string(),
    };
    HistogramView {
        chart: svg::histogram_detail(id, histogram),
        cdf: svg::cdf_chart(histogram),
        min: number(histogram.min),
        max: number(histogram.max),
        gap,
    }
}

fn category_rows(bars: &CategoryBars) -> Vec<CategoryRow> {
    let shares = svg::category_shares(bars);
    let top = shares.iter().map(|&(b, c)| b.max(c)).fold(0.0, f64::max);
    let with_current = bars.current_total > 0;
    let other = (bars.other.categories > 0).then(|| {
        (
            format!("other ({} values)", count(bars.other.categories as u64)),
            bars.other.baseline,
            bars.other.current,
        )
    });
    let named = bars
        .top
        .iter()
        .map(|bar| (bar.value.clone(), bar.baseline, bar.current));
    named
        .chain(other)
        .zip(shares)
        .enumerate()
        .map(|(i, ((value, baseline, current), (b, c)))| CategoryRow {
            flag: match (i < bars.top.len(), baseline, current) {
                (true, 0, _) if with_current => "new",
                (true, _, 0) if with_current => "vanished",
                _ => "",
            },
            value,
            bars: (gauge(share_of(b, top)), gauge(share_of(c, top))),
            baseline: format::percent(b),
            current: if with_current {
                format::percent(c)
            } else {
                String::new()
            },
        })
        .collect()
}

/// A `<meter>`'s value: three decimals are finer than its pixels.
fn gauge(value: f64) -> String {
    format!("{:.3}", value.max(0.0))
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

fn share_of(value: f64, top: f64) -> f64 {
    if top > 0.0 {
        value / top
    } else {
        0.0
    }
}

fn stat_rows(distributions: &Distributions) -> Vec<StatRow> {
    let (baseline, current) = (distributions.baseline.as_ref(), distributions.current.as_ref());
    let mut rows = Vec::new();
    let counts = |s: Option<&Summary>, f: fn(&Summary) -> Option<u64>| s.and_then(f);
    // Counts of samples of different sizes: no difference to show.
    let mut count_row = |label, f: fn(&Summary) -> Option<u64>| {
        let (b, c) = (counts(baseline, f), counts(current, f));
        if b.is_some() || c.is_some() {
            rows.push(StatRow {
                label,
                baseline: b.map(count).unwrap_or_default(),
                current: c.map(count).unwrap_or_default(),
                delta: String::new(),
            });
        }
    };
    count_row("present", |s| Some(s.present));
    count_row("missing", |s| Some(s.missing));
    count_row("distinct", |s| s.distinct);
    let numbers = |s: Option<&Summary>| s.and_then(|s| s.numbers);
    let (b, c) = (numbers(baseline), numbers(current));
    if b.is_some() || c.is_some() {
        let values = |n: &NumberSummary| {
            [
                ("mean", Some(n.mean)),
                ("std dev", Some(n.std_dev)),
                ("min", Some(n.min)),
                ("median", n.median),
                ("max", Some(n.max)),
            ]
        };
        let (bs, cs) = (b.as_ref().map(values), c.as_ref().map(values));
        for i in 0..5 {
            let label = bs.or(cs).map(|v| v[i].0).unwrap_or_default();
            let (bv, cv) = (bs.and_then(|v| v[i].1), cs.and_then(|v| v[i].1));
            rows.push(StatRow {
                label,
                baseline: bv.map(number).unwrap_or_default(),
                current: cv.map(number).unwrap_or_default(),
                delta: match (bv, cv) {
                    (Some(b), Some(c)) => format::delta(b, c),
                    _ => String::new(),
                },
            });
        }
    }
    rows
}

fn type_mix(current: &Summary) -> String {
    let Some(kinds) = current.kinds else {
        return String::new();
    };
    let parts: Vec<String> = [
        ("Integral", kinds.integral),
        ("Fractional", kinds.fractional),
        ("Boolean", kinds.boolean),
        ("String", kinds.string),
        ("missing", current.missing),
    ]
    .into_iter()
    .filter(|&(_, n)| n > 0)
    .map(|(kind, n)| format!("{kind} {}", count(n)))
    .collect();
    format!("Current values: {}", parts.join(" · "))
}

#[derive(Template)]
#[template(path = "baseline.html", whitespace = "minimize")]
struct BaselinePage<'a> {
    title: String,
    csp: String,
    style: &'static str,
    script: &'static str,
    facts: Vec<(&'static str, String)>,
    records: String,
    rejections: Vec<Rejection<'a>>,
    settings: Vec<String>,
    version: String,
    feature_count: String,
    rows: Vec<BaselineRow<'a>>,
    details: Vec<Detail<'a>>,
}

struct BaselineRow<'a> {
    id: String,
    name: &'a str,
    types: String,
    completeness: String,
    completeness_key: String,
    distinct: String,
    spark: String,
    constraints: String,
}

/// The page of a baseline: its statistics.json and constraints.json, and modelmon's
/// report.json when there is one.
pub fn baseline_page(statistics: &Statistics, constraints: &Constraints, report: Option<&BaselineReport>) -> String {
    let ids = anchor_ids(statistics.features.iter().map(|f| f.name.as_str()));
    let distributions: Vec<Distributions> = statistics
        .features
        .iter()
        .map(|feature| modelmon_engine::checks::distributions(Some(feature), None, 0))
        .collect();
    let constraint_of = |name: &str| constraints.features.iter().find(|c| c.name == name);
    let mut rows = Vec::with_capacity(statistics.features.len());
    let mut details = Vec::with_capacity(statistics.features.len());
    for ((feature, id), distributions) in statistics.features.iter().zip(ids).zip(&distributions) {
        let summary = distributions.baseline.as_ref();
        let completeness = feature.common().map(|c| c.completeness());
        let spark = match (&distributions.histogram, &distributions.categories) {
            (Some(histogram), _) => svg::histogram_spark(&id, histogram),
            (None, Some(bars)) => svg::category_spark(bars),
            (None, None) => String::new(),
        };
        let constraint = constraint_of(&feature.name);
        rows.push(BaselineRow {
            id: id.clone(),
            name: &feature.name,
            types: feature.inferred_type.as_str().to_string(),
            completeness: completeness.map(format::percent).unwrap_or_default(),
            completeness_key: completeness.map(number).unwrap_or_default(),
            distinct: summary.and_then(|s| s.distinct).map(count).unwrap_or_default(),
            spark,
            constraints: constraint.map(constraint_line).unwrap_or_default(),
        });
        let mut measures = Vec::new();
        if let Some(domain) = constraint
            .and_then(|c| c.string_constraints.as_ref())
            .and_then(|s| s.domains.as_ref())
        {
            let shown: Vec<String> = domain
                .iter()
                .take(MAX_DOMAIN_VALUES)
                .map(|v| format!("{v:?}"))
                .collect();
            let more = domain.len().saturating_sub(MAX_DOMAIN_VALUES);
            let mut line = format!("Domain ({} values): {}", count(domain.len() as u64), shown.join(", "));
            if more > 0 {
                line.push_str(&format!(" and {} more", count(more as u64)));
            }
            measures.push(line);
        }
        details.push(Detail {
            name: &feature.name,
            open: false,
            bad: false,
            types: feature.inferred_type.as_str().to_string(),
            failed: String::new(),
            histogram: distributions.histogram.as_ref().map(|h| histogram_view(&id, h)),
            categories: distributions.categories.as_ref().map(category_rows).unwrap_or_default(),
            stats: stat_rows(distributions),
            with_current: false,
            type_mix: String::new(),
            violations: Vec::new(),
            measures,
            examples: Vec::new(),
            notes: &[],
            id,
        });
    }
    let mut facts = vec![("Records", format!("{} analysed", count(statistics.dataset.item_count)))];
    if let Some(report) = report {
        if !report.dataset.is_empty() {
            let format = report
                .dataset_format
                .as_deref()
                .map(|f| format!(" ({f})"))
                .unwrap_or_default();
            facts.insert(0, ("Dataset", format!("{}{format}", report.dataset.join(", "))));
        }
    }
    BaselinePage {
        title: format!(
            "Baseline of {} features · modelmon",
            count(statistics.features.len() as u64)
        ),
        csp: content_security_policy(),
        style: STYLE,
        script: SCRIPT,
        records: report.map(|r| records_line(&r.records)).unwrap_or_default(),
        rejections: report.map(|r| rejections(&r.records)).unwrap_or_default(),
        facts,
        settings: settings(&constraints.monitoring_config),
        version: report.map_or_else(|| VERSION.to_string(), |r| version_line(&r.modelmon_version)),
        feature_count: count(statistics.features.len() as u64),
        rows,
        details,
    }
    .render()
    .expect("the page's template renders plain data")
}

/// The suggested constraints of a feature, briefly.
fn constraint_line(constraint: &FeatureConstraints) -> String {
    let mut parts = Vec::new();
    if let Some(completeness) = constraint.completeness {
        parts.push(format!("completeness ≥ {}", format::percent(completeness)));
    }
    if constraint.num_constraints.as_ref().and_then(|n| n.is_non_negative) == Some(true) {
        parts.push("non-negative".to_string());
    }
    if let Some(domain) = constraint.string_constraints.as_ref().and_then(|s| s.domains.as_ref()) {
        parts.push(format!("domain of {}", count(domain.len() as u64)));
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use sha2::{Digest, Sha256};

    use super::*;

    fn csp_hash(text: &str) -> String {
        let digest = Sha256::digest(text.as_bytes());
        format!("sha256-{}", base64::engine::general_purpose::STANDARD.encode(digest))
    }

    #[test]
    fn the_policy_names_the_style_and_the_script_by_their_hashes() {
        assert_eq!(
            STYLE_HASH,
            csp_hash(STYLE),
            "templates/style.css changed: update STYLE_HASH"
        );
        assert_eq!(
            SCRIPT_HASH,
            csp_hash(SCRIPT),
            "templates/script.js changed: update SCRIPT_HASH"
        );
        let policy = content_security_policy();
        assert!(policy.starts_with("default-src 'none'; "), "{policy}");
    }

    #[test]
    fn anchor_ids_are_unique_and_have_no_spaces() {
        let ids = anchor_ids(["age", "a b", "a_b", "", "ü\"<"].into_iter());
        assert_eq!(ids, ["age", "a_b", "a_b~2", "_", "ü__"]);
    }

    #[test]
    fn severity_is_how_far_past_the_threshold() {
        let mut feature: FeatureCheck = serde_json::from_value(serde_json::json!({
            "name": "x", "presence": "both", "evaluated": true, "expected_type": null, "observed_type": null,
            "type_match": null, "completeness": null, "drift": null, "domain_compliance": null,
            "notes": [], "violations": []
        }))
        .unwrap();
        assert_eq!(severity(&feature), 0.0);
        let drift = |method: &str, value: f64, threshold: f64| {
            serde_json::from_value::<Drift>(serde_json::json!({
                "kind": "numerical", "method": method, "value": value, "threshold": threshold, "met": true,
                "baseline_count": 1, "current_count": 1, "baseline_median": null, "current_median": null,
                "largest_change": null, "chi_squared": null
            }))
            .unwrap()
        };
        feature.drift = Some(drift("linf_robust", 0.3, 0.1));
        assert!((severity(&feature) - 3.0).abs() < 1e-12);
        // A p-value of 0.01 against 0.05 is five times past it.
        feature.drift = Some(drift("chi_squared", 0.01, 0.05));
        assert!((severity(&feature) - 5.0).abs() < 1e-12);
    }
}
