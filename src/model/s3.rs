//! `s3` resource types (being written).
