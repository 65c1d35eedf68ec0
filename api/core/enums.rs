//! Closed sets of codes (kinds, statuses) shared by the API, the database and exports.

#[doc(hidden)]
pub use inventory;

use crate::core::i18n::Lang;

/// The labels of one `string_enum!`, found by its OpenAPI schema name (CSV exports put a
/// `<field>_label` column next to every code column).
pub struct EnumLabels {
    /// The schema name (the type's name).
    pub schema: &'static str,
    /// The label of a code, or `None` for a code the enum does not have.
    pub label: Labeler,
}

inventory::collect!(EnumLabels);

/// The label of a code of one enum, or `None` for a code the enum does not have.
pub type Labeler = fn(&str, Lang) -> Option<&'static str>;

/// The labels of the enum whose schema is named `schema`, if a `string_enum!` has that
/// name.
pub fn labeler(schema: &str) -> Option<Labeler> {
    inventory::iter::<EnumLabels>
        .into_iter()
        .find(|e| e.schema == schema)
        .map(|e| e.label)
}

/// The label of `code` in the enum whose schema is named `schema`.
pub fn label(schema: &str, code: &str, lang: Lang) -> Option<&'static str> {
    labeler(schema).and_then(|label| label(code, lang))
}

/// Declares a snake_case string enum with its database text, OpenAPI schema and labels:
///
/// ```ignore
/// string_enum! {
///     /// Doc.
///     pub enum OfficeStatus { Open = "open" ("Open", "Abierta"), Closed = "closed" ("Closed", "Cerrada") }
/// }
/// ```
#[macro_export]
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $code:tt ($en:literal, $es:literal) ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $code)] $variant ),+
        }

        $crate::core::enums::inventory::submit! {
            $crate::core::enums::EnumLabels {
                schema: stringify!($name),
                label: |code, lang| $name::parse(code).map(|v| v.label(lang)),
            }
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name of its OpenAPI schema.
            pub const SCHEMA_NAME: &'static str = stringify!($name);

            /// The code, as stored and as in JSON.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// The code's human label.
            pub fn label(self, lang: $crate::core::i18n::Lang) -> &'static str {
                match (self, lang) {
                    $( ($name::$variant, $crate::core::i18n::Lang::En) => $en,
                       ($name::$variant, $crate::core::i18n::Lang::Es) => $es, )+
                }
            }

            pub fn parse(code: &str) -> Option<$name> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }

            /// Parses a stored code; the database's CHECK constraint guarantees it.
            pub fn from_db(code: &str) -> $name {
                Self::parse(code).unwrap_or_else(|| panic!("unexpected {} in the database: {code}", stringify!($name)))
            }

            /// Parses a comma-separated filter value, or a 400 naming `param`.
            pub fn parse_filter(param: &str, raw: &str) -> Result<Vec<&'static str>, $crate::core::error::ApiError> {
                $crate::core::pagination::split_list(raw)
                    .iter()
                    .map(|v| {
                        Self::parse(v).map(Self::as_str).ok_or_else(|| {
                            let allowed = Self::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
                            $crate::core::error::ApiError::invalid_parameter(
                                param,
                                $crate::core::i18n::text!("must be among {allowed}", "debe estar entre {allowed}"),
                            )
                        })
                    })
                    .collect()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub use crate::string_enum;
