//! User data of the web nodes, rendered from `templates/user-data.sh.hbs` (being written).

/// The user data template could not be rendered.
#[derive(Debug, thiserror::Error)]
#[error("user data template: {0}")]
pub struct UserDataError(pub String);
