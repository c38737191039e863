//! [`OAuthStore`](super::oauth::OAuthStore) in SQL both backends run alike,
//! written once (as `shared_sql.rs` is): a macro that expands to the trait's
//! methods in each backend's `impl` block, with `?` placeholders numbered for
//! PostgreSQL by [`Dialect::sql`](super::shared_sql::Dialect::sql). Every
//! one-time value is spent by a single conditional `UPDATE … RETURNING`, so
//! exactly one caller on any replica wins it.

/// How long spent one-time values and dead tokens are kept past their
/// expiry, so a late replay is still told from a stranger.
pub(crate) const KEEP_SPENT_MS: i64 = 86_400_000;

/// The name a tenant's identity-provider client secret is sealed under.
pub(crate) const IDP_SECRET_NAME: &str = "oauth:idp-client-secret";

/// The clients and one-time values of
/// [`OAuthStore`](super::oauth::OAuthStore); its tokens are in
/// `oauth_tokens_sql.rs`.
macro_rules! oauth_store {
    () => {
        fn oauth_client<'a>(
            &'a self,
            tenant: &'a $crate::names::TenantName,
        ) -> $crate::registry::StoreFuture<'a, Option<$crate::registry::oauth::OAuthClient>> {
            Box::pin(async move {
                self.require_tenant(tenant)?;
                let text = <Self as $crate::registry::shared_sql::Dialect>::sql(concat!(
                    "SELECT client_id, secret_hash, secret_hint, redirect_uri, issuer, ",
                    "idp_client_id, idp_secret_nonce, idp_secret, username_claim, ",
                    "access_seconds, refresh_seconds, updated_ms FROM oauth_clients WHERE tenant = ?"
                ));
                #[allow(clippy::type_complexity)]
                let row: Option<(
                    String, String, String, String, String, String,
                    Vec<u8>, Vec<u8>, String, i64, i64, i64,
                )> = sqlx::query_as(&text)
                    .bind(tenant.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                let Some((
                    client_id, secret_hash, secret_hint, redirect_uri, issuer, idp_client_id,
                    nonce, sealed, username_claim, access_seconds, refresh_seconds, updated_ms,
                )) = row
                else {
                    return Ok(None);
                };
                let opened = self
                    .secrets
                    .open(
                        tenant.as_str(),
                        $crate::registry::oauth_sql::IDP_SECRET_NAME,
                        &nonce,
                        &sealed,
                    )
                    .ok_or_else(|| {
                        $crate::registry::StoreError::Database(
                            "the identity provider's client secret cannot be opened \
                             (was the secrets key changed?)"
                                .into(),
                        )
                    })?;
                let secret_hash = $crate::registry::keys::KeyHash::from_hex(&secret_hash)
                    .ok_or_else(|| {
                        $crate::registry::StoreError::Database("a malformed secret hash".into())
                    })?;
                Ok(Some($crate::registry::oauth::OAuthClient {
                    client_id,
                    secret_hash,
                    secret_hint,
                    settings: $crate::registry::oauth::OAuthSettings {
                        redirect_uri,
                        issuer,
                        idp_client_id,
                        idp_client_secret: Some(String::from_utf8_lossy(&opened).into_owned()),
                        username_claim,
                        access_token_seconds: access_seconds as u32,
                        refresh_token_seconds: refresh_seconds as u32,
                    },
                    updated_at: $crate::registry::records::rfc3339(updated_ms),
                }))
            })
        }

        fn configure_oauth<'a>(
            &'a self,
            tenant: &'a $crate::names::TenantName,
            settings: &'a $crate::registry::oauth::OAuthSettings,
        ) -> $crate::registry::StoreFuture<'a, $crate::registry::oauth::Configured> {
            Box::pin(async move {
                use $crate::registry::oauth::Configured;
                self.require_tenant(tenant)?;
                let now = $crate::registry::records::now_ms();
                let sealed = settings.idp_client_secret.as_deref().map(|secret| {
                    self.secrets.seal(
                        tenant.as_str(),
                        $crate::registry::oauth_sql::IDP_SECRET_NAME,
                        secret.as_bytes(),
                    )
                });
                let mut tx = self.pool.begin().await?;
                let text = <Self as $crate::registry::shared_sql::Dialect>::sql(concat!(
                    "UPDATE oauth_clients SET redirect_uri = ?, issuer = ?, idp_client_id = ?, ",
                    "username_claim = ?, access_seconds = ?, refresh_seconds = ?, updated_ms = ? ",
                    "WHERE tenant = ?"
                ));
                let updated = sqlx::query(&text)
                    .bind(&settings.redirect_uri)
                    .bind(&settings.issuer)
                    .bind(&settings.idp_client_id)
                    .bind(&settings.username_claim)
                    .bind(i64::from(settings.access_token_seconds))
                    .bind(i64::from(settings.refresh_token_seconds))
                    .bind(now)
                    .bind(tenant.as_str())
                    .execute(&mut *tx)
                    .await?;
                let configured = if updated.rows_affected() > 0 {
                    if let Some((nonce, secret)) = &sealed {
                        let text = <Self as $crate::registry::shared_sql::Dialect>::sql(
                            "UPDATE oauth_clients SET idp_secret_nonce = ?, idp_secret = ? WHERE tenant = ?",
                        );
                        sqlx::query(&text)
                            .bind(nonce.clone())
                            .bind(secret.clone())
                            .bind(tenant.as_str())
                            .execute(&mut *tx)
                            .await?;
                    }
                    Configured::Updated
                } else {
                    let Some((nonce, secret)) = sealed else {
                        return Err($crate::registry::StoreError::Invalid(
                            "the identity provider's client secret is needed to turn OAuth2 mode on"
                                .into(),
                        ));
                    };
                    let client_id = format!(
                        "docket-{}-{}",
                        tenant.as_str(),
                        hex::encode(rand::random::<[u8; 6]>())
                    );
                    let client_secret = $crate::registry::oauth::new_opaque("dkc_");
                    let text = <Self as $crate::registry::shared_sql::Dialect>::sql(concat!(
                        "INSERT INTO oauth_clients (tenant, client_id, secret_hash, secret_hint, ",
                        "redirect_uri, issuer, idp_client_id, idp_secret_nonce, idp_secret, ",
                        "username_claim, access_seconds, refresh_seconds, updated_ms) ",
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    ));
                    sqlx::query(&text)
                        .bind(tenant.as_str())
                        .bind(&client_id)
                        .bind($crate::registry::keys::KeyHash::of(&client_secret).to_hex())
                        .bind($crate::registry::store::hint(&client_secret))
                        .bind(&settings.redirect_uri)
                        .bind(&settings.issuer)
                        .bind(&settings.idp_client_id)
                        .bind(nonce)
                        .bind(secret)
                        .bind(&settings.username_claim)
                        .bind(i64::from(settings.access_token_seconds))
                        .bind(i64::from(settings.refresh_token_seconds))
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    Configured::Created {
                        client_id,
                        client_secret,
                    }
                };
                tx.commit().await?;
                Ok(configured)
            })
        }

        fn rotate_oauth_secret<'a>(
            &'a self,
            tenant: &'a $crate::names::TenantName,
        ) -> $crate::registry::StoreFuture<'a, String> {
            Box::pin(async move {
                self.require_tenant(tenant)?;
                let secret = $crate::registry::oauth::new_opaque("dkc_");
                let text = <Self as $crate::registry::shared_sql::Dialect>::sql(
                    "UPDATE oauth_clients SET secret_hash = ?, secret_hint = ?, updated_ms = ? WHERE tenant = ?",
                );
                let done = sqlx::query(&text)
                    .bind($crate::registry::keys::KeyHash::of(&secret).to_hex())
                    .bind($crate::registry::store::hint(&secret))
                    .bind($crate::registry::records::now_ms())
                    .bind(tenant.as_str())
                    .execute(&self.pool)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::registry::StoreError::OAuthOff);
                }
                Ok(secret)
            })
        }

        fn disable_oauth<'a>(
            &'a self,
            tenant: &'a $crate::names::TenantName,
        ) -> $crate::registry::StoreFuture<'a, ()> {
            Box::pin(async move {
                self.require_tenant(tenant)?;
                let mut tx = self.pool.begin().await?;
                for text in [
                    "DELETE FROM oauth_tokens WHERE tenant = ?",
                    "DELETE FROM oauth_pending WHERE tenant = ?",
                ] {
                    let text = <Self as $crate::registry::shared_sql::Dialect>::sql(text);
                    sqlx::query(&text)
                        .bind(tenant.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
                let text = <Self as $crate::registry::shared_sql::Dialect>::sql(
                    "DELETE FROM oauth_clients WHERE tenant = ?",
                );
                let done = sqlx::query(&text)
                    .bind(tenant.as_str())
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::registry::StoreError::OAuthOff);
                }
                tx.commit().await?;
                Ok(())
            })
        }

        fn put_pending<'a>(
            &'a self,
            tenant: &'a $crate::names::TenantName,
            kind: $crate::registry::oauth::PendingKind,
            value: &'a str,
            data: &'a str,
            ttl_ms: i64,
        ) -> $crate::registry::StoreFuture<'a, ()> {
            Box::pin(async move {
                self.require_tenant(tenant)?;
                let now = $crate::registry::records::now_ms();
                // Spent codes stay a while, to tell a replay from a stranger;
                // anything else goes once it expires.
                let text = <Self as $crate::registry::shared_sql::Dialect>::sql(
                    "DELETE FROM oauth_pending WHERE (kind <> 'code' AND expires_ms < ?) OR expires_ms < ?",
                );
                sqlx::query(&text)
                    .bind(now)
                    .bind(now - $crate::registry::oauth_sql::KEEP_SPENT_MS)
                    .execute(&self.pool)
                    .await?;
                let text = <Self as $crate::registry::shared_sql::Dialect>::sql(
                    "INSERT INTO oauth_pending (hash, tenant, kind, data, expires_ms) VALUES (?, ?, ?, ?, ?)",
                );
                sqlx::query(&text)
                    .bind($crate::registry::keys::KeyHash::of(value).to_hex())
                    .bind(tenant.as_str())
                    .bind(kind.as_str())
                    .bind(data)
                    .bind(now + ttl_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            })
        }

        fn live_pending<'a>(
            &'a self,
            tenant: &'a $crate::names::TenantName,
            kind: $crate::registry::oauth::PendingKind,
        ) -> $crate::registry::StoreFuture<'a, u64> {
            Box::pin(async move {
                let text = <Self as $crate::registry::shared_sql::Dialect>::sql(concat!(
                    "SELECT COUNT(*) FROM oauth_pending WHERE tenant = ? AND kind = ? ",
                    "AND used_ms IS NULL AND expires_ms > ?"
                ));
                let count: i64 = sqlx::query_scalar(&text)
                    .bind(tenant.as_str())
                    .bind(kind.as_str())
                    .bind($crate::registry::records::now_ms())
                    .fetch_one(&self.pool)
                    .await?;
                Ok(count as u64)
            })
        }

        fn take_pending<'a>(
            &'a self,
            tenant: &'a $crate::names::TenantName,
            kind: $crate::registry::oauth::PendingKind,
            value: &'a str,
        ) -> $crate::registry::StoreFuture<'a, $crate::registry::oauth::Taken> {
            Box::pin(async move {
                use $crate::registry::oauth::Taken;
                let hash = $crate::registry::keys::KeyHash::of(value).to_hex();
                let now = $crate::registry::records::now_ms();
                let text = <Self as $crate::registry::shared_sql::Dialect>::sql(concat!(
                    "UPDATE oauth_pending SET used_ms = ? WHERE hash = ? AND tenant = ? AND kind = ? ",
                    "AND used_ms IS NULL AND expires_ms > ? RETURNING data"
                ));
                let data: Option<String> = sqlx::query_scalar(&text)
                    .bind(now)
                    .bind(&hash)
                    .bind(tenant.as_str())
                    .bind(kind.as_str())
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await?;
                if let Some(data) = data {
                    return Ok(Taken::Fresh(data));
                }
                let text = <Self as $crate::registry::shared_sql::Dialect>::sql(
                    "SELECT used_ms FROM oauth_pending WHERE hash = ? AND tenant = ? AND kind = ?",
                );
                let used: Option<Option<i64>> = sqlx::query_scalar(&text)
                    .bind(&hash)
                    .bind(tenant.as_str())
                    .bind(kind.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(match used {
                    Some(Some(_)) => Taken::Spent,
                    _ => Taken::Missing,
                })
            })
        }
    };
}

pub(crate) use oauth_store;
