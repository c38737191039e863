// Docket's OAuth2 sign-in pages in a real headless Chromium, for the
// black-box test in tests/oauth.rs: `node tests/oidc/pages.mjs <config.json>`.
//
// Config: {"chromium": "/usr/bin/chromium", "out": "<dir for screenshots>",
// "authorizeUrl": "<Docket's authorize URL, with state=…>", "badAuthorizeUrl":
// "<an authorize URL Docket refuses with its error page>", "workfront":
// "<Workfront's redirect URI>", "login": "ada@example.com"}.
//
// It screenshots the error page (desktop and phone width), the hand-off page,
// and Docket's consent page (desktop and phone width) into "out", runs axe-core
// on each, and walks the sign-in by keyboard: Tab to "Continue to sign in",
// Enter; the IdP's (oidc-provider's development) sign-in and consent; Tab to
// Allow and Deny, Enter on Allow; then checks that the browser reached the
// Workfront redirect URI (answered by this script through Chromium's Fetch
// interception: nothing listens there) with a code and the original state.
// Every control reached by keyboard must show a focus outline, and neither
// page may scroll sideways at phone width. A second pass, with the pages' Content-Security-Policy
// enforced (the first one bypasses it so that axe can be injected), checks
// that the policy blocks nothing the pages need.
//
// The last stdout line is one JSON object: {"ok": true, "screenshots": [...],
// "workfront": "<URL reached>", "violations": {"<page>": [minor and moderate
// axe findings]}}, or {"ok": false, "error": "..."} with exit status 1. Any
// serious or critical axe finding is a failure. The whole run is bounded to
// 55 seconds.

import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const DEADLINE_MS = 55_000;
const ACTION_TIMEOUT_MS = 10_000;
const NAVIGATION_TIMEOUT_MS = 15_000;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const AXE = fileURLToPath(new URL('./node_modules/axe-core/axe.min.js', import.meta.url));

let browser = null;
let finished = false;

function report(result, code) {
  if (finished) return;
  finished = true;
  process.stdout.write(`${JSON.stringify(result)}\n`);
  const close = browser ? browser.close().catch(() => {}) : Promise.resolve();
  // Never wait long for the browser to close.
  Promise.race([close, new Promise((resolve) => setTimeout(resolve, 3_000))])
    .then(() => process.exit(code));
}

function fail(message) {
  report({ ok: false, error: message }, 1);
}

