// Browser-test helpers: Debian's Chromium driven by playwright-core, the peers
// a scenario needs (localstripe, payforms serve), and localstripe's mock card
// element. See README.md next to this file.
import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
// Without the networking flags Chromium floods the closed network with
// refused connections (TESTING.md). playwright adds --headless and a fresh
// --user-data-dir per launch.
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
export const SECRET_KEY = 'sk_test_123';
export const PUBLISHABLE_KEY = 'pk_test_123';

// localstripe's test cards (TESTING.md, re-checked on localstripe 1.15.10).
export const CARDS = {
  visa: '4242424242424242',
  declined: '4000000000000341',          // declined when charged: "Your card was declined."
  declinedOnAttach: '4000000000000002',  // declined only when attached to a customer
  threeDS: '4000002500003155',           // requires_action; the modal then decides
  threeDSDeclined: '4000008260003178',   // requires_action; declined after authentication
};

// The mock card element (localstripe-v3.js) mounts plain <input type=text>
// named only by placeholder, in this order, after a <span>localstripe: </span>.
export const CARD_INPUTS = {
  number: 'input[placeholder="number"]',
  expMonth: 'input[placeholder="exp_month"]',
  expYear: 'input[placeholder="exp_year"]', // 2 digits: the mock prefixes "20"
  cvc: 'input[placeholder="cvc"]',
  postalCode: 'input[placeholder="postal_code"]',
};
// confirmCardPayment / confirmCardSetup open a <div> on <body> with two
// unlabelled <button>s; match them by their text.
export const THREE_DS_COMPLETE = 'Complete authentication';
export const THREE_DS_FAIL = 'Fail authentication';

// Pages opened through newPage(), so the runner can save them on failure.
export const openPages = new Set();

export async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} missing: run scripts/test (apt-get install chromium)`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

// A page in its own context (own cookies). Console errors and page errors are
// collected on page.payformsLog for failure reports.
export async function newPage(browser) {
  const context = await browser.newContext();
  context.setDefaultTimeout(15000);
  const page = await context.newPage();
  page.payformsLog = [];
  page.on('console', (m) => page.payformsLog.push(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => page.payformsLog.push(`pageerror: ${e.message}`));
  page.on('close', () => openPages.delete(page));
  openPages.add(page);
  return page;
}

// Fills the mock card element inside `container` and, unless submit is
// false, clicks the form's submit button. threeDS: 'complete' | 'fail' clicks
// the matching button of the mock's authentication modal when it opens.
export async function payWithCard(page, cardNumber, {
  container = '#card-element', submit = 'form#checkout-form button[type=submit]',
  expMonth = '12', expYear = '34', cvc = '123', postalCode = '42424', threeDS = null,
} = {}) {
  const root = page.locator(container);
  await root.locator(CARD_INPUTS.number).waitFor();
  // fill() fires `input`, which is what the mock listens to (it keeps no value
  // until something was typed, and createToken throws on an untouched element).
  await root.locator(CARD_INPUTS.number).fill(cardNumber);
  await root.locator(CARD_INPUTS.expMonth).fill(expMonth);
  await root.locator(CARD_INPUTS.expYear).fill(expYear);
  await root.locator(CARD_INPUTS.cvc).fill(cvc);
  // localstripe's mock always shows the postal code; the sandbox's only on request.
  if (await root.locator(CARD_INPUTS.postalCode).count()) await root.locator(CARD_INPUTS.postalCode).fill(postalCode);
  if (!submit) return;
  await page.locator(submit).click();
  if (threeDS) await answer3DS(page, threeDS === 'complete');
}

// Clicks "Complete authentication" (complete=true) or "Fail authentication".
export async function answer3DS(page, complete = true, timeout = 15000) {
  const button = page.getByRole('button', { name: complete ? THREE_DS_COMPLETE : THREE_DS_FAIL, exact: true });
  await button.waitFor({ timeout });
  await button.click();
}

// name -> value of the inputs of `formSelector` (hidden signed fields,
// CSRF token, idempotency key): to tell a restored page from a re-rendered one.
export async function formValues(page, formSelector = 'form#checkout-form') {
  return page.locator(`${formSelector} input[name]`).evaluateAll((inputs) =>
    Object.fromEntries(inputs.map((i) => [i.name, i.value])));
}

export function assert(condition, message) {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}

export async function waitFor(what, fn, { timeout = 15000, interval = 100 } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// A child process whose output goes to `logPath`; stop() kills it (SIGKILL).
function spawnLogged(command, args, { env, cwd, logPath }) {
  const log = fs.openSync(logPath, 'a');
  fs.writeSync(log, `=== starting ${command} ${args.join(' ')}\n`);
  const child = spawn(command, args, { env, cwd, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  child.exitedWith = null;
  child.on('exit', (code, signal) => { child.exitedWith = signal || code; });
  return child;
}

function stopChild(child) {
  if (child && child.exitedWith === null) child.kill('SIGKILL');
}

export function logTail(logPath, lines = 40) {
  try {
    return fs.readFileSync(logPath, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

async function waitHttp(what, child, logPath, url, init, timeout = 30000) {
  await waitFor(what, async () => {
    if (child.exitedWith !== null) {
      throw new Error(`${what} exited (${child.exitedWith}) during start-up`);
    }
    try {
      const response = await fetch(url, { ...init, signal: AbortSignal.timeout(2000) });
      return response.status === 200;
    } catch {
      return false;
    }
  }, { timeout, interval: 100 }).catch((e) => {
    stopChild(child);
    throw new Error(`${e.message}\n${logTail(logPath)}`);
  });
}

// localstripe --from-scratch on a free port, running in `dir`.
export async function startLocalstripe(dir) {
  const port = await freePort();
  const logPath = path.join(dir, 'localstripe.log');
  const python = process.env.LOCALSTRIPE_PYTHON || 'python3';
  const child = spawnLogged(python, ['-m', 'localstripe', '--from-scratch', '--port', String(port)], {
    env: { ...process.env, PYTHONUNBUFFERED: '1' }, cwd: dir, logPath,
  });
  const url = `http://127.0.0.1:${port}`;
  await waitHttp('localstripe', child, logPath, `${url}/v1/customers`,
    { headers: { Authorization: `Bearer ${SECRET_KEY}` } });
  return { url, logPath, stop: () => stopChild(child), api: localstripeApi(url) };
}

