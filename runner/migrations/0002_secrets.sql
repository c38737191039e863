-- Tenant secrets, encrypted at rest (ChaCha20-Poly1305 with the operator's key;
-- the tenant and secret name are bound in as associated data, so a ciphertext
-- cannot be moved to another tenant or name). Values are never returned by the API.
CREATE TABLE secrets (
    tenant      TEXT    NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    nonce       BLOB    NOT NULL,
    ciphertext  BLOB    NOT NULL,
    updated_ms  INTEGER NOT NULL,
    PRIMARY KEY (tenant, name)
);
