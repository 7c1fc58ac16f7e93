// 3-D Secure on the legacy Card Element checkout (/card-checkout) against localstripe: the PaymentIntent waits
// in requires_action, the browser authenticates it (confirmCardPayment), and
// the payment becomes paid through the payment_intent.succeeded webhook that
// localstripe delivers, signed, to /webhooks/stripe.
import { assert, CARDS, payWithCard, waitFor } from './lib.mjs';

async function paymentsPage(page, baseUrl) {
  await page.goto(`${baseUrl}/payments`);
  return page.locator('table#payments tr.payment').first().innerText();
}

export const scenarios = {
  async 'a 3-D Secure payment finishes through payment_intent.succeeded'({ baseUrl, localstripe, newPage }) {
    const page = await newPage();
    await page.goto(`${baseUrl}/card-checkout`);
    await payWithCard(page, CARDS.threeDS, { threeDS: 'complete' });
    await page.waitForURL((url) => url.pathname === '/payments', { timeout: 20000 });

    // The webhook, not the browser, marks the payment paid.
    const row = await waitFor('the payment to be shown as succeeded', async () => {
      const text = await paymentsPage(page, baseUrl);
      return text.includes('succeeded') ? text : null;
    }, { timeout: 20000, interval: 500 });
    assert(row.includes('$5.99'), `the paid row shows $5.99: ${row}`);

    const intents = (await localstripe.listAll('/v1/payment_intents')).filter((pi) => pi.amount === 599);
    assert(intents.length === 1 && intents[0].status === 'succeeded',
      `localstripe holds one succeeded 599 PaymentIntent (found ${intents.map((pi) => pi.status)})`);
  },

  async 'failed authentication charges nothing and says so'({ baseUrl, localstripe, newPage }) {
    const page = await newPage();
    await page.goto(`${baseUrl}/card-checkout`);
    await payWithCard(page, CARDS.threeDS, { threeDS: 'fail' });
    const error = page.locator('.form-error', { hasText: 'authenticate' });
    await error.first().waitFor({ timeout: 20000 });
    assert(new URL(page.url()).pathname === '/card-checkout', 'the visitor stays on the checkout');
    const paid = (await localstripe.listAll('/v1/payment_intents')).filter((pi) => pi.status === 'succeeded');
    assert(paid.length === 0, `nothing was charged (found ${paid.length} succeeded)`);
  },
};
