//! Pure rules: no IO, no clock reads, no database. Values in, values out.

pub mod account;
pub mod login;
pub mod password;
pub mod progress;
pub mod role;
pub mod task;
