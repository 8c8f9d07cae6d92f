//! RPM content: yum/dnf repositories and `.rpm` packages.
//!
//! | module | what |
//! |---|---|
//! | [`metadata`] | reads and writes yum/dnf repository metadata (`repodata/`), treating it as hostile |
//! | [`model`] | the package model both readers fill: [`model::Package`] |
//! | [`rpmfile`] | reads an `.rpm` file's headers into a [`model::Package`], as createrepo_c describes it |

pub mod metadata;
pub mod model;
pub mod publish;
pub mod rpmfile;
pub mod sync;
