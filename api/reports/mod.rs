//! Reports read across resources: statistics, finance reports, exports, IATI. They sit above the resources whose types they read.

pub mod exports;
pub mod finance_reports;
pub mod iati;
pub mod reconciliation;
pub mod stats;
