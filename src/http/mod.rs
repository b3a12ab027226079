//! The shared HTTP edge of pages and API: the access extractor and its
//! enforcing middleware, errors, flash messages, security headers, static
//! assets and render helpers.

pub mod access;
pub mod assets;
pub mod error_pages;
pub mod errors;
pub mod flash;
pub mod headers;
pub mod layout;
pub mod render;
pub mod times;
