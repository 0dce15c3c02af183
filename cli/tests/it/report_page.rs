//! report.html, the page a team opens when an alarm fires, on the demo's run and on a
//! 1,000-feature synthetic run: it parses as HTML5 without errors, has a row and a detail per
//! feature, shows the numbers of report.json, points nowhere but into itself and at its sibling
//! files, and renders again from the JSON (`modelmon report DIR`) to the same bytes.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;
use std::path::{Path, PathBuf};

use modelmon_engine::random::SplitMix64 as Rng;
use scraper::{ElementRef, Html, Selector};
use serde_json::Value;

use crate::common::{assert_success, modelmon, write};

const DEMO_REPORT: &str = "demo/reports/churn-endpoint/churn-hourly/2026/11/25/14";

fn select(css: &str) -> Selector {
    Selector::parse(css).unwrap_or_else(|e| panic!("{css}: {e:?}"))
}

fn text(element: ElementRef) -> String {
    element.text().collect::<String>()
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The numbers in `text`, in order (`92.14% min 100%` gives 92.14 and 100).
fn numbers(text: &str) -> Vec<f64> {
    text.split(|c: char| c.is_whitespace() || "%,():=→".contains(c))
        .filter_map(|token| token.parse::<f64>().ok())
        .collect()
}

/// `shown` is `exact` to the page's four (or more) significant digits.
fn assert_shows(shown: f64, exact: f64, what: &str) {
    let tolerance = 5.0001e-4 * exact.abs() + 1e-12;
    assert!(
        (shown - exact).abs() <= tolerance,
        "{what}: the page shows {shown}, report.json says {exact}"
    );
}

fn count(text: &str) -> u64 {
    text.replace(',', "")
        .parse()
        .unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn parse(html: &str) -> Html {
    let page = Html::parse_document(html);
    assert!(page.errors.is_empty(), "HTML5 parse errors: {:?}", page.errors);
    page
}

/// Every `href` and `src` is a fragment naming an element of the page, or the name of a file
/// beside it; the content-security policy allows nothing from anywhere.
fn check_links(page: &Html, dir: &Path) {
    let ids: HashSet<&str> = page
        .select(&select("[id]"))
        .filter_map(|e| e.value().attr("id"))
        .collect();
    let mut fragments = 0;
    for element in page.select(&select("[href], [src]")) {
        for attribute in ["href", "src"] {
            let Some(target) = element.value().attr(attribute) else {
                continue;
            };
            match target.strip_prefix('#') {
                Some(id) => {
                    assert!(ids.contains(id), "{attribute}={target:?} names no element of the page");
                    fragments += 1;
                }
                None => {
                    assert!(
                        !target.contains(['/', '\\', ':', '?']) && !target.starts_with('.'),
                        "{attribute}={target:?} points outside the report folder"
                    );
                    assert!(
                        dir.join(target).is_file(),
                        "{attribute}={target:?}: no such sibling file"
                    );
                }
            }
        }
    }
    assert!(fragments > 0);
    let csp = page
        .select(&select(r#"meta[http-equiv="Content-Security-Policy"]"#))
        .next()
        .and_then(|m| m.value().attr("content"))
        .expect("a content-security policy");
    assert!(csp.starts_with("default-src 'none';"), "{csp}");
    assert!(!csp.contains("unsafe"), "{csp}");
}

/// The rows of the features table by feature name, and the detail sections by id.
fn rows_and_details(page: &Html) -> (Vec<ElementRef<'_>>, HashMap<String, ElementRef<'_>>) {
    let rows: Vec<ElementRef> = page.select(&select("#rows tbody tr")).collect();
    let details = page
        .select(&select("details"))
        .map(|d| (d.value().attr("id").unwrap().to_string(), d))
        .collect();
    (rows, details)
}

fn check_label(check: &str) -> &'static str {
    match check {
        "data_type_check" => "data type",
        "completeness_check" => "completeness",
        "baseline_drift_check" => "drift",
        "missing_column_check" => "missing column",
        "extra_column_check" => "extra column",
        "categorical_values_check" => "domain",
        other => panic!("unknown check type {other}"),
    }
}

/// The page of a run's report folder against its report.json.
fn check_run_page(dir: &Path) -> usize {
    let html = String::from_utf8(read(&dir.join("report.html"))).unwrap();
    let report = json(&dir.join("report.json"));
    let page = parse(&html);
    check_links(&page, dir);

    let features = report["checks"]["features"].as_array().unwrap();
    let (rows, details) = rows_and_details(&page);
    assert_eq!(rows.len(), features.len(), "one row per feature");
    assert_eq!(details.len(), features.len(), "one detail per feature");
    let td = select("td");
    let by_name: HashMap<String, Vec<String>> = rows
        .iter()
        .map(|row| {
            let cells: Vec<String> = row.select(&td).map(text).collect();
            (cells[0].clone(), cells)
        })
        .collect();
    assert_eq!(by_name.len(), features.len(), "feature names are unique rows");

    // Violations first.
    let violating: Vec<bool> = rows.iter().map(|r| r.value().attr("class") == Some("bad")).collect();
    assert!(violating.windows(2).all(|w| w[0] >= w[1]), "violations come first");

    let mut compared = 0;
    for feature in features {
        let name = feature["name"].as_str().unwrap();
        let cells = &by_name[name];
        let row = rows
            .iter()
            .find(|r| text(r.select(&td).next().unwrap()) == name)
            .unwrap();
        let href = row.select(&select("a")).next().unwrap().value().attr("href").unwrap();
        let detail = details
            .get(&href[1..])
            .unwrap_or_else(|| panic!("{name}: its link {href} names no detail"));
        assert_eq!(text(detail.select(&select("summary b")).next().unwrap()), name);

        let violations: Vec<&str> = feature["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| check_label(v.as_str().unwrap()))
            .collect();
        assert_eq!(cells[5], violations.join(", "), "{name}: failed checks");
        assert_eq!(row.value().attr("class") == Some("bad"), !violations.is_empty());
        assert!(
            detail.value().attr("open").is_none() || !violations.is_empty(),
            "{name}: only violations start open"
        );

        if let Some(measure) = feature["completeness"].as_object() {
            let shown = numbers(&cells[2]);
            assert_shows(
                shown[0],
                measure["value"].as_f64().unwrap() * 100.0,
                &format!("{name} completeness"),
            );
            assert_shows(
                shown[1],
                measure["threshold"].as_f64().unwrap() * 100.0,
                &format!("{name} threshold"),
            );
            compared += 1;
        } else {
            assert_eq!(cells[2].trim(), "", "{name}: no completeness measured");
        }
        if let Some(drift) = feature["drift"].as_object() {
            let shown = numbers(&cells[3]);
            assert_shows(shown[0], drift["value"].as_f64().unwrap(), &format!("{name} drift"));
            assert_shows(
                shown[1],
                drift["threshold"].as_f64().unwrap(),
                &format!("{name} drift threshold"),
            );
            assert!(detail.inner_html().contains(" distance of the ") || detail.inner_html().contains("p-value"));
            compared += 1;
        } else {
            assert_eq!(cells[3].trim(), "", "{name}: no drift measured");
        }
        // The detail's summary statistics are the report's.
        let stats: HashMap<String, Vec<String>> = detail
            .select(&select(".st tr"))
            .filter_map(|tr| {
                let label = text(tr.select(&select("th")).next()?);
                Some((label, tr.select(&td).map(text).collect()))
            })
            .collect();
        let distributions = &feature["distributions"];
        for (side, column) in [("baseline", 0), ("current", 1)] {
            let summary = &distributions[side];
            if let Some(present) = summary["present"].as_u64() {
                assert_eq!(count(&stats["present"][column]), present, "{name} {side} present");
            }
            if let Some(numbers) = summary["numbers"].as_object() {
                for (label, key) in [("mean", "mean"), ("std dev", "std_dev"), ("min", "min"), ("max", "max")] {
                    let shown: f64 = stats[label][column].parse().unwrap();
                    assert_shows(shown, numbers[key].as_f64().unwrap(), &format!("{name} {side} {label}"));
                }
            }
        }
        for description in report["checks"]["violations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["feature_name"] == name)
        {
            let description = description["description"].as_str().unwrap();
            assert!(
                text(*detail).contains(description),
                "{name}: the detail quotes the violation: {description}"
            );
        }
    }
    assert!(compared > 0);

    // The overview's key numbers.
    let overview = text(page.select(&select("dl")).next().unwrap());
    let records = &report["records"];
    let rejected: u64 = records["rejected"]
        .as_object()
        .unwrap()
        .values()
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    let line = format!(
        "read {}, analysed {}, rejected {}",
        thousands(records["read"].as_u64().unwrap()),
        thousands(records["analysed"].as_u64().unwrap()),
        thousands(rejected)
    );
    assert!(overview.contains(&line), "{line} in {overview}");
    let headline = text(page.select(&select("h1 b")).next().unwrap());
    let violations = report["checks"]["violations"].as_array().unwrap().len();
    match violations {
        0 => assert!(headline.contains("OK"), "{headline}"),
        n => assert!(
            headline.contains(&format!("{} violation", thousands(n as u64))),
            "{headline}"
        ),
    }
    assert!(overview.contains(report["modelmon_version"].as_str().unwrap()));

    check_renders_again(dir);
    html.len()
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `modelmon report DIR`, twice, gives the bytes the run wrote.
fn check_renders_again(dir: &Path) {
    let written = read(&dir.join("report.html"));
    let out = tempfile::tempdir().unwrap();
    for name in ["a.html", "b.html"] {
        let path = out.path().join(name);
        assert_success(&modelmon(&[
            "report",
            dir.to_str().unwrap(),
            "--output",
            path.to_str().unwrap(),
            "--quiet",
        ]));
        assert!(
            read(&path) == written,
            "{name}: the page rendered again differs from the written one"
        );
    }
}

/// The page of a baseline folder against its statistics.json.
fn check_baseline_page(dir: &Path) {
    let html = String::from_utf8(read(&dir.join("report.html"))).unwrap();
    let statistics = json(&dir.join("statistics.json"));
    let page = parse(&html);
    check_links(&page, dir);
    let features = statistics["features"].as_array().unwrap();
    let (rows, details) = rows_and_details(&page);
    assert_eq!(rows.len(), features.len());
    assert_eq!(details.len(), features.len());
    let td = select("td");
    for (feature, row) in features.iter().zip(&rows) {
        let cells: Vec<String> = row.select(&td).map(text).collect();
        assert_eq!(cells[0], feature["name"].as_str().unwrap());
        assert_eq!(cells[1], feature["inferred_type"].as_str().unwrap());
        let common = feature
            .get("numerical_statistics")
            .or(feature.get("string_statistics"))
            .map(|s| &s["common"])
            .unwrap();
        let (present, missing) = (
            common["num_present"].as_f64().unwrap(),
            common["num_missing"].as_f64().unwrap(),
        );
        assert_shows(
            numbers(&cells[2])[0],
            present / (present + missing) * 100.0,
            "completeness",
        );
    }
    let overview = text(page.select(&select("dl")).next().unwrap());
    let items = statistics["dataset"]["item_count"].as_u64().unwrap();
    assert!(
        overview.contains(&format!("{} analysed", thousands(items))),
        "{overview}"
    );
    check_renders_again(dir);
}

#[test]
fn the_demos_pages_hold_its_numbers_and_two_demos_write_the_same_bytes() {
    let mut pages = Vec::new();
    for _ in 0..2 {
        // The same relative --output from two folders: the reports name the same paths.
        let cwd = tempfile::tempdir().unwrap();
        let result = std::process::Command::new(env!("CARGO_BIN_EXE_modelmon"))
            .args(["demo", "--output", "demo"])
            .current_dir(cwd.path())
            .output()
            .unwrap();
        let stdout = assert_success(&result);
        let first = stdout.lines().next().unwrap();
        let page = format!("{DEMO_REPORT}/report.html");
        assert_eq!(
            first,
            format!("Open {page} to see the report."),
            "the page's path comes first"
        );
        assert!(cwd.path().join(&page).is_file());
        check_run_page(&cwd.path().join(DEMO_REPORT));
        check_baseline_page(&cwd.path().join("demo/baseline"));
        let files = ["report.html", "report.json"].map(|name| read(&cwd.path().join(DEMO_REPORT).join(name)));
        let baseline = ["report.html", "report.json"].map(|name| read(&cwd.path().join("demo/baseline").join(name)));
        pages.push((files, baseline));
    }
    assert!(pages[0] == pages[1], "two demos wrote different pages");
}

/// A training set and a window of `features` columns: numbers (some shifted, some with text
/// among them), categories (some with a new value) and columns with gaps.
fn synthetic(dir: &Path, features: usize) -> (PathBuf, PathBuf) {
    let header = |drop_last: bool, extra: bool| {
        let mut names: Vec<String> = (0..features).map(|i| format!("f{i:04}")).collect();
        if drop_last {
            names.pop();
        }
        if extra {
            names.push("extra_column".to_string());
        }
        names.join(",") + "\n"
    };
    let mut training = header(false, false);
    let mut current = header(true, true);
    let mut rng = Rng::new(16);
    for (text, rows, drifted) in [(&mut training, 400, false), (&mut current, 200, true)] {
        for _ in 0..rows {
            let columns = if drifted { features - 1 } else { features };
            for i in 0..columns {
                if i > 0 {
                    text.push(',');
                }
                let shifted = drifted && i % 7 == 0;
                match i % 4 {
                    0 => {
                        let x = rng.normal() * 10.0 + if shifted { 8.0 } else { 50.0 };
                        let _ = write!(text, "{x:.3}");
                    }
                    1 => {
                        let n = rng.below(90) + 18;
                        if drifted && i % 5 == 1 && rng.below(50) == 0 {
                            text.push_str("unknown");
                        } else {
                            let _ = write!(text, "{n}");
                        }
                    }
                    2 => {
                        let plans = ["basic", "standard", "premium", "family", "student"];
                        let mut plan = plans[rng.below(5) as usize];
                        if shifted && rng.below(3) == 0 {
                            plan = "enterprise";
                        }
                        text.push_str(plan);
                    }
                    _ => {
                        if !(drifted && i % 3 == 0 && rng.below(10) == 0) {
                            let _ = write!(text, "{:.2}", rng.uniform() * 100.0);
                        }
                    }
                }
            }
            if drifted {
                let _ = write!(text, ",{}", rng.below(10));
            }
            text.push('\n');
        }
    }
    (
        write(&dir.join("training.csv"), training),
        write(&dir.join("current.csv"), current),
    )
}

#[test]
fn a_thousand_feature_page_is_complete_small_and_renders_the_same_again() {
    const FEATURES: usize = 1_000;
    let dir = tempfile::tempdir().unwrap();
    let (training, current) = synthetic(dir.path(), FEATURES);
    let baseline = dir.path().join("baseline");
    let reports = dir.path().join("reports");
    assert_success(&modelmon(&[
        "baseline",
        "--dataset",
        training.to_str().unwrap(),
        "--output",
        baseline.to_str().unwrap(),
        "--quiet",
    ]));
    assert_success(&modelmon(&[
        "analyze",
        "--dataset",
        current.to_str().unwrap(),
        "--format",
        "csv",
        "--header",
        "--statistics",
        baseline.join("statistics.json").to_str().unwrap(),
        "--constraints",
        baseline.join("constraints.json").to_str().unwrap(),
        "--output",
        reports.to_str().unwrap(),
        "--quiet",
    ]));
    let report = json(&reports.join("report.json"));
    let checks: HashSet<&str> = report["checks"]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["constraint_check_type"].as_str().unwrap())
        .collect();
    // Every kind of row is on this page.
    for check in [
        "data_type_check",
        "completeness_check",
        "baseline_drift_check",
        "missing_column_check",
        "extra_column_check",
        "categorical_values_check",
    ] {
        assert!(checks.contains(check), "{check} among {checks:?}");
    }
    let size = check_run_page(&reports);
    // At most MAX_OPEN_DETAILS details start open.
    let html = String::from_utf8(read(&reports.join("report.html"))).unwrap();
    let open = Html::parse_document(&html).select(&select("details[open]")).count();
    assert_eq!(open, modelmon_report::MAX_OPEN_DETAILS);
    // Small: the goal is about 2 KB a feature.
    let per_feature = size / (FEATURES + 1);
    assert!(
        per_feature < 3_000,
        "{size} bytes for {FEATURES} features: {per_feature} a feature"
    );
    check_baseline_page(&baseline);
}
