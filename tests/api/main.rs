//! The integration suite: one binary, modules per area. Each test starts the
//! real server on a random port with its own database.

mod support;

mod access;
mod api_doc;
mod auth;
mod auth_devices;
mod automation_api;
mod basics;
mod browser;
mod browser_live;
mod cli;
mod database;
mod edge;
mod email;
mod job_batches;
mod job_processes;
mod jobs;
mod jobs_page;
mod my_tasks;
mod notifications;
mod ops;
mod payroll;
mod reliability;
mod scheduled_jobs;
mod shutdown;
mod structure;
mod task_pages;
mod tasks_api;
mod time_zones;
