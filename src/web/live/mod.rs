//! What open pages receive over their socket: the renderer turns events
//! into fragments once, each page routes them to what it shows, and the
//! sockets carry them (rendered for pages, JSON for API clients).

pub mod page;
pub mod renderer;
pub mod socket;
pub mod update;
