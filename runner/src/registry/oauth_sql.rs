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

        fn issue_tokens<'a>(
            &'a self,
            tenant: &'a $crate::names::TenantName,
            grant: $crate::registry::oauth::NewGrant<'a>,
        ) -> $crate::registry::StoreFuture<'a, $crate::registry::oauth::TokenPair> {
            Box::pin(async move {
                self.require_tenant(tenant)?;
                let mut tx = self.pool.begin().await?;
                let pair = Self::insert_token_pair(&mut tx, tenant, &grant).await?;
                tx.commit().await?;
                Ok(pair)
            })
        }

        fn refresh_tokens<'a>(
            &'a self,
            tenant: &'a $crate::names::TenantName,
            tenant_id: &'a $crate::registry::TenantId,
            refresh_token: &'a str,
            access_seconds: u32,
            refresh_seconds: u32,
        ) -> $crate::registry::StoreFuture<'a, $crate::registry::oauth::Refreshed> {
            Box::pin(async move {
                use $crate::registry::oauth::{NewGrant, Refreshed};
                let hash = $crate::registry::keys::KeyHash::of(refresh_token).to_hex();
                let now = $crate::registry::records::now_ms();
                let mut tx = self.pool.begin().await?;
                let text = <Self as $crate::registry::shared_sql::Dialect>::sql(concat!(
                    "UPDATE oauth_tokens SET spent_ms = ? WHERE hash = ? AND tenant = ? ",
                    "AND tenant_uid = ? AND kind = 'refresh' AND spent_ms IS NULL AND expires_ms > ? ",
                    "RETURNING family, username, subject"
                ));
                let spent: Option<(String, String, String)> = sqlx::query_as(&text)
                    .bind(now)
                    .bind(&hash)
                    .bind(tenant.as_str())
                    .bind(tenant_id.as_str())
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some((family, username, subject)) = spent {
                    let grant = NewGrant {
                        tenant_id,
                        username: &username,
                        subject: &subject,
                        family: &family,
                        access_seconds,
                        refresh_seconds,
                    };
                    let pair = Self::insert_token_pair(&mut tx, tenant, &grant).await?;
                    tx.commit().await?;
                    return Ok(Refreshed::Rotated(pair));
                }
                let text = <Self as $crate::registry::shared_sql::Dialect>::sql(concat!(
                    "SELECT family FROM oauth_tokens WHERE hash = ? AND tenant = ? ",
                    "AND tenant_uid = ? AND kind = 'refresh' AND spent_ms IS NOT NULL"
                ));
                let reused: Option<String> = sqlx::query_scalar(&text)
                    .bind(&hash)
                    .bind(tenant.as_str())
                    .bind(tenant_id.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(family) = reused else {
                    return Ok(Refreshed::Invalid);
                };
                tx.commit().await?;
                self.revoke_family(tenant, &family).await?;
                Ok(Refreshed::Reused)
            })
        }

        fn bearer<'a>(
            &'a self,
            tenant: &'a $crate::names::TenantName,
            access_token: &'a str,
        ) -> $crate::registry::StoreFuture<'a, Option<$crate::registry::oauth::BearerGrant>> {
            Box::pin(async move {
                let text = <Self as $crate::registry::shared_sql::Dialect>::sql(concat!(
                    "SELECT tenant_uid, username, expires_ms FROM oauth_tokens ",
                    "WHERE hash = ? AND tenant = ? AND kind = 'access'"
                ));
                let row: Option<(String, String, i64)> = sqlx::query_as(&text)
                    .bind($crate::registry::keys::KeyHash::of(access_token).to_hex())
                    .bind(tenant.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(|(tenant_id, username, expires_ms)| {
                    $crate::registry::oauth::BearerGrant {
                        tenant_id: $crate::registry::TenantId::from_stored(tenant_id),
                        username,
                        expires_ms,
                    }
                }))
            })
        }

        fn revoke_family<'a>(
            &'a self,
            tenant: &'a $crate::names::TenantName,
            family: &'a str,
        ) -> $crate::registry::StoreFuture<'a, u64> {
            Box::pin(async move {
                let text = <Self as $crate::registry::shared_sql::Dialect>::sql(
                    "DELETE FROM oauth_tokens WHERE tenant = ? AND family = ?",
                );
                // Twice, as separate statements: under PostgreSQL's READ
                // COMMITTED a DELETE that waited for a refresh in flight
                // (holding the family's spent token) cannot see the pair that
                // refresh inserted; the second statement's snapshot does.
                let mut revoked = 0;
                for _ in 0..2 {
                    let done = sqlx::query(&text)
                        .bind(tenant.as_str())
                        .bind(family)
                        .execute(&self.pool)
                        .await?;
                    revoked += done.rows_affected();
                }
                Ok(revoked)
            })
        }

        fn connected_users<'a>(
            &'a self,
            tenant: &'a $crate::names::TenantName,
        ) -> $crate::registry::StoreFuture<'a, Vec<$crate::registry::oauth::ConnectedUser>> {
            Box::pin(async move {
                self.require_tenant(tenant)?;
                let text = <Self as $crate::registry::shared_sql::Dialect>::sql(concat!(
                    "SELECT username, MIN(subject), COUNT(DISTINCT family), MIN(created_ms), ",
                    "MAX(created_ms) FROM oauth_tokens WHERE tenant = ? AND family IN (",
                    "SELECT family FROM oauth_tokens WHERE tenant = ? AND kind = 'refresh' ",
                    "AND spent_ms IS NULL AND expires_ms > ?) GROUP BY username ORDER BY username"
                ));
                let rows: Vec<(String, String, i64, i64, i64)> = sqlx::query_as(&text)
                    .bind(tenant.as_str())
                    .bind(tenant.as_str())
                    .bind($crate::registry::records::now_ms())
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(|(username, subject, grants, first, last)| {
                        $crate::registry::oauth::ConnectedUser {
                            username,
                            subject,
                            grants: grants as u32,
                            connected_at: $crate::registry::records::rfc3339(first),
                            last_issued_at: $crate::registry::records::rfc3339(last),
                        }
                    })
                    .collect())
            })
        }

        fn revoke_user_tokens<'a>(
            &'a self,
            tenant: &'a $crate::names::TenantName,
            username: Option<&'a str>,
        ) -> $crate::registry::StoreFuture<'a, u64> {
            Box::pin(async move {
                self.require_tenant(tenant)?;
                let mut tx = self.pool.begin().await?;
                let (count, delete) = match username {
                    Some(_) => (
                        "SELECT COUNT(DISTINCT family) FROM oauth_tokens WHERE tenant = ? AND username = ?",
                        "DELETE FROM oauth_tokens WHERE tenant = ? AND username = ?",
                    ),
                    None => (
                        "SELECT COUNT(DISTINCT family) FROM oauth_tokens WHERE tenant = ?",
                        "DELETE FROM oauth_tokens WHERE tenant = ?",
                    ),
                };
                let text = <Self as $crate::registry::shared_sql::Dialect>::sql(count);
                let mut query = sqlx::query_scalar::<_, i64>(&text).bind(tenant.as_str());
                if let Some(username) = username {
                    query = query.bind(username);
                }
                let families = query.fetch_one(&mut *tx).await?;
                tx.commit().await?;
                // Twice, for the reason `revoke_family` gives.
                let text = <Self as $crate::registry::shared_sql::Dialect>::sql(delete);
                for _ in 0..2 {
                    let mut query = sqlx::query(&text).bind(tenant.as_str());
                    if let Some(username) = username {
                        query = query.bind(username);
                    }
                    query.execute(&self.pool).await?;
                }
                Ok(families as u64)
            })
        }
    };
}

