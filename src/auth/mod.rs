//! Who is asking. In `AUTH_MODE=jwt` (the default) every write carries `Authorization: Bearer
//! <JWT>`, verified by each replica on its own (no Redis round trip): the signature (HS256
//! with `AUTH_JWT_SECRET`, and/or RS256, ES256 or EdDSA with the public key of
//! `AUTH_JWT_PUBLIC_KEY_FILE`), `exp`, `nbf`, and `aud`/`iss` when configured, with a small
//! clock-skew leeway. A token's algorithm must belong to a configured key: `alg: none` is never
//! accepted, nor an HS256 token when only a public key is configured (algorithm confusion).
//!
//! The user is the token's `sub`; its `role` (`buyer` by default, `organizer`, `admin`)
//! decides what it may do beyond its own bookings. Handlers take a [`Caller`] and ask it: the
//! user to act as ([`Caller::acting`]), whether a role is enough ([`Caller::require`]), whether
//! it may see another user's booking ([`Caller::may_act_for`]).
//!
//! `AUTH_MODE=open` keeps the seed systems' behaviour for demos and tests: the user is the
//! `userId` (or `?user=`) the client sends, and everyone may do everything.

mod admission;
mod token;

pub use crate::domain::role::{Actor, Role};
pub use admission::{Admissions, derive_secret as derive_admission_secret};
pub use token::{Claims, mint};

use crate::config::{AuthMode, AuthSettings};
use crate::domain::ids::UserId;
use crate::error::AppError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

/// The verifier, built once at start from the settings.
pub struct Auth {
    mode: AuthMode,
    /// (algorithm, key, what a token of that algorithm must satisfy): at most one symmetric
    /// and one public key.
    keys: Vec<(Algorithm, DecodingKey, Validation)>,
    audience: Option<String>,
    leeway: u64,
    /// AUTH_MAX_TOKEN_TTL_SECONDS: no token may be valid for longer than this from now.
    max_ttl: u64,
    /// Tokens this replica has verified, with their claims: a client sends the same token
    /// with every request, and checking its signature and parsing its JSON again each time
    /// was a tenth of a booking's CPU. Only a token byte for byte equal to a verified one
    /// hits; its `exp` and `nbf` are checked again on every hit.
    verified: std::sync::Mutex<std::collections::HashMap<Box<str>, Claims>>,
}

/// At most this many verified tokens are remembered (a few hundred bytes each); when full,
/// the memory starts over.
const VERIFIED_TOKENS: usize = 16 * 1024;

/// Tokens longer than this are refused before any parsing (a JWT of this service is a few
/// hundred bytes; verifying a 400 KB one is work an attacker chooses).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

