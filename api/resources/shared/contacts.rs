//! Contact details, which offices and executing agencies both carry.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::core::validate::{self, nullable};

/// How to reach an office or an executing agency.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(remote = "Self")]
#[serde(deny_unknown_fields)]
pub struct Contacts {
    #[serde(default)]
    #[schema(example = "oasperu@oas.org", pattern = "<email>", max_length = 254)]
    pub email: Option<String>,
    #[serde(default)]
    #[schema(example = "+51 1 611 2000", pattern = "<phone>", max_length = 40)]
    pub phone: Option<String>,
    #[serde(default)]
    #[schema(
        example = "https://www.oas.org/en/ocosgem/per",
        pattern = "<url>",
        max_length = 500
    )]
    pub website: Option<String>,
}

crate::core::validate::object_only!(Contacts, serialize);

impl Contacts {
    pub fn validate(&self, errors: &mut Vec<crate::core::error::FieldError>) {
        if let Some(v) = &self.email {
            validate::email("contacts.email", v, errors);
        }
        if let Some(v) = &self.phone {
            validate::phone("contacts.phone", v, errors);
        }
        if let Some(v) = &self.website {
            validate::url("contacts.website", v, errors);
        }
    }
}

/// Changes to contacts: an absent field is unchanged, `null` clears it.
#[derive(Deserialize, ToSchema, Default)]
#[serde(remote = "Self")]
#[serde(deny_unknown_fields)]
pub struct ContactsPatch {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, pattern = "<email>", max_length = 254)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, pattern = "<phone>", max_length = 40)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, pattern = "<url>", max_length = 500)]
    pub website: Option<Option<String>>,
}

crate::core::validate::object_only!(ContactsPatch);
