//! The SSRF guard: which addresses are public, and the resolver that hands the
//! outbound client only those, so a name that resolves (or re-resolves) to a
//! private address cannot be reached.

use super::OutboundError;
use std::net::{IpAddr, SocketAddr};

/// The address itself goes only to the server's log: telling the action would
/// let a tenant map the operator's internal DNS through its own allow-list.
pub(super) fn private_destination(host: &str, ip: IpAddr) -> OutboundError {
    tracing::info!(host, %ip, "outbound request to a private address refused");
    OutboundError(format!(
        "outbound request to {host} denied: it resolves to a private, loopback or \
         link-local address, which actions may not reach (the operator can allow them \
         with --allow-private-outbound)"
    ))
}
/// Whether an address is on the public internet: not loopback, private,
/// link-local, shared, documentation, multicast or unspecified.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
                || (a == 198 && (b == 18 || b == 19)) // benchmarking
                || (a == 192 && b == 0 && v4.octets()[2] == 0) // IETF protocol assignments
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            let first = seg[0];
            // IPv4-compatible (::a.b.c.d) and SIIT (::ffff:0:a.b.c.d) forms embed an
            // IPv4 address some stacks route; 6to4 and Teredo tunnel to one.
            let embeds_v4 = seg[..5] == [0; 5] && (seg[5] == 0 || (seg[5] == 0xffff))
                || seg[..4] == [0, 0, 0, 0] && seg[4] == 0xffff && seg[5] == 0;
            !(v6.is_loopback()
                || embeds_v4
                || first == 0x2002 // 6to4
                || (first == 0x2001 && seg[1] == 0) // Teredo
                || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
                || (first == 0x0064 && v6.segments()[1] == 0xff9b)) // NAT64
        }
    }
}

/// The refusal the resolver raises, carried through the client's error chain.
#[derive(Debug)]
pub(super) struct ResolveRefused(pub(super) OutboundError);

impl std::fmt::Display for ResolveRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ResolveRefused {}

/// Resolves names with the system resolver and drops every address an action
/// may not reach, so the connector only ever sees checked addresses.
pub(super) struct GuardedResolver {
    /// The operator's `--allow-private-outbound`.
    pub(super) allow_private: bool,
}

/// Lookups at once: the system resolver blocks a thread per lookup, and a
/// lookup abandoned at an action's deadline still holds its thread until the
/// resolver gives up, so slow DNS must not take the whole blocking pool.
const MAX_LOOKUPS: usize = 16;

static LOOKUPS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_LOOKUPS);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let refused = |why: String| ResolveRefused(OutboundError(why));
            let _slot = LOOKUPS
                .acquire()
                .await
                .map_err(|e| refused(format!("could not resolve {host}: {e}")))?;
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| refused(format!("could not resolve {host}: {e}")))?
                .collect();
            let allowed: Vec<SocketAddr> = addrs
                .iter()
                .copied()
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            match (allowed.is_empty(), addrs.first()) {
                (false, _) => Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs),
                (true, Some(first)) => {
                    Err(Box::new(ResolveRefused(private_destination(&host, first.ip()))).into())
                }
                (true, None) => Err(Box::new(ResolveRefused(OutboundError(format!(
                    "could not resolve {host}: no addresses"
                ))))
                .into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::ffff:0:127.0.0.1",
            "2002:7f00:1::1",
            "2001:0:4136:e378::1",
            "fec0::1",
            "192.0.0.8",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }
}
