//! Roles, and who acts as the scripts' tenancy checks see it.

use serde::{Deserialize, Serialize};

/// What a user may do beyond their own bookings.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Default,
    Serialize,
    Deserialize,
    clap::ValueEnum,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Books, holds and cancels for themselves.
    #[default]
    Buyer,
    /// Also checks tickets in at the door and reads any booking's tickets; creates nothing.
    Staff,
    /// Also creates events, and reads and cancels anyone's bookings.
    Organizer,
    /// Everything an organizer may.
    Admin,
}

/// Who acts, as the scripts' tenancy check (`may_manage` in lua/lib.lua) reads it.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The user (empty in open mode).
    pub user: String,
    /// `buyer`, `organizer`, `admin`, or `open`.
    pub role: &'static str,
}

impl Role {
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Buyer => "buyer",
            Role::Staff => "staff",
            Role::Organizer => "organizer",
            Role::Admin => "admin",
        }
    }
}
