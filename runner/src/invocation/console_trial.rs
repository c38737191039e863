//! The credential of a console "Try it" call (`POST /admin/v1/tenants/{t}/try`):
//! the admin API authenticated the tenant's admin, then hands the call to
//! Workfront's own handlers with this proof in a header, so the answer is
//! exactly the one Workfront would get. The proof is an HMAC of the tenant's
//! immutable id under a key made at start and never shown, so no request
//! from outside can carry one.

use crate::registry::TenantId;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::LazyLock;
use subtle::ConstantTimeEq;

/// The header the proof travels in.
pub const HEADER: &str = "x-docket-console-trial";

/// This process's key; a proof is only ever checked by the process that made it.
static KEY: LazyLock<[u8; 32]> = LazyLock::new(rand::random);

fn mac(tenant: &TenantId) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(KEY.as_slice()).expect("any key length");
    mac.update(tenant.as_str().as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The proof for a call to this tenant.
pub fn sign(tenant: &TenantId) -> String {
    hex::encode(mac(tenant))
}

/// Whether `presented` is this process's proof for this tenant.
pub fn verify(tenant: &TenantId, presented: &str) -> bool {
    hex::decode(presented).is_ok_and(|sent| bool::from(sent.ct_eq(&mac(tenant))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_opens_its_tenant_only() {
        let acme = TenantId::generate();
        let globex = TenantId::generate();
        let proof = sign(&acme);
        assert!(verify(&acme, &proof));
        assert!(!verify(&globex, &proof));
        assert!(!verify(&acme, "00"));
        assert!(!verify(&acme, "not hex"));
    }
}
