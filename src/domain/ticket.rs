//! Tickets: one per seat of a booking (one per unit of a general admission booking), each
//! with a code a scanner verifies offline (docs/tickets.md).
//!
//! A ticket's id is its booking's id and its number in the booking (`<bookingId>.<n>`, from
//! 1): tickets are made with their booking, in the same step, and need no record of their own.
//! The code is base64url (no padding) of
//!
//! | bytes | what |
//! |---|---|
//! | 1 | format, 1 |
//! | 4 | `kid`: the first 4 bytes of SHA-256 of the signing public key (as in the JWKS) |
//! | 16 | the booking id (a UUID) |
//! | 2 | the ticket's number in the booking, big-endian |
//! | 1 + n | the event id: n bytes of UTF-8 (n = 0: 16 bytes of a UUID follow instead) |
//! | 1 + n | the section id |
//! | 1 + n | the seat (n = 0: general admission) |
//! | 64 | Ed25519 signature of every byte before it |
//!
//! About 150 characters for an event of this API (its id is a UUID): small enough for a QR code
//! a phone shows and a handheld scanner reads.

use super::time::Millis;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

const FORMAT: u8 = 1;
const SIGNATURE_LEN: usize = 64;

/// Codes longer than this are refused when they are made (a QR code stays easy to scan).
pub const MAX_CODE_LEN: usize = 200;

/// What a code says: which ticket, for what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketClaims {
    pub booking_id: Uuid,
    /// 1-based.
    pub number: u16,
    pub event_id: String,
    pub section_id: String,
    /// None for general admission.
    pub seat: Option<String>,
}

impl TicketClaims {
    /// `<bookingId>.<n>`.
    pub fn ticket_id(&self) -> String {
        ticket_id(&self.booking_id.hyphenated().to_string(), self.number)
    }
}

/// The id of ticket `number` of booking `booking_id`.
pub fn ticket_id(booking_id: &str, number: u16) -> String {
    format!("{booking_id}.{number}")
}

/// A ticket as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketView {
    /// `<bookingId>.<n>`: the booking and the ticket's number in it, from 1.
    #[schema(example = "01938a6e-7d2c-7cc3-b1a4-3c1f0e2d4a10.1")]
    pub id: String,
    pub booking_id: String,
    pub event_id: String,
    pub section_id: String,
    /// The seat, for a reserved seating section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seat: Option<String>,
    /// The signed code (base64url): what the QR code holds and a scanner verifies offline.
    pub code: String,
}

/// Why a code is not a ticket of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// Not base64url, or not the layout above.
    Malformed,
    /// Signed by a key this service does not know.
    UnknownKey,
    /// The signature does not verify: forged or altered.
    BadSignature,
}

impl Invalid {
    pub fn reason(self) -> &'static str {
        match self {
            Invalid::Malformed => "the code is not a ticket code",
            Invalid::UnknownKey => "the code is signed by a key this service does not know",
            Invalid::BadSignature => "the code's signature does not verify",
        }
    }
}

/// The keys that sign and verify ticket codes: one signing key, and retired keys that still
/// verify codes they signed.
pub struct TicketKeys {
    signing: SigningKey,
    kid: [u8; 4],
    verifying: Vec<([u8; 4], VerifyingKey)>,
}

fn kid_of(key: &VerifyingKey) -> [u8; 4] {
    let digest = Sha256::digest(key.as_bytes());
    [digest[0], digest[1], digest[2], digest[3]]
}

impl TicketKeys {
    /// Signs with `signing`; verifies with it and with `retired`.
    pub fn new(signing: SigningKey, retired: Vec<VerifyingKey>) -> Self {
        let public = signing.verifying_key();
        let kid = kid_of(&public);
        let mut verifying = vec![(kid, public)];
        verifying.extend(retired.into_iter().map(|k| (kid_of(&k), k)));
        Self {
            signing,
            kid,
            verifying,
        }
    }

    /// A key from a PKCS#8 PEM (`boxoffice keygen`, `openssl genpkey -algorithm ed25519`).
    pub fn key_from_pem(pem: &str) -> Result<SigningKey, String> {
        SigningKey::from_pkcs8_pem(pem).map_err(|e| format!("not an Ed25519 PKCS#8 PEM key: {e}"))
    }

    /// A key from a secret of any length (HMAC-SHA256 of a fixed label): the same on every
    /// replica that has the same secret.
    pub fn key_from_secret(secret: &str) -> SigningKey {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(b"boxoffice ticket signing key v1");
        let seed: [u8; 32] = mac.finalize().into_bytes().into();
        SigningKey::from_bytes(&seed)
    }

