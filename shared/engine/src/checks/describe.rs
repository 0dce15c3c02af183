//! Violation descriptions. Where SageMaker's wording is known (data type, numerical drift) it
//! is reproduced exactly, doubles printed as Java does, so tools that parse it (e.g. the
//! `distance: (.+) exceeds` regex of AWS's notebooks) keep working; the rest follows the same
//! style. Anything modelmon adds goes after SageMaker's sentence.

use modelmon_formats::{java_double, ComparisonMethod, InferredType};

use super::{Drift, DriftMethod};

/// Examples longer than this many characters are cut, so one huge value cannot swamp a report.
const MAX_EXAMPLE_CHARS: usize = 40;

/// A ratio as SageMaker prints a percentage: `java_double(ratio * 100)`, e.g. `99.5`.
pub(super) fn percent(ratio: f64) -> String {
    java_double(ratio * 100.0)
}

/// A value in double quotes, escaped like a Rust/JSON string literal, cut if long.
pub(super) fn quote(value: &str) -> String {
    match value.char_indices().nth(MAX_EXAMPLE_CHARS) {
        Some((cut, _)) => format!("{:?}…", &value[..cut]),
        None => format!("{value:?}"),
    }
}

fn quoted_list(values: &[String]) -> String {
    values.iter().map(|v| quote(v)).collect::<Vec<_>>().join(", ")
}

pub(super) fn missing_column(name: &str, baseline_columns: usize, current_columns: usize) -> String {
    format!(
        "Column {name} is missing from the current dataset. Baseline has {baseline_columns} columns, \
         current dataset has {current_columns}."
    )
}

pub(super) fn extra_column(name: &str, baseline_columns: usize, current_columns: usize) -> String {
    format!(
        "Column {name} is not in the baseline. Baseline has {baseline_columns} columns, \
         current dataset has {current_columns}."
    )
}

/// SageMaker's wording, then the offending values if any were kept.
pub(super) fn data_type(expected: InferredType, threshold: f64, ratio: f64, examples: &[String]) -> String {
    let mut text = format!(
        "Data type match requirement is not met. Expected data type: {expected}, Expected match: {}%. \
         Observed: Only {}% of data is {expected}.",
        percent(threshold),
        percent(ratio)
    );
    if !examples.is_empty() {
        text.push_str(&format!(" Examples of other values: {}.", quoted_list(examples)));
    }
    text
}

pub(super) fn completeness(expected: f64, observed: f64, missing: u64, item_count: u64) -> String {
    format!(
        "Data completeness requirement is not met. Expected completeness: {}%. Observed: {}% of data is \
         complete ({missing} of {item_count} values missing).",
        percent(expected),
        percent(observed)
    )
}

pub(super) fn domain(threshold: f64, compliance: f64, outside: u64, total: u64, examples: &[String]) -> String {
    let examples = if examples.is_empty() {
        String::new()
    } else {
        format!(", e.g. {}", quoted_list(examples))
    };
    format!(
        "Categorical value requirement is not met. Expected: {}% of values in the baseline domain. \
         Observed: only {}% ({outside} of {total} values outside it{examples}).",
        percent(threshold),
        percent(compliance)
    )
}

fn method_name(method: DriftMethod) -> &'static str {
    match method {
        DriftMethod::LinfSimple => "Simple",
        DriftMethod::LinfRobust => "Robust",
        DriftMethod::ChiSquared => "Chi-squared",
    }
}

/// The method a [`ComparisonMethod`] selects for L-infinity distances.
pub(super) fn linf_method(method: ComparisonMethod) -> DriftMethod {
    match method {
        ComparisonMethod::Simple => DriftMethod::LinfSimple,
        ComparisonMethod::Robust => DriftMethod::LinfRobust,
    }
}

pub(super) fn numerical_drift(drift: &Drift) -> String {
    let mut text = format!(
        "Numerical distance: {} exceeds numerical threshold: {} ({} L-infinity distance of the CDFs, \
         baseline n={}, current n={}",
        java_double(drift.value),
        java_double(drift.threshold),
        method_name(drift.method),
        drift.baseline_count,
        drift.current_count
    );
    if let (Some(baseline), Some(current)) = (drift.baseline_median, drift.current_median) {
        text.push_str(&format!(
            "; baseline median {}, current median {}",
            java_double(baseline),
            java_double(current)
        ));
    }
    text.push(')');
    text
}

pub(super) fn categorical_drift(drift: &Drift) -> String {
    if let (DriftMethod::ChiSquared, Some(test)) = (drift.method, &drift.chi_squared) {
        let dof = test.degrees_of_freedom;
        return format!(
            "Categorical drift p-value: {} is below categorical threshold: {} (chi-squared statistic {}, \
             {dof} degree{} of freedom)",
            java_double(drift.value),
            java_double(drift.threshold),
            java_double(test.statistic),
            if dof == 1 { "" } else { "s" }
        );
    }
    let mut text = format!(
        "Categorical distance: {} exceeds categorical threshold: {} ({} L-infinity distance of the category \
         frequencies, baseline n={}, current n={}",
        java_double(drift.value),
        java_double(drift.threshold),
        method_name(drift.method),
        drift.baseline_count,
        drift.current_count
    );
    if let Some(change) = &drift.largest_change {
        text.push_str(&format!(
            "; largest change: {} {:.1}% -> {:.1}%",
            quote(&change.value),
            change.baseline_share * 100.0,
            change.current_share * 100.0
        ));
    }
    text.push(')');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_print_like_java() {
        assert_eq!(percent(1.0), "100.0");
        assert_eq!(percent(0.5), "50.0");
        assert_eq!(percent(0.0), "0.0");
        assert_eq!(percent(0.9325), "93.25");
    }

    #[test]
    fn examples_are_quoted_escaped_and_cut() {
        assert_eq!(quote("gold"), "\"gold\"");
        assert_eq!(quote("say \"hi\"\n"), "\"say \\\"hi\\\"\\n\"");
        let long = "é".repeat(50);
        assert_eq!(quote(&long), format!("\"{}\"…", "é".repeat(40)));
    }
}
