//! `allowed-outbound-hosts`: which destinations an action may call.
//!
//! A pattern is `scheme://host[:port]`, where the scheme is `http` or `https`,
//! the port defaults to the scheme's, and the host may start with `*.` to allow
//! every subdomain (not the bare domain). Nothing else is accepted: no paths, no
//! user info, no bare `*`, so a manifest reads as exactly what it allows.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One entry of `[capabilities] allowed-outbound-hosts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HostPattern {
    scheme: Scheme,
    host: HostMatch,
    port: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Http,
    Https,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostMatch {
    /// Exactly this host (lower-case).
    Exact(String),
    /// Any subdomain of this domain (lower-case, without the `*.`).
    Subdomains(String),
}

impl Scheme {
    fn parse(scheme: &str) -> Option<Self> {
        match scheme.to_ascii_lowercase().as_str() {
            "http" => Some(Self::Http),
            "https" => Some(Self::Https),
            _ => None,
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

impl HostPattern {
    /// Parses one allow-list entry, saying what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            format!(
                "{text:?} is not an allowed host ({why}); write e.g. \"https://api.example.com\" or \"https://*.example.com:8443\""
            )
        };
        let (scheme, rest) = text.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let scheme =
            Scheme::parse(scheme).ok_or_else(|| bad("the scheme must be http or https"))?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#', '@']) {
            return Err(bad("only scheme, host and port; no path or user"));
        }
        let (host, port) = split_port(authority).map_err(|why| bad(&why))?;
        let host = host.to_ascii_lowercase();
        let host = host.strip_suffix('.').unwrap_or(&host).to_owned();
        let host = match host.strip_prefix("*.") {
            Some(domain) => HostMatch::Subdomains(domain.to_owned()),
            None => HostMatch::Exact(host),
        };
        let name = match &host {
            HostMatch::Exact(h) | HostMatch::Subdomains(h) => h,
        };
        let valid_name = !name.is_empty()
            && !name.contains('*')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
        if !valid_name {
            return Err(bad(
                "the host must be a DNS name or IP address, with at most a leading `*.`",
            ));
        }
        Ok(Self {
            scheme,
            port: port.unwrap_or(scheme.default_port()),
            host,
        })
    }

    /// Whether a request to `scheme://host:port` is allowed by this entry.
    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        if Scheme::parse(scheme) != Some(self.scheme) || port != self.port {
            return false;
        }
        let host = host.to_ascii_lowercase();
        let host = host.strip_suffix('.').unwrap_or(&host);
        match &self.host {
            HostMatch::Exact(exact) => host == exact,
            HostMatch::Subdomains(domain) => host
                .strip_suffix(domain.as_str())
                .is_some_and(|prefix| prefix.len() > 1 && prefix.ends_with('.')),
        }
    }
}

/// Splits `host[:port]`, keeping IPv6 literals in brackets whole.
fn split_port(authority: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let end = rest
            .find(']')
            .ok_or("an IPv6 address needs its closing `]`")?;
        let after = &rest[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(port) => Some(port),
            None if after.is_empty() => None,
            None => return Err("unexpected text after the IPv6 address".into()),
        };
        (&authority[..end + 2], port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = port
        .map(|p| p.parse::<u16>().map_err(|_| format!("bad port {p:?}")))
        .transpose()?;
    Ok((host, port))
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = match &self.host {
            HostMatch::Exact(host) => host.clone(),
            HostMatch::Subdomains(domain) => format!("*.{domain}"),
        };
        write!(f, "{}://{host}", self.scheme.as_str())?;
        if self.port != self.scheme.default_port() {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

impl TryFrom<String> for HostPattern {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text)
    }
}

impl From<HostPattern> for String {
    fn from(pattern: HostPattern) -> String {
        pattern.to_string()
    }
}

/// The allow-list entry a denied destination would need, for error messages.
pub fn suggestion(scheme: &str, host: &str, port: u16) -> String {
    let default = Scheme::parse(scheme).map(Scheme::default_port);
    match default == Some(port) {
        true => format!("{scheme}://{host}"),
        false => format!("{scheme}://{host}:{port}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_hosts_match_scheme_host_and_port() {
        let p = HostPattern::parse("https://API.example.com.").unwrap();
        assert!(p.allows("https", "api.example.com", 443));
        assert!(p.allows("HTTPS", "api.example.com.", 443));
        assert!(!p.allows("http", "api.example.com", 80));
        assert!(!p.allows("https", "api.example.com", 8443));
        assert!(!p.allows("https", "evil-api.example.com", 443));
        assert!(!p.allows("https", "api.example.com.evil.net", 443));
        assert_eq!(p.to_string(), "https://api.example.com");
    }

    #[test]
    fn wildcards_match_subdomains_only() {
        let p = HostPattern::parse("https://*.slack.com:8443").unwrap();
        assert!(p.allows("https", "hooks.slack.com", 8443));
        assert!(p.allows("https", "a.b.slack.com", 8443));
        assert!(!p.allows("https", "slack.com", 8443));
        assert!(!p.allows("https", "evilslack.com", 8443));
        assert!(!p.allows("https", "hooks.slack.com", 443));
        assert_eq!(p.to_string(), "https://*.slack.com:8443");
    }

    #[test]
    fn ip_literals_and_ports() {
        let p = HostPattern::parse("http://127.0.0.1:8080/").unwrap();
        assert!(p.allows("http", "127.0.0.1", 8080));
        let p = HostPattern::parse("http://[::1]:9000").unwrap();
        assert!(p.allows("http", "[::1]", 9000));
    }

    #[test]
    fn rejects_what_it_cannot_express_exactly() {
        for bad in [
            "api.example.com",
            "ftp://example.com",
            "https://*",
            "https://*example.com",
            "https://a.*.example.com",
            "https://example.com/path",
            "https://user@example.com",
            "https://example.com:99999",
            "https://",
        ] {
            let err = HostPattern::parse(bad).unwrap_err();
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }
}