    /// A new random key as a PKCS#8 PEM.
    pub fn generate_pem() -> Result<String, String> {
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).map_err(|e| format!("no randomness: {e}"))?;
        SigningKey::from_bytes(&seed)
            .to_pkcs8_pem(Default::default())
            .map(|pem| pem.to_string())
            .map_err(|e| format!("encoding the key: {e}"))
    }

    /// The signing key's id, as in the JWKS.
    pub fn kid(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.kid)
    }

    /// The public keys as a JWK Set (RFC 7517; OKP keys of RFC 8037), signing key first.
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<serde_json::Value> = self
            .verifying
            .iter()
            .map(|(kid, key)| {
                serde_json::json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": URL_SAFE_NO_PAD.encode(key.as_bytes()),
                    "kid": URL_SAFE_NO_PAD.encode(kid),
                    "alg": "EdDSA",
                    "use": "sig",
                })
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// The code of a ticket.
    pub fn sign(&self, claims: &TicketClaims) -> Result<String, String> {
        let mut bytes = Vec::with_capacity(128);
        bytes.push(FORMAT);
        bytes.extend_from_slice(&self.kid);
        bytes.extend_from_slice(claims.booking_id.as_bytes());
        bytes.extend_from_slice(&claims.number.to_be_bytes());
        match Uuid::try_parse(&claims.event_id) {
            Ok(uuid) if uuid.hyphenated().to_string() == claims.event_id => {
                bytes.push(0);
                bytes.extend_from_slice(uuid.as_bytes());
            }
            _ => push_text(&mut bytes, &claims.event_id)?,
        }
        push_text(&mut bytes, &claims.section_id)?;
        push_text(&mut bytes, claims.seat.as_deref().unwrap_or(""))?;
        let signature = self.signing.sign(&bytes);
        bytes.extend_from_slice(&signature.to_bytes());
        let code = URL_SAFE_NO_PAD.encode(&bytes);
        if code.len() > MAX_CODE_LEN {
            return Err(format!(
                "a ticket code of {} characters (ids too long for a QR code)",
                code.len()
            ));
        }
        Ok(code)
    }

    /// What a code says, if one of our keys signed it as it is.
    pub fn verify(&self, code: &str) -> Result<TicketClaims, Invalid> {
        let bytes = URL_SAFE_NO_PAD
            .decode(code.trim())
            .map_err(|_| Invalid::Malformed)?;
        if bytes.len() < 1 + 4 + 16 + 2 + 3 + SIGNATURE_LEN || bytes[0] != FORMAT {
            return Err(Invalid::Malformed);
        }
        let (signed, signature) = bytes.split_at(bytes.len() - SIGNATURE_LEN);
        let mut reader = Reader(&signed[1..]);
        let kid: [u8; 4] = reader.array()?;
        let booking_id = Uuid::from_bytes(reader.array()?);
        let number = u16::from_be_bytes(reader.array()?);
        let event_id = match reader.byte()? {
            0 => Uuid::from_bytes(reader.array()?).hyphenated().to_string(),
            n => reader.text(n)?,
        };
        let n = reader.byte()?;
        let section_id = reader.text(n)?;
        let n = reader.byte()?;
        let seat = if n == 0 { None } else { Some(reader.text(n)?) };
        if !reader.0.is_empty() || number == 0 {
            return Err(Invalid::Malformed);
        }
        let key = self
            .verifying
            .iter()
            .find(|(k, _)| *k == kid)
            .map(|(_, key)| key)
            .ok_or(Invalid::UnknownKey)?;
        let signature = Signature::from_slice(signature).map_err(|_| Invalid::Malformed)?;
        key.verify(signed, &signature)
            .map_err(|_| Invalid::BadSignature)?;
        Ok(TicketClaims {
            booking_id,
            number,
            event_id,
            section_id,
            seat,
        })
    }
}

fn push_text(bytes: &mut Vec<u8>, text: &str) -> Result<(), String> {
    let len = u8::try_from(text.len())
        .ok()
        .filter(|n| *n < u8::MAX)
        .ok_or_else(|| format!("{text:?} is too long for a ticket code"))?;
    bytes.push(len);
    bytes.extend_from_slice(text.as_bytes());
    Ok(())
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn array<const N: usize>(&mut self) -> Result<[u8; N], Invalid> {
        let (head, rest) = self.0.split_first_chunk::<N>().ok_or(Invalid::Malformed)?;
        self.0 = rest;
        Ok(*head)
    }

    fn byte(&mut self) -> Result<u8, Invalid> {
        Ok(self.array::<1>()?[0])
    }

    fn text(&mut self, n: u8) -> Result<String, Invalid> {
        let n = usize::from(n);
        if self.0.len() < n {
            return Err(Invalid::Malformed);
        }
        let (text, rest) = self.0.split_at(n);
        self.0 = rest;
        String::from_utf8(text.to_vec()).map_err(|_| Invalid::Malformed)
    }
}

