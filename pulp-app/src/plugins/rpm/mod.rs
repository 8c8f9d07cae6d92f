//! RPM content: yum/dnf repositories and `.rpm` packages.
//!
//! | module | what |
//! |---|---|
//! | [`model`] | the package model both readers fill: [`model::Package`] |
//! | [`rpmfile`] | reads an `.rpm` file's headers into a [`model::Package`], as createrepo_c describes it |

pub mod model;
pub mod rpmfile;
