//! Request extractors whose every failure is an [`AppError`], so malformed requests get the same
//! JSON error body as everything else.

use crate::config::Settings;
use crate::domain::ids::{EventId, HoldId, OrderId, SeatId, UserId};
use crate::domain::object::Object;
use crate::error::AppError;
use crate::server::Peer;
use crate::store::IdempotencyKey;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRef};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use ipnet::IpNet;
use serde::de::DeserializeOwned;
use std::net::IpAddr;
use std::sync::Arc;

/// Bodies above this get `413`.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body (`Content-Type: application/json`): an object, never an array.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let axum::Json(Object(value)) =
            <axum::Json<Object<T>> as FromRequest<S>>::from_request(req, state)
                .await
                .map_err(json_rejection)?;
        Ok(Self(value))
    }
}

/// A body that may be left out. An empty body is no body, whatever its `Content-Type` (some
/// clients send `application/octet-stream` with an empty POST); a non-empty one must be JSON.
pub struct OptionalJson<T>(pub Option<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_json_content_type);
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge {
                    limit: MAX_BODY_BYTES,
                }
            } else if crate::error::body_timed_out(&rejection) {
                AppError::body_timeout()
            } else {
                AppError::InvalidRequest(rejection.body_text())
            }
        })?;
        if bytes.is_empty() {
            return Ok(Self(None));
        }
        if !is_json {
            return Err(AppError::UnsupportedMediaType);
        }
        // `null` is no body too.
        let axum::Json(value) =
            axum::Json::<Option<Object<T>>>::from_bytes(&bytes).map_err(json_rejection)?;
        Ok(Self(value.map(|Object(value)| value)))
    }
}

/// `application/json` or `application/<anything>+json`, parameters ignored.
fn is_json_content_type(value: &str) -> bool {
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|subtype| subtype.ends_with("+json"))
}

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct PathParams<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct QueryParams<T>(pub T);

/// An id as a path segment: checked as its type says, with the answer a malformed one gets.
pub trait PathSegment: Sized {
    fn from_segment(segment: String) -> Result<Self, AppError>;
}

impl PathSegment for EventId {
    fn from_segment(segment: String) -> Result<Self, AppError> {
        Ok(Self::parse(segment)?)
    }
}

impl PathSegment for SeatId {
    fn from_segment(segment: String) -> Result<Self, AppError> {
        Ok(Self::parse(segment)?)
    }
}

impl PathSegment for UserId {
    fn from_segment(segment: String) -> Result<Self, AppError> {
        Ok(Self::parse(segment)?)
    }
}

impl PathSegment for OrderId {
    /// Not an order id of ours: no such order.
    fn from_segment(segment: String) -> Result<Self, AppError> {
        Self::parse(&segment).ok_or(AppError::OrderNotFound)
    }
}

/// A segment its handler checks itself (a queue ticket).
impl PathSegment for String {
    fn from_segment(segment: String) -> Result<Self, AppError> {
        Ok(segment)
    }
}

impl PathSegment for HoldId {
    /// Not a hold id of ours: no such hold.
    fn from_segment(segment: String) -> Result<Self, AppError> {
        Self::parse(&segment).ok_or(AppError::HoldNotFound)
    }
}

/// Typed path extraction: `Ids<EventId>` for `/events/{eventId}`, `Ids<(EventId, HoldId)>`
/// for `/events/{eventId}/holds/{holdId}`; each id checked in path order, so a malformed event
/// id is the answer whatever follows it.
pub struct Ids<T>(pub T);

impl<S: Send + Sync, A: PathSegment> FromRequestParts<S> for Ids<A> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let PathParams(a) = PathParams::<String>::from_request_parts(parts, state).await?;
        Ok(Self(A::from_segment(a)?))
    }
}

impl<S: Send + Sync, A: PathSegment, B: PathSegment> FromRequestParts<S> for Ids<(A, B)> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let PathParams((a, b)) =
            PathParams::<(String, String)>::from_request_parts(parts, state).await?;
        let a = A::from_segment(a)?;
        Ok(Self((a, B::from_segment(b)?)))
    }
}

/// The optional `Idempotency-Key` header.
pub struct Idempotency(pub Option<IdempotencyKey>);

impl<S: Send + Sync> FromRequestParts<S> for Idempotency {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        match parts.headers.get("idempotency-key") {
            None => Ok(Self(None)),
            Some(value) => {
                let value = value.to_str().map_err(|_| {
                    AppError::InvalidRequest("Idempotency-Key must be visible ASCII".into())
                })?;
                Ok(Self(Some(IdempotencyKey::parse(value)?)))
            }
        }
    }
}

/// The `Idempotency-Key` header, for the OpenAPI document.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // documentation only: `Idempotency` reads the header
pub struct IdempotencyHeader {
    /// Send the same key again (after a 502, 503, 504 or no answer) to get the first answer
    /// replayed instead of booking twice; a key used with a different request is 422.
    /// Remembered for 24 hours, per user.
    #[param(rename = "Idempotency-Key", pattern = r"^[\x21-\x7e]{1,255}$")]
    idempotency_key: Option<String>,
}

/// The optional `Admission-Token` header: an admission from an event's waiting room.
pub struct AdmissionToken(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for AdmissionToken {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        Ok(Self(
            parts
                .headers
                .get("admission-token")
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_owned()),
        ))
    }
}

