//! Offices.
