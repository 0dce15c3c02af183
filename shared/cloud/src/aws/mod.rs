//! Adapters of the ports to AWS: S3, DynamoDB, EventBridge Scheduler, CloudWatch.
