//! OGSMS API: the system of record of the Offices of the General Secretariat of the OAS
//! in the Member States.
//!
//! Folders are floors (see README, "Layout"): a module imports only from its own folder
//! or from the floors below it.

pub mod app;
pub mod auth;
pub mod core;
pub mod db;
pub mod formats;
pub mod ops;
pub mod reports;
pub mod resources;
pub mod seed;
pub mod state;
