//! Content types. Each plugin owns the formats of one kind of repository.

pub mod file;
pub mod rpm;