/// What a check-in answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckinResult {
    /// Let them in: this scan is the ticket's check-in.
    Ok,
    /// Checked in before: `firstCheckin` says when and by which scanner.
    AlreadyRedeemed,
    /// Its booking was cancelled (or its order refunded).
    Revoked,
    /// A ticket of another event.
    WrongEvent,
    /// Not a ticket code of ours (bad signature, altered, unknown key, malformed).
    Invalid,
}

/// One check-in: by which scanner, with which nonce, when.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Checkin {
    pub scanner_id: String,
    pub nonce: String,
    /// When Redis applied it.
    pub at: Millis,
    /// When the scanner says it scanned (offline scans are uploaded later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scanned_at: Option<Millis>,
}

/// The ticket a scan names, as its code says.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScannedTicket {
    pub id: String,
    pub booking_id: String,
    pub section_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seat: Option<String>,
}

/// The answer to one scan.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanAnswer {
    pub result: CheckinResult,
    /// The ticket the code names (absent when the code is invalid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<ScannedTicket>,
    /// The ticket's check-in: this scan's when `ok`, the earlier one when `already_redeemed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_checkin: Option<Checkin>,
    /// This scan (absent when the code is invalid or of another event: nothing was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan: Option<Checkin>,
    /// When its booking was cancelled (`revoked`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Millis>,
    /// Why, in words (`invalid`, `wrong_event`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl ScanAnswer {
    /// An answer given without Redis: the code is not ours, or of another event.
    pub fn refused(result: CheckinResult, reason: &str, ticket: Option<ScannedTicket>) -> Self {
        Self {
            result,
            ticket,
            first_checkin: None,
            scan: None,
            revoked_at: None,
            reason: Some(reason.to_owned()),
        }
    }
}

/// `checkin.redeemed`'s data (webhooks): the ticket, its event and user, the check-in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Redeemed {
    pub ticket: ScannedTicket,
    pub event_id: String,
    pub user_id: String,
    pub checkin: Checkin,
}

/// The ticket's code as an SVG QR code.
pub fn qr_svg(code: &str) -> Result<String, String> {
    let qr = qrcode::QrCode::with_error_correction_level(code.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| format!("QR code: {e}"))?;
    Ok(qr
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(event: &str, seat: Option<&str>) -> TicketClaims {
        TicketClaims {
            booking_id: Uuid::now_v7(),
            number: 3,
            event_id: event.to_owned(),
            section_id: "s1".to_owned(),
            seat: seat.map(str::to_owned),
        }
    }

    #[test]
    fn a_code_verifies_as_signed_and_is_short() {
        let keys = TicketKeys::new(TicketKeys::key_from_secret("secret"), Vec::new());
        for claims in [
            claims(&Uuid::now_v7().to_string(), Some("AA12")),
            claims("demo", None),
        ] {
            let code = keys.sign(&claims).expect("code");
            assert!(code.len() <= 160, "{} characters", code.len());
            assert_eq!(keys.verify(&code), Ok(claims));
        }
    }

    #[test]
    fn an_altered_code_or_another_key_is_refused() {
        let keys = TicketKeys::new(TicketKeys::key_from_secret("secret"), Vec::new());
        let code = keys.sign(&claims("demo", Some("A1"))).expect("code");
        let mut bytes = URL_SAFE_NO_PAD.decode(&code).expect("base64");
        let seat = bytes.len() - SIGNATURE_LEN - 1;
        bytes[seat] = b'2';
        let altered = URL_SAFE_NO_PAD.encode(&bytes);
        assert_eq!(keys.verify(&altered), Err(Invalid::BadSignature));
        assert_eq!(keys.verify("not a code"), Err(Invalid::Malformed));
        assert_eq!(keys.verify(&code[..40]), Err(Invalid::Malformed));
        let other = TicketKeys::new(TicketKeys::key_from_secret("other"), Vec::new());
        assert_eq!(other.verify(&code), Err(Invalid::UnknownKey));
        // A retired key still verifies what it signed.
        let rotated = TicketKeys::new(
            TicketKeys::key_from_secret("other"),
            vec![TicketKeys::key_from_secret("secret").verifying_key()],
        );
        assert!(rotated.verify(&code).is_ok());
        assert_eq!(rotated.jwks()["keys"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn a_generated_key_reads_back_from_its_pem() {
        let pem = TicketKeys::generate_pem().expect("pem");
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
        assert!(TicketKeys::key_from_pem(&pem).is_ok());
        assert!(TicketKeys::key_from_pem("nope").is_err());
    }
}