const deadline = setTimeout(
  () => fail(`timed out after ${DEADLINE_MS / 1000} s`),
  DEADLINE_MS,
);

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function main() {
  const configPath = process.argv[2];
  check(configPath, 'usage: node pages.mjs <config.json>');
  const config = JSON.parse(readFileSync(configPath, 'utf8'));
  for (const key of ['chromium', 'out', 'authorizeUrl', 'badAuthorizeUrl', 'workfront', 'login']) {
    check(typeof config[key] === 'string' && config[key], `config has no "${key}"`);
  }
  mkdirSync(config.out, { recursive: true });
  const docket = new URL(config.authorizeUrl).origin;
  const state = new URL(config.authorizeUrl).searchParams.get('state');
  check(state, 'authorizeUrl has no state');

  browser = await chromium.launch({
    executablePath: config.chromium,
    headless: true,
    args: ['--no-sandbox'],
    timeout: 20_000,
  });
  // The pages send `Content-Security-Policy: default-src 'none'`, which
  // would block the injected axe-core: bypassed here, enforced in the
  // second pass below.
  const context = await browser.newContext({ bypassCSP: true, viewport: DESKTOP });
  context.setDefaultTimeout(ACTION_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(NAVIGATION_TIMEOUT_MS);
  const page = await context.newPage();

  // Workfront's redirect URI: nothing listens there, so answer for it.
  // Docket gets there by a redirect, which page.route() never sees
  // (microsoft/playwright#3993): Chromium's own Fetch interception does.
  let reached = null;
  const cdp = await context.newCDPSession(page);
  cdp.on('Fetch.requestPaused', (event) => {
    reached = event.request.url;
    cdp
      .send('Fetch.fulfillRequest', {
        requestId: event.requestId,
        responseCode: 200,
        responseHeaders: [{ name: 'Content-Type', value: 'text/plain' }],
        body: Buffer.from('workfront').toString('base64'),
      })
      .catch((error) => fail(`answering for Workfront: ${error.message}`));
  });
  await cdp.send('Fetch.enable', {
    patterns: [{ urlPattern: `${config.workfront.replace(/[*?\\]/g, '\\$&')}*`, requestStage: 'Request' }],
  });

  const screenshots = [];
  async function screenshot(name) {
    const path = join(config.out, name);
    await page.screenshot({ path, fullPage: true });
    screenshots.push(path);
  }

  // At phone width: the screenshot, and no sideways scrolling.
  async function phoneScreenshot(name) {
    await page.setViewportSize(PHONE);
    await screenshot(name);
    const [scrollWidth, innerWidth] = await page.evaluate(
      () => [document.documentElement.scrollWidth, window.innerWidth],
    );
    check(
      scrollWidth <= innerWidth,
      `${name}: the page scrolls sideways at phone width (${scrollWidth} px wide in ${innerWidth} px)`,
    );
    await page.setViewportSize(DESKTOP);
  }

  const violations = {};
  async function axe(name) {
    await page.addScriptTag({ path: AXE });
    const results = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
    check(results.passes.length > 0, `axe checked nothing on the ${name} page`);
    const summary = (v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => n.target.join(' ')),
    });
    const serious = results.violations.filter((v) => ['serious', 'critical'].includes(v.impact));
    violations[name] = results.violations.filter((v) => !serious.includes(v)).map(summary);
    check(
      serious.length === 0,
      `axe on the ${name} page: ${serious
        .map((v) => `${v.impact} ${v.id} (${v.help}) at ${summary(v).nodes.join(', ')}`)
        .join('; ')}`,
    );
  }

  async function text() {
    return page.evaluate(() => document.body.innerText);
  }

  // Tab (at most 20 times) until the focused element matches `test`; its
  // description, for messages.
  async function tabTo(what, test, key = 'Tab') {
    const seen = [];
    for (let i = 0; i < 20; i += 1) {
      await page.keyboard.press(key);
      const focused = await page.evaluate(() => {
        const el = document.activeElement;
        if (!el || el === document.body) return null;
        const style = getComputedStyle(el);
        return {
          tag: el.tagName.toLowerCase(),
          text: el.innerText?.trim() ?? '',
          value: el.getAttribute('value'),
          outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0,
        };
      });
      if (focused && test(focused)) {
        check(focused.outline, `${what} shows no focus outline when reached by keyboard`);
        return focused;
      }
      seen.push(focused ? `${focused.tag} "${focused.text}"` : 'nothing');
    }
    throw new Error(`${what} is not reachable by ${key}; focus went to: ${seen.join(', ')}`);
  }

  // The error page: Docket redirects nowhere it does not know.
  let response = await page.goto(config.badAuthorizeUrl);
  check(response.status() === 400, `the error page answered ${response.status()}, not 400`);
  check(page.url() === config.badAuthorizeUrl, `the error page redirected to ${page.url()}`);
  check((await text()).includes('could not be made'), `not the error page: ${await text()}`);
  await screenshot('error.png');
  await phoneScreenshot('error-phone.png');
  await axe('error');

  // The hand-off page, left by keyboard.
  response = await page.goto(config.authorizeUrl);
  check(response.status() === 200, `the hand-off page answered ${response.status()}`);
  check((await text()).includes('Continue to sign in'), `not the hand-off page: ${await text()}`);
  await screenshot('hand-off.png');
  await axe('hand-off');
  await tabTo('the "Continue to sign in" link', (f) => f.tag === 'a' && f.text === 'Continue to sign in');
  await Promise.all([
    page.waitForURL((url) => url.origin !== docket, { waitUntil: 'load' }),
    page.keyboard.press('Enter'),
  ]);

  // The IdP: oidc-provider's development sign-in, then its consent.
  const atCallback = (url) => url.origin === docket && url.pathname.endsWith('/oauth/callback');
  for (let step = 0; step < 4 && !atCallback(new URL(page.url())); step += 1) {
    const before = page.url();
    if (await page.locator('input[name="login"]').count()) {
      await page.fill('input[name="login"]', config.login);
      await page.fill('input[name="password"]', 'any password');
    } else {
      check(
        await page.locator('input[name="prompt"][value="consent"]').count(),
        `neither the IdP's sign-in nor its consent at ${before}: ${await text()}`,
      );
    }
    await Promise.all([
      page.waitForURL((url) => url.href !== before, { waitUntil: 'load' }),
      page.click('form button[type="submit"]'),
    ]);
  }
  check(atCallback(new URL(page.url())), `the IdP did not send the browser back to Docket: ${page.url()}`);

  // Docket's consent page, answered by keyboard.
  const consentText = await text();
  check(consentText.includes('Allow Workfront to act for you?'), `not the consent page: ${consentText}`);
  check(consentText.includes(config.login), `the consent page does not name ${config.login}: ${consentText}`);
  await screenshot('consent.png');
  await phoneScreenshot('consent-phone.png');
  await axe('consent');
  await tabTo('the Allow button', (f) => f.tag === 'button' && f.value === 'allow' && f.text === 'Allow');
  await tabTo('the Deny button', (f) => f.tag === 'button' && f.value === 'deny' && f.text === 'Deny');
  await tabTo('the Allow button (Shift+Tab)', (f) => f.tag === 'button' && f.value === 'allow', 'Shift+Tab');
  await Promise.all([
    page.waitForURL((url) => url.href.startsWith(config.workfront)),
    page.keyboard.press('Enter'),
  ]);
  check(reached, 'the browser did not request the Workfront redirect URI');
  const back = new URL(reached);
  check(back.searchParams.get('code'), `no code= in ${reached}`);
  check(back.searchParams.get('state') === state, `not the original state ${state} in ${reached}`);

  // The pages as a browser shows them, the policy enforced: it blocks
  // nothing (the inline stylesheet applies).
  const strict = await browser.newContext({ viewport: DESKTOP });
  strict.setDefaultTimeout(ACTION_TIMEOUT_MS);
  strict.setDefaultNavigationTimeout(NAVIGATION_TIMEOUT_MS);
  const plain = await strict.newPage();
  const blocked = [];
  plain.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) blocked.push(message.text());
  });
  for (const url of [config.badAuthorizeUrl, config.authorizeUrl]) {
    const answer = await plain.goto(url);
    check(
      /default-src 'none'/.test(answer.headers()['content-security-policy'] ?? ''),
      `no Content-Security-Policy on ${url}`,
    );
    const styled = await plain.evaluate(() => getComputedStyle(document.querySelector('main')).maxWidth);
    check(styled !== 'none', `the stylesheet did not apply at ${url} with the Content-Security-Policy enforced`);
  }
  check(blocked.length === 0, `the Content-Security-Policy blocked: ${blocked.join('; ')}`);
  await strict.close();

  clearTimeout(deadline);
  report({ ok: true, screenshots, workfront: reached, violations }, 0);
}

main().catch((error) => fail(error?.stack ?? String(error)));
