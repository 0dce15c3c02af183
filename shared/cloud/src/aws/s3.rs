//! [`ObjectStore`] on S3.

use async_trait::async_trait;
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

use crate::ports::{ByteChunks, ObjectInfo, ObjectStore};
use crate::{CloudError, ObjectUri};

const SERVICE: &str = "s3";

/// Objects in S3 buckets.
#[derive(Debug, Clone)]
pub struct S3Store {
    pub client: aws_sdk_s3::Client,
}

impl S3Store {
    /// A client from `config`, with path-style addressing (`http://host/bucket/key`) when the
    /// environment has `S3_FORCE_PATH_STYLE=true`: emulators such as moto need it, and the Rust
    /// SDK reads no such setting itself.
    pub fn new(config: &aws_config::SdkConfig) -> S3Store {
        let force_path_style = std::env::var("S3_FORCE_PATH_STYLE").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(force_path_style)
            .build();
        S3Store {
            client: aws_sdk_s3::Client::from_conf(s3_config),
        }
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn get(&self, uri: &ObjectUri) -> Result<Vec<u8>, CloudError> {
        let output = match self.client.get_object().bucket(&uri.bucket).key(&uri.key).send().await {
            Ok(output) => output,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Err(CloudError::ObjectNotFound { uri: uri.to_string() })
            }
            Err(err) => return Err(CloudError::aws(SERVICE, "GetObject", err)),
        };
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|err| CloudError::aws(SERVICE, "GetObject", err))?;
        Ok(bytes.to_vec())
    }

    async fn read_range(&self, uri: &ObjectUri, start: u64, end: u64) -> Result<Box<dyn ByteChunks>, CloudError> {
        if end <= start {
            // S3 has no empty range (`bytes=0--1` is refused): nothing to ask for.
            return Ok(Box::new(Body(None)));
        }
        let range = format!("bytes={start}-{}", end - 1);
        let request = self.client.get_object().bucket(&uri.bucket).key(&uri.key).range(range);
        match request.send().await {
            Ok(output) => Ok(Box::new(Body(Some(output.body)))),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                Err(CloudError::ObjectNotFound { uri: uri.to_string() })
            }
            Err(err) => Err(CloudError::aws(SERVICE, "GetObject", err)),
        }
    }

    async fn put(&self, uri: &ObjectUri, body: Vec<u8>, content_type: &str) -> Result<(), CloudError> {
        self.client
            .put_object()
            .bucket(&uri.bucket)
            .key(&uri.key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|err| CloudError::aws(SERVICE, "PutObject", err))?;
        Ok(())
    }

    async fn delete(&self, uri: &ObjectUri) -> Result<(), CloudError> {
        self.client
            .delete_object()
            .bucket(&uri.bucket)
            .key(&uri.key)
            .send()
            .await
            .map_err(|err| CloudError::aws(SERVICE, "DeleteObject", err))?;
        Ok(())
    }

    async fn list(&self, prefix: &ObjectUri) -> Result<Vec<ObjectInfo>, CloudError> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&prefix.bucket)
            .prefix(&prefix.key)
            .into_paginator()
            .send();
        let mut objects = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| CloudError::aws(SERVICE, "ListObjectsV2", err))?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                objects.push(ObjectInfo {
                    uri: ObjectUri {
                        bucket: prefix.bucket.clone(),
                        key: key.to_string(),
                    },
                    size: object.size().unwrap_or(0).max(0) as u64,
                });
            }
        }
        // S3 lists in UTF-8 binary key order already; sorting makes that a promise of this adapter.
        objects.sort_by(|a, b| a.uri.key.cmp(&b.uri.key));
        Ok(objects)
    }

    /// A presigned GetObject URL, signed with this store's credentials.
    async fn presigned_get(&self, uri: &ObjectUri, expires: Duration) -> Result<Option<String>, CloudError> {
        let config = PresigningConfig::expires_in(expires)
            .map_err(|err| CloudError::Internal(format!("presigning for {expires:?}: {err}")))?;
        let request = self
            .client
            .get_object()
            .bucket(&uri.bucket)
            .key(&uri.key)
            .presigned(config)
            .await
            .map_err(|err| CloudError::aws(SERVICE, "GetObject", err))?;
        Ok(Some(request.uri().to_string()))
    }
}

/// A GetObject body, read as its pieces arrive.
struct Body(Option<ByteStream>);

#[async_trait]
impl ByteChunks for Body {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, CloudError> {
        let Some(body) = &mut self.0 else { return Ok(None) };
        body.next()
            .await
            .transpose()
            .map_err(|err| CloudError::aws(SERVICE, "GetObject", err))
    }
}
