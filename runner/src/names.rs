//! Checked identifiers. A name that parses is safe to use in a URL path, a file
//! name and an environment variable, so the rest of Docket never re-validates.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A name was not of the allowed shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {rule}")]
pub struct InvalidName {
    /// `tenant name`, `action name` or `secret name`.
    pub what: &'static str,
    /// The rejected value.
    pub value: String,
    /// The rule it broke.
    pub rule: &'static str,
}

/// A tenant's name: 1 to 63 characters of `a-z`, `0-9` and `-`, starting with a
/// letter or digit. It appears in the Base API URL (`/t/{tenant}`) and in
/// `DOCKET_API_KEY_<TENANT>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantName(String);

/// An action's name, as Workfront sends it in `customAction?name=`: 1 to 64
/// characters of `A-Z`, `a-z`, `0-9`, `-`, `_` and `.`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ActionName(String);

/// The name of a tenant secret, as set through the admin API, granted in a
/// manifest (`[capabilities] secrets = ["workfront-api-key"]`) and read by the
/// action through `wasi:config`: 1 to 64 characters of `A-Z`, `a-z`, `0-9`, `_`,
/// `-` and `.` (any of them may come first).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SecretName(String);

impl TenantName {
    /// Checks and wraps a tenant name.
    pub fn new(value: impl Into<String>) -> Result<Self, InvalidName> {
        let value = value.into();
        let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        check(
            &value,
            63,
            ok_char,
            "tenant name",
            "use 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit",
        )?;
        Ok(Self(value))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The environment variable that carries this tenant's declarative webhook key.
    pub fn api_key_env_var(&self) -> String {
        format!(
            "DOCKET_API_KEY_{}",
            self.0.to_ascii_uppercase().replace('-', "_")
        )
    }

    /// The environment variable that carries this tenant's declarative admin token.
    pub fn admin_token_env_var(&self) -> String {
        format!(
            "DOCKET_ADMIN_TOKEN_{}",
            self.0.to_ascii_uppercase().replace('-', "_")
        )
    }
}

impl ActionName {
    /// Checks and wraps an action name.
    pub fn new(value: impl Into<String>) -> Result<Self, InvalidName> {
        let value = value.into();
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        check(
            &value,
            64,
            ok_char,
            "action name",
            "use 1-64 characters of A-Z, a-z, 0-9, '-', '_' and '.', starting with a letter or digit",
        )?;
        Ok(Self(value))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl SecretName {
    /// Checks and wraps a secret name.
    pub fn new(value: impl Into<String>) -> Result<Self, InvalidName> {
        let value = value.into();
        let ok = !value.is_empty()
            && value.len() <= 64
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !ok {
            return Err(InvalidName {
                what: "secret name",
                value,
                rule: "use 1-64 characters of A-Z, a-z, 0-9, '_', '-' and '.'",
            });
        }
        Ok(Self(value))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check(
    value: &str,
    max_len: usize,
    ok_char: impl Fn(char) -> bool,
    what: &'static str,
    rule: &'static str,
) -> Result<(), InvalidName> {
    let starts_well = value
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if starts_well && value.len() <= max_len && value.chars().all(ok_char) {
        Ok(())
    } else {
        Err(InvalidName {
            what,
            value: value.to_owned(),
            rule,
        })
    }
}

macro_rules! string_newtype_impls {
    ($ty:ident) => {
        impl TryFrom<String> for $ty {
            type Error = InvalidName;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }
        impl From<$ty> for String {
            fn from(value: $ty) -> String {
                value.0
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl std::borrow::Borrow<str> for $ty {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}
string_newtype_impls!(TenantName);
string_newtype_impls!(ActionName);
string_newtype_impls!(SecretName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_names_are_url_and_env_safe() {
        assert!(TenantName::new("acme-corp").is_ok());
        assert!(TenantName::new("Acme").is_err());
        assert!(TenantName::new("-acme").is_err());
        assert!(TenantName::new("").is_err());
        assert!(TenantName::new("a/b").is_err());
        assert!(TenantName::new("a".repeat(64)).is_err());
    }

    #[test]
    fn api_key_env_var_upper_cases_and_replaces_dashes() {
        let name = TenantName::new("acme-corp").unwrap();
        assert_eq!(name.api_key_env_var(), "DOCKET_API_KEY_ACME_CORP");
        assert_eq!(name.admin_token_env_var(), "DOCKET_ADMIN_TOKEN_ACME_CORP");
    }

    #[test]
    fn action_names_allow_workfront_style_names() {
        assert!(ActionName::new("archive").is_ok());
        assert!(ActionName::new("Send_to.Review-2").is_ok());
        assert!(ActionName::new("../etc").is_err());
        assert!(ActionName::new("has space").is_err());
    }

    #[test]
    fn secret_names_allow_dots_dashes_and_underscores_anywhere() {
        for ok in [
            "workfront-api-key",
            "_token",
            ".env",
            "A.b-c_9",
            &"s".repeat(64),
        ] {
            assert!(SecretName::new(ok).is_ok(), "{ok}");
        }
        for bad in ["", "has space", "a/b", "é", &"s".repeat(65)] {
            assert!(SecretName::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secret_name_refusal_says_the_rule() {
        let err = SecretName::new("a b").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid secret name \"a b\": use 1-64 characters of A-Z, a-z, 0-9, '_', '-' and '.'"
        );
    }
}

/// A Workfront document endpoint a tenant's provider may answer, by the name
/// Workfront appends to the Base API URL (`metadata`, `uploadInit`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DocEndpoint {
    /// `GET metadata?id=`.
    Metadata,
    /// `GET files?parentId=&max=&offset=`.
    Files,
    /// `GET search?query=&parentId=&max=&offset=`.
    Search,
    /// `GET download?id=`.
    Download,
    /// `GET thumbnail?id=&size=`.
    Thumbnail,
    /// `POST uploadInit?parentId=&filename=&documentId=&documentVersionId=`.
    UploadInit,
    /// `PUT upload?id=` with the bytes as the body.
    Upload,
    /// `POST createFolder?parentId=&name=`.
    CreateFolder,
    /// `PUT delete?id=`.
    Delete,
    /// `PUT rename?id=&name=`.
    Rename,
}

impl DocEndpoint {
    /// Every document endpoint, in the order `serviceInfo` lists them.
    pub const ALL: [DocEndpoint; 10] = [
        DocEndpoint::Metadata,
        DocEndpoint::Files,
        DocEndpoint::Search,
        DocEndpoint::Download,
        DocEndpoint::Thumbnail,
        DocEndpoint::UploadInit,
        DocEndpoint::Upload,
        DocEndpoint::CreateFolder,
        DocEndpoint::Delete,
        DocEndpoint::Rename,
    ];

    /// Workfront's name for it.
    pub fn name(self) -> &'static str {
        match self {
            DocEndpoint::Metadata => "metadata",
            DocEndpoint::Files => "files",
            DocEndpoint::Search => "search",
            DocEndpoint::Download => "download",
            DocEndpoint::Thumbnail => "thumbnail",
            DocEndpoint::UploadInit => "uploadInit",
            DocEndpoint::Upload => "upload",
            DocEndpoint::CreateFolder => "createFolder",
            DocEndpoint::Delete => "delete",
            DocEndpoint::Rename => "rename",
        }
    }

    /// The endpoint Workfront calls by `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.name() == name)
    }

    /// The WIT interface of world `docket:provider/provider` that answers it.
    pub fn interface(self) -> &'static str {
        match self {
            DocEndpoint::Metadata => "docket:provider/metadata",
            DocEndpoint::Files => "docket:provider/files",
            DocEndpoint::Search => "docket:provider/search",
            DocEndpoint::Download => "docket:provider/download",
            DocEndpoint::Thumbnail => "docket:provider/thumbnail",
            DocEndpoint::UploadInit => "docket:provider/upload-init",
            DocEndpoint::Upload => "docket:provider/upload",
            DocEndpoint::CreateFolder => "docket:provider/create-folder",
            DocEndpoint::Delete => "docket:provider/delete",
            DocEndpoint::Rename => "docket:provider/rename",
        }
    }

    /// The HTTP method Workfront calls it with.
    pub fn method(self) -> &'static str {
        match self {
            DocEndpoint::UploadInit | DocEndpoint::CreateFolder => "POST",
            DocEndpoint::Upload | DocEndpoint::Delete | DocEndpoint::Rename => "PUT",
            _ => "GET",
        }
    }
}

impl fmt::Display for DocEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
