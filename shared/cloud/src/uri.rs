//! `s3://bucket/key` URIs, as SageMaker's API carries them.

use std::fmt;

use crate::CloudError;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectUri {
    pub bucket: String,
    pub key: String,
}

impl ObjectUri {
    /// Parses `s3://bucket/key`. The bucket must be a valid S3 bucket name; the key may be empty
    /// (a whole bucket) and must not contain `..` segments or control characters.
    pub fn parse(uri: &str) -> Result<ObjectUri, CloudError> {
        let invalid = |reason: &str| CloudError::InvalidUri {
            uri: uri.to_string(),
            reason: reason.to_string(),
        };
        let rest = uri
            .strip_prefix("s3://")
            .ok_or_else(|| invalid("only s3:// URIs are supported"))?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
            && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !bucket_ok {
            return Err(invalid(
                "the bucket name must be 3 to 63 lower-case letters, digits, '-' or '.'",
            ));
        }
        if key.len() > 1024 || key.chars().any(char::is_control) {
            return Err(invalid("the key is longer than 1024 bytes or holds control characters"));
        }
        if key.split('/').any(|segment| segment == "..") {
            return Err(invalid("the key must not contain '..' segments"));
        }
        Ok(ObjectUri {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }

    /// This URI as a folder: the key with one trailing `/` (none for the bucket root).
    pub fn as_prefix(&self) -> ObjectUri {
        let mut key = self.key.trim_end_matches('/').to_string();
        if !key.is_empty() {
            key.push('/');
        }
        ObjectUri {
            bucket: self.bucket.clone(),
            key,
        }
    }

    /// `self/part`, with exactly one `/` between.
    pub fn join(&self, part: &str) -> ObjectUri {
        let base = self.key.trim_end_matches('/');
        let part = part.trim_start_matches('/');
        let key = if base.is_empty() {
            part.to_string()
        } else {
            format!("{base}/{part}")
        };
        ObjectUri {
            bucket: self.bucket.clone(),
            key,
        }
    }
}

impl fmt::Display for ObjectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// The buckets a deployment may read and write. A job naming any other bucket is refused, so a
/// caller of the API cannot make the functions read or overwrite data outside them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedBuckets(Option<Vec<String>>);

impl AllowedBuckets {
    /// Every bucket (the local `serve`, whose objects are the user's own folders).
    pub fn any() -> AllowedBuckets {
        AllowedBuckets(None)
    }

    pub fn only<S: Into<String>>(buckets: impl IntoIterator<Item = S>) -> AllowedBuckets {
        AllowedBuckets(Some(buckets.into_iter().map(Into::into).collect()))
    }

    /// Refuses `uri` if its bucket is not allowed; `role` says what the URI is for.
    pub fn check(&self, uri: &ObjectUri, role: &str) -> Result<(), CloudError> {
        match &self.0 {
            Some(buckets) if !buckets.contains(&uri.bucket) => Err(CloudError::Validation(format!(
                "{role} {uri} is outside the buckets this deployment may use ({})",
                buckets.join(", ")
            ))),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_joins() {
        let uri = ObjectUri::parse("s3://my-bucket/capture/ep/").unwrap();
        assert_eq!(uri.bucket, "my-bucket");
        assert_eq!(uri.key, "capture/ep/");
        assert_eq!(
            uri.join("AllTraffic/2026").to_string(),
            "s3://my-bucket/capture/ep/AllTraffic/2026"
        );
        assert_eq!(uri.as_prefix().key, "capture/ep/");
        assert_eq!(ObjectUri::parse("s3://b12").unwrap().as_prefix().key, "");
        assert_eq!(ObjectUri::parse("s3://b12/k").unwrap().as_prefix().key, "k/");
    }

    #[test]
    fn only_allowed_buckets_pass() {
        let uri = ObjectUri::parse("s3://other/x").unwrap();
        assert!(AllowedBuckets::any().check(&uri, "output").is_ok());
        let allowed = AllowedBuckets::only(["capture", "reports"]);
        assert!(allowed
            .check(&ObjectUri::parse("s3://reports/r").unwrap(), "output")
            .is_ok());
        let err = allowed.check(&uri, "MonitoringOutputs S3Uri").unwrap_err().to_string();
        assert_eq!(
            err,
            "MonitoringOutputs S3Uri s3://other/x is outside the buckets this deployment may use (capture, reports)"
        );
    }

    #[test]
    fn refuses_what_is_not_an_s3_uri() {
        for bad in [
            "https://x/y",
            "s3://",
            "s3://UPPER/k",
            "s3://ab/k",
            "s3://bucket/a/../b",
            "s3://bucket/a\nb",
            "/tmp/x",
        ] {
            assert!(
                matches!(ObjectUri::parse(bad), Err(CloudError::InvalidUri { .. })),
                "{bad}"
            );
        }
    }
}
