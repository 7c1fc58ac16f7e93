// A platformOS-laid-out app (tests/fixtures/platformos_app) on `payforms
// serve --sandbox`: its pages in app/views, a form in platformOS's shape,
// and the seed 000 guide's payment form paid with a card token made by the
// sandbox from the browser, as Stripe Checkout makes one (card numbers go
// to the sandbox, never to payforms). Screenshots of each page go to
// $PAYFORMS_BROWSER_SHOTS (default: the system temp dir).
import { assert, waitFor } from './lib.mjs';

export const peer = 'sandbox';
export const app = 'tests/fixtures/platformos_app';

const SHOTS = process.env.PAYFORMS_BROWSER_SHOTS || (await import('node:os')).tmpdir();

async function shot(page, name) {
  await page.screenshot({ path: `${SHOTS}/platformos-${name}.png`, fullPage: true });
}

export const scenarios = {
  async 'a platformOS app: pages, a note form and the guide payment'({ baseUrl, sandboxUrl, graphql, newPage }) {
    const page = await newPage();
    const home = await page.goto(`${baseUrl}/`);
    assert(home.status() === 200, `GET / answered ${home.status()}`);
    const t = await page.locator('#t').innerText();
    assert(t.startsWith('Welcome back, Ada! / Willkommen zurück, Ada!'), `translations: ${t}`);
    assert((await page.locator('#total').innerText()) === 'Total: $5.99', 'a function partial from app/lib');
    await shot(page, 'home');

    // A form in platformOS's shape: the title is typed, the body is signed.
    await page.goto(`${baseUrl}/notes`);
    await page.locator('form#new_note-form input[type=text]').fill('Bought stickers');
    await page.locator('form#new_note-form button').click();
    await page.waitForURL((url) => url.pathname === '/notes');
    await page.locator('p.flash.notice', { hasText: 'Note saved' }).waitFor();
    const notes = await page.locator('#notes').innerText();
    assert(notes.includes('Bought stickers — written by the page'), `the note: ${notes}`);
    await shot(page, 'notes');

    // The guide's form: hidden inputs from payment_gateways, then what
    // Checkout does: a token for the card, posted as stripeToken.
    await page.goto(`${baseUrl}/guide/pay`);
    const form = page.locator('form#simple_payment_form-form');
    assert((await form.locator('input[name="form[total_amount]"]').getAttribute('value')) === '5.99', 'the amount');
    const key = await form.locator('script.stripe-button').getAttribute('data-key');
    assert(key && key.startsWith('pk_test_'), `the publishable key from payment_gateways: ${key}`);
    await shot(page, 'guide-pay');
    const token = await page.evaluate(async ({ sandboxUrl, key }) => {
      const body = new URLSearchParams({
        'card[number]': '4242424242424242', 'card[exp_month]': '12', 'card[exp_year]': '2040', 'card[cvc]': '123', key,
      });
      const answer = await fetch(`${sandboxUrl}/v1/tokens`, { method: 'POST', body });
      return (await answer.json()).id;
    }, { sandboxUrl, key });
    assert(token && token.startsWith('tok_'), `a card token: ${token}`);
    await page.evaluate((token) => {
      const form = document.querySelector('form#simple_payment_form-form');
      const input = document.createElement('input');
      input.type = 'hidden';
      input.name = 'stripeToken';
      input.value = token;
      form.appendChild(input);
      form.submit();
    }, token);
    await page.waitForURL((url) => url.pathname === '/guide/payments', { timeout: 20000 });
    await page.locator('p.flash.notice', { hasText: 'Payment successful!' }).waitFor();
    const row = await page.locator('table#payments tr').first().innerText();
    assert(row.includes('$5.99') && row.includes('succeeded'), `the payments list: ${row}`);
    await shot(page, 'guide-payments');
    const paid = await waitFor('the payment record', async () => {
      const data = await graphql('{ payments { nodes { amount currency state } } }');
      return data.payments.nodes.length ? data.payments.nodes : null;
    });
    assert(paid[0].amount === 599 && paid[0].currency === 'usd', `599 usd: ${JSON.stringify(paid)}`);
  },
};