/// The `Admission-Token` header, for the OpenAPI document.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // documentation only: `AdmissionToken` reads the header
pub struct AdmissionHeader {
    /// Needed while the event's waiting room is on: the `admissionToken` of
    /// `POST /events/{eventId}/queue` (or `GET .../queue/{ticket}`) once admitted.
    #[param(rename = "Admission-Token")]
    admission_token: Option<String>,
}

/// What a JSON body's rejection means for the client.
fn json_rejection(rejection: JsonRejection) -> AppError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => AppError::UnsupportedMediaType,
        JsonRejection::JsonDataError(e) => AppError::serde_message(
            &e.body_text(),
            "Failed to deserialize the JSON body into the target type: ",
        ),
        JsonRejection::JsonSyntaxError(e) => {
            AppError::serde_message(&e.body_text(), "Failed to parse the request body as JSON: ")
        }
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            AppError::PayloadTooLarge {
                limit: MAX_BODY_BYTES,
            }
        }
        ref other if crate::error::body_timed_out(other) => AppError::body_timeout(),
        other => AppError::InvalidRequest(other.body_text()),
    }
}

/// The client's address: the peer, or, when the peer is a trusted proxy, the last address in
/// X-Forwarded-For that is not one of them.
pub fn client_address(peer: IpAddr, headers: &axum::http::HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    forwarded
        .iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .copied()
        .unwrap_or(peer)
}

/// The client's address (see [`client_address`]), with TRUSTED_PROXIES from the state.
pub struct ClientAddress(pub IpAddr);

impl<S> FromRequestParts<S> for ClientAddress
where
    S: Send + Sync,
    Arc<Settings>: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let settings: Arc<Settings> = FromRef::from_ref(state);
        let peer = parts
            .extensions
            .get::<ConnectInfo<Peer>>()
            .map(|ConnectInfo(Peer(peer))| peer.ip())
            .ok_or_else(|| AppError::Internal("no peer address on the connection".into()))?;
        Ok(Self(client_address(
            peer,
            &parts.headers,
            &settings.trusted_proxies,
        )))
    }
}

/// `{userId?}`: who acts, in a body that carries nothing else. With a token, the token's user
/// (who may name only themselves); in `AUTH_MODE=open`, needed unless `?user=` names them.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserBody {
    #[serde(default)]
    pub user_id: Option<UserId>,
}

/// `?user=`: who acts, in `AUTH_MODE=open` (with a token: the token's user, who may name only
/// themselves). Wins over a body's `userId`.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    #[param(value_type = Option<UserId>)]
    pub user: Option<String>,
}

impl UserQuery {
    /// The user `?user=` names, if any (400 if it is no user id).
    pub fn user(self) -> Result<Option<UserId>, AppError> {
        self.user.map(UserId::parse).transpose().map_err(Into::into)
    }

    /// The user `?user=` names in `uri`, if any.
    pub fn named(uri: &axum::http::Uri) -> Result<Option<UserId>, AppError> {
        let axum::extract::Query(query) = axum::extract::Query::<UserQuery>::try_from_uri(uri)?;
        query.user()
    }
}

/// Who acts, read the same way on every route whose body is at most `{userId}`: the token's
/// user; in `AUTH_MODE=open`, the user `?user=` or the body's `userId` names (the query wins),
/// and a 400 that says how to name one when neither does. Takes the body: last extractor.
/// [`Acting::user`] decides, after the handler has checked its path (a malformed id is a 400
/// or 404 before anything about who asks).
pub struct Acting {
    caller: crate::auth::Caller,
    named: Option<UserId>,
}

impl Acting {
    pub fn user(self) -> Result<UserId, AppError> {
        self.caller.acting_named(self.named)
    }

    /// The caller's role, as the scripts read it (`Caller::role_name`).
    pub fn role(&self) -> &'static str {
        self.caller.role_name()
    }

    /// As [`Acting::user`], but in open mode nobody named is `anonymous` (the seed systems'
    /// demo routes).
    pub fn user_or_anonymous(self) -> Result<UserId, AppError> {
        self.caller.acting(self.named)
    }
}

impl<S> FromRequest<S> for Acting
where
    S: Send + Sync,
    Arc<crate::auth::Auth>: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let (mut parts, body) = req.into_parts();
        let ActingInQuery { caller, named } =
            ActingInQuery::from_request_parts(&mut parts, state).await?;
        let request = Request::from_parts(parts, body);
        let OptionalJson(body) = OptionalJson::<UserBody>::from_request(request, state).await?;
        let named = named.or(body.and_then(|b| b.user_id));
        Ok(Self { caller, named })
    }
}

/// [`Acting`] for a request without a body (`GET`): `?user=`.
pub struct ActingInQuery {
    caller: crate::auth::Caller,
    named: Option<UserId>,
}

impl ActingInQuery {
    pub fn user(self) -> Result<UserId, AppError> {
        self.caller.acting_in_query(self.named)
    }
}

impl<S> FromRequestParts<S> for ActingInQuery
where
    S: Send + Sync,
    Arc<crate::auth::Auth>: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let caller = crate::auth::Caller::from_request_parts(parts, state).await?;
        let named = UserQuery::named(&parts.uri)?;
        Ok(Self { caller, named })
    }
}
