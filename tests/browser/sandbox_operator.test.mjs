// The operator's pages of the demo on `payforms serve --sandbox`: sign in,
// authorize a deposit on the Payment Element then capture it, refund a shop
// payment partly then fully, save a card (a SetupIntent confirmed with a
// ConfirmationToken) and charge it off-session.
import { assert, OPERATOR_PASSWORD, TEST_CARDS, answer3DS, payWithPaymentElement, waitFor } from './lib.mjs';

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

  async 'save a card, then charge it off-session'({ baseUrl, graphql, newPage }) {
    const page = await newPage();
    await signIn(page, baseUrl, '/saved_cards');
    await page.locator('form#payforms-create-customer input[name="form[email]"]').fill('regular@example.com');
    await page.locator('form#payforms-create-customer button[type=submit]').click();
    await page.locator('ul#customers a', { hasText: 'regular@example.com' }).first().click();
    await page.waitForURL((url) => url.searchParams.get('customer'));
    const customer = new URL(page.url()).searchParams.get('customer');

    // 3155 asks for 3-D Secure when it is saved, and not again off-session.
    await payWithPaymentElement(page, TEST_CARDS.threeDS, { form: 'form#payforms-save-card', submit: false });
    // Saved, the page goes back to this customer's cards (the same URL).
    const reloaded = page.waitForEvent('load', { timeout: 20000 });
    await page.locator('form#payforms-save-card button[type=submit]').click();
    await answer3DS(page, true);
    await reloaded;
    const card = await waitFor('the saved card to be listed', async () => {
      await page.goto(`${baseUrl}/saved_cards?customer=${encodeURIComponent(customer)}`);
      const row = page.locator('table#cards tr', { hasText: '•••• 3155' });
      return (await row.count()) ? row.first() : null;
    }, { timeout: 20000, interval: 500 });
    await shot(page, 'card-saved');
    const cards = await graphql(
      'query($c: String) { creditCards(filter: { customerId: { eq: $c } }) { nodes { gatewayId last4 } } }',
      { c: customer },
    );
    assert(cards.creditCards.nodes.length === 1 && cards.creditCards.nodes[0].gatewayId.startsWith('pm_'),
      `one saved PaymentMethod (${JSON.stringify(cards.creditCards.nodes)})`);

    await card.locator('button[type=submit]', { hasText: 'Charge $10.00' }).click();
    await page.waitForURL((url) => url.pathname === '/payments');
    const charged = await waitFor('the off-session charge', async () => {
      const data = await graphql('{ payments(first: 5) { nodes { state amount } } }');
      return data.payments.nodes.find((p) => p.amount === 1000 && p.state === 'succeeded');
    });
    assert(charged, 'the saved card paid $10.00 without the customer');
    await shot(page, 'charged-off-session');
  },

  async 'subscribe a customer, also one whose bank asks for the first payment'({ baseUrl, graphql, newPage }) {
    const page = await newPage();
    await signIn(page, baseUrl, '/subscription');
    await page.locator('form#create-plan button[type=submit], form[data-payforms-form="create_plan_form"] button[type=submit]').first().click();
    await page.locator('p', { hasText: '$9.00 a month' }).first().waitFor();

    for (const [email, number, asks] of [
      ['monthly@example.com', TEST_CARDS.visa, false],
      ['careful@example.com', '4000 0027 6000 3184', true], // asks for every payment
    ]) {
      await page.goto(`${baseUrl}/saved_cards`);
      await page.locator('form#payforms-create-customer input[name="form[email]"]').fill(email);
      await page.locator('form#payforms-create-customer button[type=submit]').click();
      await page.locator('ul#customers a', { hasText: email }).first().click();
      await page.waitForURL((url) => url.searchParams.get('customer'));
      const customer = new URL(page.url()).searchParams.get('customer');
      await payWithPaymentElement(page, number, { form: 'form#payforms-save-card', submit: false });
      const saved = page.waitForEvent('load', { timeout: 20000 });
      await page.locator('form#payforms-save-card button[type=submit]').click();
      if (asks) await answer3DS(page, true);
      await saved;
      await waitFor('the card to be saved', async () => {
        await page.goto(`${baseUrl}/subscription?customer=${encodeURIComponent(customer)}`);
        return (await page.locator('form#payforms-create-subscription').count()) > 0;
      }, { timeout: 20000, interval: 500 });
      const subscribed = page.waitForEvent('load', { timeout: 20000 });
      await page.locator('form#payforms-create-subscription button[type=submit]').click();
      if (asks) await answer3DS(page, true);
      await subscribed;
      const active = await waitFor(`${email}'s subscription to be active`, async () => {
        const data = await graphql(
          'query($c: String) { subscriptions(filter: { customerId: { eq: $c } }) { nodes { state } } }',
          { c: customer },
        );
        return data.subscriptions.nodes.find((s) => s.state === 'active');
      }, { timeout: 20000, interval: 500 });
      assert(active, `${email} is subscribed`);
    }
    await page.goto(`${baseUrl}/subscription`);
    await shot(page, 'subscriptions');
  },

  async 'a visitor joins the club: a subscription paid on the Payment Element'({ baseUrl, graphql, newPage }) {
    const operator = await newPage();
    await signIn(operator, baseUrl, '/subscription');
    await operator.locator('form#create-plan button[type=submit]').click();
    await operator.locator('p', { hasText: '$9.00 a month' }).first().waitFor();

    for (const [email, number, asks] of [
      ['joiner@example.com', TEST_CARDS.visa, false],
      ['careful-joiner@example.com', '4000 0027 6000 3184', true],
    ]) {
      const page = await newPage();
      await page.goto(`${baseUrl}/club`);
      await page.locator('input[name="form[email]"]').fill(email);
      await page.locator('form#payforms-create-customer button[type=submit]').click();
      await page.locator('form#payforms-subscribe').waitFor();
      await payWithPaymentElement(page, number, { form: 'form#payforms-subscribe', submit: false });
      const joined = page.waitForEvent('load', { timeout: 20000 });
      await page.locator('form#payforms-subscribe button[type=submit]').click();
      if (asks) await answer3DS(page, true);
      await joined;
      await waitFor(`${email} to be a member`, async () => {
        await page.goto(`${baseUrl}/club`);
        return (await page.locator('#club-member').count()) > 0;
      }, { timeout: 20000, interval: 500 });
      await shot(page, `club-${asks ? 'authenticated' : 'joined'}`);
    }
    const data = await graphql('{ subscriptions(first: 5) { nodes { state } } }');
    assert(data.subscriptions.nodes.filter((s) => s.state === 'active').length === 2, JSON.stringify(data));
  },
};
