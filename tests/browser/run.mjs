#!/usr/bin/env node
// Runs the browser scenarios: every tests/browser/*.test.mjs exports either
//   export async function run({ baseUrl, localstripeUrl, browser, ... })
// (one scenario named after the file) or
//   export const scenarios = { 'name': async (ctx) => { ... }, ... }.
// Each scenario gets its own localstripe and `payforms serve` (a copy of the
// repository app, SQLite in a temp dir, or a fresh PostgreSQL database with
// PAYFORMS_BROWSER_DATABASE=pg) unless PAYFORMS_URL and LOCALSTRIPE_URL point
// at running ones. One Chromium serves all scenarios; each page gets its own
// context.
//
//   node tests/browser/run.mjs [substring ...]   run the scenarios whose "file: name" matches
// Env: PAYFORMS_BIN (default target/debug/payforms), CHROMIUM_PATH,
//      PAYFORMS_BROWSER_TIMEOUT (ms per scenario, default 90000),
//      PAYFORMS_BROWSER_KEEP=1 (keep temp dirs of passing scenarios too).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  launchBrowser, newPage, openPages, startLocalstripe, startPayforms, startSandboxServe, localstripeApi, tempDir,
  logTail, graphql,
} from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const timeoutMs = Number(process.env.PAYFORMS_BROWSER_TIMEOUT || 90000);
const external = process.env.PAYFORMS_URL && process.env.LOCALSTRIPE_URL;
const running = new Set(); // stop() functions of live peers, for Ctrl-C

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const stop of running) stop();
    process.exit(130);
  });
}

async function loadScenarios() {
  const files = fs.readdirSync(here).filter((f) => f.endsWith('.test.mjs')).sort();
  const all = [];
  for (const file of files) {
    const mod = await import(pathToFileURL(path.join(here, file)).href);
    const named = mod.scenarios ?? (mod.run ? { [file.replace(/\.test\.mjs$/, '')]: mod.run } : {});
    if (Object.keys(named).length === 0) throw new Error(`${file} exports neither run nor scenarios`);
    // `export const peer = 'sandbox'`: the scenarios run on `payforms serve
    // --sandbox`; otherwise on localstripe.
    const peer = mod.peer === 'sandbox' ? 'sandbox' : 'localstripe';
    // `export const app = 'tests/fixtures/…'`: served instead of the repository app.
    for (const [name, fn] of Object.entries(named)) all.push({ id: `${file}: ${name}`, fn, peer, app: mod.app });
  }
  return all.filter((s) => filters.length === 0 || filters.some((f) => s.id.includes(f)));
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function saveArtifacts(dir) {
  fs.mkdirSync(dir, { recursive: true });
  let i = 0;
  for (const page of openPages) {
    i += 1;
    try {
      await page.screenshot({ path: path.join(dir, `page${i}.png`), fullPage: true, timeout: 5000 });
      fs.writeFileSync(path.join(dir, `page${i}.html`), `<!-- ${page.url()} -->\n${await page.content()}`);
    } catch { /* the page may be gone */ }
    fs.writeFileSync(path.join(dir, `page${i}.console.txt`), (page.payformsLog || []).join('\n'));
  }
}

async function runScenario(browser, scenario) {
  const dir = tempDir('payforms-browser-');
  let localstripe = null;
  let payforms = null;
  const started = Date.now();
  try {
    if (scenario.peer === 'sandbox') {
      payforms = await startSandboxServe(dir, scenario.app);
      running.add(payforms.stop);
    } else if (external) {
      localstripe = { url: process.env.LOCALSTRIPE_URL, api: localstripeApi(process.env.LOCALSTRIPE_URL) };
      payforms = { url: process.env.PAYFORMS_URL };
    } else {
      localstripe = await startLocalstripe(dir);
      running.add(localstripe.stop);
      payforms = await startPayforms(dir, localstripe);
      running.add(payforms.stop);
    }
    await withTimeout(scenario.fn({
      baseUrl: payforms.url,
      sandboxUrl: payforms.sandboxUrl,
      localstripeUrl: localstripe?.url,
      localstripe: localstripe?.api,
      graphql: (query, variables) => graphql(payforms.url, query, variables),
      browser,
      newPage: () => newPage(browser),
    }), timeoutMs, scenario.id);
    console.log(`ok      ${scenario.id} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    return true;
  } catch (error) {
    const artifacts = path.join(dir, 'artifacts');
    await saveArtifacts(artifacts);
    console.log(`FAILED  ${scenario.id} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    console.log(String(error?.stack || error).split('\n').map((l) => `    ${l}`).join('\n'));
    for (const page of openPages) {
      if (page.payformsLog?.length) console.log(`    --- browser console (${page.url()}):\n    ${page.payformsLog.slice(-15).join('\n    ')}`);
    }
    if (payforms?.logPath) console.log(`    --- payforms log tail:\n${logTail(payforms.logPath, 30)}`);
    if (localstripe?.logPath) console.log(`    --- localstripe log tail:\n${logTail(localstripe.logPath, 15)}`);
    console.log(`    artifacts (screenshots, HTML, logs): ${dir}`);
    return false;
  } finally {
    for (const page of [...openPages]) await page.context().close().catch(() => {});
    openPages.clear();
    if (payforms?.stop) { payforms.stop(); running.delete(payforms.stop); }
    if (localstripe?.stop) { localstripe.stop(); running.delete(localstripe.stop); }
    if (!process.env.PAYFORMS_BROWSER_KEEP && fs.existsSync(path.join(dir, 'artifacts')) === false) {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

const scenarios = await loadScenarios();
if (scenarios.length === 0) {
  console.log(`no browser scenario matches ${JSON.stringify(filters)}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const browser = await launchBrowser();
let passed = 0;
let failed = 0;
try {
  for (const scenario of scenarios) {
    if (await runScenario(browser, scenario)) passed += 1; else failed += 1;
  }
} finally {
  await browser.close();
}
console.log(`browser scenarios: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
