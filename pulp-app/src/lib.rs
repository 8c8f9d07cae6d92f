//! pulp-app: a software repository manager in the spirit of Pulp, built on
//! taskq.
