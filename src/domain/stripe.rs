//! Stripe's payment webhooks, in Stripe's own format: the `Stripe-Signature` header (`t=<unix
//! seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with the endpoint's secret>`, several `v1`
//! while a secret rolls) checked on the raw bytes before anything is parsed, and the two event
//! types that pay an order. Tested against the `stripe` package (PyPI) in
//! tests/suite/orders.rs.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// A signature older (or further in the future) than this is refused: Stripe's own default.
pub const TOLERANCE_S: i64 = 300;

/// Why a signature is refused (the `400 INVALID_SIGNATURE` message).
pub fn verify(header: Option<&str>, body: &[u8], secret: &str, now_s: i64) -> Result<(), String> {
    let header = header.ok_or("no Stripe-Signature header")?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.push(value),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or("Stripe-Signature has no timestamp t=")?;
    if signatures.is_empty() {
        return Err("Stripe-Signature has no v1= signature".into());
    }
    if (now_s - timestamp).abs() > TOLERANCE_S {
        return Err(format!(
            "the signature's timestamp is more than {TOLERANCE_S} s from now: a replay?"
        ));
    }
    for signature in signatures {
        let Ok(expected) = hex::decode(signature) else {
            continue;
        };
        if mac(secret, timestamp, body).verify_slice(&expected).is_ok() {
            return Ok(());
        }
    }
    Err("no v1 signature matches this endpoint's secret (STRIPE_WEBHOOK_SECRET)".into())
}

/// The header Stripe would send for `body` at `timestamp`: for the demo payment button, the
/// `boxoffice stripe-sign` command and tests.
pub fn sign(body: &[u8], secret: &str, timestamp: i64) -> String {
    let signature = hex::encode(mac(secret, timestamp, body).finalize().into_bytes());
    format!("t={timestamp},v1={signature}")
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length: new_from_slice cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// What of a Stripe event matters here.
#[derive(Debug, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: EventData,
}

#[derive(Debug, Deserialize)]
pub struct EventData {
    pub object: serde_json::Value,
}

/// A payment an event reports for an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    /// `metadata.orderId`, as sent.
    pub order_id: String,
    /// The payment's id: the PaymentIntent (`pi_...`) when the event names one, so that the
    /// `checkout.session.completed` and `payment_intent.succeeded` of one payment count once;
    /// else the event's id.
    pub reference: String,
    /// In the currency's smallest unit, as Stripe counts it.
    pub amount: i64,
    /// Upper case.
    pub currency: String,
}

/// What an event means for orders: a payment, or why it is ignored (answered 200 all the
/// same, so that Stripe does not retry what will never apply).
pub fn payment(event: &Event) -> Result<Payment, String> {
    let object = &event.data.object;
    let (amount, reference) = match event.kind.as_str() {
        "checkout.session.completed" => {
            if object["payment_status"].as_str() != Some("paid") {
                return Err("the session is not paid (yet): its later event pays".into());
            }
            let reference = object["payment_intent"].as_str().unwrap_or(&event.id);
            (object["amount_total"].as_i64(), reference.to_owned())
        }
        "payment_intent.succeeded" => {
            let reference = object["id"].as_str().unwrap_or(&event.id);
            (object["amount_received"].as_i64(), reference.to_owned())
        }
        other => return Err(format!("events of type {other} pay nothing")),
    };
    let order_id = object["metadata"]["orderId"]
        .as_str()
        .ok_or("no metadata.orderId: not a boxoffice order")?;
    let amount = amount.ok_or("no amount")?;
    let currency = object["currency"].as_str().ok_or("no currency")?;
    Ok(Payment {
        order_id: order_id.to_owned(),
        reference,
        amount,
        currency: currency.to_ascii_uppercase(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_checked_on_the_raw_body_its_time_and_secret() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign(body, "whsec_test", 1_700_000_000);
        assert_eq!(
            verify(Some(&header), body, "whsec_test", 1_700_000_100),
            Ok(())
        );
        assert!(
            verify(
                Some(&header),
                b"{\"id\":\"evt_2\"}",
                "whsec_test",
                1_700_000_000
            )
            .is_err()
        );
        assert!(verify(Some(&header), body, "whsec_other", 1_700_000_000).is_err());
        assert!(verify(Some(&header), body, "whsec_test", 1_700_000_301).is_err());
        assert!(verify(None, body, "whsec_test", 1_700_000_000).is_err());
        assert!(verify(Some("t=1700000000"), body, "whsec_test", 1_700_000_000).is_err());
        // A secret roll: one of several v1 matches.
        let rolled = format!("{header},v1=00ff,v1=zz");
        assert_eq!(
            verify(Some(&rolled), body, "whsec_test", 1_700_000_000),
            Ok(())
        );
    }
}