impl Auth {
    /// Checks the settings; in jwt mode without a key, says what to set.
    pub fn from_settings(settings: &AuthSettings) -> Result<Self, String> {
        let mut keys = Vec::new();
        if let Some(secret) = settings.secret()? {
            if secret.len() < 32 {
                return Err(
                    "AUTH_JWT_SECRET must be at least 32 bytes (e.g. `openssl rand -hex 32`)"
                        .into(),
                );
            }
            keys.push((
                Algorithm::HS256,
                DecodingKey::from_secret(secret.as_bytes()),
            ));
        }
        if let Some(path) = &settings.public_key_file {
            let pem = std::fs::read(path)
                .map_err(|e| format!("AUTH_JWT_PUBLIC_KEY_FILE {}: {e}", path.display()))?;
            keys.push(
                public_key(&pem)
                    .map_err(|e| format!("AUTH_JWT_PUBLIC_KEY_FILE {}: {e}", path.display()))?,
            );
        }
        if settings.audience.as_deref() == Some(admission::AUDIENCE) {
            return Err(format!(
                "AUTH_JWT_AUDIENCE cannot be {:?}: that is the admission tokens' audience",
                admission::AUDIENCE
            ));
        }
        if settings.mode == AuthMode::Jwt && keys.is_empty() {
            return Err(
                "AUTH_MODE=jwt (the default) needs a key to verify tokens: set \
                 AUTH_JWT_SECRET (or AUTH_JWT_SECRET_FILE) to a secret of 32 bytes or more, \
                 and/or AUTH_JWT_PUBLIC_KEY_FILE to a PEM public key (RS256, ES256, EdDSA); \
                 or AUTH_MODE=open for a demo where clients name themselves"
                    .into(),
            );
        }
        let validation = |algorithm| {
            let mut validation = Validation::new(algorithm);
            validation.leeway = settings.leeway_seconds;
            validation.validate_nbf = true;
            validation.set_required_spec_claims(&["exp", "sub"]);
            if let Some(audience) = &settings.audience {
                validation.set_audience(&[audience]);
            }
            if let Some(issuer) = &settings.issuer {
                validation.set_issuer(&[issuer]);
            }
            validation
        };
        Ok(Self {
            mode: settings.mode,
            keys: keys
                .into_iter()
                .map(|(algorithm, key)| (algorithm, key, validation(algorithm)))
                .collect(),
            audience: settings.audience.clone(),
            leeway: settings.leeway_seconds,
            max_ttl: settings.max_token_ttl_seconds,
            verified: Default::default(),
        })
    }

    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    /// The caller of a request with these headers.
    pub fn caller(&self, headers: &HeaderMap) -> Result<Caller, AppError> {
        match self.mode {
            AuthMode::Open => Ok(Caller::Open),
            AuthMode::Jwt => {
                let claims = self.verify(bearer(headers)?)?;
                let user = UserId::parse(&claims.sub).map_err(|_| {
                    AppError::Unauthenticated("the token's sub is not a valid user id".into())
                })?;
                Ok(Caller::User {
                    user,
                    role: claims.role.unwrap_or_default(),
                })
            }
        }
    }

    /// Verifies a token: signature by a key of its algorithm, expiry, and the rest. A token
    /// with an audience is accepted only when AUTH_JWT_AUDIENCE names it (so an admission
    /// token, or a token minted for another service, never passes here); one valid for longer
    /// than AUTH_MAX_TOKEN_TTL_SECONDS from now is refused. Refusals say what is wrong with
    /// the token, never what the parser made of it.
    pub fn verify(&self, token: &str) -> Result<Claims, AppError> {
        let invalid = |why: &str| AppError::Unauthenticated(why.to_owned());
        if token.len() > MAX_TOKEN_BYTES {
            return Err(invalid("the token is too long"));
        }
        let now = jsonwebtoken::get_current_timestamp();
        let remembered = self
            .verified
            .lock()
            .ok()
            .and_then(|verified| verified.get(token).cloned());
        if let Some(claims) = remembered {
            if claims.exp.saturating_add(self.leeway) < now {
                return Err(invalid("the token has expired"));
            }
            if claims
                .nbf
                .is_some_and(|nbf| nbf > now.saturating_add(self.leeway))
            {
                return Err(invalid("the token is not valid yet (nbf)"));
            }
            return Ok(claims);
        }
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| invalid("the token is malformed"))?;
        let (_, key, validation) = self
            .keys
            .iter()
            .find(|(algorithm, ..)| *algorithm == header.alg)
            .ok_or_else(|| invalid("tokens signed with this algorithm are not accepted here"))?;
        let claims = jsonwebtoken::decode::<Claims>(token, key, validation)
            .map(|data| data.claims)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind as E;
                invalid(match e.kind() {
                    E::ExpiredSignature => "the token has expired",
                    E::ImmatureSignature => "the token is not valid yet (nbf)",
                    E::InvalidSignature => "the token's signature does not verify",
                    E::InvalidAudience if self.audience.is_none() => {
                        "the token is for an audience (aud); this service accepts none"
                    }
                    E::InvalidAudience => "the token is for another audience (aud)",
                    E::InvalidIssuer => "the token is from another issuer (iss)",
                    E::MissingRequiredClaim(claim) if claim == "exp" => {
                        "the token has no exp claim"
                    }
                    E::MissingRequiredClaim(_) => "the token has no sub claim",
                    _ => "the token is malformed",
                })
            })?;
        let latest = now.saturating_add(self.max_ttl).saturating_add(self.leeway);
        if claims.exp > latest {
            return Err(invalid(
                "the token is valid for longer than this service accepts \
                 (AUTH_MAX_TOKEN_TTL_SECONDS)",
            ));
        }
        if let Ok(mut verified) = self.verified.lock() {
            if verified.len() >= VERIFIED_TOKENS {
                verified.clear();
            }
            verified.insert(token.into(), claims.clone());
        }
        Ok(claims)
    }
}

