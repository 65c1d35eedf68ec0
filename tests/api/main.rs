//! Integration tests against a real PostgreSQL: each test has its own database, cloned
//! from a migrated template, and its own service on a loopback port.

mod common;

mod appointments;
mod auth;
mod authz;
mod departments;
mod health;
mod member_states;
mod offices;
mod openapi;
mod protocol;
mod seed;
