//! Puppet modules: repositories mirrored from a Puppet Forge (v3 API) and
//! published as a read-only Forge, as Pulp 2's pulp_puppet did.
//!
//! | module | what |
//! |---|---|
//! | [`metadata`] | a module's `metadata.json`: names, SemVer versions, dependencies, checked strictly |
//! | [`tar`] | a small, bounded reader of tar archives (ustar, GNU, PAX) |
//! | [`tarball`] | a module tarball (`.tar.gz`) checked member by member for its metadata.json |
//! | [`listing`] | the Forge's `v3/releases` pages, as a remote serves them (hostile input) |
//! | [`content`] | `puppet.module` content units (the tarball is the artifact, metadata.json a blob) |
//! | [`documents`] | the Forge v3 documents a publication holds, and the published layout |
//! | [`sync`], [`publish`] | the sync and publish tasks' work |

pub mod content;
pub mod documents;
pub mod listing;
pub mod metadata;
pub mod publish;
pub mod sync;
pub mod tar;
pub mod tarball;
