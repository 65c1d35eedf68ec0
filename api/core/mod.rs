//! The ground floor: what every request needs and no resource owns. Nothing here knows
//! of a resource, the database pool or the router.

pub mod enums;
pub mod error;
pub mod http;
pub mod i18n;
pub mod localized;
pub mod money;
pub mod pagination;
pub mod settings;
pub mod sync;
pub mod validate;
