//! Contact details, which offices and executing agencies both carry.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::core::validate::{self, nullable};

/// How to reach an office or an executing agency.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Contacts {
    #[serde(default)]
    #[schema(example = "oasperu@oas.org")]
    pub email: Option<String>,
    #[serde(default)]
    #[schema(example = "+51 1 611 2000")]
    pub phone: Option<String>,
    #[serde(default)]
    #[schema(example = "https://www.oas.org/en/ocosgem/per")]
    pub website: Option<String>,
}

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
#[serde(deny_unknown_fields)]
pub struct ContactsPatch {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub website: Option<Option<String>>,
}

pub fn blank_to_none(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

pub fn trim_contacts(c: Contacts) -> Contacts {
    Contacts {
        email: blank_to_none(c.email),
        phone: blank_to_none(c.phone),
        website: blank_to_none(c.website),
    }
}
