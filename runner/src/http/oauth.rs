//! OAuth2 mode's HTTP endpoints under `/t/{tenant}/oauth/`: the browser
//! steps (`authorize`, `callback`, `consent`) rendered as plain HTML pages,
//! and Workfront's `token` endpoint answering JSON. The flow itself is in
//! [`crate::oauth`]; this module parses and renders.

use super::oauth_pages::{self, Page};
use super::webhook::parse_query;
use crate::app::App;
use crate::oauth::{self, AfterIdp, ClientCredentials, TokenError};
use axum::Json;
use axum::extract::{Path, RawForm, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// `GET /t/{tenant}/oauth/authorize`: Workfront's Authentication URL. Shows
/// the hand-off page leading to the tenant's identity provider, and sets the
/// cookie that binds the sign-in to this browser.
pub async fn authorize(
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = parse_query(query.as_deref().unwrap_or(""));
    match oauth::authorize(&app, &tenant, &params).await {
        Ok(hand_off) => {
            let cookie = binding_cookie(&app, &tenant, &hand_off.cookie, &hand_off.browser, 600);
            let mut response = page(StatusCode::OK, oauth_pages::hand_off(&hand_off));
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Err(err) => error_page(&err),
    }
}

/// `GET /t/{tenant}/oauth/callback`: the identity provider's redirect back.
/// Shows the consent page, or sends the browser back to Workfront when the
/// user was not signed in.
pub async fn callback(
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = parse_query(query.as_deref().unwrap_or(""));
    let cookies = |name: &str| cookie(&headers, name);
    match oauth::idp_returned(&app, &tenant, &params, &cookies).await {
        Ok(AfterIdp::Consent(consent)) => page(
            StatusCode::OK,
            oauth_pages::consent(&consent, &format!("/t/{tenant}/oauth/consent")),
        ),
        Ok(AfterIdp::BackToWorkfront(url)) => see_other(&url),
        Err(err) => error_page(&err),
    }
}

/// `POST /t/{tenant}/oauth/consent`: the consent form's answer; sends the
/// browser back to Workfront with a code (allowed) or `access_denied`.
pub async fn consent(
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    RawForm(form): RawForm,
) -> Response {
    let fields = parse_query(&String::from_utf8_lossy(&form));
    let Some(consent) = fields.get("consent").filter(|c| !c.is_empty()) else {
        return error_page(&oauth::FlowError::BadRequest(
            "the consent form was sent without its token; start again from Workfront".into(),
        ));
    };
    let allow = match fields.get("decision").map(String::as_str) {
        Some("allow") => true,
        Some("deny") => false,
        _ => {
            return error_page(&oauth::FlowError::BadRequest(
                "the consent form was sent without a decision (allow or deny)".into(),
            ));
        }
    };
    let cookies = |name: &str| cookie(&headers, name);
    match oauth::consent(&app, &tenant, consent, allow, &cookies).await {
        Ok((url, spent)) => {
            let mut response = see_other(&url);
            // The sign-in is over: its binding cookie has done its work.
            let expired = binding_cookie(&app, &tenant, &spent, "", 0);
            if let Ok(value) = HeaderValue::from_str(&expired) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Err(err) => error_page(&err),
    }
}

/// `POST /t/{tenant}/oauth/token`: Workfront's Token Endpoint URL. Client
/// credentials come as form fields, query parameters (as Workfront's page
/// lists them) or HTTP Basic.
pub async fn token(
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    RawForm(form): RawForm,
) -> Response {
    let mut params = parse_query(query.as_deref().unwrap_or(""));
    // Form fields win over query parameters of the same name.
    params.extend(parse_query(&String::from_utf8_lossy(&form)));
    let mut credentials = ClientCredentials {
        id: params.get("client_id").cloned(),
        secret: params.get("client_secret").cloned(),
    };
    if let Some((id, secret)) = basic(&headers) {
        // RFC 6749 §2.3: one way of authenticating, never two.
        if credentials.secret.is_some() {
            return no_store(token_error(&TokenError::InvalidRequest(
                "client credentials were sent both as HTTP Basic and as parameters; send them once"
                    .into(),
            )));
        }
        credentials = ClientCredentials {
            id: Some(id),
            secret: Some(secret),
        };
    }
    let answer = match oauth::token(&app, &tenant, &params, credentials).await {
        Ok(pair) => {
            let body = serde_json::json!({
                "access_token": pair.access_token,
                "token_type": "Bearer",
                "expires_in": pair.expires_in,
                "refresh_token": pair.refresh_token,
            });
            (StatusCode::OK, Json(body)).into_response()
        }
        Err(err) => token_error(&err),
    };
    no_store(answer)
}

/// A token endpoint refusal: `{"error": code, "error_description": why}`.
fn token_error(err: &TokenError) -> Response {
    if let TokenError::Store(store) = err {
        tracing::error!(error = %store, "the token endpoint could not reach the store");
    }
    let body = serde_json::json!({ "error": err.code(), "error_description": err.to_string() });
    let mut response = (err.status(), Json(body)).into_response();
    if matches!(err, TokenError::InvalidClient(_)) {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"docket\""),
        );
    }
    response
}

fn error_page(err: &oauth::FlowError) -> Response {
    if let Some(detail) = err.detail() {
        tracing::warn!(error = %detail, "an OAuth2 sign-in step failed");
    }
    page(err.status(), oauth_pages::error(&err.to_string()))
}

/// An HTML page with the headers every flow page carries: never cached,
/// never framed (clickjacking), no referrer (the URLs carry one-time values).
fn page(status: StatusCode, html: Page) -> Response {
    let mut response = (status, html.0).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    no_store(response)
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn see_other(url: &str) -> Response {
    match HeaderValue::from_str(url) {
        Ok(location) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            response.headers_mut().insert(header::LOCATION, location);
            response.headers_mut().insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
            no_store(response)
        }
        Err(_) => error_page(&oauth::FlowError::BadRequest(
            "the redirect address cannot be used".into(),
        )),
    }
}

/// The cookie binding a sign-in to its browser: only sent back to this
/// tenant's OAuth2 paths.
fn binding_cookie(app: &App, tenant: &str, name: &str, value: &str, max_age: u32) -> String {
    let path = format!("/t/{tenant}/oauth");
    super::cookies::set(app, name, value, &path, "Lax", u64::from(max_age))
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    super::cookies::get(headers, name)
}

/// HTTP Basic client credentials, form-decoded as RFC 6749 §2.3.1 asks.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let encoded = encoded.trim();
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unescape = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((unescape(id), unescape(secret)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_base64_then_form_decoded() {
        let mut headers = HeaderMap::new();
        // "docket-acme:s3cret+/ &=" form-encoded, then base64.
        let encoded = "ZG9ja2V0LWFjbWU6czNjcmV0JTJCJTJGKyUyNiUzRA==";
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {encoded}")).unwrap(),
        );
        assert_eq!(
            basic(&headers),
            Some(("docket-acme".into(), "s3cret+/ &=".into()))
        );
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!"));
        assert_eq!(basic(&headers), None);
    }

    #[test]
    fn the_binding_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; docket_oauth_0123=xyz; b=2"),
        );
        assert_eq!(
            cookie(&headers, "docket_oauth_0123").as_deref(),
            Some("xyz")
        );
        assert_eq!(cookie(&headers, "missing"), None);
    }
}
