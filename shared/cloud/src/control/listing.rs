//! Sorting, filtering and NextToken paging shared by the List operations.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;

use crate::CloudError;

/// The page size when the caller gives no MaxResults (SageMaker's default).
const DEFAULT_MAX_RESULTS: usize = 10;

/// Paging and ordering members common to the List requests.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PageRequest {
    pub sort_order: Option<String>,
    pub next_token: Option<String>,
    pub max_results: Option<usize>,
}

/// One sortable row: its sort value (times as fixed-width text so text order is time order) and
/// its name, which breaks ties and makes the order total.
pub struct Row<T> {
    pub sort: String,
    pub name: String,
    pub item: T,
}

/// A time as sortable text.
pub fn time_key(epoch_seconds: f64) -> String {
    format!("{:020.3}", epoch_seconds)
}

/// Sorts the rows (descending unless `SortOrder` is `Ascending`) and cuts the page after the
/// NextToken's row. The token names the last row returned, not an offset, so rows created or
/// deleted between calls neither repeat nor vanish from the pages.
pub fn page<T>(mut rows: Vec<Row<T>>, request: &PageRequest) -> Result<(Vec<T>, Option<String>), CloudError> {
    let descending = request.sort_order.as_deref() != Some("Ascending");
    rows.sort_by(|a, b| {
        let order = (&a.sort, &a.name).cmp(&(&b.sort, &b.name));
        if descending {
            order.reverse()
        } else {
            order
        }
    });
    let start = match &request.next_token {
        None => 0,
        Some(token) => {
            let (sort, name) = decode_token(token)?;
            rows.iter()
                .position(|row| {
                    let order = (&row.sort, &row.name).cmp(&(&sort, &name));
                    if descending {
                        order.is_lt()
                    } else {
                        order.is_gt()
                    }
                })
                .unwrap_or(rows.len())
        }
    };
    let size = request.max_results.unwrap_or(DEFAULT_MAX_RESULTS);
    let end = (start + size).min(rows.len());
    let next_token = (end < rows.len()).then(|| encode_token(&rows[end - 1].sort, &rows[end - 1].name));
    let page = rows.drain(start..end).map(|row| row.item).collect();
    Ok((page, next_token))
}

fn encode_token(sort: &str, name: &str) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&(sort, name)).expect("strings serialize"))
}

fn decode_token(token: &str) -> Result<(String, String), CloudError> {
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| {
            CloudError::Validation(format!(
                "Invalid NextToken '{token}': pass the token a List call returned"
            ))
        })
}

/// `NameContains`: a case-insensitive substring.
pub fn name_contains(name: &str, filter: Option<&str>) -> bool {
    filter.is_none_or(|part| name.to_lowercase().contains(&part.to_lowercase()))
}

/// The `...Before` / `...After` filters: strictly before, strictly after.
pub fn in_time_range(time: f64, before: Option<f64>, after: Option<f64>) -> bool {
    before.is_none_or(|b| time < b) && after.is_none_or(|a| time > a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(names: &[&str]) -> Vec<Row<String>> {
        names
            .iter()
            .enumerate()
            .map(|(i, name)| Row {
                sort: time_key(i as f64),
                name: name.to_string(),
                item: name.to_string(),
            })
            .collect()
    }

    #[test]
    fn pages_follow_the_token_in_both_orders() {
        let names: Vec<String> = (0..25).map(|i| format!("s{i:02}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        for order in ["Ascending", "Descending"] {
            let mut request = PageRequest {
                sort_order: Some(order.into()),
                next_token: None,
                max_results: Some(10),
            };
            let mut seen = Vec::new();
            loop {
                let (page, token) = page(rows(&refs), &request).unwrap();
                seen.extend(page);
                match token {
                    Some(token) => request.next_token = Some(token),
                    None => break,
                }
            }
            let mut expected = names.clone();
            if order == "Descending" {
                expected.reverse();
            }
            assert_eq!(seen, expected, "{order}");
        }
    }

    #[test]
    fn a_deleted_row_does_not_shift_the_next_page() {
        let request = PageRequest {
            sort_order: Some("Ascending".into()),
            next_token: None,
            max_results: Some(2),
        };
        let (first, token) = page(rows(&["a", "b", "c", "d"]), &request).unwrap();
        assert_eq!(first, ["a", "b"]);
        let request = PageRequest {
            next_token: token,
            ..request
        };
        // "a" is deleted before the next call: the page still starts after "b".
        let mut remaining = rows(&["a", "b", "c", "d"]);
        remaining.remove(0);
        let (second, token) = page(remaining, &request).unwrap();
        assert_eq!(second, ["c", "d"]);
        assert_eq!(token, None);
    }

    #[test]
    fn a_forged_token_is_a_validation_error() {
        let request = PageRequest {
            next_token: Some("not a token".into()),
            ..Default::default()
        };
        assert!(matches!(page(rows(&["a"]), &request), Err(CloudError::Validation(m)) if m.contains("NextToken")));
    }

    #[test]
    fn filters() {
        assert!(name_contains("Churn-Hourly", Some("hourly")));
        assert!(!name_contains("churn", Some("daily")));
        assert!(name_contains("x", None));
        assert!(in_time_range(5.0, Some(6.0), Some(4.0)));
        assert!(!in_time_range(5.0, Some(5.0), None));
        assert!(!in_time_range(5.0, None, Some(5.0)));
    }
}