/// The key of a PEM public key, and the one algorithm it verifies.
fn public_key(pem: &[u8]) -> Result<(Algorithm, DecodingKey), String> {
    if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
        return Ok((Algorithm::RS256, key));
    }
    if let Ok(key) = DecodingKey::from_ec_pem(pem) {
        return Ok((Algorithm::ES256, key));
    }
    if let Ok(key) = DecodingKey::from_ed_pem(pem) {
        return Ok((Algorithm::EdDSA, key));
    }
    Err("not a PEM RSA, EC (P-256) or Ed25519 public key".into())
}

/// The token of `Authorization: Bearer <token>`.
fn bearer(headers: &HeaderMap) -> Result<&str, AppError> {
    let value = headers.get(header::AUTHORIZATION).ok_or_else(|| {
        AppError::Unauthenticated("Authorization: Bearer <token> is required".into())
    })?;
    let value = value
        .to_str()
        .map_err(|_| AppError::Unauthenticated("the Authorization header is not text".into()))?;
    let (scheme, token) = value.split_once(' ').ok_or_else(|| {
        AppError::Unauthenticated("expected Authorization: Bearer <token>".into())
    })?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AppError::Unauthenticated(
            "expected Authorization: Bearer <token>".into(),
        ));
    }
    Ok(token.trim())
}

/// Who sends a request, as far as this service can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A verified token's user and role.
    User { user: UserId, role: Role },
    /// `AUTH_MODE=open`: whoever the request says.
    Open,
}

impl Caller {
    /// Who acts, for the tenancy checks.
    /// `buyer`, `organizer`, `admin`, or `open`: as the scripts' tenancy checks read it.
    pub fn role_name(&self) -> &'static str {
        match self {
            Caller::User { role, .. } => role.as_str(),
            Caller::Open => "open",
        }
    }

    pub fn actor(&self) -> Actor {
        match self {
            Caller::User { user, role } => Actor {
                user: user.to_string(),
                role: role.as_str(),
            },
            Caller::Open => Actor {
                user: String::new(),
                role: "open",
            },
        }
    }

    /// The verified user, if any (none in open mode).
    pub fn user(&self) -> Option<&UserId> {
        match self {
            Caller::User { user, .. } => Some(user),
            Caller::Open => None,
        }
    }

    /// The user to act as. A token's user may name themselves (`userId`, `?user=`) but nobody
    /// else (403); in open mode the named user, else `anonymous`.
    pub fn acting(&self, named: Option<UserId>) -> Result<UserId, AppError> {
        match self {
            Caller::User { user, .. } => match named {
                Some(named) if &named != user => Err(AppError::Forbidden(format!(
                    "you act as {user}, not as {named}"
                ))),
                _ => Ok(user.clone()),
            },
            Caller::Open => Ok(named.unwrap_or_else(UserId::anonymous)),
        }
    }

    /// As [`Self::acting`], but in open mode the request must name its user (a request with
    /// a body: `userId` in it).
    pub fn acting_named(&self, named: Option<UserId>) -> Result<UserId, AppError> {
        self.named_or(
            named,
            "AUTH_MODE=open: name the user with userId in the JSON body",
        )
    }

    /// As [`Self::acting_named`], for a request without a body (`GET`): `?user=`.
    pub fn acting_in_query(&self, named: Option<UserId>) -> Result<UserId, AppError> {
        self.named_or(named, "AUTH_MODE=open: name the user with ?user=<userId>")
    }

    fn named_or(&self, named: Option<UserId>, missing: &str) -> Result<UserId, AppError> {
        match (self, named) {
            (Caller::Open, None) => Err(AppError::InvalidRequest(missing.into())),
            (caller, named) => caller.acting(named),
        }
    }

    /// At least `role` (always, in open mode).
    pub fn require(&self, role: Role) -> Result<(), AppError> {
        match self {
            Caller::User { role: has, .. } if *has < role => Err(AppError::Forbidden(format!(
                "this needs the {} role",
                role.as_str()
            ))),
            _ => Ok(()),
        }
    }

    /// Whether it may read or cancel what belongs to `owner`: its own, or any as an
    /// organizer or admin (always, in open mode).
    pub fn may_act_for(&self, owner: &UserId) -> bool {
        match self {
            Caller::User { user, role } => user == owner || *role >= Role::Organizer,
            Caller::Open => true,
        }
    }

    /// An organizer or admin (or open mode): may look at everyone's bookings.
    pub fn sees_everything(&self) -> bool {
        self.require(Role::Organizer).is_ok()
    }
}

