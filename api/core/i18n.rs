//! Languages of the service's own messages.
//!
//! Data carries every language it has (see [`crate::core::localized`]); the service's own
//! messages (problem titles and details) come in the language the caller asks for with
//! `Accept-Language`, among those it has translations for.

use actix_web::HttpRequest;
use actix_web::http::header::{self, AcceptLanguage, Header};

/// A language the service writes its own messages in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    #[default]
    En,
    Es,
}

impl Lang {
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
        }
    }

    /// The caller's preferred language among ours, by `Accept-Language` quality order;
    /// English when the header is absent, malformed or names none of ours.
    pub fn negotiate(req: &HttpRequest) -> Lang {
        if !req.headers().contains_key(header::ACCEPT_LANGUAGE) {
            return Lang::En;
        }
        let Ok(accept) = AcceptLanguage::parse(req) else {
            return Lang::En;
        };
        for pref in accept.ranked() {
            let header::Preference::Specific(tag) = pref else {
                // `*`: any language will do; ours is English.
                return Lang::En;
            };
            match tag.primary_language().to_ascii_lowercase().as_str() {
                "en" => return Lang::En,
                "es" => return Lang::Es,
                _ => continue,
            }
        }
        Lang::En
    }
}

/// The language the caller wants data in (the localized texts of CSV exports): the first
/// of the OAS's four languages, by `Accept-Language` quality order, English by default.
/// Problems keep to [`Lang`]: a caller asking for `fr, es` reads data in French and
/// messages in Spanish.
pub fn data_language(req: &HttpRequest) -> &'static str {
    const OURS: [&str; 4] = ["en", "es", "fr", "pt"];
    let Ok(accept) = AcceptLanguage::parse(req) else {
        return "en";
    };
    for pref in accept.ranked() {
        let header::Preference::Specific(tag) = pref else {
            return "en";
        };
        let primary = tag.primary_language().to_ascii_lowercase();
        if let Some(lang) = OURS.iter().find(|l| **l == primary) {
            return lang;
        }
    }
    "en"
}

/// A message in every language the service writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text {
    pub en: String,
    pub es: String,
}

impl Text {
    pub fn new(en: impl Into<String>, es: impl Into<String>) -> Self {
        Text {
            en: en.into(),
            es: es.into(),
        }
    }

    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::Es => &self.es,
        }
    }
}

/// `text!("must be at most {max} characters", "debe tener como máximo {max} caracteres")`:
/// a [`Text`] in English and Spanish; both strings may capture variables in scope.
#[macro_export]
macro_rules! text {
    ($en:literal, $es:literal $(,)?) => {
        $crate::core::i18n::Text::new(format!($en), format!($es))
    };
}

pub use crate::text;
