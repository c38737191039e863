// Docket's web console (/console) end to end in a real headless Chromium,
// for the black-box test in tests/console_browser.rs:
// `node tests/oidc/console.mjs <config.json>`.
//
// Config: {"chromium": "/usr/bin/chromium", "out": "<dir for screenshots>",
// "base": "<Docket's URL>", "tenant": "acme", "adminToken": "dka_…",
// "operatorToken": "…", "module1": "<path of a .wasm>", "module2": "…",
// "manifest1": "<TOML>", "manifest2": "<TOML>", "action": "greet",
// "message1": "<what module1 answers>", "message2": "…"}.
//
// The walk (issue 29): sign in as the tenant by keyboard only (every
// control reached shows a focus indicator); deploy module1 with manifest1
// written in the form, see the result; Try it: HTTP 200 and message1 in the
// JSON shown, and the run log record of that call; deploy module2 with
// manifest2 uploaded as a file, try it: message2; roll back to version 1 on
// the action's page (confirmed), try it: message1; the run log lists the
// tries of both versions under the request ids Try it showed; create a key
// (shown once) and revoke it (confirmed). A second browser context signs in
// as the tenant and opens Try it; the first signs out and in as the
// operator, suspends the tenant (confirmed); the second context's Try it is
// then refused with the server's "this tenant is suspended", and so is a
// fresh sign-in as the tenant; the operator resumes the tenant, and the
// second context's Try it works again.
//
// Every page (sign-in; the tenant's overview, actions, an action, deploy,
// try, runs, keys, secrets, settings, provider, oauth; the operator's
// tenants and server) is screenshotted at 1280×800 and 390×844 into "out" as
// `<page>-desktop.png` and `<page>-phone.png`, checked by axe-core at both
// widths, and must not scroll sideways at phone width. Those contexts bypass
// the Content-Security-Policy (so that axe can be injected); a last pass
// with the policy enforced signs in and loads a few pages, and fails on any
// policy violation the browser reports, or any script error.
//
// The last stdout line is one JSON object: {"ok": true, "screenshots":
// [...], "violations": {"<page>-<width>": [minor and moderate axe
// findings]}, "requestIds": [the tries' request ids], "createdKey": {"hint",
// "apiKey"}}, or {"ok": false, "error": "...", "step": "..."} with exit
// status 1 and `failure.png` of the page at the failing step. Any serious
// or critical axe finding is a failure. The whole run is bounded to 150 s,
// each browser action to 10 s.

import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const DEADLINE_MS = 150_000;
const ACTION_TIMEOUT_MS = 10_000;
const NAVIGATION_TIMEOUT_MS = 15_000;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const AXE = fileURLToPath(new URL('./node_modules/axe-core/axe.min.js', import.meta.url));
// README's walkthrough ids.
const DOCUMENT_ID = '5f0c8e2a9b1d4c3e8f7a6b5c4d3e2f10';
const VERSION_ID = '7a6b5c4d3e2f10fedcba98765432100a';
const USER = 'ada@example.com';

let browser = null;
let finished = false;
let step = 'start';
/** The page a failure is screenshotted from. */
let current = null;
let out = null;
/** Script errors on any page; each is a failure. */
const pageErrors = [];

