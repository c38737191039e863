//! Workfront's OAuth2 mode end to end, against a real OpenID Connect provider
//! (npm `oidc-provider`, started by the test) and the real binary: the
//! browser hand-off, the IdP sign-in, consent, the code, the token endpoint,
//! and `customAction` with the bearer token, where the action sees the
//! verified user. Then every way it must refuse.

mod common;

use common::oidc::{Browser, Idp, IdpClient, Page, form, query_param, sign_in_at_idp};
use common::{DOC, OPERATOR, Server, VER, browser};
use serde_json::{Value, json};

/// Workfront's redirect URI in the tests: nothing listens there; the browser
/// stops before requesting it.
const WORKFRONT: &str = "http://127.0.0.1:9/workfront/oauth";
const IDP_CLIENT_SECRET: &str = "idp-secret";

/// Only a verified user named a reviewer may sign off.
const GATE: &str = r#"name = "review-gate"
[config]
reviewers = "ada@example.com, bob@example.com"
require-verified-user = "true"
"#;

struct Setup {
    server: Server,
    _idp: Idp,
    admin: String,
    api_key: String,
    client_id: String,
    client_secret: String,
}

async fn setup() -> Setup {
    setup_on(Server::hosted(&["--allow-private-outbound"])).await
}

/// A tenant `acme` with review-gate and OAuth2 mode on `server`.
async fn setup_on(server: Server) -> Setup {
    let idp = Idp::start(&[IdpClient {
        client_id: "docket".into(),
        client_secret: IDP_CLIENT_SECRET.into(),
        redirect_uri: format!("{}/t/acme/oauth/callback", server.base),
    }]);
    let (admin, api_key) = server.create_tenant("acme", json!({})).await;
    let (status, body) = server
        .deploy("acme", &admin, GATE, common::example_action("review-gate"))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = server
        .admin(
            "PUT",
            "/tenants/acme/oauth",
            Some(&admin),
            Some(json!({
                "workfrontRedirectUri": WORKFRONT,
                "issuer": idp.issuer,
                "clientId": "docket",
                "clientSecret": IDP_CLIENT_SECRET,
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["authenticationUrl"],
        format!("{}/t/acme/oauth/authorize", server.base)
    );
    assert_eq!(
        body["tokenEndpointUrl"],
        format!("{}/t/acme/oauth/token", server.base)
    );
    assert!(body.get("identityProviderClientSecret").is_none());
    Setup {
        client_id: body["clientId"].as_str().unwrap().to_owned(),
        client_secret: body["clientSecret"].as_str().unwrap().to_owned(),
        server,
        _idp: idp,
        admin,
        api_key,
    }
}

fn authorize_url(s: &Setup, state: &str) -> String {
    format!(
        "{}/t/acme/oauth/authorize?response_type=code&client_id={}&redirect_uri={}&state={state}",
        s.server.base,
        s.client_id,
        urlencode(WORKFRONT)
    )
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The link on the hand-off page.
fn continue_link(page: &Page) -> String {
    let at = page
        .body
        .find("class=\"button\" href=\"")
        .expect("a continue link")
        + 21;
    let end = page.body[at..].find('"').unwrap() + at;
    common::oidc::decode_entities(&page.body[at..end])
}

fn is_callback(s: &Setup) -> impl Fn(&str) -> bool + '_ {
    move |url: &str| url.starts_with(&format!("{}/t/acme/oauth/callback", s.server.base))
}

/// Workfront's hand-off through the IdP sign-in: the consent page.
async fn signed_in(s: &Setup, browser: &Browser, login: &str, state: &str) -> Page {
    let hand_off = browser.get(&authorize_url(s, state)).await;
    assert_eq!(hand_off.status, 200, "{}", hand_off.body);
    assert!(hand_off.body.contains("Continue to sign in"));
    let at_idp = browser
        .follow_until(&continue_link(&hand_off), is_callback(s))
        .await;
    let back = sign_in_at_idp(browser, at_idp, login, is_callback(s)).await;
    let consent = browser.get(&back.url).await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    assert!(consent.body.contains(login), "{}", consent.body);
    consent
}

/// Allows on the consent page; returns the URL Workfront gets back.
async fn allowed(browser: &Browser, consent: &Page, decision: &str) -> String {
    let mut answer = form(&consent.body, &consent.url);
    answer.set("decision", decision);
    let back = answer
        .submit_until(browser, |url| url.starts_with(WORKFRONT))
        .await;
    assert_eq!(back.status, 0, "stopped at Workfront: {:?}", back.hops);
    back.url
}

/// The whole connection of one user: the code Workfront receives.
async fn connect(s: &Setup, login: &str) -> String {
    let browser = Browser::new();
    let consent = signed_in(s, &browser, login, "wf-state-1").await;
    let back = allowed(&browser, &consent, "allow").await;
    assert_eq!(query_param(&back, "state").as_deref(), Some("wf-state-1"));
    query_param(&back, "code").expect("a code")
}

async fn token(s: &Setup, fields: &[(&str, &str)]) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/t/acme/oauth/token", s.server.base))
        .form(fields)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert_eq!(response.headers().get("cache-control").unwrap(), "no-store");
    (status, response.json().await.unwrap())
}

async fn exchange(s: &Setup, code: &str) -> (u16, Value) {
    token(
        s,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", WORKFRONT),
            ("client_id", &s.client_id),
            ("client_secret", &s.client_secret),
        ],
    )
    .await
}

async fn refresh(s: &Setup, refresh_token: &str) -> (u16, Value) {
    token(
        s,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", &s.client_id),
            ("client_secret", &s.client_secret),
        ],
    )
    .await
}

