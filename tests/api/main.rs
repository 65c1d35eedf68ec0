//! Integration tests against a real PostgreSQL: each test has its own database, cloned
//! from a migrated template, and its own service on a loopback port.

mod common;

mod accomplishments;
mod agencies;
mod appointments;
mod assets;
mod audit;
mod auth;
mod authz;
mod changes;
mod contract;
mod csv;
mod departments;
mod deploy;
mod dry_run;
mod exports;
mod health;
mod iati;
mod iati_rules;
mod ledger_admin;
mod ledgers;
mod mandates;
mod member_states;
mod memoranda;
mod money_controls;
mod monitoring_reports;
mod offices;
mod openapi;
mod operations;
mod projects;
mod protocol;
mod reconciliation;
mod replicas;
mod reporting;
mod scale_out;
mod sector_spending;
mod seed;
mod service;
mod stats;
mod sync;
mod webhooks;
