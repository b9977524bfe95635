//! What the service is about, independent of HTTP and Redis: identifiers, money, events and
//! bookings, and the rules that decide whether a request describes a valid one.

pub mod booking;
pub mod event;
pub mod hold;
pub mod ids;
pub mod money;
pub mod object;
pub mod order;
pub mod queue;
pub mod role;
pub mod seats;
pub mod stripe;
pub mod ticket;
pub mod time;
pub mod webhook;
pub mod whole;
