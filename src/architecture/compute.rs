//! The compute stack (being written).

use crate::model::Template;

use super::Ctx;

pub(super) fn build(ctx: &Ctx<'_>) -> Result<Template, super::UserDataError> {
    Ok(Template::new(format!("ce {} compute", ctx.env_name())))
}
