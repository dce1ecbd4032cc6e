//! `efs` resource types (being written).
