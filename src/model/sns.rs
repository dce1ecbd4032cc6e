//! `sns` resource types (being written).