// A tiny client for asserting on localstripe's state from a scenario.
export function localstripeApi(url) {
  const headers = { Authorization: `Bearer ${SECRET_KEY}` };
  return {
    async get(p) {
      const response = await fetch(`${url}${p}`, { headers });
      return { status: response.status, body: await response.json().catch(() => null) };
    },
    async post(p, form) {
      const response = await fetch(`${url}${p}`, {
        method: 'POST', headers: { ...headers, 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form).toString(),
      });
      return { status: response.status, body: await response.json().catch(() => null) };
    },
    // Every object of a list endpoint, following has_more/starting_after.
    async listAll(p) {
      const all = [];
      let after = null;
      for (;;) {
        const sep = p.includes('?') ? '&' : '?';
        const { status, body } = await this.get(`${p}${sep}limit=100${after ? `&starting_after=${after}` : ''}`);
        if (status !== 200) throw new Error(`GET ${p} on localstripe answered ${status}`);
        all.push(...body.data);
        if (!body.has_more || body.data.length === 0) return all;
        after = body.data[body.data.length - 1].id;
      }
    },
    async registerWebhook(id, hookUrl, secret, events = []) {
      const form = new URLSearchParams({ url: hookUrl, secret });
      for (const e of events) form.append('events[]', e);
      const response = await fetch(`${url}/_config/webhooks/${id}`, { method: 'POST', body: form });
      if (response.status !== 200) throw new Error(`localstripe refused webhook ${id}: ${response.status}`);
    },
  };
}

// What makes an app folder (DESIGN.md); target/, .git/, data/ stay behind.
export const APP_ENTRIES = ['payforms.toml', 'form_configurations', 'notifications', 'templates', 'modules',
  'schema', 'graph_queries', 'assets', 'authorization_policies'];

export function copyApp(srcDir, destDir) {
  fs.mkdirSync(destDir, { recursive: true });
  for (const entry of APP_ENTRIES) {
    const from = path.join(srcDir, entry);
    if (fs.existsSync(from)) fs.cpSync(from, path.join(destDir, entry), { recursive: true, dereference: true });
  }
  return destDir;
}

export function payformsBin() {
  if (process.env.PAYFORMS_BIN) return process.env.PAYFORMS_BIN;
  const targetDir = process.env.CARGO_TARGET_DIR || path.join(REPO_ROOT, 'target');
  return path.join(targetDir, 'debug', 'payforms');
}

