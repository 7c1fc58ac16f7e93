// The legacy Card Element checkout (/card-checkout, written by the runner with
// modules/stripe/create_payment_card_form) against localstripe in a real browser.
// Contract: the card element is mounted in #card-element, the submit button is
// form#checkout-form button[type=submit]; success lands on /payments; errors
// show in .form-error.
import { assert, CARDS, formValues, payWithCard, waitFor } from './lib.mjs';

const AMOUNT = 599;

// Successful charges of the checkout amount that localstripe really holds.
async function succeededCharges(localstripe) {
  const charges = await localstripe.listAll('/v1/charges');
  return charges.filter((c) => c.amount === AMOUNT && c.status === 'succeeded');
}

async function openCheckout(newPage, baseUrl) {
  const page = await newPage();
  const response = await page.goto(`${baseUrl}/card-checkout`);
  assert(response.status() === 200, `GET /card-checkout answered ${response.status()}`);
  return page;
}

// The form lands on /payments (the receipts page; this legacy page pays no
// order, so the payment itself is checked at localstripe).
async function expectPaymentsPage(page) {
  await page.waitForURL((url) => url.pathname === '/payments', { timeout: 20000 });
  assert((await page.content()).includes('Your receipts'), '/payments is the receipts page');
}

export const scenarios = {
  async 'pays $5.99 with a card'({ baseUrl, localstripe, newPage }) {
    const page = await openCheckout(newPage, baseUrl);
    await payWithCard(page, CARDS.visa);
    await expectPaymentsPage(page);
    const charges = await succeededCharges(localstripe);
    assert(charges.length === 1, `localstripe holds one succeeded $5.99 charge (found ${charges.length})`);
    assert(charges[0].currency === 'usd', `the charge is in usd (got ${charges[0].currency})`);
  },

  async 'a second submit of the same rendered form makes no second charge'({ baseUrl, localstripe, newPage }) {
    const page = await openCheckout(newPage, baseUrl);
    const rendered = await formValues(page);
    // Keep the first form post so it can be replayed byte for byte.
    let firstPost = null;
    page.on('request', (request) => {
      if (!firstPost && request.method() === 'POST' && request.url().startsWith(baseUrl)) {
        const headers = Object.fromEntries(Object.entries(request.headers())
          .filter(([name]) => !['content-length', 'host', 'cookie'].includes(name.toLowerCase())));
        firstPost = { url: request.url(), headers, body: request.postDataBuffer() };
      }
    });
    await payWithCard(page, CARDS.visa);
    await expectPaymentsPage(page);
    assert(firstPost, 'the checkout posted to payforms');
    assert((await succeededCharges(localstripe)).length === 1, 'the first submit charged once');

    // A visitor presses Back: Chromium may show the very same rendered form
    // again (back/forward cache, or the cached HTML when the page is not
    // no-store: same signed fields and idempotency key) and the visitor
    // submits it again. If the page was rendered anew, that is a new form.
    await page.goBack();
    const restored = await formValues(page).catch(() => ({}));
    // Compare what the server rendered (scripts may have filled empty fields since).
    const signed = Object.entries(rendered).filter(([, value]) => value !== '');
    const sameForm = signed.length > 0 && signed.every(([name, value]) => restored[name] === value);
    if (sameForm) {
      await payWithCard(page, CARDS.visa);
      await waitFor('the second submit to be answered', async () =>
        new URL(page.url()).pathname === '/payments'
        || (await page.locator('.form-error').count()) > 0);
    }
    // Deterministically too: post the identical request again, same cookies.
    const replay = await page.context().request.fetch(firstPost.url, {
      method: 'POST', headers: firstPost.headers, data: firstPost.body, maxRedirects: 0,
    });
    assert(replay.status() < 500, `the replayed post answered ${replay.status()}`);

    // Give any late charge (or webhook-driven one) time to show up, then count.
    await new Promise((r) => setTimeout(r, 1500));
    const charges = await succeededCharges(localstripe);
    assert(charges.length === 1, `still exactly one succeeded $5.99 charge (found ${charges.length}; `
      + `Back restored the same rendered form: ${sameForm})`);
  },

  async 'a declined card shows "Your card was declined"'({ baseUrl, localstripe, newPage }) {
    const page = await openCheckout(newPage, baseUrl);
    await payWithCard(page, CARDS.declined);
    const error = page.locator('.form-error', { hasText: 'Your card was declined' });
    await error.first().waitFor({ timeout: 20000 });
    assert(new URL(page.url()).pathname !== '/payments', 'a declined payment does not land on /payments');
    const charges = await succeededCharges(localstripe);
    assert(charges.length === 0, `no succeeded charge for a declined card (found ${charges.length})`);
  },
};
