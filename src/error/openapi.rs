//! The errors in the OpenAPI document: one `ErrorBody` schema whose `code` is the table's
//! enum, and, per operation, the codes it can answer with ([`error_responses!`]), grouped by
//! status with the table's "when" for each.

use super::ErrorCode;
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, Ref, RefOr, Response, ResponseBuilder, schema::Type,
};

/// `{"error": {...}}`: every error answer, whatever the status.
#[derive(ToSchema)]
#[allow(dead_code)] // a schema only: answers are built by `AppError`
pub struct ErrorBody {
    error: ErrorDetail,
}

/// What went wrong: a code from the table, a sentence, and details for some codes.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorDetail {
    code: ErrorCode,
    message: String,
    #[serde(flatten)]
    details: super::Details,
}

/// The responses for these codes: one per status, describing each code.
pub fn responses_for(codes: &[ErrorCode]) -> BTreeMap<String, RefOr<Response>> {
    let mut by_status: BTreeMap<u16, Vec<ErrorCode>> = BTreeMap::new();
    for &code in codes {
        by_status
            .entry(code.status().as_u16())
            .or_default()
            .push(code);
    }
    by_status
        .into_iter()
        .map(|(status, codes)| {
            let description = codes
                .iter()
                .map(|c| format!("`{c}`: {}", c.when()))
                .collect::<Vec<_>>()
                .join("\n\n");
            let mut response = ResponseBuilder::new().description(description).content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            );
            if status == 401 {
                response = response.header(
                    "WWW-Authenticate",
                    HeaderBuilder::new()
                        .schema(Some(utoipa::openapi::schema::Object::with_type(
                            Type::String,
                        )))
                        .description(Some("Bearer, with the reason"))
                        .build(),
                );
            }
            if status == 503 || status == 429 {
                response = response.header(
                    "Retry-After",
                    HeaderBuilder::new()
                        .schema(Some(utoipa::openapi::schema::Object::with_type(
                            Type::Integer,
                        )))
                        .description(Some("Seconds to wait before retrying"))
                        .build(),
                );
            }
            (status.to_string(), RefOr::T(response.build()))
        })
        .collect()
}

/// `error_responses!(Name: Code, Code, ...)` declares a type to put in an operation's
/// `responses(...)`: the error answers it documents are exactly these codes of the table.
#[macro_export]
macro_rules! error_responses {
    ($vis:vis $name:ident: $($code:ident),+ $(,)?) => {
        $vis struct $name;
        impl utoipa::IntoResponses for $name {
            fn responses() -> std::collections::BTreeMap<
                String,
                utoipa::openapi::RefOr<utoipa::openapi::Response>,
            > {
                $crate::error::openapi::responses_for(&[
                    $($crate::error::ErrorCode::$code),+
                ])
            }
        }
    };
}
