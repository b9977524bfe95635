//! The claims of a token, and `boxoffice token`, which mints one with `AUTH_JWT_SECRET` so
//! that curl examples, `race`, `bench` and the compose quick start work in jwt mode.

use super::Role;
use jsonwebtoken::{EncodingKey, Header};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
}

/// An HS256 token for `user` with `role`, valid for `ttl`.
pub fn mint(
    secret: &str,
    user: &str,
    role: Role,
    ttl: Duration,
    audience: Option<&str>,
    issuer: Option<&str>,
) -> Result<String, String> {
    let now = jsonwebtoken::get_current_timestamp();
    let claims = Claims {
        sub: user.to_owned(),
        exp: now + ttl.as_secs(),
        nbf: None,
        iat: Some(now),
        role: Some(role),
        aud: audience.map(str::to_owned),
        iss: issuer.map(str::to_owned),
    };
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(|e| e.to_string())
}
