//! What two or more resources share (contact details, text search, refusing a delete of
//! a referenced resource, the pillars). The floor of the resources: any resource folder
//! may import it; it imports no resource.

pub mod changes;
pub mod contacts;
pub mod iati;
pub mod member_state;
pub mod pillar;
pub mod references;
pub mod search;

pub use contacts::{Contacts, ContactsPatch};
pub use member_state::{MemberStateCode, check_member_state};
pub use pillar::Pillar;
pub use references::{delete_error, still_referenced};
pub use search::{SearchCondition, localized_sql, param_search, search_condition};
