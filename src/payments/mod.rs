//! Payments across request types: what payforms does when a submission
//! fails after the money moved ([`compensation`]), and the loop that
//! finishes compensations left by a failed retry or a dead process
//! ([`worker`]).

pub mod compensation;
pub mod worker;
