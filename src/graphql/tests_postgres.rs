//! The engine tests of `tests.rs`, again on PostgreSQL.

use super::*;

const BACKEND_IS_POSTGRES: bool = true;

// Deliberately the same file as `graphql::tests`: one suite, two backends.
#[allow(clippy::duplicate_mod)]
#[path = "tests.rs"]
mod cases;
