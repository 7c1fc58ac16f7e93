//! The engine tests of `tests.rs`, again on PostgreSQL.

use super::*;

const BACKEND_IS_POSTGRES: bool = true;

#[path = "tests.rs"]
mod cases;
