//! Localized text: `{"en": "...", "es": "...", "fr": "...", "pt": "..."}`, the OAS's four
//! official languages, at least one present. Stored as `jsonb` and checked there too
//! (`is_localized_text`).

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::AdditionalProperties;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use crate::core::error::FieldError;
use crate::core::i18n::text;
use crate::core::validate;

/// Most characters a localized value may hold, unless the field says otherwise.
pub const DEFAULT_MAX_CHARS: usize = LocalizedText500::MAX_CHARS;

/// A text in the OAS's official languages; at least one language is present and no
/// value is empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(remote = "Self")]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"en": "Office of the General Secretariat in Peru", "es": "Oficina de la Secretaría General en el Perú"}))]
pub struct LocalizedText {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub en: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub es: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub fr: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub pt: Option<String>,
}

crate::core::validate::object_only!(LocalizedText, serialize);

/// A language is absent or a string: `null` is refused (the document's languages are
/// strings), so that what the service takes is what the schema allows.
fn present<'de, D: Deserializer<'de>>(de: D) -> Result<Option<String>, D::Error> {
    String::deserialize(de).map(Some)
}

impl LocalizedText {
    pub fn values(&self) -> impl Iterator<Item = (&'static str, &String)> {
        [
            ("en", &self.en),
            ("es", &self.es),
            ("fr", &self.fr),
            ("pt", &self.pt),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
    }

    /// Checks that at least one language is present and that each is a multi-line text
    /// ([`validate::TEXT_PATTERN`]) of at most `max_chars` characters, what the schemas
    /// of [`localized_texts!`] say; pushes the faults onto `errors` under `field`.
    pub fn validate(&self, field: &str, max_chars: usize, errors: &mut Vec<FieldError>) {
        if self.values().next().is_none() {
            errors.push(FieldError::new(
                field,
                "required",
                text!(
                    "needs at least one of en, es, fr, pt",
                    "necesita al menos uno de en, es, fr, pt"
                ),
            ));
        }
        for (lang, value) in self.values() {
            validate::text(&format!("{field}.{lang}"), value, max_chars, errors);
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("localized text serializes")
    }

    /// Reads a stored value; the database guarantees its shape.
    pub fn from_json(value: serde_json::Value) -> Self {
        serde_json::from_value(value).unwrap_or_default()
    }
}

/// The schema of a localized text in a request whose languages hold at most `max`
/// characters each: at least one language, each a multi-line text
/// ([`validate::TEXT_PATTERN`]).
fn request_schema(max: usize) -> RefOr<Schema> {
    let language = || {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(max))
            .pattern(Some(validate::TEXT_PATTERN))
    };
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(format!(
            "A text in the OAS's official languages: at least one of them, each at most \
             {max} characters, not starting or ending with white space, without control \
             characters other than tabs, line feeds and carriage returns."
        )))
        .property("en", language())
        .property("es", language())
        .property("fr", language())
        .property("pt", language())
        .min_properties(Some(1))
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .examples([serde_json::json!({"en": "Office of the General Secretariat in Peru", "es": "Oficina de la Secretaría General en el Perú"})])
        .into()
}

/// Schema-only types for the localized texts of request bodies, one per length limit
/// (`#[schema(value_type = LocalizedText300)]` on a [`LocalizedText`] field): the body
/// is still read as a [`LocalizedText`] and checked by [`LocalizedText::validate`] with
/// the same limit.
macro_rules! localized_texts {
    ($($name:ident = $max:expr;)*) => {$(
        #[doc = concat!("A localized text of a request, at most ", stringify!($max), " characters per language.")]
        pub struct $name;

        impl $name {
            pub const MAX_CHARS: usize = $max;
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                request_schema($max)
            }
        }

        impl ToSchema for $name {}
    )*};
}

localized_texts! {
    LocalizedText300 = 300;
    LocalizedText500 = 500;
    LocalizedText2000 = 2000;
    LocalizedText4000 = 4000;
    LocalizedText5000 = 5000;
    LocalizedText10000 = 10_000;
    LocalizedText20000 = 20_000;
}
