//! Departments.
