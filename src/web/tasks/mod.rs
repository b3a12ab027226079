//! Task pages: the employee's tasks with the progress form, the live
//! monitor, a task's detail with its trail, and the assign / edit form.
//! Handlers parse, call one service, and render; fragments come from
//! [`crate::web::partials`], the same ones the live feed pushes.

pub mod detail;
pub mod form;
pub mod mine;
pub mod monitor;
pub mod monitor_filters;
pub mod shared;
