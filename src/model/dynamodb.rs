//! `dynamodb` resource types (being written).
