//! The formats' integration tests, in one binary.

mod api_validation;
mod formats;
