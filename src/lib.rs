//! Taskpulse: a self-hosted team task dashboard with live tracking and
//! automation. This crate builds the application; `main.rs` is its CLI.

pub mod api;
pub mod app;
pub mod config;
pub mod db;
pub mod domain;
pub mod http;
pub mod jobs;
pub mod live;
pub mod mail;
pub mod routes;
pub mod schema;
pub mod security;
pub mod services;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod web;
