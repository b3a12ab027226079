//! Pages and htmx partials, one module per capability; `live/` renders
//! what open pages receive over their socket.

pub mod admin;
pub mod jobs;
pub mod live;
pub mod notifications;
pub mod ops;
pub mod pages;
pub mod partials;
pub mod payroll;
pub mod profile;
pub mod settings;
pub mod tasks;
pub mod time;