async function report(result, code) {
  if (finished) return;
  finished = true;
  if (!result.ok && current && out) {
    // Bounded: a hung page must not keep the report from being printed.
    await Promise.race([
      current.screenshot({ path: join(out, 'failure.png'), fullPage: true }).catch(() => {}),
      new Promise((resolve) => setTimeout(resolve, 5_000)),
    ]);
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
  const close = browser ? browser.close().catch(() => {}) : Promise.resolve();
  // Never wait long for the browser to close.
  await Promise.race([close, new Promise((resolve) => setTimeout(resolve, 3_000))]);
  process.exit(code);
}

function fail(message) {
  return report({ ok: false, error: message, step }, 1);
}

const deadline = setTimeout(() => fail(`timed out after ${DEADLINE_MS / 1000} s`), DEADLINE_MS);

function check(condition, message) {
  if (!condition) throw new Error(message);
}

function begin(name) {
  check(pageErrors.length === 0, `script error in the console: ${pageErrors.join('; ')}`);
  step = name;
  process.stderr.write(`console.mjs: ${name}\n`);
}

/** Polls `probe` (async, truthy when done) until it holds or `ms` pass. */
async function waitUntil(what, probe, ms = ACTION_TIMEOUT_MS) {
  const until = Date.now() + ms;
  let last;
  for (;;) {
    last = await probe();
    if (last) return last;
    if (Date.now() > until) throw new Error(`${what} (waited ${ms / 1000} s)`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function main() {
  const configPath = process.argv[2];
  check(configPath, 'usage: node console.mjs <config.json>');
  const config = JSON.parse(readFileSync(configPath, 'utf8'));
  for (const key of [
    'chromium', 'out', 'base', 'tenant', 'adminToken', 'operatorToken', 'module1', 'module2',
    'manifest1', 'manifest2', 'action', 'message1', 'message2',
  ]) {
    check(typeof config[key] === 'string' && config[key], `config has no "${key}"`);
  }
  out = config.out;
  mkdirSync(out, { recursive: true });
  const { tenant, action } = config;
  const consoleUrl = `${config.base.replace(/\/$/, '')}/console`;
  const tenantUrl = (page, ...rest) =>
    `${consoleUrl}#/${['tenant', tenant, page, ...rest].map(encodeURIComponent).join('/')}`;
  const operatorUrl = (page) => `${consoleUrl}#/operator/${encodeURIComponent(page)}`;

  browser = await chromium.launch({
    executablePath: config.chromium,
    headless: true,
    args: ['--no-sandbox'],
    timeout: 20_000,
  });

  async function newContext(options = {}) {
    const context = await browser.newContext({ viewport: DESKTOP, ...options });
    context.setDefaultTimeout(ACTION_TIMEOUT_MS);
    context.setDefaultNavigationTimeout(NAVIGATION_TIMEOUT_MS);
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(`${page.url()}: ${error.message}`));
    return { context, page };
  }

  const screenshots = [];
  const violations = {};

  async function screenshot(page, name) {
    const path = join(out, name);
    await page.screenshot({ path, fullPage: true });
    screenshots.push(path);
  }

  async function axe(page, name) {
    if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
      await page.addScriptTag({ path: AXE });
    }
    const results = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
    check(results.passes.length > 0, `axe checked nothing on ${name}`);
    const summary = (v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => n.target.join(' ')),
    });
    const serious = results.violations.filter((v) => ['serious', 'critical'].includes(v.impact));
    const minor = results.violations.filter((v) => !serious.includes(v)).map(summary);
    if (minor.length) violations[name] = minor;
    check(
      serious.length === 0,
      `axe on ${name}: ${serious
        .map((v) => `${v.impact} ${v.id} (${v.help}) at ${summary(v).nodes.join(', ')}`)
        .join('; ')}`,
    );
  }

  /** Waits until nothing on the page says "Loading …". */
  async function settled(page, name) {
    const loaded = () => page.evaluate(() => !/Loading [^\n]*…/.test(document.querySelector('main')?.innerText ?? ''));
    await waitUntil(`the ${name} page is still loading`, loaded).catch(async (error) => {
      throw new Error(`${error.message}: ${await page.locator('main').innerText().catch(() => '')}`);
    });
  }

  /**
   * The page as it is now: screenshots and axe at desktop and phone width,
   * and no sideways scrolling at phone width.
   */
  async function capture(page, name) {
    await settled(page, name);
    await page.setViewportSize(DESKTOP);
    await screenshot(page, `${name}-desktop.png`);
    await axe(page, `${name}-desktop`);
    await page.setViewportSize(PHONE);
    // Let the layout (and any resize-driven chart redraw) settle.
    await page.waitForTimeout(150);
    await screenshot(page, `${name}-phone.png`);
    const [scrollWidth, clientWidth] = await page.evaluate(() => [
      document.documentElement.scrollWidth,
      document.documentElement.clientWidth,
    ]);
    check(
      scrollWidth <= clientWidth + 1,
      `${name}: the page scrolls sideways at phone width (${scrollWidth} px wide in ${clientWidth} px)`,
    );
    await axe(page, `${name}-phone`);
    await page.setViewportSize(DESKTOP);
  }

  /** The h1 of the page, once it says `name`. */
  async function heading(page, name) {
    const h1 = page.getByRole('heading', { level: 1, name, exact: true });
    await h1.waitFor();
    return h1;
  }

  /** Goes to a console address and waits for its h1. */
  async function open(page, url, title) {
    await page.goto(url);
    await heading(page, title);
  }

  /** Tab (at most 30 times) until the focused element matches `test`; it must show a focus indicator. */
  async function tabTo(page, what, test) {
    const seen = [];
    for (let i = 0; i < 30; i += 1) {
      await page.keyboard.press('Tab');
      const focused = await page.evaluate(() => {
        const el = document.activeElement;
        if (!el || el === document.body) return null;
        const style = getComputedStyle(el);
        return {
          tag: el.tagName.toLowerCase(),
          type: el.getAttribute('type'),
          name: el.getAttribute('name'),
          text: el.innerText?.trim() ?? '',
          label: el.labels?.[0]?.innerText?.trim() ?? el.getAttribute('aria-label') ?? '',
          outline:
            (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0) ||
            (style.boxShadow && style.boxShadow !== 'none'),
        };
      });
      if (focused && test(focused)) {
        check(focused.outline, `${what} shows no focus indicator when reached by keyboard`);
        return focused;
      }
      seen.push(focused ? `${focused.tag} "${focused.label || focused.text}"` : 'nothing');
    }
    throw new Error(`${what} is not reachable by Tab; focus went to: ${seen.join(', ')}`);
  }

  /** Signs in with the form (mouse-free but not keyboard-only). */
  async function signIn(page, tenantName, token) {
    await open(page, consoleUrl, 'Sign in');
    await page.getByLabel('Tenant', { exact: true }).fill(tenantName);
    await page.getByLabel('Token', { exact: true }).fill(token);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  /** The region (section with aria-labelledby) named `name`. */
  const region = (page, name) => page.getByRole('region', { name, exact: true });

  /** The <dd> after the <dt> saying `term`, inside `scope`. */
  async function fact(scope, term) {
    const dd = scope.locator(`xpath=.//dt[normalize-space()="${term}"]/following-sibling::dd[1]`);
    return (await dd.innerText()).trim();
  }

  const requestIds = [];
  /**
   * What the issue asks of a page that is missing: noted where seen, and a
   * failure at the end, so that one gap does not hide the rest of the walk.
   */
  const gaps = [];
  const expect = (condition, message) => {
    if (!condition) gaps.push(`${step}: ${message}`);
  };

  /** On the Try it page: runs the action and checks the answer carries `message` and the run log says `version`. */
  async function tryIt(page, message, version) {
    await heading(page, 'Try it');
    const select = page.getByLabel('Action', { exact: true });
    await select.selectOption(action);
    await page.getByLabel('Document ID', { exact: true }).fill(DOCUMENT_ID);
    await page.getByLabel('Document version ID', { exact: true }).fill(VERSION_ID);
    await page.getByLabel('User', { exact: true }).fill(USER);
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    const answer = region(page, 'What Workfront would get');
    await answer.waitFor();
    const status = await fact(answer, 'HTTP status');
    const bodyText = await answer.getByLabel('Response body').innerText();
    check(status === '200', `Try it shows HTTP status ${status}, not 200: ${bodyText}`);
    let body;
    try {
      body = JSON.parse(bodyText);
    } catch {
      throw new Error(`Try it shows no JSON body: ${bodyText}`);
    }
    check(body.message === message, `Try it shows message ${JSON.stringify(body.message)}, not ${JSON.stringify(message)}`);
    check(body.status === 'success', `Try it shows status ${JSON.stringify(body.status)}: ${bodyText}`);
    const requestId = await fact(answer, 'Request ID');
    check(requestId, 'Try it shows no request id');
    requestIds.push(requestId);
    // The run log record of that very call.
    const record = region(page, 'Run log of this call');
    await record.waitFor();
    const ran = await fact(record, 'Version');
    check(ran.startsWith(`${action} v${version}`), `the run log of the call says ${ran}, not ${action} v${version}`);
    const outcome = await fact(record, 'Outcome');
    check(outcome.startsWith('success'), `the run log of the call says outcome ${outcome}`);
  }

  /** On the Deploy page: deploys `module` with `manifest`, written in the form or uploaded as a file. */
  async function deploy(page, module, manifest, version, asFile) {
    await heading(page, 'Deploy');
    await page.getByLabel('WebAssembly module (.wasm)').setInputFiles(module);
    if (asFile) {
      await page.getByLabel('Upload a file', { exact: true }).check();
      await page.getByLabel('Manifest file (.toml)').setInputFiles({
        name: `${action}.toml`,
        mimeType: 'text/plain',
        buffer: Buffer.from(manifest),
      });
    } else {
      await page.getByLabel('Write it here', { exact: true }).check();
      await page.getByLabel('Manifest (TOML)').fill(manifest);
    }
    await page.getByRole('button', { name: 'Deploy', exact: true }).click();
    const done = page.getByRole('heading', { name: `${action} v${version} is live` });
    const refused = page.locator('main [role="alert"]').filter({ hasText: /\S/ });
    await done
      .or(refused)
      .first()
      .waitFor()
      .catch(async () => {
        const said = await page.locator('main [role="status"]').allInnerTexts();
        throw new Error(`no "${action} v${version} is live" after the deploy; the page says: ${said.join(' | ')}`);
      });
    if (!(await done.count())) {
      throw new Error(`the deploy was refused: ${(await refused.allInnerTexts()).join(' | ')}`);
    }
    const said = await page.locator('main [role="status"]').allInnerTexts();
    check(
      said.some((text) => text.includes(`Deployed ${action} version ${version}`)),
      `the deploy status does not say version ${version}: ${said.join(' | ')}`,
    );
  }

  // ---------------------------------------------------------------- tenant
  const main1 = await newContext({ bypassCSP: true });
  const page = main1.page;
  current = page;

  begin('the sign-in page');
  const response = await page.goto(consoleUrl);
  check(response.status() === 200, `/console answered ${response.status()}`);
  await heading(page, 'Sign in');
  await capture(page, 'signin');

  begin('sign in as the tenant by keyboard only');
  await page.reload();
  await heading(page, 'Sign in');
  await tabTo(page, 'the Tenant field', (f) => f.tag === 'input' && f.label === 'Tenant');
  await page.keyboard.type(tenant);
  await tabTo(page, 'the Token field', (f) => f.tag === 'input' && f.type === 'password');
  await page.keyboard.type(config.adminToken);
  await tabTo(page, 'the Sign in button', (f) => f.tag === 'button' && f.text === 'Sign in');
  await page.keyboard.press('Enter');
  await heading(page, 'Set up Workfront');
  const who = await page.locator('header').innerText();
  check(who.includes(`tenant ${tenant}`), `the banner does not name tenant ${tenant}: ${who}`);
  check(
    !(await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + location.href)).includes(
      config.adminToken,
    ),
    'the admin token is kept in web storage or the URL',
  );

  begin('deploy version 1 (manifest written in the form)');
  await page.getByRole('navigation').getByRole('link', { name: 'Deploy', exact: true }).click();
  await deploy(page, config.module1, config.manifest1, 1, false);

  begin('try version 1');
  await page.getByRole('link', { name: `Try ${action}`, exact: true }).click();
  await tryIt(page, config.message1, 1);

  begin('deploy version 2 (manifest uploaded as a file)');
  await page.getByRole('navigation').getByRole('link', { name: 'Deploy', exact: true }).click();
  await deploy(page, config.module2, config.manifest2, 2, true);

  begin('try version 2');
  await page.getByRole('link', { name: `Try ${action}`, exact: true }).click();
  await tryIt(page, config.message2, 2);

  begin('roll back to version 1');
  await page.getByRole('navigation').getByRole('link', { name: 'Actions', exact: true }).click();
  await heading(page, 'Actions');
  // The action's row (its name in a cell) links to its page by display name.
  await page
    .getByRole('main')
    .getByRole('row')
    .filter({ has: page.getByText(action, { exact: true }) })
    .getByRole('link')
    .first()
    .click();
  await heading(page, `Action ${action}`);
  await page.getByRole('button', { name: 'Roll back to v1', exact: true }).click();
  // The confirmation step: a real question, with Cancel focused first.
  const confirm = page.getByRole('button', { name: 'Yes, roll back to v1', exact: true });
  await confirm.waitFor();
  check(
    await page.evaluate(() => document.activeElement?.innerText?.trim() === 'Cancel'),
    'the rollback confirmation does not put focus on Cancel',
  );
  await confirm.click();
  await page
    .locator('main [role="status"]')
    .filter({ hasText: `version 1 of ${action} is live` })
    .waitFor();
  await waitUntil('after the rollback the live version shown is not v1', async () =>
    (await fact(region(page, 'Live version'), 'Live version').catch(() => '')) === 'v1',
  );
  const liveRow = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'v1', exact: true }) });
  check((await liveRow.innerText()).includes('Live'), `the versions table does not mark v1 live: ${await liveRow.innerText()}`);

  begin('try after the rollback');
  await page.getByRole('main').getByRole('link', { name: 'Try it', exact: true }).click();
  await tryIt(page, config.message1, 1);

  begin('the run log');
  await page.getByRole('navigation').getByRole('link', { name: 'Run logs', exact: true }).click();
  await heading(page, 'Run logs');
  const table = page.getByRole('region', { name: 'Invocations table' });
  await table.waitFor();
  const rows = await waitUntil('the run log table never listed the three tries', async () => {
    const found = await table.locator('tbody tr:not(.detail-row)').evaluateAll((trs) =>
      trs.map((tr) => [...tr.cells].map((td) => td.innerText.trim())),
    );
    const mine = found.filter((cells) => cells[1] === action);
    return mine.length >= 3 ? mine : null;
  });
  const versionsSeen = new Set(rows.map((cells) => cells[2]));
  check(versionsSeen.has('1') && versionsSeen.has('2'), `the run log shows versions ${[...versionsSeen]} of ${action}`);
  for (const id of requestIds) {
    check(rows.some((cells) => cells.includes(id)), `the run log does not list request ${id}: ${JSON.stringify(rows)}`);
  }

  begin('create a key, shown once');
  await page.getByRole('navigation').getByRole('link', { name: 'Keys and token', exact: true }).click();
  await heading(page, 'Keys and token');
  await settled(page, 'keys');
  const keysRegion = page.getByRole('region', { name: 'Webhook keys (table)' });
  const hints = async () =>
    (await keysRegion.count()) ? keysRegion.locator('tbody th').allInnerTexts() : [];
  const before = await hints();
  await page.getByRole('button', { name: 'Create a key', exact: true }).click();
  const shown = page.getByLabel('New webhook key', { exact: true });
  await shown.waitFor();
  const apiKey = await shown.inputValue();
  check(apiKey.length >= 16, `the new key shown is ${JSON.stringify(apiKey)}`);
  check(
    (await page.getByRole('main').innerText()).includes('will not be shown again'),
    'the new key is not said to be shown once',
  );
  const hint = await waitUntil('the new key never appeared in the keys table', async () => {
    const added = (await hints()).filter((h) => !before.includes(h));
    return added.length === 1 ? added[0] : null;
  });

  begin('revoke the key, confirmed');
  await page.getByRole('button', { name: `Revoke key ${hint}`, exact: true }).click();
  await page.getByRole('button', { name: 'Yes, revoke', exact: true }).click();
  await page.locator('main [role="status"]').filter({ hasText: `Key ${hint} revoked` }).waitFor();
  await waitUntil(`key ${hint} is still listed after its revocation`, async () => !(await hints()).includes(hint));
  // Shown once: gone when the page is opened again.
  await page.getByRole('navigation').getByRole('link', { name: 'Run logs', exact: true }).click();
  await heading(page, 'Run logs');
  await page.getByRole('navigation').getByRole('link', { name: 'Keys and token', exact: true }).click();
  await heading(page, 'Keys and token');
  await settled(page, 'keys');
  check(!(await page.content()).includes(apiKey), 'the new key is shown again after leaving the page');

  // Every tenant page, with the data the walk made.
  const tenantPages = [
    ['overview', tenantUrl('overview'), 'Set up Workfront'],
    ['actions', tenantUrl('actions'), 'Actions'],
    ['action-detail', tenantUrl('actions', action), `Action ${action}`],
    ['deploy', tenantUrl('deploy'), 'Deploy'],
    ['try', tenantUrl('try', action), 'Try it'],
    ['runs', tenantUrl('runs'), 'Run logs'],
    ['keys', tenantUrl('keys'), 'Keys and token'],
    ['secrets', tenantUrl('secrets'), 'Secrets'],
    ['settings', tenantUrl('settings'), 'Settings'],
    ['provider', tenantUrl('provider'), 'Document provider'],
    ['oauth', tenantUrl('oauth'), 'OAuth2 mode'],
  ];
  for (const [name, url, title] of tenantPages) {
    begin(`the ${name} page`);
    await open(page, url, title);
    await capture(page, name);
    if (name === 'overview') {
      // What to paste into Workfront: the Base API URL with a copy button,
      // and the five setup steps.
      const baseApiUrl = await page.getByLabel('Base API URL', { exact: true }).inputValue();
      expect(
        /^https?:\/\/[^/]+\/t\/[^/]+$/.test(baseApiUrl) && baseApiUrl.endsWith(`/t/${tenant}`),
        `the Base API URL shown is ${JSON.stringify(baseApiUrl)}`,
      );
      expect(
        await page.getByRole('button', { name: /^Copy Base API URL/ }).count(),
        'the Base API URL has no copy button',
      );
      const steps = await region(page, 'Steps in Workfront').getByRole('listitem').count();
      expect(steps === 5, `the overview lists ${steps} Workfront setup steps, not 5`);
    }
  }

  // ------------------------------------------- a second tenant session
  begin('a second browser signs in as the tenant and opens Try it');
  const second = await newContext({ bypassCSP: true });
  current = second.page;
  await signIn(second.page, tenant, config.adminToken);
  await heading(second.page, 'Set up Workfront');
  await second.page.getByRole('navigation').getByRole('link', { name: 'Try it', exact: true }).click();
  await heading(second.page, 'Try it');
  await second.page.getByLabel('Action', { exact: true }).selectOption(action);

  // -------------------------------------------------------------- operator
  begin('sign out');
  current = page;
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await heading(page, 'Sign in');
  await page.getByRole('status').filter({ hasText: 'signed out' }).waitFor();
  const session = await page.evaluate(async () => (await fetch('/admin/v1/session')).status);
  check(session === 401, `after signing out GET /admin/v1/session answers ${session}, not 401`);

  begin('sign in as the operator (token only)');
  await page.getByLabel('Token', { exact: true }).fill(config.operatorToken);
  await page.getByLabel('Token', { exact: true }).press('Enter');
  await heading(page, 'Tenants');
  check((await page.locator('header').innerText()).includes('the operator'), 'the banner does not say the operator');

  begin('suspend the tenant, confirmed');
  await page.getByRole('button', { name: `Suspend ${tenant}`, exact: true }).click();
  await page.getByRole('button', { name: 'Yes, suspend', exact: true }).click();
  await page.getByRole('button', { name: `Resume ${tenant}`, exact: true }).waitFor();
  const tenantRow = page.getByRole('row').filter({ has: page.getByRole('rowheader').filter({ hasText: tenant }) });
  check((await tenantRow.innerText()).includes('Suspended'), `the tenants table does not say ${tenant} is suspended`);
  // Usage against quotas (issue 29, "Operator view"): each usage column
  // says "used / quota".
  const usage = await page.evaluate((name) => {
    const table = [...document.querySelectorAll('main table')].find((t) =>
      [...t.querySelectorAll('tbody th')].some((th) => th.innerText.trim().split('\n')[0] === name),
    );
    if (!table) return null;
    const heads = [...table.querySelectorAll('thead th')].map((th) => th.innerText.trim());
    const row = [...table.querySelectorAll('tbody tr')].find((tr) => tr.cells[0].innerText.trim().split('\n')[0] === name);
    return Object.fromEntries(heads.map((head, i) => [head, row.cells[i]?.innerText.trim() ?? '']));
  }, tenant);
  check(usage, `no row for ${tenant} in the tenants table`);
  for (const [column, text] of Object.entries(usage)) {
    if (/^(actions|storage|running now)$/i.test(column)) {
      expect(/\d.*\/\s*\d/.test(text), `the tenants table's ${column} column shows ${JSON.stringify(text)}, not usage against the quota`);
    }
  }

  for (const [name, url, title] of [
    ['operator-tenants', operatorUrl('tenants'), 'Tenants'],
    ['operator-server', operatorUrl('server'), 'Server'],
  ]) {
    begin(`the ${name} page`);
    await open(page, url, title);
    await capture(page, name);
  }

  begin("the suspended tenant's open Try it is refused");
  current = second.page;
  await second.page.getByRole('button', { name: 'Run', exact: true }).click();
  const refusal = second.page.getByRole('alert').filter({ hasText: 'this tenant is suspended' });
  await refusal.waitFor().catch(async () => {
    throw new Error(`Try it shows no refusal: ${await second.page.getByRole('main').innerText()}`);
  });
  check(
    !(await region(second.page, 'What Workfront would get').count()),
    'the suspended tenant got an answer from Try it',
  );
  await screenshot(second.page, 'try-suspended-desktop.png');

  begin('a sign-in as the suspended tenant is refused');
  const third = await newContext({ bypassCSP: true });
  current = third.page;
  await signIn(third.page, tenant, config.adminToken);
  await third.page.getByRole('alert').filter({ hasText: 'this tenant is suspended' }).waitFor();
  check(
    (await third.page.getByRole('heading', { level: 1 }).innerText()) === 'Sign in',
    'the suspended tenant got past sign-in',
  );
  await screenshot(third.page, 'signin-suspended-desktop.png');
  await third.context.close();

  begin('resume the tenant, confirmed');
  current = page;
  await open(page, operatorUrl('tenants'), 'Tenants');
  await page.getByRole('button', { name: `Resume ${tenant}`, exact: true }).click();
  await page.getByRole('button', { name: 'Yes, resume', exact: true }).click();
  await page.getByRole('button', { name: `Suspend ${tenant}`, exact: true }).waitFor();

  begin("the resumed tenant's Try it works again");
  current = second.page;
  await tryIt(second.page, config.message1, 1);
  await second.context.close();

  // ------------------------------------- the Content-Security-Policy enforced
  begin('the pages with the Content-Security-Policy enforced');
  const strict = await newContext();
  current = strict.page;
  const blocked = [];
  strict.page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) blocked.push(message.text());
  });
  const answer = await strict.page.goto(consoleUrl);
  const csp = answer.headers()['content-security-policy'] ?? '';
  check(/script-src 'self'/.test(csp) && /default-src 'self'/.test(csp), `/console's Content-Security-Policy is ${JSON.stringify(csp)}`);
  await signIn(strict.page, tenant, config.adminToken);
  await heading(strict.page, 'Set up Workfront');
  for (const [name, url, title] of [
    ['runs', tenantUrl('runs'), 'Run logs'],
    ['action-detail', tenantUrl('actions', action), `Action ${action}`],
    ['deploy', tenantUrl('deploy'), 'Deploy'],
  ]) {
    await open(strict.page, url, title);
    await settled(strict.page, name);
  }
  // The stylesheet applied: visually hidden captions are out of the flow.
  const hidden = await strict.page.evaluate(() => {
    const el = document.querySelector('.sr-only');
    return el ? getComputedStyle(el).position : 'no .sr-only element';
  });
  check(hidden === 'absolute', `the stylesheet did not apply with the policy enforced (.sr-only is ${hidden})`);
  check(blocked.length === 0, `the Content-Security-Policy blocked: ${blocked.join('; ')}`);
  await strict.page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await heading(strict.page, 'Sign in');
  await strict.context.close();

  begin('done');
  check(gaps.length === 0, `the console lacks what issue 29 asks for: ${gaps.join('; ')}`);
  clearTimeout(deadline);
  await report({ ok: true, screenshots, violations, requestIds, createdKey: { hint, apiKey } }, 0);
}

main().catch((error) => fail(error?.stack ?? String(error)));
