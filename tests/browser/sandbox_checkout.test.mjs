// The demo shop on `payforms serve --sandbox` (the README's first command):
// /checkout's Buy button creates an order, /pay?order=N pays it through the
// Payment Element: Stripe.js (the sandbox's) makes a ConfirmationToken,
// payforms creates and confirms the PaymentIntent with it, 3-D Secure is
// finished with handleNextAction. Screenshots of the end states go to
// $PAYFORMS_BROWSER_SHOTS (default: the system temp dir).
import { assert, TEST_CARDS, formValues, payWithCard, payWithPaymentElement, waitFor } from './lib.mjs';

export const peer = 'sandbox';

const SHOTS = process.env.PAYFORMS_BROWSER_SHOTS || (await import('node:os')).tmpdir();

async function shot(page, name) {
  await page.screenshot({ path: `${SHOTS}/payforms-${name}.png`, fullPage: true });
}

// /checkout, Buy: a new order, and its /pay page.
async function openCheckout(newPage, baseUrl, page = null) {
  page = page || await newPage();
  const response = await page.goto(`${baseUrl}/checkout`);
  assert(response.status() === 200, `GET /checkout answered ${response.status()}`);
  await page.locator('form#buy-form button[type=submit]').click();
  await page.waitForURL((url) => url.pathname === '/pay' && url.searchParams.get('order'), { timeout: 15000 });
  return page;
}

async function payments(graphql) {
  const data = await graphql('{ payments(first: 50) { nodes { gatewayId state amount currency } } }');
  return data.payments.nodes;
}

async function succeeded(graphql) {
  return (await payments(graphql)).filter((p) => p.state === 'succeeded');
}

async function expectPaymentsPage(page) {
  await page.waitForURL((url) => url.pathname === '/payments', { timeout: 20000 });
  const html = await page.content();
  assert(html.includes('$5.99'), '/payments shows $5.99');
}