/// An admin request of acme's admin, without a body.
async fn admin(s: &Setup, method: &str, path: &str) -> (u16, Value) {
    let path = format!("/tenants/acme{path}");
    s.server.admin(method, &path, Some(&s.admin), None).await
}

/// `customAction` of review-gate with a bearer token.
async fn sign_off(s: &Setup, tenant: &str, access_token: &str) -> (u16, Value) {
    let path = format!(
        "/t/{tenant}/customAction?name=review-gate&documentId={DOC}&documentVersionId={VER}&stage=legal"
    );
    s.server
        .get(
            &path,
            &[("Authorization", &format!("Bearer {access_token}"))],
        )
        .await
}

#[tokio::test]
async fn a_user_connects_through_the_identity_provider_and_the_action_sees_them_verified() {
    let s = setup().await;
    let code = connect(&s, "ada@example.com").await;
    let (status, tokens) = exchange(&s, &code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    let access = tokens["access_token"].as_str().unwrap();
    let (status, body) = sign_off(&s, "acme", access).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["message"],
        format!("Legal review signed off by ada@example.com for version {VER} of document {DOC}")
    );
    // A forged username header changes nothing: the token names the user.
    let path = format!(
        "/t/acme/customAction?name=review-gate&documentId={DOC}&documentVersionId={VER}&stage=legal"
    );
    let (status, body) = s
        .server
        .get(
            &path,
            &[
                ("Authorization", &format!("Bearer {access}")),
                ("username", "mallory"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // The run log records the verified user (written off the request path).
    let (records, _) = common::cluster::eventually(
        "the invocation is recorded",
        std::time::Duration::from_secs(10),
        || async {
            let (_, records) = admin(&s, "GET", "/invocations").await;
            records["invocations"][0].is_object().then_some(records)
        },
    )
    .await;
    let input = &records["invocations"][0]["input"];
    assert_eq!(input["username"], "ada@example.com", "{records}");
    assert_eq!(input["usernameVerified"], true, "{records}");

    // ApiKey mode is unchanged, and its user is not verified.
    let (status, body) = s
        .server
        .get(
            &path,
            &[("apiKey", &s.api_key), ("username", "ada@example.com")],
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("requires a user verified by sign-in"),
        "{body}"
    );

    // The admin sees who connected, and can revoke them.
    let (status, users) = admin(&s, "GET", "/oauth/users").await;
    assert_eq!(status, 200, "{users}");
    assert_eq!(users["users"][0]["username"], "ada@example.com");
    let (status, revoked) = admin(&s, "DELETE", "/oauth/users/ada@example.com").await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["revokedGrants"], 1);
    let (status, body) = sign_off(&s, "acme", access).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "invalid or revoked access token");
    assert_eq!(body["status"], "failure");
}

#[tokio::test]
async fn codes_tokens_and_states_cannot_be_replayed_forged_or_carried_across() {
    let s = setup().await;
    let code = connect(&s, "bob@example.com").await;

    // Wrong client secret: refused, and the code is not spent.
    let (status, body) = token(
        &s,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &s.client_id),
            ("client_secret", "dkc_wrong"),
        ],
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");

    let (status, first) = exchange(&s, &code).await;
    assert_eq!(status, 200, "{first}");
    let access = first["access_token"].as_str().unwrap().to_owned();
    assert_eq!(sign_off(&s, "acme", &access).await.0, 200);

    // A replayed code is refused and revokes what it was exchanged for.
    let (status, body) = exchange(&s, &code).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(sign_off(&s, "acme", &access).await.0, 403);

    // Refresh tokens rotate; presenting a rotated one revokes the family.
    let code = connect(&s, "bob@example.com").await;
    let (_, first) = exchange(&s, &code).await;
    let old_refresh = first["refresh_token"].as_str().unwrap();
    let (status, second) = refresh(&s, old_refresh).await;
    assert_eq!(status, 200, "{second}");
    let new_access = second["access_token"].as_str().unwrap();
    assert_eq!(sign_off(&s, "acme", new_access).await.0, 200);
    let (status, body) = refresh(&s, old_refresh).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );
    let (status, body) = sign_off(&s, "acme", new_access).await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = refresh(&s, second["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 400, "the whole family is gone");

    // Another tenant's token is no credential here.
    let code = connect(&s, "bob@example.com").await;
    let (_, tokens) = exchange(&s, &code).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let (globex_admin, _) = s.server.create_tenant("globex", json!({})).await;
    let (status, _) = s
        .server
        .deploy(
            "globex",
            &globex_admin,
            GATE,
            common::example_action("review-gate"),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = sign_off(&s, "globex", &access).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "invalid or revoked access token");

    // An expired access token gets the 403 that makes Workfront refresh.
    let (status, body) = s
        .server
        .admin(
            "PUT",
            "/tenants/acme/oauth",
            Some(&s.admin),
            Some(json!({
                "workfrontRedirectUri": WORKFRONT,
                "issuer": s._idp.issuer,
                "clientId": "docket",
                "accessTokenSeconds": 1,
            })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.get("clientSecret").is_none(),
        "an update shows no secret"
    );
    let (status, short) = refresh(&s, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{short}");
    assert_eq!(short["expires_in"], 1);
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    let (status, body) = sign_off(&s, "acme", short["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "the access token has expired; refresh it");
    let (status, fresh) = refresh(&s, short["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{fresh}");

    // A suspended tenant's tokens stop, and its token endpoint refuses.
    let (status, _) = s
        .server
        .admin(
            "PATCH",
            "/tenants/acme",
            Some(OPERATOR),
            Some(json!({"suspended": true})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = sign_off(&s, "acme", fresh["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "this tenant is suspended");
    let (status, body) = refresh(&s, fresh["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "unauthorized_client");
}

#[tokio::test]
async fn the_browser_steps_refuse_what_workfront_would_never_send() {
    let s = setup().await;
    let browser = Browser::new();
    let base = &s.server.base;

    // An unknown redirect URI is refused on a page: Docket redirects nowhere else.
    let evil = format!(
        "{base}/t/acme/oauth/authorize?state=x&redirect_uri={}",
        urlencode("https://evil.example/cb")
    );
    let page = browser.get(&evil).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("is not the Workfront Redirect URI"));
    assert_eq!(page.hops.len(), 1, "no redirect: {:?}", page.hops);

    // A code_challenge that is not RFC 7636's shape: refused.
    let page = browser
        .get(&format!(
            "{}&code_challenge=short",
            authorize_url(&s, "wf-pkce")
        ))
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("code_challenge"), "{}", page.body);

    // A gateway's own Authorization scheme does not hide a good apiKey.
    let path = format!(
        "/t/acme/customAction?name=review-gate&documentId={DOC}&documentVersionId={VER}&stage=legal"
    );
    let (status, body) = s
        .server
        .get(
            &path,
            &[
                ("Authorization", "Basic Z3c6Z3c="),
                ("apiKey", &s.api_key),
                ("username", "ada@example.com"),
            ],
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("requires a user verified"),
        "{body}"
    );

    // No state: refused.
    let page = browser.get(&format!("{base}/t/acme/oauth/authorize")).await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("no `state`"), "{}", page.body);

    // A tenant without OAuth2 mode has no sign-in.
    s.server.create_tenant("plain", json!({})).await;
    let page = browser
        .get(&format!("{base}/t/plain/oauth/authorize?state=x"))
        .await;
    assert_eq!(page.status, 404);

    // An altered state at the callback is refused; the real one still works.
    let hand_off = browser.get(&authorize_url(&s, "wf-2")).await;
    let at_idp = browser
        .follow_until(&continue_link(&hand_off), is_callback(&s))
        .await;
    let back = sign_in_at_idp(&browser, at_idp, "ada@example.com", is_callback(&s)).await;
    let state = query_param(&back.url, "state").unwrap();
    let altered = back.url.replace(&state, &format!("{state}x"));
    let page = browser.get(&altered).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("state was altered"));

    // Another browser cannot finish a sign-in it did not start.
    let stranger = Browser::new();
    let page = stranger.get(&back.url).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("another browser"), "{}", page.body);

    // Two sign-ins at once in one browser (two tabs): each finishes.
    let mut backs = Vec::new();
    for state in ["tab-1", "tab-2"] {
        let hand_off = browser.get(&authorize_url(&s, state)).await;
        let at_idp = browser
            .follow_until(&continue_link(&hand_off), is_callback(&s))
            .await;
        backs.push(sign_in_at_idp(&browser, at_idp, "ada@example.com", is_callback(&s)).await);
    }
    for (back, state) in backs.iter().zip(["tab-1", "tab-2"]) {
        let consent = browser.get(&back.url).await;
        assert_eq!(consent.status, 200, "{}", consent.body);
        let returned = allowed(&browser, &consent, "allow").await;
        assert_eq!(query_param(&returned, "state").as_deref(), Some(state));
        assert!(query_param(&returned, "code").is_some());
    }

    // Denying consent sends Workfront access_denied with its state.
    let consent = signed_in(&s, &browser, "ada@example.com", "wf-3").await;
    let denied = allowed(&browser, &consent, "deny").await;
    assert_eq!(
        query_param(&denied, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_param(&denied, "state").as_deref(), Some("wf-3"));
    assert!(query_param(&denied, "code").is_none());

    // A consent form answered twice: the second is refused.
    let consent = signed_in(&s, &browser, "ada@example.com", "wf-4").await;
    allowed(&browser, &consent, "allow").await;
    let mut again = form(&consent.body, &consent.url);
    again.set("decision", "allow");
    let page = again.submit(&browser).await;
    assert_eq!(page.status, 400, "{}", page.body);

    // The pages are never framed or cached.
    let (status, _, _) = browser.get_no_follow(&authorize_url(&s, "wf-5")).await;
    assert_eq!(status, 200);
    let response = reqwest::get(authorize_url(&s, "wf-6")).await.unwrap();
    assert_eq!(response.headers()["x-frame-options"], "DENY");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
}

#[tokio::test]
async fn oauth_settings_are_checked_and_the_client_secret_rotates() {
    let s = setup().await;
    let put = |body: Value| {
        let server = &s.server;
        let admin = s.admin.clone();
        async move {
            server
                .admin("PUT", "/tenants/acme/oauth", Some(&admin), Some(body))
                .await
        }
    };
    // Each wrong setting is refused, naming what is wrong.
    let refused = [
        (
            json!({"workfrontRedirectUri": "http://workfront.example/cb",
                   "issuer": s._idp.issuer, "clientId": "docket"}),
            "must use https",
        ),
        (
            json!({"workfrontRedirectUri": WORKFRONT, "issuer": s._idp.issuer,
                   "clientId": "docket", "usernameClaim": "phone"}),
            "usernameClaim",
        ),
        (
            json!({"workfrontRedirectUri": WORKFRONT,
                   "issuer": "http://127.0.0.1:9/nothing-here", "clientId": "docket"}),
            "issuer",
        ),
    ];
    for (settings, named) in refused {
        let (status, body) = put(settings).await;
        assert_eq!(status, 400);
        assert!(body["error"].as_str().unwrap().contains(named), "{body}");
    }

    // Rotation: the old secret stops, the new one works.
    let (status, rotated) = admin(&s, "POST", "/oauth/client-secret").await;
    assert_eq!(status, 201, "{rotated}");
    let code = connect(&s, "ada@example.com").await;
    let (status, _) = exchange(&s, &code).await;
    assert_eq!(status, 401, "the old client secret is refused");
    let new_secret = rotated["clientSecret"].as_str().unwrap();
    let response = reqwest::Client::new()
        .post(format!("{}/t/acme/oauth/token", s.server.base))
        .basic_auth(&s.client_id, Some(new_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "HTTP Basic with the new secret");

    // Credentials sent twice (Basic and form) are refused; a tenant without
    // OAuth2 mode answers exactly like a wrong secret.
    let response = reqwest::Client::new()
        .post(format!("{}/t/acme/oauth/token", s.server.base))
        .basic_auth(&s.client_id, Some(new_secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_secret", new_secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request", "{body}");
    s.server.create_tenant("plain", json!({})).await;
    let mut answers = Vec::new();
    for tenant in ["plain", "acme", "nobody"] {
        let response = reqwest::Client::new()
            .post(format!("{}/t/{tenant}/oauth/token", s.server.base))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "x"),
                ("client_id", "a"),
                ("client_secret", "b"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        answers.push(response.text().await.unwrap());
    }
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");

    // An identity provider's answer is read up to 256 KiB, never further.
    let huge = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let huge_url = format!("http://{}", huge.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = huge.accept().await {
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let head =
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n";
            let _ = socket.write_all(head.as_bytes()).await;
            let chunk = vec![b' '; 64 * 1024];
            for _ in 0..64 {
                if socket.write_all(&chunk).await.is_err() {
                    break;
                }
            }
        }
    });
    let (status, body) = put(json!({
        "workfrontRedirectUri": WORKFRONT, "issuer": huge_url, "clientId": "docket"
    }))
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("more than 256 KiB"),
        "{body}"
    );

    // Another tenant's admin token cannot read or change these settings.
    let (other_admin, _) = s.server.create_tenant("globex", json!({})).await;
    let (status, _) = s
        .server
        .admin("GET", "/tenants/acme/oauth", Some(&other_admin), None)
        .await;
    assert_eq!(status, 403);

    // Turning OAuth2 mode off ends every token.
    let (status, _) = admin(&s, "DELETE", "/oauth").await;
    assert_eq!(status, 204);
    let (status, body) = admin(&s, "GET", "/oauth").await;
    assert_eq!(status, 200);
    assert_eq!(body["enabled"], false);
}

/// The screenshots `tests/oidc/pages.mjs` takes.
const SCREENSHOTS: [&str; 5] = [
    "error.png",
    "error-phone.png",
    "hand-off.png",
    "consent.png",
    "consent-phone.png",
];

/// Debian's `chromium` (or another on the PATH) for the browser check.
/// The sign-in pages in a real headless Chromium (tests/oidc/pages.mjs, with
/// playwright-core and axe-core): each one screenshotted, at desktop and phone
/// width, checked by axe, the flow driven by keyboard to Workfront's redirect.
#[tokio::test]
async fn the_sign_in_pages_work_in_a_real_browser_and_pass_axe() {
    let chromium = browser::chromium();
    let s = setup().await;
    let out = browser::output_dir("oauth-pages");
    let authorize = authorize_url(&s, "wf-browser");
    let bad = authorize.replace(
        &format!("redirect_uri={}", urlencode(WORKFRONT)),
        &format!("redirect_uri={}", urlencode("https://evil.example/cb")),
    );
    assert_ne!(bad, authorize);
    let config = json!({
        "chromium": chromium,
        "out": out,
        "authorizeUrl": authorize,
        "badAuthorizeUrl": bad,
        "workfront": WORKFRONT,
        "login": "ada@example.com",
    });
    let run = browser::run_script(
        "pages.mjs",
        &config,
        &out,
        std::time::Duration::from_secs(90),
    )
    .await;
    let (stdout, stderr) = (&run.stdout, &run.stderr);
    assert!(
        run.success,
        "tests/oidc/pages.mjs failed ({}):\n{stdout}\n{stderr}\nIdP log:\n{}",
        run.status,
        s._idp.log()
    );
    let report = run
        .report
        .unwrap_or_else(|| panic!("tests/oidc/pages.mjs printed no JSON:\n{stdout}\n{stderr}"));
    assert_eq!(report["ok"], true, "{report}");

    for name in SCREENSHOTS {
        assert!(
            report["screenshots"]
                .as_array()
                .unwrap()
                .iter()
                .any(|shot| shot.as_str().is_some_and(|shot| shot.ends_with(name))),
            "{name} not reported: {report}"
        );
        let png = std::fs::read(out.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            png.len() > 1_000 && png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{name} is not a screenshot ({} bytes)",
            png.len()
        );
    }

    // Allow by keyboard sent the browser to Workfront with a code and the
    // state, and the code is good.
    let back = report["workfront"].as_str().unwrap();
    assert!(back.starts_with(WORKFRONT), "{report}");
    assert_eq!(query_param(back, "state").as_deref(), Some("wf-browser"));
    let code = query_param(back, "code").expect("a code");
    let (status, tokens) = exchange(&s, &code).await;
    assert_eq!(status, 200, "{tokens}");
    eprintln!(
        "screenshots in {}; minor and moderate axe findings: {}",
        out.display(),
        report["violations"]
    );
}

/// Two replicas on one PostgreSQL database: a user signs in through one,
/// Workfront exchanges the code and calls through the other, and a
/// revocation on the first holds on the second at once.
#[tokio::test]
async fn a_token_minted_by_one_replica_works_on_every_other_at_once() {
    let db = common::cluster::Database::create().await;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let extra = ["--allow-private-outbound"];
    let first = Server::replica_with(&db.url, "127.0.0.1:0", dirs[0].path(), &extra);
    let second = Server::replica_with(&db.url, "127.0.0.1:0", dirs[1].path(), &extra);
    let s = setup_on(first).await;
    let code = connect(&s, "ada@example.com").await;
    let response = reqwest::Client::new()
        .post(format!("{}/t/acme/oauth/token", second.base))
        .basic_auth(&s.client_id, Some(&s.client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "the code is good on the other replica"
    );
    let tokens: Value = response.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let path = format!(
        "/t/acme/customAction?name=review-gate&documentId={DOC}&documentVersionId={VER}&stage=legal"
    );
    let bearer = format!("Bearer {access}");
    let (status, body) = common::cluster::eventually(
        "the deploy reaches the second replica",
        std::time::Duration::from_secs(10),
        || async {
            let answer = second.get(&path, &[("Authorization", &bearer)]).await;
            (answer.0 == 200).then_some(answer)
        },
    )
    .await
    .0;
    assert_eq!(status, 200, "{body}");
    let (status, _) = admin(&s, "DELETE", "/oauth/users").await;
    assert_eq!(status, 200);
    let (status, body) = second.get(&path, &[("Authorization", &bearer)]).await;
    assert_eq!(
        status, 403,
        "revoked on one replica, refused on the other at once: {body}"
    );
}
