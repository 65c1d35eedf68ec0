//! One folder per resource, each holding its whole path from route to SQL. A resource
//! imports nothing from another resource folder: what two share lives on a lower floor.

pub mod accomplishments;
pub mod agencies;
pub mod assets;
pub mod audit;
pub mod changes;
pub mod departments;
pub mod exchange_rates;
pub mod ledgers;
pub mod mandates;
pub mod member_states;
pub mod memoranda;
pub mod offices;
pub mod projects;
pub mod service_accounts;
pub mod shared;
pub mod webhooks;
