//! Localized text: `{"en": "...", "es": "...", "fr": "...", "pt": "..."}`, the OAS's four
//! official languages, at least one present. Stored as `jsonb` and checked there too
//! (`is_localized_text`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::core::error::FieldError;
use crate::core::i18n::text;

/// Most characters a localized value may hold, unless the field says otherwise.
pub const DEFAULT_MAX_CHARS: usize = 500;

/// A text in the OAS's official languages; at least one language is present and no
/// value is empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"en": "Office of the General Secretariat in Peru", "es": "Oficina de la Secretaría General en el Perú"}))]
pub struct LocalizedText {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub en: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub es: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pt: Option<String>,
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

    /// Trims every value; the caller validates afterwards.
    pub fn trimmed(mut self) -> Self {
        for v in [&mut self.en, &mut self.es, &mut self.fr, &mut self.pt]
            .into_iter()
            .flatten()
        {
            *v = v.trim().to_owned();
        }
        self
    }

    /// Checks that at least one language is present, none is empty and none is longer
    /// than `max_chars`; pushes the faults onto `errors` under `field`.
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
            if value.trim().is_empty() {
                errors.push(FieldError::new(
                    format!("{field}.{lang}"),
                    "empty",
                    text!("must not be empty", "no debe estar vacío"),
                ));
            } else if value.chars().count() > max_chars {
                errors.push(FieldError::new(
                    format!("{field}.{lang}"),
                    "too_long",
                    text!(
                        "must be at most {max_chars} characters",
                        "debe tener como máximo {max_chars} caracteres"
                    ),
                ));
            } else if value
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t')
            {
                errors.push(FieldError::new(
                    format!("{field}.{lang}"),
                    "control_characters",
                    text!(
                        "must not contain control characters",
                        "no debe contener caracteres de control"
                    ),
                ));
            }
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
