//! The demo's data: a churn model's training set and its live traffic, generated
//! deterministically (same seed, same bytes) so every run of the demo tells the same story.

pub use modelmon_engine::random::SplitMix64 as Rng;

/// The model's output first, then its inputs: SageMaker's convention for baselines.
pub const COLUMNS: [&str; 9] = [
    "churn_probability",
    "age",
    "tenure_months",
    "monthly_charges",
    "total_spend",
    "support_calls",
    "plan",
    "region",
    "payment_method",
];

const PLANS: [(&str, f64); 3] = [("basic", 0.5), ("standard", 0.35), ("premium", 0.15)];
const PLANS_SHIFTED: [(&str, f64); 3] = [("basic", 0.15), ("standard", 0.35), ("premium", 0.5)];
const REGIONS: [(&str, f64); 4] = [("north", 0.3), ("south", 0.25), ("east", 0.25), ("west", 0.2)];
const PAYMENTS: [(&str, f64); 3] = [("card", 0.6), ("bank_transfer", 0.3), ("voucher", 0.1)];

/// What the live traffic does differently from training.
#[derive(Clone, Copy, Default)]
pub struct Drift {
    /// `total_spend` arrives in cents instead of dollars (a unit change upstream).
    pub spend_in_cents: bool,
    /// Customers move to the premium plan.
    pub shifted_plans: bool,
    /// `monthly_charges` goes missing for a share of requests (a broken join).
    pub missing_charges: f64,
    /// `age` sometimes arrives as text ("unknown"): a type change.
    pub age_as_text: f64,
}

/// One record's fields, in [`COLUMNS`] order; `None` is a missing value.
pub fn record(rng: &mut Rng, drift: Drift) -> Vec<Option<String>> {
    let age = (38.0 + 12.0 * rng.normal()).clamp(18.0, 90.0).round() as i64;
    let tenure = (rng.uniform() * 72.0).floor() as i64;
    let plan = if drift.shifted_plans {
        rng.choose(&PLANS_SHIFTED)
    } else {
        rng.choose(&PLANS)
    };
    // Charges depend on usage, not on the plan, so the plan shift leaves them alone.
    let charges = ((55.0 + 18.0 * rng.normal()).max(5.0) * 100.0).round() / 100.0;
    let spend = (charges * tenure as f64 * (0.9 + 0.2 * rng.uniform()) * 100.0).round() / 100.0;
    let calls = (-(1.0 - rng.uniform()).ln() * 1.5).floor() as i64;
    let region = rng.choose(&REGIONS);
    let payment = rng.choose(&PAYMENTS);
    let score = 1.0 / (1.0 + (-(calls as f64 * 0.6 - tenure as f64 * 0.05 + rng.normal() * 0.5)).exp());

    let age_field = if rng.uniform() < drift.age_as_text {
        "unknown".to_string()
    } else {
        age.to_string()
    };
    let charges_field = (rng.uniform() >= drift.missing_charges).then(|| format!("{charges:.2}"));
    let spend_field = if drift.spend_in_cents {
        format!("{:.0}", spend * 100.0)
    } else {
        format!("{spend:.2}")
    };
    vec![
        Some(format!("{score:.6}")),
        Some(age_field),
        Some(tenure.to_string()),
        charges_field,
        Some(spend_field),
        Some(calls.to_string()),
        Some(plan.to_string()),
        Some(region.to_string()),
        Some(payment.to_string()),
    ]
}

/// A CSV line (no newline) of a record; missing values are empty fields.
pub fn csv_line(fields: &[Option<String>]) -> String {
    fields
        .iter()
        .map(|f| f.as_deref().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(",")
}

/// The training set as CSV text with a header.
pub fn training_csv(rows: usize, seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let mut text = COLUMNS.join(",");
    text.push('\n');
    for _ in 0..rows {
        text.push_str(&csv_line(&record(&mut rng, Drift::default())));
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic() {
        assert_eq!(training_csv(500, 7), training_csv(500, 7));
        assert_ne!(training_csv(500, 7), training_csv(500, 8));
    }

    #[test]
    fn records_have_every_column() {
        let mut rng = Rng::new(1);
        let drift = Drift {
            missing_charges: 1.0,
            age_as_text: 1.0,
            spend_in_cents: true,
            shifted_plans: true,
        };
        let fields = record(&mut rng, drift);
        assert_eq!(fields.len(), COLUMNS.len());
        assert_eq!(fields[1].as_deref(), Some("unknown"));
        assert_eq!(fields[3], None);
        assert!(!fields[4].as_deref().unwrap().contains('.'), "cents are whole numbers");
    }
}
