//! `autoscaling` resource types (being written).
