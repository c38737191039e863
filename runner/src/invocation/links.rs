//! Signed document links: the `downloadLink` and `viewLink` Docket gives a
//! provider's files when the provider has no URL of its own. Workfront's
//! users open them in a browser, without Workfront's `apiKey` header or
//! token, so each link carries its own proof: an expiry and an HMAC-SHA256
//! of the tenant, the document id and that expiry under a key derived from
//! the operator's secrets key (the same on every replica sharing it). A link
//! reaches that one document's `download` for [`LINK_LIFETIME_SECS`], like a
//! presigned URL; SECURITY.md says so.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long a link works after the answer that carried it.
pub const LINK_LIFETIME_SECS: u64 = 24 * 60 * 60;

/// A link's proof, as its query string carries it.
#[derive(Debug, Clone, Copy)]
pub struct SignedLink<'a> {
    /// The document.
    pub id: &'a str,
    /// Unix seconds after which it no longer works.
    pub expires: &'a str,
    /// Hex HMAC-SHA256 of tenant, id and expiry.
    pub signature: &'a str,
}

/// Makes the links of one answer.
pub struct LinkMaker {
    /// `<public url>/t/<tenant>`.
    pub base: String,
    /// The tenant.
    pub tenant: String,
    /// The signing key.
    pub key: [u8; 32],
    /// When the links stop working, in Unix seconds.
    pub expires: u64,
}

impl LinkMaker {
    /// `(downloadLink, viewLink)` for document `id`.
    pub fn links(&self, id: &str) -> (String, String) {
        let signature = sign(&self.key, &self.tenant, id, &self.expires.to_string());
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("id", id)
            .append_pair("expires", &self.expires.to_string())
            .append_pair("signature", &signature)
            .finish();
        (
            format!("{}/download?{query}", self.base),
            format!("{}/download?{query}&disposition=inline", self.base),
        )
    }
}

fn mac(key: &[u8; 32], tenant: &str, id: &str, expires: &str) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key");
    // Lengths first, so no two (tenant, id, expires) share a message.
    for part in [tenant, id, expires] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part.as_bytes());
    }
    mac
}

/// The signature of a link to `id` of `tenant` until `expires`.
pub fn sign(key: &[u8; 32], tenant: &str, id: &str, expires: &str) -> String {
    hex::encode(mac(key, tenant, id, expires).finalize().into_bytes())
}

/// Whether `link` is a link Docket made to `tenant`'s document that has not
/// expired at `now` (Unix seconds); compared in constant time.
pub fn verify(
    key: &[u8; 32],
    tenant: &str,
    link: &SignedLink<'_>,
    now: u64,
) -> Result<(), &'static str> {
    let Ok(expires) = link.expires.parse::<u64>() else {
        return Err("invalid document link");
    };
    let Ok(signature) = hex::decode(link.signature) else {
        return Err("invalid document link");
    };
    mac(key, tenant, link.id, link.expires)
        .verify_slice(&signature)
        .map_err(|_| "invalid document link")?;
    if expires < now {
        return Err("this document link has expired; open the document from Workfront again");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link<'a>(id: &'a str, expires: &'a str, signature: &'a str) -> SignedLink<'a> {
        SignedLink {
            id,
            expires,
            signature,
        }
    }

    #[test]
    fn a_link_works_for_its_tenant_and_document_until_it_expires() {
        let key = [3; 32];
        let signature = sign(&key, "acme", "42", "1000");
        assert!(verify(&key, "acme", &link("42", "1000", &signature), 999).is_ok());
        assert!(verify(&key, "acme", &link("42", "1000", &signature), 1001).is_err());
        assert!(verify(&key, "globex", &link("42", "1000", &signature), 999).is_err());
        assert!(verify(&key, "acme", &link("43", "1000", &signature), 999).is_err());
        assert!(verify(&key, "acme", &link("42", "9999", &signature), 999).is_err());
        assert!(verify(&[4; 32], "acme", &link("42", "1000", &signature), 999).is_err());
        assert!(verify(&key, "acme", &link("42", "1000", "zz"), 999).is_err());
        // The lengths keep "a" + "b1" apart from "ab" + "1".
        assert_ne!(sign(&key, "a", "b1", "0"), sign(&key, "ab", "1", "0"));
    }
}
