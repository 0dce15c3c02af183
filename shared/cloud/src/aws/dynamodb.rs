//! [`Table`] on one DynamoDB table.
//!
//! Item layout: `pk` (S, [`ItemKey::partition`]) and `sk` (S, [`ItemKey::sort`]) are the primary
//! key; `kind` (S, [`ItemKind::as_str`]) is the hash key of the global secondary index
//! [`KIND_INDEX`] (range key `sk`); `version` (N) is the optimistic-concurrency counter; `body`
//! (S) is the record's JSON text; `write` (S) is a token of the write that put the item there.
//!
//! The token makes the conditional writes safe to retry: when a put takes effect but its answer
//! is lost (a timeout, a dropped connection), the SDK's retry fails its condition on the first
//! attempt's own item, and only the token tells that from another writer's.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};

use crate::ports::{Item, ItemKey, ItemKind, Table};
use crate::CloudError;

const SERVICE: &str = "dynamodb";

/// The global secondary index by kind: hash key `kind`, range key `sk`, all attributes.
pub const KIND_INDEX: &str = "kind-index";

/// Schedules, job definitions and executions in one DynamoDB table (see [`create_table`]).
#[derive(Debug, Clone)]
pub struct DynamoTable {
    pub client: aws_sdk_dynamodb::Client,
    pub table_name: String,
}

impl DynamoTable {
    pub fn new(config: &aws_config::SdkConfig, table_name: impl Into<String>) -> DynamoTable {
        DynamoTable {
            client: aws_sdk_dynamodb::Client::new(config),
            table_name: table_name.into(),
        }
    }

    fn key_attributes(key: &ItemKey) -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("pk".to_string(), AttributeValue::S(key.partition())),
            ("sk".to_string(), AttributeValue::S(key.sort())),
        ])
    }

    fn attributes(item: &Item, token: &str) -> HashMap<String, AttributeValue> {
        let mut attributes = Self::key_attributes(&item.key);
        attributes.insert("write".to_string(), AttributeValue::S(token.to_string()));
        attributes.insert(
            "kind".to_string(),
            AttributeValue::S(item.key.kind().as_str().to_string()),
        );
        attributes.insert("version".to_string(), AttributeValue::N(item.version.to_string()));
        attributes.insert("body".to_string(), AttributeValue::S(item.body.to_string()));
        attributes
    }

    /// The item of `key` as stored (consistent read), or `None`.
    async fn stored(&self, key: &ItemKey) -> Result<Option<HashMap<String, AttributeValue>>, CloudError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table_name)
            .set_key(Some(Self::key_attributes(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| CloudError::aws(SERVICE, "GetItem", err))?;
        Ok(output.item)
    }

    /// Runs a query to its last page and decodes the items.
    async fn query_all(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> Result<Vec<Item>, CloudError> {
        let mut pages = query.into_paginator().send();
        let mut items = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| CloudError::aws(SERVICE, "Query", err))?;
            for attributes in page.items() {
                items.push(self.decode(attributes, "Query")?);
            }
        }
        Ok(items)
    }

    fn decode(
        &self,
        attributes: &HashMap<String, AttributeValue>,
        operation: &'static str,
    ) -> Result<Item, CloudError> {
        let malformed = |what: &str| CloudError::Aws {
            service: SERVICE,
            operation,
            message: format!("table {}: malformed item ({what}): {attributes:?}", self.table_name),
        };
        let string = |name: &str| match attributes.get(name) {
            Some(AttributeValue::S(value)) => Ok(value.as_str()),
            _ => Err(malformed(&format!("no string attribute `{name}`"))),
        };
        let (pk, sk) = (string("pk")?, string("sk")?);
        let key = ItemKey::parse(pk, sk).ok_or_else(|| malformed("unknown key"))?;
        let version = match attributes.get("version") {
            Some(AttributeValue::N(n)) => n.parse::<u64>().map_err(|_| malformed("version is not a count"))?,
            _ => return Err(malformed("no number attribute `version`")),
        };
        let body = serde_json::from_str(string("body")?).map_err(|e| malformed(&format!("body is not JSON: {e}")))?;
        Ok(Item { key, version, body })
    }
}

#[async_trait]
impl Table for DynamoTable {
    async fn insert(&self, item: &Item) -> Result<(), CloudError> {
        let token = write_token();
        let result = self
            .client
            .put_item()
            .table_name(&self.table_name)
            .set_item(Some(Self::attributes(item, &token)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                // A retried attempt may have met the item its own first attempt wrote.
                if written_by(self.stored(&item.key).await?.as_ref(), &token) {
                    return Ok(());
                }
                Err(CloudError::AlreadyExists {
                    what: item.key.to_string(),
                })
            }
            Err(err) => Err(CloudError::aws(SERVICE, "PutItem", err)),
        }
    }

