//! Pure rules: no IO, no clock reads, no database. Values in, values out.

/// Field name → message, for forms and JSON error details.
pub type FieldErrors = std::collections::BTreeMap<&'static str, String>;

/// A closed set of values stored and sent as fixed text.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub enum $name { $($(#[$vmeta])* #[serde(rename = $text)] $variant),+ }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored (and API) spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<$name, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!("unknown {} '{}'", stringify!($name), other)),
                }
            }
        }
    };
}

pub mod access;
pub mod account;
pub mod badges;
pub mod export;
pub mod jobs;
pub mod login;
pub mod origin;
pub mod password;
pub mod payroll;
pub mod performance;
pub mod progress;
pub mod redirect;
pub mod role;
pub mod statistics;
pub mod task;
pub mod task_form;
pub mod text;
pub mod when;