// A fresh PostgreSQL database (psql), for PAYFORMS_BROWSER_DATABASE=pg.
function freshPgDatabase() {
  const admin = process.env.PAYFORMS_TEST_PG || 'postgres://postgres@127.0.0.1:5432/test';
  const name = `payforms_b_${crypto.randomBytes(6).toString('hex')}`;
  execFileSync('psql', [admin, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', `CREATE DATABASE ${name}`]);
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => {
      try {
        execFileSync('psql', [admin, '-X', '-q', '-c', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`], { stdio: 'ignore' });
      } catch { /* best effort */ }
    },
  };
}

// `payforms serve` on a copy of the repository app, wired to `localstripe`
// (API base, Stripe.js mock, keys, a webhook registered at localstripe).
export async function startPayforms(dir, localstripe) {
  const bin = payformsBin();
  if (!fs.existsSync(bin)) throw new Error(`${bin} missing: build it first (cargo build)`);
  const app = copyApp(REPO_ROOT, path.join(dir, 'app'));
  fs.writeFileSync(path.join(app, 'templates', 'pages', 'card_checkout.liquid'), CARD_CHECKOUT_PAGE);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logPath = path.join(dir, 'payforms.log');
  const pg = process.env.PAYFORMS_BROWSER_DATABASE === 'pg' ? freshPgDatabase() : null;
  const database = pg ? pg.url : path.join(dir, 'payforms.sqlite3');
  const webhookSecret = `whsec_browser_${crypto.randomBytes(8).toString('hex')}`;
  const env = Object.fromEntries(Object.entries(process.env)
    .filter(([k]) => !k.startsWith('PAYFORMS_') && !k.startsWith('STRIPE_') && k !== 'DATABASE_URL'));
  Object.assign(env, {
    PAYFORMS_SECRET: `browser-${crypto.randomBytes(16).toString('hex')}`,
    PAYFORMS_PUBLIC_URL: url,
    STRIPE_API_BASE: localstripe.url,
    STRIPE_JS_URL: `${localstripe.url}/js.stripe.com/v3/`,
    STRIPE_SECRET_KEY: SECRET_KEY,
    STRIPE_PUBLISHABLE_KEY: PUBLISHABLE_KEY,
    STRIPE_WEBHOOK_SECRET: webhookSecret,
    PAYFORMS_API_KEYS: API_KEY,
  });
  const child = spawnLogged(bin, ['serve', '--app', app, '--bind', `127.0.0.1:${port}`, '--database', database, '--no-watch'],
    { env, cwd: dir, logPath });
  try {
    await waitHttp('payforms serve', child, logPath, `${url}/healthz`, {});
  } catch (e) {
    pg?.drop();
    throw e;
  }
  await localstripe.api.registerWebhook('payforms', `${url}/webhooks/stripe`, webhookSecret);
  return {
    url, logPath, app,
    stop: () => { stopChild(child); pg?.drop(); },
  };
}

// The legacy Card Element checkout (modules/stripe/create_payment_card_form)
// on /card-checkout: localstripe's Stripe.js mock has no Payment Element, so
// localstripe scenarios pay through the compatibility form.
export const CARD_CHECKOUT_PAGE = `---
slug: card-checkout
metadata:
  title: Checkout (Card Element)
---
<h1>Checkout</h1>
<p>Sticker pack — {{ 599 | pricify_cents: 'USD' }}</p>
{% parse_json payment_data %}{ "amount": 599, "currency": "usd" }{% endparse_json %}
{% comment %}localstripe 1.15 cannot pay with a token as payment_method_data, so this
test page asks the form to post the token's card id (token_source: card).{% endcomment %}
{% parse_json payment_config %}{ "button": "Pay $5.99", "redirect_to": "/payments", "form_id": "checkout-form", "token_source": "card" }{% endparse_json %}
{% include_form 'modules/stripe/create_payment_card_form', data: payment_data, config: payment_config %}
`;

// The same legacy form as the shipped template posts it (the token), for
// the sandbox: the README's command must take the Card Element too.
export const SANDBOX_CARD_CHECKOUT_PAGE = CARD_CHECKOUT_PAGE
  .replace(', "token_source": "card"', '')
  .replace(/\{% comment %\}[\s\S]*?\{% endcomment %\}\n/, '');

export const OPERATOR_PASSWORD = 'browser-operator-password';
export const BROWSER_WEBHOOK_SECRET = 'whsec_browser_scenarios_0123456789';

// POST a Stripe event to /webhooks/stripe signed with BROWSER_WEBHOOK_SECRET,
// as Stripe signs (t=…,v1=HMAC-SHA256 of "t.body"); the HTTP status.
export async function deliverSignedEvent(baseUrl, event) {
  const { createHmac } = await import('node:crypto');
  const body = JSON.stringify(event);
  const t = Math.floor(Date.now() / 1000);
  const v1 = createHmac('sha256', BROWSER_WEBHOOK_SECRET).update(`${t}.${body}`).digest('hex');
  const response = await fetch(`${baseUrl}/webhooks/stripe`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Stripe-Signature': `t=${t},v1=${v1}` },
    body,
  });
  return response.status;
}
export const API_KEY = 'browser-api-key-0123456789';

// `payforms serve --sandbox` (the README's first command) on a copy of the
// repository app: no localstripe, the sandbox plays Stripe. An API key (for
// assertions through GraphQL) and an operator password are the only extras.
// `appSource` (relative to the repository): serve that app instead, a copy
// with the repository's modules/payments and modules/stripe beside its own.
export async function startSandboxServe(dir, appSource = null) {
  const bin = payformsBin();
  if (!fs.existsSync(bin)) throw new Error(`${bin} missing: build it first (cargo build)`);
  let app;
  if (appSource) {
    app = path.join(dir, 'app');
    fs.cpSync(path.join(REPO_ROOT, appSource), app, { recursive: true, dereference: true });
    for (const module of ['payments', 'stripe']) {
      fs.cpSync(path.join(REPO_ROOT, 'modules', module), path.join(app, 'modules', module),
        { recursive: true, dereference: true });
    }
  } else {
    app = copyApp(REPO_ROOT, path.join(dir, 'app'));
    fs.writeFileSync(path.join(app, 'templates', 'pages', 'card_checkout.liquid'), SANDBOX_CARD_CHECKOUT_PAGE);
  }
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logPath = path.join(dir, 'payforms.log');
  const env = Object.fromEntries(Object.entries(process.env)
    .filter(([k]) => !k.startsWith('PAYFORMS_') && !k.startsWith('STRIPE_') && k !== 'DATABASE_URL'));
  // A signing secret of the test's own, beside the sandbox's: scenarios may
  // deliver events Stripe would never send (one whose processing fails).
  Object.assign(env, {
    PAYFORMS_API_KEYS: API_KEY,
    PAYFORMS_OPERATOR_PASSWORD: OPERATOR_PASSWORD,
    STRIPE_WEBHOOK_SECRET: BROWSER_WEBHOOK_SECRET,
  });
  const child = spawnLogged(bin, ['serve', '--sandbox', '--app', app, '--bind', `127.0.0.1:${port}`, '--no-watch'],
    { env, cwd: dir, logPath });
  await waitHttp('payforms serve --sandbox', child, logPath, `${url}/healthz`, {});
  // Where the sandbox (Stripe, for the browser) listens, as serve logs it.
  const started = fs.readFileSync(logPath, 'utf8').match(/built-in Stripe sandbox at (http:\/\/[0-9.:]+)/);
  return { url, logPath, app, sandboxUrl: started ? started[1] : null, stop: () => stopChild(child) };
}

// POST /api/graphql with the test API key; the `data`, or throws the errors.
export async function graphql(baseUrl, query, variables = {}) {
  const response = await fetch(`${baseUrl}/api/graphql`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(`GraphQL: ${JSON.stringify(body.errors)}`);
  return body.data;
}

// Stripe's test cards, as the sandbox (and Stripe) treat them.
export const TEST_CARDS = {
  visa: '4242 4242 4242 4242',
  genericDecline: '4000 0000 0000 0002',
  insufficientFunds: '4000 0000 0000 9995',
  expired: '4000 0000 0000 0069',
  incorrectCvc: '4000 0000 0000 0127',
  threeDS: '4000 0025 0000 3155',
  threeDS2: '4000 0000 0000 3220',
  declinedAfterAttach: '4000 0000 0000 0341',
};

// Fills the sandbox's Payment Element (inputs with data-field number, expiry,
// cvc, postal_code inside [data-payforms-sandbox=payment-element]) and, unless
// submit is false, clicks the form's submit button.
export async function payWithPaymentElement(page, cardNumber, {
  form = 'form#checkout-form', expiry = '12 / 34', cvc = '123', postalCode = '10115', submit = true, threeDS = null,
} = {}) {
  const element = page.locator(`${form} [data-payforms-sandbox="payment-element"]`);
  await element.locator('input[data-field="number"]').waitFor();
  await element.locator('input[data-field="number"]').fill(cardNumber);
  await element.locator('input[data-field="expiry"]').fill(expiry);
  await element.locator('input[data-field="cvc"]').fill(cvc);
  const postal = element.locator('input[data-field="postal_code"]');
  if (await postal.count()) await postal.fill(postalCode);
  if (!submit) return;
  await page.locator(`${form} button[type=submit]`).click();
  if (threeDS) await answer3DS(page, threeDS === 'complete');
}

export function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
