//! `cloudfront` resource types (being written).
