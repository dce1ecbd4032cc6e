//! The monitoring stack (being written).

use crate::model::Template;

use super::Ctx;

pub(super) fn build(ctx: &Ctx<'_>) -> Template {
    Template::new(format!("ce {} monitoring", ctx.env_name()))
}
