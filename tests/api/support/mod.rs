//! What the test modules share: the app under test and its database
//! (`app`), seed and read helpers (`fixtures`), the real binary as a child
//! process (`process`), the live socket (`socket`) and headless Chromium
//! (`browser`). Test modules `use crate::support::*`.

pub mod app;
pub mod browser;
pub mod fixtures;
pub mod process;
pub mod socket;

pub use app::*;
pub use fixtures::*;
pub use process::*;
pub use socket::*;