pub(crate) use oauth_store;

/// Inserting a new token pair inside a transaction (an inherent method of
/// each backend, shared by a first grant and a refresh); also drops tokens
/// long dead.
macro_rules! oauth_token_pair {
    () => {
        async fn insert_token_pair(
            tx: &mut sqlx::Transaction<
                'static,
                <Self as $crate::registry::shared_sql::Dialect>::Database,
            >,
            tenant: &$crate::names::TenantName,
            grant: &$crate::registry::oauth::NewGrant<'_>,
        ) -> Result<$crate::registry::oauth::TokenPair, $crate::registry::StoreError> {
            let now = $crate::registry::records::now_ms();
            let text = <Self as $crate::registry::shared_sql::Dialect>::sql(
                "DELETE FROM oauth_tokens WHERE expires_ms < ?",
            );
            sqlx::query(&text)
                .bind(now - $crate::registry::oauth_sql::KEEP_SPENT_MS)
                .execute(&mut **tx)
                .await?;
            let access = $crate::registry::oauth::new_opaque("dat_");
            let refresh = $crate::registry::oauth::new_opaque("drt_");
            let text = <Self as $crate::registry::shared_sql::Dialect>::sql(concat!(
                "INSERT INTO oauth_tokens (hash, tenant, tenant_uid, kind, family, username, ",
                "subject, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ));
            for (token, kind, seconds) in [
                (&access, "access", grant.access_seconds),
                (&refresh, "refresh", grant.refresh_seconds),
            ] {
                sqlx::query(&text)
                    .bind($crate::registry::keys::KeyHash::of(token).to_hex())
                    .bind(tenant.as_str())
                    .bind(grant.tenant_id.as_str())
                    .bind(kind)
                    .bind(grant.family)
                    .bind(grant.username)
                    .bind(grant.subject)
                    .bind(now)
                    .bind(now + i64::from(seconds) * 1000)
                    .execute(&mut **tx)
                    .await?;
            }
            Ok($crate::registry::oauth::TokenPair {
                access_token: access,
                refresh_token: refresh,
                expires_in: grant.access_seconds,
            })
        }
    };
}

pub(crate) use oauth_token_pair;
