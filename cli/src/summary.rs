//! The human-readable summaries the CLI prints.

use modelmon_engine::profile::RecordAccount;
use modelmon_formats::{FeatureStatistics, Statistics};

/// `read N, analysed N, rejected N (...)` and the first examples of each rejection.
pub fn records(account: &RecordAccount) -> String {
    let mut text = format!("Records: {}\n", account.summary());
    for (reason, tally) in &account.rejected {
        for example in &tally.examples {
            text.push_str(&format!("  {}: {example}\n", reason.as_str()));
        }
        if tally.count > tally.examples.len() as u64 {
            text.push_str(&format!(
                "  ... and {} more {}\n",
                tally.count - tally.examples.len() as u64,
                reason.as_str()
            ));
        }
    }
    for file in &account.empty_files {
        text.push_str(&format!("  empty file skipped: {file}\n"));
    }
    text
}

/// One line per feature: type, missing values, and either the numeric range or the distinct count.
pub fn features(statistics: &Statistics) -> String {
    let width = name_width(statistics.features.iter().map(|f| f.name.as_str()));
    let mut text = format!(
        "{:<width$}  {:<10}  {:>8}  {}\n",
        "feature", "type", "missing", "values"
    );
    for feature in &statistics.features {
        text.push_str(&format!(
            "{:<width$}  {:<10}  {:>8}  {}\n",
            feature.name,
            feature.inferred_type.as_str(),
            feature.common().map_or(0, |c| c.num_missing),
            describe_values(feature)
        ));
    }
    text
}

fn describe_values(feature: &FeatureStatistics) -> String {
    if let Some(numbers) = &feature.numerical_statistics {
        return format!(
            "min {}  mean {}  max {}  std {}",
            short(numbers.min),
            short(numbers.mean),
            short(numbers.max),
            short(numbers.std_dev)
        );
    }
    match &feature.string_statistics {
        Some(strings) => {
            let categorical = strings.distribution.as_ref().and_then(|d| d.categorical.as_ref());
            match categorical {
                Some(categories) => {
                    let top: Vec<String> = categories
                        .buckets
                        .iter()
                        .take(3)
                        .map(|b| format!("{} ({})", b.value, b.count))
                        .collect();
                    format!("{} distinct: {}", categories.buckets.len(), top.join(", "))
                }
                None => format!("~{} distinct", strings.distinct_count as u64),
            }
        }
        None => String::new(),
    }
}

/// A number in at most ~6 significant digits, for tables.
pub fn short(value: f64) -> String {
    if value != 0.0 && (value.abs() >= 1e6 || value.abs() < 1e-3) {
        format!("{value:.3e}")
    } else {
        let text = format!("{value:.4}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        text.to_string()
    }
}

/// The checks: one line per feature with the numbers behind its verdicts, then the violations.
pub fn checks(report: &modelmon_engine::checks::CheckReport) -> String {
    if report.no_data {
        return String::new();
    }
    let mut text = String::new();
    let width = name_width(report.features.iter().map(|f| f.name.as_str()));
    text.push_str(&format!(
        "{:<width$}  {:<12}  {:<9}  {:<22}  verdict\n",
        "feature", "type", "complete", "drift"
    ));
    for feature in &report.features {
        let observed = feature.observed_type.map_or("-".to_string(), |t| t.to_string());
        let completeness = feature
            .completeness
            .as_ref()
            .map_or("-".to_string(), |m| format!("{:.1}%", m.value * 100.0));
        let drift = feature.drift.as_ref().map_or("-".to_string(), |d| {
            format!("{} (max {})", short(d.value), short(d.threshold))
        });
        let verdict = if feature.violations.is_empty() {
            "ok".to_string()
        } else {
            feature
                .violations
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        text.push_str(&format!(
            "{:<width$}  {observed:<12}  {completeness:<9}  {drift:<22}  {verdict}\n",
            feature.name
        ));
    }
    if !report.violations.is_empty() {
        text.push_str("Violations:\n");
        for violation in &report.violations {
            text.push_str(&format!(
                "  {} / {}: {}\n",
                violation.feature_name, violation.constraint_check_type, violation.description
            ));
        }
    }
    text
}

/// The width of a table's name column: the longest name, within 7 to 40 characters.
fn name_width<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names.map(str::len).max().unwrap_or(7).clamp(7, 40)
}