export const scenarios = {
  async 'pays $5.99 with 4242 through the Payment Element'({ baseUrl, graphql, newPage }) {
    const page = await openCheckout(newPage, baseUrl);
    await payWithPaymentElement(page, TEST_CARDS.visa);
    await expectPaymentsPage(page);
    const paid = await waitFor('the payment to be stored as succeeded', async () => {
      const list = await succeeded(graphql);
      return list.length ? list : null;
    });
    assert(paid.length === 1, `one succeeded payment (found ${paid.length})`);
    assert(paid[0].amount === 599 && paid[0].currency === 'usd', `599 usd (got ${JSON.stringify(paid[0])})`);
    assert(paid[0].gatewayId.startsWith('pi_'), `a PaymentIntent (got ${paid[0].gatewayId})`);
    // The receipt is the visitor's own: shown to them, not to anyone else.
    await page.goto(`${baseUrl}/payments`);
    const receipt = await page.locator('table#receipts tr.receipt').first().innerText();
    assert(receipt.includes('Sticker pack') && receipt.includes('$5.99') && receipt.includes('paid'),
      `the receipt says paid: ${receipt}`);
    await shot(page, 'paid');
    const stranger = await newPage();
    await stranger.goto(`${baseUrl}/payments`);
    assert((await stranger.locator('table#receipts tr.receipt').count()) === 0, 'another visitor sees no receipt');
    assert(!(await stranger.content()).includes(paid[0].gatewayId), 'nor the payment');
  },

  async 'each decline card shows its own message and nothing is paid'({ baseUrl, graphql, newPage }) {
    for (const [card, message] of [
      [TEST_CARDS.genericDecline, 'Your card was declined'],
      [TEST_CARDS.insufficientFunds, 'Insufficient funds'],
      [TEST_CARDS.expired, 'Card has expired'],
      [TEST_CARDS.incorrectCvc, 'Incorrect CVC code'],
      // Attaches to a customer, then fails when charged.
      [TEST_CARDS.declinedAfterAttach, 'Your card was declined'],
    ]) {
      const page = await openCheckout(newPage, baseUrl);
      await payWithPaymentElement(page, card);
      const error = page.locator('.form-error', { hasText: message });
      await error.first().waitFor({ timeout: 20000 });
      const text = (await error.first().innerText()).trim();
      assert(text === message, `${card}: the message is exactly "${message}" (got "${text}")`);
      assert(new URL(page.url()).pathname === '/pay', `${card}: the visitor stays on the pay page`);
      await shot(page, `declined-${card.replace(/ /g, '')}`);
      // The same page can try another card at once.
      await payWithPaymentElement(page, TEST_CARDS.visa);
      await expectPaymentsPage(page);
    }
    const paid = await succeeded(graphql);
    assert(paid.length === 5, `only the five retries with 4242 are paid (found ${paid.length})`);
    const failed = (await payments(graphql)).filter((p) => p.state !== 'succeeded');
    assert(failed.every((p) => p.state !== 'succeeded'), 'declined attempts are never stored as paid');
  },

  async 'an incomplete card is refused in the browser before anything is sent'({ baseUrl, graphql, newPage }) {
    const page = await openCheckout(newPage, baseUrl);
    await payWithPaymentElement(page, '4242 4242 4242 4241');
    await page.locator('.form-error', { hasText: 'Your card number is invalid.' }).first().waitFor();
    await payWithPaymentElement(page, TEST_CARDS.visa, { cvc: '' });
    await page.locator('.form-error', { hasText: "Your card's security code is incomplete." }).first().waitFor();
    assert((await payments(graphql)).length === 0, 'nothing reached payforms');
  },

  async '3-D Secure completed pays, failed pays nothing'({ baseUrl, graphql, newPage }) {
    const page = await openCheckout(newPage, baseUrl);
    await payWithPaymentElement(page, TEST_CARDS.threeDS, { threeDS: 'fail' });
    await page.locator('.form-error', { hasText: 'authenticate' }).first().waitFor({ timeout: 20000 });
    assert(new URL(page.url()).pathname === '/pay', 'a failed authentication stays on the pay page');
    await shot(page, '3ds-failed');
    assert((await succeeded(graphql)).length === 0, 'a failed authentication charges nothing');

    await payWithPaymentElement(page, TEST_CARDS.threeDS, { threeDS: 'complete' });
    await expectPaymentsPage(page);
    const paid = await waitFor('the authenticated payment to be succeeded (webhook)', async () => {
      const list = await succeeded(graphql);
      return list.length ? list : null;
    }, { timeout: 20000, interval: 300 });
    assert(paid.length === 1, `one succeeded payment after authentication (found ${paid.length})`);
    await shot(page, '3ds-completed');

    // 3220 (3-D Secure 2) asks too.
    await openCheckout(newPage, baseUrl, page);
    await payWithPaymentElement(page, TEST_CARDS.threeDS2, { threeDS: 'complete' });
    await expectPaymentsPage(page);
    await waitFor('the 3DS2 payment to be succeeded', async () => (await succeeded(graphql)).length === 2,
      { timeout: 20000, interval: 300 });
  },

  async 'a second tab or Back on a paid order charges nothing'({ baseUrl, graphql, newPage }) {
    const page = await openCheckout(newPage, baseUrl);
    const payUrl = page.url();
    // A second tab on the same order, rendered before it is paid.
    const tab = await page.context().newPage();
    await tab.goto(payUrl);
    await payWithPaymentElement(page, TEST_CARDS.visa);
    await expectPaymentsPage(page);
    await payWithPaymentElement(tab, TEST_CARDS.visa);
    await tab.locator('.form-error', { hasText: 'already paid' }).first().waitFor({ timeout: 15000 });
    await shot(tab, 'already-paid');
    // Back (the page is no-store: rendered anew) shows the order as paid.
    await page.goBack();
    if (new URL(page.url()).pathname !== '/pay') await page.goto(payUrl);
    await page.locator('#order-paid').waitFor();
    assert((await page.locator('form#checkout-form').count()) === 0, 'no payment form for a paid order');
    await new Promise((r) => setTimeout(r, 800));
    const paid = await succeeded(graphql);
    assert(paid.length === 1, `the order is paid once (found ${paid.length} succeeded payments)`);
    // Another order is a new payment.
    await openCheckout(newPage, baseUrl, page);
    await payWithPaymentElement(page, TEST_CARDS.visa);
    await expectPaymentsPage(page);
    assert((await succeeded(graphql)).length === 2, 'a second order is paid on its own');
  },

  async 'the same rendered form submitted twice charges once'({ baseUrl, graphql, newPage }) {
    const page = await openCheckout(newPage, baseUrl);
    const rendered = await formValues(page);
    let firstPost = null;
    page.on('request', (request) => {
      if (!firstPost && request.method() === 'POST' && request.url().startsWith(`${baseUrl}/forms/`)) {
        const headers = Object.fromEntries(Object.entries(request.headers())
          .filter(([name]) => !['content-length', 'host', 'cookie'].includes(name.toLowerCase())));
        firstPost = { url: request.url(), headers, body: request.postDataBuffer() };
      }
    });
    await payWithPaymentElement(page, TEST_CARDS.visa);
    await expectPaymentsPage(page);
    assert(firstPost, 'the checkout posted to payforms');
    assert(rendered.idempotency_key, 'the form carries an idempotency key');
    const replay = await page.context().request.fetch(firstPost.url, {
      method: 'POST', headers: firstPost.headers, data: firstPost.body, maxRedirects: 0,
    });
    assert(replay.status() < 500, `the replayed post answered ${replay.status()}`);
    await new Promise((r) => setTimeout(r, 1000));
    const paid = await succeeded(graphql);
    assert(paid.length === 1, `still exactly one succeeded payment (found ${paid.length})`);
  },

  async 'without JavaScript: Stripe Checkout, pay, return to the receipts'({ baseUrl, graphql, browser }) {
    const context = await browser.newContext({ javaScriptEnabled: false });
    try {
      const page = await context.newPage();
      await page.goto(`${baseUrl}/checkout`);
      await page.locator('form#buy-form button[type=submit]').click();
      await page.waitForURL((url) => url.pathname === '/pay', { timeout: 15000 });
      const payUrl = page.url();
      // No Payment Element without JavaScript: Checkout is offered instead.
      await page.locator('form#checkout-session-form button[type=submit]').click();
      await page.waitForURL((url) => url.pathname.startsWith('/checkout/pay/'), { timeout: 15000 });
      assert(new URL(page.url()).origin !== new URL(baseUrl).origin, 'Checkout is Stripe\'s page, not the shop\'s');
      await page.locator('select[name="card"]').selectOption('pm_card_visa');
      await shot(page, 'stripe-checkout');
      await page.locator('button#pay').click();
      await page.waitForURL((url) => url.origin === new URL(baseUrl).origin && url.pathname === '/payments', { timeout: 15000 });
      const receipt = await waitFor('the receipt to say paid (webhook)', async () => {
        await page.reload();
        const text = await page.locator('table#receipts tr.receipt').first().innerText();
        return text.includes('paid') && !text.includes('not paid') ? text : null;
      }, { timeout: 20000, interval: 500 });
      assert(receipt.includes('$5.99'), receipt);
      await shot(page, 'checkout-returned');
      // The order's pay page now says it is paid and offers no form.
      await page.goto(payUrl);
      await page.locator('#order-paid').waitFor();
      assert((await page.locator('form').count()) === 0, 'no form for a paid order');
      assert((await succeeded(graphql)).length === 1, 'one payment');
    } finally {
      await context.close();
    }
  },

  async 'with JavaScript the pay page offers only the Payment Element'({ baseUrl, newPage }) {
    const page = await openCheckout(newPage, baseUrl);
    assert(await page.locator('form#checkout-form').isVisible(), 'the Payment Element form');
    assert(!(await page.locator('form#checkout-session-form').isVisible()), 'no second way to pay the same order');
  },

  async 'the legacy Card Element form pays on the sandbox too (it posts the token)'({ baseUrl, graphql, newPage }) {
    const page = await newPage();
    await page.goto(`${baseUrl}/card-checkout`);
    assert((await page.locator('[data-token-source="token"]').count()) === 1, 'the shipped default posts the token');
    await payWithCard(page, '4242424242424242');
    await page.waitForURL((url) => url.pathname === '/payments', { timeout: 20000 });
    const paid = await waitFor('the payment', async () => {
      const list = await succeeded(graphql);
      return list.length ? list : null;
    });
    assert(paid.length === 1 && paid[0].amount === 599, JSON.stringify(paid));
  },

  async 'a 3-D Secure left open in one tab cannot pay a second time'({ baseUrl, graphql, newPage }) {
    const page = await openCheckout(newPage, baseUrl);
    const tab = await page.context().newPage();
    await tab.goto(page.url());
    // Tab 1 starts a 3-D Secure payment and leaves the challenge open.
    await payWithPaymentElement(page, TEST_CARDS.threeDS);
    await page.getByRole('button', { name: 'Complete authentication', exact: true }).waitFor();
    assert(await page.getByText('Your bank asks you to confirm a payment of 5.99 USD.').isVisible(), 'the challenge names the amount');
    await shot(page, '3ds-challenge');
    // Tab 2 pays the same order with another card: the open attempt is
    // cancelled first.
    await payWithPaymentElement(tab, TEST_CARDS.visa);
    await tab.waitForURL((url) => url.pathname === '/payments', { timeout: 20000 });
    // Completing the old challenge now pays nothing.
    await page.getByRole('button', { name: 'Complete authentication', exact: true }).click();
    await page.locator('.form-error').first().waitFor({ timeout: 15000 });
    await new Promise((r) => setTimeout(r, 1000));
    const paid = await succeeded(graphql);
    assert(paid.length === 1, `one payment for the order (found ${paid.length})`);
    const all = await payments(graphql);
    assert(all.some((p) => p.state === 'canceled'), `the open attempt was cancelled: ${JSON.stringify(all)}`);
  },

  async 'SEPA Direct Debit: processing, then paid or failed by webhook'({ baseUrl, graphql, newPage }) {
    for (const [iban, end] of [['DE89 3704 0044 0532 0130 00', 'paid'], ['DE62 3704 0044 0532 0130 01', 'not paid']]) {
      const page = await newPage();
      await page.goto(`${baseUrl}/checkout`);
      await page.locator('form#buy-eu-form button[type=submit]').click();
      await page.waitForURL((url) => url.pathname === '/pay');
      const element = page.locator('form#checkout-form [data-payforms-sandbox="payment-element"]');
      await element.locator('button[data-method="sepa_debit"]').click();
      await element.locator('input[data-field="iban"]').fill(iban);
      await element.locator('input[data-field="account_name"]').fill('Jenny Rosen');
      await element.locator('input[data-field="account_email"]').fill('jenny@example.com');
      await shot(page, `sepa-form-${end.replace(' ', '-')}`);
      await page.locator('form#checkout-form button[type=submit]').click();
      await page.waitForURL((url) => url.pathname === '/payments', { timeout: 20000 });
      const first = await page.locator('table#receipts tr.receipt').first().innerText();
      assert(first.includes('€5.49') || first.includes('5.49'), first);
      assert(first.includes('processing'), `the debit is processing at first: ${first}`);
      await shot(page, `sepa-processing-${end.replace(' ', '-')}`);
      const settled = await waitFor(`the debit to settle as ${end}`, async () => {
        await page.reload();
        const text = await page.locator('table#receipts tr.receipt').first().innerText();
        return !text.includes('processing') ? text : null;
      }, { timeout: 20000, interval: 500 });
      assert(end === 'paid' ? settled.includes('paid') && !settled.includes('not paid') : settled.includes('not paid'),
        `${iban}: ${settled}`);
      await shot(page, `sepa-${end.replace(' ', '-')}`);
    }
  },
};
