//! `cloudwatch` resource types (being written).