/// Any state that holds the verifier: the caller of every handler that takes one.
impl<S> FromRequestParts<S> for Caller
where
    S: Send + Sync,
    std::sync::Arc<Auth>: axum::extract::FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let auth: std::sync::Arc<Auth> = axum::extract::FromRef::from_ref(state);
        auth.caller(&parts.headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::time::Duration;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        auth: AuthSettings,
    }

    fn auth() -> Auth {
        let cli = Cli::try_parse_from(["t", "--auth-mode", "jwt", "--auth-jwt-secret", SECRET])
            .expect("settings");
        Auth::from_settings(&cli.auth).expect("auth")
    }

    fn token(user: &str) -> String {
        mint(
            SECRET,
            user,
            Role::Buyer,
            Duration::from_secs(600),
            None,
            None,
        )
        .expect("token")
    }

    #[test]
    fn a_remembered_token_is_still_checked_for_expiry() {
        let auth = auth();
        let alice = token("alice");
        assert_eq!(auth.verify(&alice).expect("first").sub, "alice");
        assert_eq!(auth.verify(&alice).expect("remembered").sub, "alice");
        let mut expired = auth.verify(&alice).expect("claims");
        expired.exp = jsonwebtoken::get_current_timestamp() - auth.leeway - 1;
        auth.verified
            .lock()
            .expect("lock")
            .insert(alice.as_str().into(), expired);
        let refused = auth.verify(&alice).expect_err("expired");
        assert!(refused.to_string().contains("expired"), "{refused}");
    }

    #[test]
    fn only_the_same_bytes_hit_a_remembered_token() {
        let auth = auth();
        let bob = token("bob");
        auth.verify(&bob).expect("verified");
        // The same claims under another signature: not remembered, and it does not verify.
        let (signed, signature) = bob.rsplit_once('.').expect("three parts");
        let forged = format!("{signed}.{}", signature.chars().rev().collect::<String>());
        assert!(auth.verify(&forged).is_err());
        assert_eq!(auth.verified.lock().expect("lock").len(), 1);
    }

    #[test]
    fn the_memory_of_verified_tokens_is_bounded() {
        let auth = auth();
        for i in 0..VERIFIED_TOKENS + 10 {
            auth.verify(&token(&format!("user-{i}"))).expect("verified");
        }
        assert!(auth.verified.lock().expect("lock").len() <= VERIFIED_TOKENS);
    }
}
