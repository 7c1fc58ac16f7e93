// 3-D Secure on the legacy Card Element checkout (/card-checkout) against localstripe: the PaymentIntent waits
// in requires_action, the browser authenticates it (confirmCardPayment), and
// the payment becomes paid through the payment_intent.succeeded webhook that
// localstripe delivers, signed, to /webhooks/stripe.
import { assert, CARDS, payWithCard, waitFor } from './lib.mjs';

// The one payment payforms stored, as GraphQL shows it.
async function storedPayment(graphql) {
  const data = await graphql('{ payments(first: 5) { nodes { state amount currency } } }');
  return data.payments.nodes[0] || null;
}

export const scenarios = {
  async 'a 3-D Secure payment finishes through payment_intent.succeeded'({ baseUrl, graphql, localstripe, newPage }) {
    const page = await newPage();
    await page.goto(`${baseUrl}/card-checkout`);
    await payWithCard(page, CARDS.threeDS, { threeDS: 'complete' });
    await page.waitForURL((url) => url.pathname === '/payments', { timeout: 20000 });

    // The webhook, not the browser, marks the payment paid.
    const payment = await waitFor('the payment to be stored as succeeded', async () => {
      const p = await storedPayment(graphql);
      return p && p.state === 'succeeded' ? p : null;
    }, { timeout: 20000, interval: 500 });
    assert(payment.amount === 599, `the paid payment is 599: ${JSON.stringify(payment)}`);

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
