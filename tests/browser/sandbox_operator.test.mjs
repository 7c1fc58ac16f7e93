// The operator's pages of the demo on `payforms serve --sandbox`: sign in,
// authorize a deposit on the Payment Element then capture it, and refund a
// shop payment partly then fully.
import { assert, OPERATOR_PASSWORD, TEST_CARDS, payWithPaymentElement, waitFor } from './lib.mjs';

export const peer = 'sandbox';

const SHOTS = process.env.PAYFORMS_BROWSER_SHOTS || (await import('node:os')).tmpdir();

async function shot(page, name) {
  await page.screenshot({ path: `${SHOTS}/payforms-${name}.png`, fullPage: true });
}

async function signIn(page, baseUrl, returnTo) {
  await page.goto(`${baseUrl}${returnTo}`);
  await page.waitForURL((url) => url.pathname === '/sign_in');
  await page.locator('form#sign-in input[name="password"]').fill(OPERATOR_PASSWORD);
  await page.locator('form#sign-in button[type=submit]').click();
  await page.waitForURL((url) => url.pathname === returnTo);
}

async function payment(graphql, gatewayId) {
  const data = await graphql(
    'query($id: String) { payments(first: 1, filter: { gatewayId: { eq: $id } }) { nodes { gatewayId state amount amountCaptured amountRefunded } } }',
    { id: gatewayId },
  );
  return data.payments.nodes[0];
}

async function onlyPayment(graphql) {
  const data = await graphql('{ payments(first: 5) { nodes { gatewayId state amount amountCaptured amountRefunded } } }');
  assert(data.payments.nodes.length === 1, `one payment (found ${data.payments.nodes.length})`);
  return data.payments.nodes[0];
}

export const scenarios = {
  async 'authorize a deposit, then capture it'({ baseUrl, graphql, newPage }) {
    const page = await newPage();
    await signIn(page, baseUrl, '/authorize');
    await payWithPaymentElement(page, TEST_CARDS.visa, { form: 'form#payforms-create-payment' });
    await page.locator('table#authorized tr', { hasText: '$20.00' }).first().waitFor({ timeout: 20000 });
    const held = await onlyPayment(graphql);
    assert(held.state === 'authorized', `the deposit is authorized, not captured (state ${held.state})`);
    assert(held.amountCaptured === 0, `nothing captured yet (${held.amountCaptured})`);
    await shot(page, 'authorized');

    await page.locator('table#authorized button[type=submit]', { hasText: 'Capture' }).first().click();
    const captured = await waitFor('the deposit to be captured', async () => {
      const p = await payment(graphql, held.gatewayId);
      return p.state === 'succeeded' ? p : null;
    });
    assert(captured.amountCaptured === 2000, `all of it is captured (${captured.amountCaptured})`);
    await page.goto(`${baseUrl}/authorize`);
    assert(await page.locator('table#authorized', { hasText: 'Nothing is waiting for capture' }).count() === 1,
      'the captured deposit left the list');
    await shot(page, 'captured');
  },

  async 'refund a payment partly, then fully'({ baseUrl, graphql, newPage }) {
    const page = await newPage();
    page.on('dialog', (dialog) => dialog.accept()); // "Refund this payment?"
    await page.goto(`${baseUrl}/checkout`);
    await page.locator('form#buy-form button[type=submit]').click();
    await page.waitForURL((url) => url.pathname === '/pay');
    await payWithPaymentElement(page, TEST_CARDS.visa);
    await page.waitForURL((url) => url.pathname === '/payments');
    const paid = await onlyPayment(graphql);

    await signIn(page, baseUrl, '/refunds');
    const row = page.locator('table#refundable tr', { hasText: paid.gatewayId });
    await row.locator('input[name="form[amount]"]').fill('200');
    await row.locator('button[type=submit]').click();
    const partly = await waitFor('the partial refund', async () => {
      const p = await payment(graphql, paid.gatewayId);
      return p.amountRefunded === 200 ? p : null;
    });
    assert(partly.state === 'partially_refunded', `partly refunded (state ${partly.state})`);
    await page.goto(`${baseUrl}/refunds`);
    await page.locator('table#refundable tr', { hasText: '$2.00 refunded' }).first().waitFor();
    await shot(page, 'partly-refunded');

    await page.locator('table#refundable tr', { hasText: paid.gatewayId }).locator('button[type=submit]').click();
    const fully = await waitFor('the full refund', async () => {
      const p = await payment(graphql, paid.gatewayId);
      return p.state === 'refunded' ? p : null;
    });
    assert(fully.amountRefunded === 599, `all of it is refunded (${fully.amountRefunded})`);
    await shot(page, 'refunded');
  },
};
