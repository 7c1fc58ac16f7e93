// The operator console (modules/admin) on `payforms serve --sandbox`: sign
// in; the payment made on /checkout is in the list and the chart; its page
// shows its gateway requests and webhook events; a partial refund (after a
// confirmation step) grows the timeline; a failed webhook event is replayed;
// every page is photographed (kept as artifacts); signed out, the console
// is closed again.
import fs from 'node:fs';
import path from 'node:path';
import {
  REPO_ROOT, assert, deliverSignedEvent, OPERATOR_PASSWORD, TEST_CARDS, payWithPaymentElement, waitFor,
} from './lib.mjs';

export const peer = 'sandbox';

// Screenshots of every console page, kept after the run (README uses one).
const SHOTS = process.env.PAYFORMS_BROWSER_SHOTS || path.join(REPO_ROOT, 'target', 'console-screenshots');

async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `console-${name}.png`), fullPage: true });
}

async function reloadUntil(page, what, check, { timeout = 20000 } = {}) {
  return waitFor(what, async () => {
    await page.reload();
    return (await check()) || null;
  }, { timeout, interval: 500 });
}

export const scenarios = {
  async 'operate the console: pay, look, refund, replay, sign out'({ baseUrl, graphql, newPage }) {
    const page = await newPage();
    // A customer buys the poster.
    await page.goto(`${baseUrl}/checkout`);
    await page.locator('form#buy-form button[type=submit]').click();
    await page.waitForURL((url) => url.pathname === '/pay');
    await payWithPaymentElement(page, TEST_CARDS.visa);
    await page.waitForURL((url) => url.pathname === '/payments');
    const paid = (await graphql('{ payments(first: 1) { nodes { id gatewayId state amount } } }')).payments.nodes[0];
    assert(paid.state === 'succeeded', `paid (${paid.state})`);

    // The operator signs in and lands on the overview: today's payment, in the chart.
    await page.goto(`${baseUrl}/admin`);
    await page.waitForURL((url) => url.pathname === '/sign_in');
    await page.locator('form#sign-in input[name="password"]').fill(OPERATOR_PASSWORD);
    await page.locator('form#sign-in button[type=submit]').click();
    await page.waitForURL((url) => url.pathname === '/admin');
    assert(await page.getByText('TEST MODE').count() === 1, 'the environment is shown');
    const chart = page.locator('section.chart svg[role="img"]').first();
    await chart.waitFor();
    const bars = await chart.locator('rect title').allTextContents();
    assert(bars.some((t) => t.includes('5.99')), `today's bar holds the payment: ${bars.filter((t) => !/ 0(\.00)? /.test(t)).join(' | ')}`);
    await shot(page, 'overview');

    // The payments list, then the payment's page with its history.
    await page.getByRole('link', { name: 'Payments', exact: true }).click();
    const row = page.locator('table#payments tr', { hasText: paid.gatewayId });
    await row.waitFor();
    assert((await row.textContent()).includes('$5.99'), 'the list shows the amount');
    await shot(page, 'payments');
    await row.getByRole('link').click();
    await page.waitForURL((url) => url.pathname === `/admin/payments/${paid.id}`);
    const timeline = page.locator('ol#timeline');
    await timeline.getByText('Gateway request create_payment').first().waitFor();
    await reloadUntil(page, 'the payment_intent.succeeded event on the timeline',
      async () => (await timeline.getByText('Webhook payment_intent.succeeded').count()) > 0);
    const before = await timeline.locator('li').count();
    await shot(page, 'payment');

    // A partial refund, confirmed first.
    await page.getByRole('link', { name: 'Refund…' }).click();
    await page.waitForURL((url) => url.pathname.endsWith('/refund'));
    await shot(page, 'refund-confirm');
    await page.locator('form#confirm-refund input[name="form[amount]"]').fill('200');
    await page.locator('form#confirm-refund button[type=submit]').click();
    await page.waitForURL((url) => url.pathname === `/admin/payments/${paid.id}`);
    await page.getByText('Refund sent').waitFor();
    await reloadUntil(page, 'the refund and its events on the timeline', async () => {
      const text = await timeline.textContent();
      return text.includes('Refund re_') && text.includes('Gateway request create_refund')
        && (await page.locator('#payment-refunded').textContent()).includes('$2.00');
    });
    const after = await timeline.locator('li').count();
    assert(after > before, `the timeline grew (${before} → ${after})`);
    await shot(page, 'payment-refunded');

    // A webhook event that fails (a PaymentIntent whose amount is not a
    // number), replayed from the console.
    const eventId = `evt_console_${Date.now()}`;
    const status = await deliverSignedEvent(baseUrl, {
      id: eventId, object: 'event', type: 'payment_intent.succeeded', created: Math.floor(Date.now() / 1000),
      livemode: false,
      data: { object: { id: 'pi_console_broken', object: 'payment_intent', amount: 'not-a-number', currency: 'usd', status: 'succeeded', metadata: {} } },
    });
    assert(status === 200, `the event is accepted (${status})`);
    await page.goto(`${baseUrl}/admin/webhook_events?status=failed`);
    const failedRow = page.locator('table#webhook-events tr.event', { hasText: eventId });
    await reloadUntil(page, 'the failed event', async () => (await failedRow.count()) > 0);
    await shot(page, 'webhook-events-failed');
    const attemptsBefore = Number(await failedRow.locator('td').nth(2).textContent());
    await failedRow.getByRole('button', { name: `Replay ${eventId}` }).click();
    await page.waitForURL((url) => url.pathname === '/admin/webhook_events');
    await page.getByText('Event queued again').waitFor();
    const replayed = await graphql('query($s: String) { stripe_webhookEvents(first: 50, status: $s) { nodes { eventId attempts status } } }', { s: null });
    const event = replayed.stripe_webhookEvents.nodes.find((e) => e.eventId === eventId);
    assert(event && event.attempts <= attemptsBefore, `replayed: attempts start over (${JSON.stringify(event)}, before ${attemptsBefore})`);
    await waitFor('the replayed event to be processed again', async () => {
      const data = await graphql('{ stripe_webhookEvents(first: 50) { nodes { eventId attempts status } } }');
      const e = data.stripe_webhookEvents.nodes.find((n) => n.eventId === eventId);
      return e && e.attempts >= 1 && e.status === 'failed' ? e : null;
    }, { timeout: 20000, interval: 500 });
    await shot(page, 'webhook-events');

    // Every other page, photographed.
    for (const [name, pathname] of [
      ['customers', '/admin/customers'], ['subscriptions', '/admin/subscriptions'],
      ['deliveries', '/admin/deliveries'], ['requests', '/admin/requests'], ['settings', '/admin/settings'],
    ]) {
      await page.goto(`${baseUrl}${pathname}`);
      assert(await page.locator('h1').count() === 1, `${pathname} renders`);
      await shot(page, name);
    }
    // Keyboard: the skip link is the first stop.
    await page.keyboard.press('Tab');
    assert(await page.evaluate(() => document.activeElement?.textContent) === 'Skip to content', 'the skip link comes first');

    // Sign out: the console is closed, its forms refused.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.goto(`${baseUrl}/admin/payments`);
    await page.waitForURL((url) => url.pathname === '/sign_in');
    const refused = await page.evaluate(async (url) => {
      const token = document.querySelector('input[name="authenticity_token"]').value;
      const response = await fetch(url, {
        method: 'POST', redirect: 'manual',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: `authenticity_token=${encodeURIComponent(token)}&all_failed=1`,
      });
      return response.type === 'opaqueredirect' || response.status >= 300;
    }, `${baseUrl}/admin/webhook_events/replay`);
    assert(refused, 'a console form posted after sign-out is refused');
    await shot(page, 'signed-out');
  },
};
