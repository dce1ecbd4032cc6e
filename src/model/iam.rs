//! `iam` resource types (being written).
