//! The pages of OAuth2 mode's sign-in: plain server-rendered HTML, no
//! script, readable on a phone, every control labelled and reachable by
//! keyboard. All text from outside (names, messages, URLs) is escaped.

use crate::oauth::{ConsentPage, HandOff};

/// A rendered page.
pub struct Page(pub String);

/// The page Workfront's Authentication URL shows: where the user signs in next.
pub fn hand_off(hand_off: &HandOff) -> Page {
    let integration = escape(&hand_off.integration);
    let body = format!(
        r#"<h1>Connect Workfront to {integration}</h1>
<p>Workfront asks to run {integration}'s document actions as you. First, sign in with your organization's account at <strong>{host}</strong>.</p>
<p><a class="button" href="{url}">Continue to sign in</a></p>
<p class="note">Nothing is shared until you allow it on the next page.</p>"#,
        host = escape(&hand_off.idp_host),
        url = escape(&hand_off.idp_url),
    );
    layout(&format!("Connect Workfront to {integration}"), &body)
}

/// The consent page: who signed in, who asks, allow or deny.
pub fn consent(consent: &ConsentPage, action: &str) -> Page {
    let integration = escape(&consent.integration);
    let body = format!(
        r#"<h1>Allow Workfront to act for you?</h1>
<p>You are signed in as <strong>{user}</strong>.</p>
<p>Workfront (<strong>{host}</strong>) asks to run {integration}'s document actions on your behalf. The actions will know your name as verified by your sign-in. You can connect again or be disconnected by {integration}'s administrator at any time.</p>
<form method="post" action="{action}">
<input type="hidden" name="consent" value="{token}">
<div class="choices">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</div>
</form>"#,
        user = escape(&consent.username),
        host = escape(&consent.workfront_host),
        action = escape(action),
        token = escape(&consent.consent),
    );
    layout("Allow Workfront to act for you?", &body)
}

/// A page saying why the sign-in stopped, in Docket's own words.
pub fn error(message: &str) -> Page {
    let body = format!(
        r#"<h1>The connection could not be made</h1>
<p role="alert">{message}</p>
<p class="note">Close this page and start again from Workfront (Documents, Add service). If it happens again, tell your Workfront administrator what this page says.</p>"#,
        message = escape(message),
    );
    layout("The connection could not be made", &body)
}

fn layout(title: &str, body: &str) -> Page {
    Page(format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Docket</title>
<style>{STYLE}</style>
</head>
<body>
<main>
{body}
</main>
<footer><p>Docket, on behalf of your organization's Workfront integration</p></footer>
</body>
</html>
"#
    ))
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1b1e23;line-height:1.5}\
main{max-width:34rem;margin:3rem auto;padding:2rem;background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.15)}\
h1{font-size:1.5rem;margin-top:0}\
.button,button{display:inline-block;font:inherit;font-weight:600;padding:.6rem 1.2rem;border-radius:6px;border:2px solid #0b5cad;background:#0b5cad;color:#fff;text-decoration:none;cursor:pointer}\
button.secondary{background:#fff;color:#0b5cad}\
.button:focus,button:focus{outline:3px solid #1b1e23;outline-offset:2px}\
.choices{display:flex;gap:1rem;flex-wrap:wrap}\
.note{color:#4a5260;font-size:.9rem}\
footer{text-align:center;color:#4a5260;font-size:.8rem}\
@media (max-width:30rem){main{margin:0;border-radius:0;padding:1.25rem}}";

/// Escapes text for HTML element content and double-quoted attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_text_is_escaped_everywhere() {
        let page = error("<script>alert(\"x\")</script> & 'y'");
        assert!(!page.0.contains("<script>"), "{}", page.0);
        assert!(
            page.0
                .contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;")
        );
    }
}
