//! The integration suite: one test binary (linking the harness once, not once per file),
//! against real processes: redis-server, `boxoffice` replicas, nginx.
//!
//! Each module is one area of behaviour; `harness` has the helpers, split by concern.

mod harness;

mod audit;
mod bookings;
mod cluster;
mod demo;
mod docs;
mod durability;
mod events;
mod faults;
mod fuzz;
mod holds;
mod http;
mod idempotency;
mod metrics;
mod openapi;
mod orders;
mod page;
mod queue;
mod races;
mod replicas;
mod seats;
mod security;
mod shutdown;
mod startup;
mod stream;
mod tickets;
mod views;
mod webhooks;
