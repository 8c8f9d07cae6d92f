//! The file plugin: repositories of plain files described by a
//! `PULP_MANIFEST` (`relative_path,sha256,size` per line).

pub mod content;
pub mod manifest;
pub mod publish;
pub mod sync;
