//! `elbv2` resource types (being written).
