//! The chi-squared distribution's upper tail, for the p-value of Pearson's goodness-of-fit
//! test. Written out here (regularised incomplete gamma function, as in Numerical Recipes
//! §6.2) rather than pulled in with a statistics crate: it is forty lines and fully tested.

/// `P(X >= statistic)` for `X` chi-squared with `degrees_of_freedom` (>= 1): the p-value of a
/// chi-squared test. `None` for zero degrees of freedom or a NaN statistic.
pub fn chi_squared_p_value(statistic: f64, degrees_of_freedom: u64) -> Option<f64> {
    if degrees_of_freedom == 0 || statistic.is_nan() {
        return None;
    }
    if statistic <= 0.0 {
        return Some(1.0);
    }
    Some(upper_regularized_gamma(
        degrees_of_freedom as f64 / 2.0,
        statistic / 2.0,
    ))
}

const EPSILON: f64 = 1e-15;
const MAX_ITERATIONS: usize = 100_000;
/// Guards the continued fraction against division by zero (Lentz's method).
const TINY: f64 = 1e-300;

/// `Q(a, x) = Γ(a, x) / Γ(a)` for `a > 0`, `x > 0`.
fn upper_regularized_gamma(a: f64, x: f64) -> f64 {
    if x.is_infinite() {
        return 0.0;
    }
    // The series converges fast below a + 1, the continued fraction above it.
    if x < a + 1.0 {
        (1.0 - lower_series(a, x)).clamp(0.0, 1.0)
    } else {
        upper_continued_fraction(a, x).clamp(0.0, 1.0)
    }
}

/// `x^a e^-x / Γ(a)`, the factor both expansions share, computed in logs.
fn prefactor(a: f64, x: f64) -> f64 {
    (a * x.ln() - x - ln_gamma(a)).exp()
}

/// `P(a, x)` by its power series `x^a e^-x / Γ(a) · Σ x^n / (a (a+1) ... (a+n))`.
fn lower_series(a: f64, x: f64) -> f64 {
    let mut term = 1.0 / a;
    let mut sum = term;
    let mut denominator = a;
    for _ in 0..MAX_ITERATIONS {
        denominator += 1.0;
        term *= x / denominator;
        sum += term;
        if term.abs() < sum.abs() * EPSILON {
            break;
        }
    }
    sum * prefactor(a, x)
}

/// `Q(a, x)` by its continued fraction, evaluated with the modified Lentz method.
fn upper_continued_fraction(a: f64, x: f64) -> f64 {
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / TINY;
    let mut d = 1.0 / b;
    let mut fraction = d;
    for i in 1..MAX_ITERATIONS {
        let i = i as f64;
        let an = -i * (i - a);
        b += 2.0;
        d = an * d + b;
        if d.abs() < TINY {
            d = TINY;
        }
        c = b + an / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let step = d * c;
        fraction *= step;
        if (step - 1.0).abs() < EPSILON {
            break;
        }
    }
    fraction * prefactor(a, x)
}

/// `ln Γ(x)` for `x >= 0.5` by the Lanczos approximation (g = 7, nine coefficients; relative
/// error about 1e-15), which is all chi-squared needs (`a` = degrees of freedom / 2).
fn ln_gamma(x: f64) -> f64 {
    // The published coefficients, kept digit for digit.
    #[allow(clippy::excessive_precision)]
    const COEFFICIENTS: [f64; 9] = [
        0.999_999_999_999_809_93,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_13,
        -176.615_029_162_140_59,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_571_6e-6,
        1.505_632_735_149_311_6e-7,
    ];
    const G: f64 = 7.0;
    let x = x - 1.0;
    let mut sum = COEFFICIENTS[0];
    for (i, coefficient) in COEFFICIENTS.iter().enumerate().skip(1) {
        sum += coefficient / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_close(actual: f64, expected: f64, relative: f64) {
        let error = ((actual - expected) / expected).abs();
        assert!(
            error <= relative,
            "{actual} vs {expected}: relative error {error:e} > {relative:e}"
        );
    }

    #[test]
    fn ln_gamma_of_integers_and_halves() {
        // Γ(n) = (n-1)!, Γ(1/2) = √π, Γ(7/2) = 15√π / 8.
        let mut factorial = 1.0f64;
        for n in 1..=30u32 {
            assert_close(ln_gamma(f64::from(n)).exp(), factorial, 1e-13);
            factorial *= f64::from(n);
        }
        assert_close(ln_gamma(0.5), std::f64::consts::PI.sqrt().ln(), 1e-14);
        assert_close(ln_gamma(3.5).exp(), 15.0 * std::f64::consts::PI.sqrt() / 8.0, 1e-14);
        assert_close(ln_gamma(100.0), 359.134_205_369_575_4, 1e-14);
    }

    #[test]
    fn critical_values_from_chi_squared_tables() {
        // (statistic, degrees of freedom, upper-tail probability): the standard tables'
        // critical values, to 15 digits.
        let table = [
            (3.841_458_820_694_124, 1, 0.05),
            (6.634_896_601_021_214, 1, 0.01),
            (10.827_566_170_662_733, 1, 0.001),
            (5.991_464_547_107_979, 2, 0.05),
            (7.814_727_903_251_178, 3, 0.05),
            (9.487_729_036_781_154, 4, 0.05),
            (11.070_497_693_516_351, 5, 0.05),
            (18.307_038_053_275_146, 10, 0.05),
            (43.772_971_825_742_19, 30, 0.05),
            (2.705_543_454_095_404, 1, 0.1),
        ];
        for (statistic, dof, p) in table {
            let computed = chi_squared_p_value(statistic, dof).unwrap();
            assert_close(computed, p, 1e-9);
        }
    }

    #[test]
    fn closed_forms_for_even_degrees_of_freedom() {
        // 2k degrees of freedom: Q = e^(-x/2) Σ_{j<k} (x/2)^j / j!.
        for dof in [2u64, 4, 8, 20, 118] {
            for statistic in [0.01, 0.7, 3.0, 17.5, 60.0, 150.0, 400.0] {
                let half = statistic / 2.0;
                let mut term = 1.0f64;
                let mut sum = 0.0;
                for j in 0..dof / 2 {
                    if j > 0 {
                        term *= half / j as f64;
                    }
                    sum += term;
                }
                let expected = (-half).exp() * sum;
                let computed = chi_squared_p_value(statistic, dof).unwrap();
                assert_close(computed, expected, 1e-12);
            }
        }
    }

    #[test]
    fn edges() {
        assert_eq!(chi_squared_p_value(0.0, 3), Some(1.0));
        assert_eq!(chi_squared_p_value(-1.0, 3), Some(1.0));
        assert_eq!(chi_squared_p_value(f64::INFINITY, 3), Some(0.0));
        assert_eq!(chi_squared_p_value(f64::NAN, 3), None);
        assert_eq!(chi_squared_p_value(1.0, 0), None);
        let tiny = chi_squared_p_value(5_000.0, 3).unwrap();
        assert!((0.0..1e-300).contains(&tiny));
    }
}
