//! Admission tokens: what a buyer sends, in the `Admission-Token` header, to book, hold or lock
//! seats of an event whose waiting room is on. HS256 with `ADMISSION_SECRET`, or by default a
//! key derived from `AUTH_JWT_SECRET` (HMAC-SHA256 of it over a fixed label, so the two kinds
//! are never signed with the same key), bound to one user and one event (`sub`, `evt`),
//! audience `boxoffice-admission` (which identity tokens may never carry), expiring with the
//! admission: any replica checks one without asking Redis. Whether the admission is still
//! unused is checked by the booking script itself, in the same step as the booking.

use crate::domain::ids::{EventId, UserId};
use crate::error::AppError;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub(super) const AUDIENCE: &str = "boxoffice-admission";

#[derive(Debug, Serialize, Deserialize)]
struct AdmissionClaims {
    sub: String,
    evt: String,
    aud: String,
    /// Seconds since the epoch, rounded up from the admission's end.
    exp: u64,
}

pub struct Admissions {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Signs waiting-room places (a key of its own, derived from the secret).
    places: Vec<u8>,
}

/// Bytes of HMAC-SHA256 a queue ticket keeps (96 bits: a forgery is a 2^-96 guess per try).
const PLACE_MAC_BYTES: usize = 12;

fn hmac(key: &[u8], parts: &[&[u8]]) -> hmac::Hmac<sha2::Sha256> {
    use hmac::Mac;
    let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    for part in parts {
        mac.update(part);
        // A separator no id contains, so ("ab","c") and ("a","bc") differ.
        mac.update(b"\n");
    }
    mac
}

/// The admission key when no ADMISSION_SECRET is set: derived from the identity secret, never
/// the identity secret itself.
pub fn derive_secret(identity_secret: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(identity_secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(b"boxoffice admission tokens v1");
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Admissions {
    pub fn new(secret: &str) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            places: hmac::Mac::finalize(hmac(secret.as_bytes(), &[b"boxoffice queue places v1"]))
                .into_bytes()
                .to_vec(),
        }
    }

    /// A queue ticket: `user`'s place `seq` on queue shard `shard` of `event`, signed
    /// (`<shard>.<seq>.<mac>`), so that any replica knows the place from the ticket alone.
    pub fn sign_place(&self, user: &UserId, event: &EventId, shard: u16, seq: u64) -> String {
        use base64::Engine;
        let place = format!("{shard}.{seq}");
        let mac = hmac::Mac::finalize(self.place_mac(user, event, &place)).into_bytes();
        let mac = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&mac[..PLACE_MAC_BYTES]);
        format!("{place}.{mac}")
    }

    /// The place (`shard`, `seq`) a queue ticket gives `user` in `event`, if it is one this
    /// deployment signed for them.
    pub fn place_of(&self, ticket: &str, user: &UserId, event: &EventId) -> Option<(u16, u64)> {
        use base64::Engine;
        let (place, mac) = ticket.rsplit_once('.')?;
        let (shard, seq) = place.split_once('.')?;
        let (shard, seq) = (shard.parse::<u16>().ok()?, seq.parse::<u64>().ok()?);
        // Canonical numbers only: one ticket per place.
        if place != format!("{shard}.{seq}") {
            return None;
        }
        let given = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(mac)
            .ok()?;
        if given.len() != PLACE_MAC_BYTES {
            return None;
        }
        // Compared in constant time (the MAC is the secret part).
        hmac::Mac::verify_truncated_left(self.place_mac(user, event, place), &given)
            .ok()
            .map(|()| (shard, seq))
    }

    fn place_mac(&self, user: &UserId, event: &EventId, place: &str) -> hmac::Hmac<sha2::Sha256> {
        hmac(
            &self.places,
            &[
                event.as_str().as_bytes(),
                user.as_str().as_bytes(),
                place.as_bytes(),
            ],
        )
    }

    /// A token for `user` in `event`, valid until `until_ms`.
    pub fn mint(&self, user: &UserId, event: &EventId, until_ms: i64) -> Result<String, AppError> {
        let claims = AdmissionClaims {
            sub: user.to_string(),
            evt: event.to_string(),
            aud: AUDIENCE.into(),
            exp: u64::try_from(until_ms.max(0)).unwrap_or(0).div_ceil(1000),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AppError::Internal(format!("admission token: {e}")))
    }

    /// Whether `token` admits `user` to `event` now (signature, audience, user, event, expiry).
    pub fn admits(&self, token: Option<&str>, user: &UserId, event: &EventId) -> bool {
        let Some(token) = token else {
            return false;
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.leeway = 0;
        jsonwebtoken::decode::<AdmissionClaims>(token, &self.decoding, &validation)
            .is_ok_and(|data| data.claims.sub == user.as_str() && data.claims.evt == event.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Admissions with a test secret, two users and two events.
    fn cast() -> (Admissions, [UserId; 2], [EventId; 2]) {
        let user = |name: &str| UserId::parse(name).unwrap();
        let event = |name: &str| EventId::parse(name).unwrap();
        (
            Admissions::new("a secret of thirty-two bytes or more....."),
            [user("alice"), user("bob")],
            [event("one"), event("two")],
        )
    }

    #[test]
    fn a_token_admits_its_user_to_its_event_only() {
        let (admissions, [alice, bob], [one, two]) = cast();
        let later = crate::domain::time::now_ms() + 60_000;
        let token = admissions.mint(&alice, &one, later).unwrap();
        assert!(admissions.admits(Some(&token), &alice, &one));
        assert!(!admissions.admits(Some(&token), &bob, &one));
        assert!(!admissions.admits(Some(&token), &alice, &two));
        assert!(!admissions.admits(None, &alice, &one));
        let expired = admissions.mint(&alice, &one, later - 120_000).unwrap();
        assert!(!admissions.admits(Some(&expired), &alice, &one));
        let other = Admissions::new("another secret of thirty-two bytes.......");
        assert!(!other.admits(Some(&token), &alice, &one));
    }

    #[test]
    fn a_queue_ticket_gives_its_place_to_its_user_in_its_event_only() {
        let (admissions, [alice, bob], [one, two]) = cast();
        let ticket = admissions.sign_place(&alice, &one, 3, 41);
        assert!(
            ticket.starts_with("3.41.") && ticket.len() <= 30,
            "{ticket}"
        );
        assert_eq!(admissions.place_of(&ticket, &alice, &one), Some((3, 41)));
        assert_eq!(admissions.place_of(&ticket, &bob, &one), None);
        assert_eq!(admissions.place_of(&ticket, &alice, &two), None);
        let mac = ticket.rsplit_once('.').unwrap().1;
        for forged in [
            format!("3.42.{mac}"),
            format!("03.41.{mac}"),
            "3.41".into(),
            String::new(),
        ] {
            assert_eq!(admissions.place_of(&forged, &alice, &one), None, "{forged}");
        }
        let other = Admissions::new("another secret of thirty-two bytes.......");
        assert_eq!(other.place_of(&ticket, &alice, &one), None);
    }
}