    async fn get(&self, key: &ItemKey) -> Result<Option<Item>, CloudError> {
        self.stored(key)
            .await?
            .map(|attributes| self.decode(&attributes, "GetItem"))
            .transpose()
    }

    async fn update(&self, item: &Item) -> Result<(), CloudError> {
        let expected = item
            .version
            .checked_sub(1)
            .ok_or_else(|| CloudError::Validation(format!("{}: an update needs a version above 0", item.key)))?;
        let token = write_token();
        let result = self
            .client
            .put_item()
            .table_name(&self.table_name)
            .set_item(Some(Self::attributes(item, &token)))
            .condition_expression("version = :expected")
            .expression_attribute_values(":expected", AttributeValue::N(expected.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                // Another writer got there first, the item is gone, or a retried attempt met its
                // own first attempt's write: a consistent read tells.
                let what = item.key.to_string();
                match self.stored(&item.key).await? {
                    Some(stored) if written_by(Some(&stored), &token) => Ok(()),
                    Some(_) => Err(CloudError::VersionConflict { what }),
                    None => Err(CloudError::ItemNotFound { what }),
                }
            }
            Err(err) => Err(CloudError::aws(SERVICE, "PutItem", err)),
        }
    }

    async fn delete(&self, key: &ItemKey, version: u64) -> Result<(), CloudError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table_name)
            .set_key(Some(Self::key_attributes(key)))
            .condition_expression("version = :expected")
            .expression_attribute_values(":expected", AttributeValue::N(version.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                let what = key.to_string();
                match self.stored(key).await? {
                    Some(_) => Err(CloudError::VersionConflict { what }),
                    None => Err(CloudError::ItemNotFound { what }),
                }
            }
            Err(err) => Err(CloudError::aws(SERVICE, "DeleteItem", err)),
        }
    }

    async fn list(&self, kind: ItemKind) -> Result<Vec<Item>, CloudError> {
        let query = self
            .client
            .query()
            .table_name(&self.table_name)
            .index_name(KIND_INDEX)
            .key_condition_expression("#kind = :kind")
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_values(":kind", AttributeValue::S(kind.as_str().to_string()));
        let mut items = self.query_all(query).await?;
        // The index orders by `sk` within a kind; the partition order (by schedule) is ours.
        items.sort_by_cached_key(|item| (item.key.partition(), item.key.sort()));
        Ok(items)
    }

    async fn list_executions(&self, schedule: &str) -> Result<Vec<Item>, CloudError> {
        let query = self
            .client
            .query()
            .table_name(&self.table_name)
            .consistent_read(true)
            .key_condition_expression("pk = :pk AND begins_with(sk, :execution)")
            .expression_attribute_values(
                ":pk",
                AttributeValue::S(ItemKey::Schedule(schedule.to_string()).partition()),
            )
            .expression_attribute_values(":execution", AttributeValue::S("execution#".to_string()));
        self.query_all(query).await
    }
}

/// A token no other write uses: 64 random bits (std's per-process random hasher keys), the
/// time and a counter, hashed.
fn write_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}

/// Whether `stored` is the item the write of `token` put there.
fn written_by(stored: Option<&HashMap<String, AttributeValue>>, token: &str) -> bool {
    stored.and_then(|attributes| attributes.get("write")) == Some(&AttributeValue::S(token.to_string()))
}

/// Creates the table [`DynamoTable`] expects (on-demand billing, the [`KIND_INDEX`] index) and
/// waits until it is ACTIVE: for tests and local stacks; deployments create it from the template.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), CloudError> {
    let op = "CreateTable";
    let build = |err| CloudError::aws(SERVICE, op, err);
    let string_attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(build)
    };
    let key = |name: &str, key_type| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .map_err(build)
    };
    let index = GlobalSecondaryIndex::builder()
        .index_name(KIND_INDEX)
        .key_schema(key("kind", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .projection(Projection::builder().projection_type(ProjectionType::All).build())
        .build()
        .map_err(build)?;
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attribute("pk")?)
        .attribute_definitions(string_attribute("sk")?)
        .attribute_definitions(string_attribute("kind")?)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .global_secondary_indexes(index)
        .send()
        .await
        .map_err(|err| CloudError::aws(SERVICE, op, err))?;
    client
        .wait_until_table_exists()
        .table_name(name)
        .wait(Duration::from_secs(300))
        .await
        .map_err(|err| CloudError::aws(SERVICE, "DescribeTable", err))?;
    Ok(())
}
