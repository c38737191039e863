//! The token half of [`OAuthStore`](super::oauth::OAuthStore) in SQL both
//! backends run alike (see `oauth_sql.rs`): issuing, refreshing, the bearer
//! lookup, connected users and revocation.

/// The token methods of [`OAuthStore`](super::oauth::OAuthStore).
macro_rules! oauth_token_store {
    () => {
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

pub(crate) use oauth_token_store;

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
