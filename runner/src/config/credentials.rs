//! The shortest webhook key or admin token Docket accepts from the operator.
//!
//! Keys and tokens Docket generates carry 192 random bits (48 hex digits).
//! One the operator chooses (`--admin-token` / `DOCKET_ADMIN_TOKEN`,
//! `DOCKET_API_KEY_<TENANT>`, `DOCKET_ADMIN_TOKEN_<TENANT>`) is refused at
//! start when it is shorter than [`MIN_CREDENTIAL_CHARS`], so `abc` never
//! guards a tenant.

/// The fewest characters a webhook key or admin token set by the operator
/// may have. 16 random hex digits are 64 bits; `openssl rand -hex 24` (48)
/// matches what Docket generates.
pub const MIN_CREDENTIAL_CHARS: usize = 16;

/// The environment variables that carry declarative tenants' credentials,
/// by prefix: `DOCKET_API_KEY_<TENANT>` and `DOCKET_ADMIN_TOKEN_<TENANT>`.
const TENANT_CREDENTIAL_PREFIXES: [&str; 2] = ["DOCKET_API_KEY_", "DOCKET_ADMIN_TOKEN_"];

/// A credential below [`MIN_CREDENTIAL_CHARS`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{source_name} is {length} characters long; a webhook key or admin token set by the \
     operator needs at least {MIN_CREDENTIAL_CHARS} (e.g. `openssl rand -hex 24`, 48 \
     characters like the ones Docket generates)"
)]
pub struct WeakCredential {
    /// Where it came from: the flag or variable.
    pub source_name: String,
    /// Its length in characters.
    pub length: usize,
}

/// Refuses `value`, named `source_name` in the error, when it is shorter than
/// [`MIN_CREDENTIAL_CHARS`]. An empty value is allowed: it means unset, as
/// wherever Docket reads these.
pub fn check_credential(source_name: &str, value: &str) -> Result<(), WeakCredential> {
    let length = value.chars().count();
    if length == 0 || length >= MIN_CREDENTIAL_CHARS {
        return Ok(());
    }
    Err(WeakCredential {
        source_name: source_name.to_owned(),
        length,
    })
}

/// Checks what `docket serve` (and `docket check`) would take as credentials:
/// the operator's token, and, when declarative tenants are loaded, every
/// `DOCKET_API_KEY_<TENANT>` and `DOCKET_ADMIN_TOKEN_<TENANT>` in `env`.
pub fn check_credentials(
    operator_token: Option<&str>,
    declarative: bool,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), WeakCredential> {
    if let Some(token) = operator_token {
        check_credential(
            "the operator's admin token (--admin-token / DOCKET_ADMIN_TOKEN)",
            token,
        )?;
    }
    if !declarative {
        return Ok(());
    }
    let mut tenant_vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(name, _)| {
            TENANT_CREDENTIAL_PREFIXES
                .iter()
                .any(|prefix| name.len() > prefix.len() && name.starts_with(prefix))
        })
        .collect();
    tenant_vars.sort();
    for (name, value) in tenant_vars {
        check_credential(&name, &value)?;
    }
    Ok(())
}

/// [`check_credentials`] over this process's environment.
pub fn check_credentials_in_env(
    operator_token: Option<&str>,
    declarative: bool,
) -> Result<(), WeakCredential> {
    let env = std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)));
    check_credentials(operator_token, declarative, env)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn short_credentials_are_refused_by_name() {
        let err =
            check_credentials(None, true, env(&[("DOCKET_API_KEY_DEMO", "abc")])).unwrap_err();
        assert_eq!(err.source_name, "DOCKET_API_KEY_DEMO");
        assert!(err.to_string().contains("at least 16"), "{err}");
        let err = check_credentials(Some("twelve-chars"), false, env(&[])).unwrap_err();
        assert!(err.to_string().contains("DOCKET_ADMIN_TOKEN"), "{err}");
        let err = check_credentials(None, true, env(&[("DOCKET_ADMIN_TOKEN_ACME", "short")]))
            .unwrap_err();
        assert_eq!(err.source_name, "DOCKET_ADMIN_TOKEN_ACME");
    }

    #[test]
    fn long_empty_and_unrelated_values_pass() {
        let vars = env(&[
            ("DOCKET_API_KEY_DEMO", "test-key-0123456789"),
            ("DOCKET_API_KEY_EMPTY", ""),
            ("DOCKET_API_KEY", "the CLI's key, not a tenant's"),
            ("DOCKET_ADMIN_TOKEN", "x"),
        ]);
        assert_eq!(
            check_credentials(Some("operator-test-token"), true, vars.clone()),
            Ok(())
        );
        assert_eq!(check_credentials(Some(""), true, vars), Ok(()));
        // Tenant variables are read only with declarative tenants.
        assert_eq!(
            check_credentials(None, false, env(&[("DOCKET_API_KEY_DEMO", "abc")])),
            Ok(())
        );
    }
}
