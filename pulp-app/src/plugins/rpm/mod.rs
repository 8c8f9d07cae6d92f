//! RPM content: yum/dnf repositories and `.rpm` packages.
//!
//! | module | what |
//! |---|---|
//! | [`metadata`] | reads and writes yum/dnf repository metadata (`repodata/`), treating it as hostile |
//! | [`model`] | the package model both readers fill: [`model::Package`] |
//! | [`rpmfile`] | reads an `.rpm` file's headers into a [`model::Package`], as createrepo_c describes it |
//! | [`content`] | packages, advisories and comps as catalog content units (files and changelogs in blobs) |
//! | [`sync`], [`publish`] | the sync and publish tasks' work |
//! | [`retention`] | `retain_package_versions`: only the newest N versions of each package |
//! | [`upload`] | uploaded `.rpm` files as content units |

pub mod content;
pub mod metadata;
pub mod model;
pub mod publish;
pub mod retention;
pub mod rpmfile;
pub mod sync;
pub mod upload;

/// An error with its causes (`a: b: c`), for task and API messages.
pub(crate) fn report(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

/// A permanent task failure with the error's causes in its message.
pub(crate) fn fail<E: std::error::Error + 'static>(e: E) -> taskq::TaskError {
    taskq::TaskError::fail(report(&e))
}
