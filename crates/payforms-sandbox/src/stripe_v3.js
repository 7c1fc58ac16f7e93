/*
 * payforms sandbox: a small Stripe.js (v3) mock for offline demos and tests.
 * Load it with <script src=".../js.stripe.com/v3/"></script> and call
 * Stripe(publishableKey). It talks to the sandbox that served it.
 *
 * The Payment Element (elements({mode, amount, currency}).create('payment'))
 * renders a labelled card form: inputs with data-field number, expiry
 * (MM / YY), cvc and postal_code, without names, so (as with Stripe's iframe)
 * nothing typed is posted with the page's form; elements.submit() validates it as Stripe does and
 * createConfirmationToken({elements}) turns it into a ConfirmationToken.
 * handleNextAction / confirmPayment / confirmSetup run 3-D Secure in a
 * dialog with "Complete authentication" and "Fail authentication".
 *
 * The legacy card element (elements().create('card')) renders plain inputs
 * with the placeholders number, exp_month, exp_year, cvc and postal_code,
 * like localstripe's mock.
 */
(function () {
  'use strict';

  var script = document.currentScript;
  var BASE = (function () {
    var src = script && script.src ? script.src : window.location.href;
    var match = src.match(/^(.*)\/js\.stripe\.com\/v3\/?(\?.*)?$/);
    if (match) return match[1];
    var origin = src.match(/^https?:\/\/[^\/]+/);
    return origin ? origin[0] : '';
  })();

  // Stripe's bracket form encoding: {card: {number: 1}} -> card[number]=1
  function encode(value, prefix, pairs) {
    pairs = pairs || [];
    if (value === undefined || value === null) return pairs;
    if (Array.isArray(value)) {
      value.forEach(function (v, i) { encode(v, prefix + '[' + i + ']', pairs); });
    } else if (typeof value === 'object') {
      Object.keys(value).forEach(function (k) {
        encode(value[k], prefix ? prefix + '[' + k + ']' : k, pairs);
      });
    } else {
      pairs.push(encodeURIComponent(prefix) + '=' + encodeURIComponent(String(value)));
    }
    return pairs;
  }

  function request(method, path, key, params) {
    var body = encode(Object.assign({key: key, payment_user_agent: 'payforms-sandbox-js'}, params || {})).join('&');
    var url = BASE + path;
    var init = {method: method, headers: {}};
    if (method === 'GET') {
      url += (url.indexOf('?') < 0 ? '?' : '&') + body;
    } else {
      init.headers['Content-Type'] = 'application/x-www-form-urlencoded';
      init.body = body;
    }
    return fetch(url, init).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        if (!response.ok || json.error) {
          return {error: json.error || {type: 'api_error', message: 'The sandbox answered HTTP ' + response.status + '.'}};
        }
        return {object: json};
      });
    }, function (err) {
      return {error: {type: 'api_connection_error', message: String(err && err.message || err)}};
    });
  }

  function intentId(clientSecret, prefix) {
    var match = String(clientSecret || '').match(new RegExp('^(' + prefix + '_[A-Za-z0-9]+)_secret_'));
    if (!match) throw new Error('Invalid client secret: expected ' + prefix + '_..._secret_...');
    return match[1];
  }

  // What a challenge asks about: "$5.99" for a payment, nothing for a setup.
  function challengeText(intent) {
    if (!intent || intent.object !== 'payment_intent' || typeof intent.amount !== 'number') {
      return 'Your bank asks you to confirm that this card may be saved for later payments.';
    }
    var currency = String(intent.currency || '').toUpperCase();
    var zeroDecimal = ['JPY', 'KRW', 'VND', 'CLP', 'ISK', 'UGX', 'XAF', 'XOF'].indexOf(currency) >= 0;
    var amount = zeroDecimal ? String(intent.amount) : (intent.amount / 100).toFixed(2);
    return 'Your bank asks you to confirm a payment of ' + amount + ' ' + currency + '.';
  }

  // The 3-D Secure challenge, like a bank's page over the shop: resolves
  // true (complete) or false (fail).
  function challenge(intent) {
    return new Promise(function (resolve) {
      var veil = document.createElement('div');
      veil.setAttribute('data-payforms-sandbox', '3ds');
      Object.assign(veil.style, {
        position: 'fixed', inset: '0', background: 'rgba(20, 20, 40, .55)', display: 'flex',
        alignItems: 'center', justifyContent: 'center', zIndex: 2147483647
      });
      var box = document.createElement('div');
      box.setAttribute('role', 'dialog');
      box.setAttribute('aria-label', '3-D Secure');
      Object.assign(box.style, {
        width: '340px', padding: '24px', background: '#fff', borderRadius: '10px', textAlign: 'center',
        fontFamily: 'system-ui, sans-serif', boxShadow: '0 10px 40px rgba(0,0,0,.3)'
      });
      var bank = document.createElement('p');
      bank.textContent = 'Sandbox Bank — 3-D Secure (test mode)';
      Object.assign(bank.style, {fontWeight: '700', color: '#1a1f71', margin: '0 0 12px'});
      var p = document.createElement('p');
      p.textContent = challengeText(intent);
      var buttons = document.createElement('div');
      Object.assign(buttons.style, {display: 'flex', gap: '8px', justifyContent: 'center', marginTop: '16px'});
      var ok = document.createElement('button');
      ok.type = 'button';
      ok.textContent = 'Complete authentication';
      var fail = document.createElement('button');
      fail.type = 'button';
      fail.textContent = 'Fail authentication';
      buttons.appendChild(ok);
      buttons.appendChild(fail);
      box.appendChild(bank);
      box.appendChild(p);
      box.appendChild(buttons);
      veil.appendChild(box);
      document.body.appendChild(veil);
      function done(result) { veil.remove(); resolve(result); }
      ok.addEventListener('click', function () { done(true); });
      fail.addEventListener('click', function () { done(false); });
      ok.focus();
    });
  }

  var FIELDS = ['number', 'exp_month', 'exp_year', 'cvc', 'postal_code'];

  function CardElement(type, options) {
    this._type = type;
    this._options = options || {};
    this._listeners = {};
    this._inputs = null;
    this._nodes = [];
    this._destroyed = false;
  }

  CardElement.prototype.mount = function (target) {
    if (this._destroyed) throw new Error('This Element has already been destroyed.');
    var parent = typeof target === 'string' ? document.querySelector(target) : target;
    if (!parent || !parent.appendChild) throw new Error('Invalid DOM element. Call mount() with a valid DOM element or selector.');
    if (this._nodes.length) {
      if (this._nodes[0].parentNode === parent) return;
      throw new Error('This Element is already mounted. Use unmount() before mounting it again.');
    }
    var self = this;
    var label = document.createElement('span');
    label.textContent = 'payforms sandbox card: ';
    this._nodes.push(label);
    this._inputs = {};
    FIELDS.forEach(function (name) {
      if (name === 'postal_code' && self._options.hidePostalCode) return;
      var input = document.createElement('input');
      input.type = 'text';
      input.setAttribute('data-field', name); // no name: never posted with the page's form
      input.setAttribute('placeholder', name);
      input.setAttribute('autocomplete', 'off');
      input.size = name === 'number' ? 16 : name === 'postal_code' ? 5 : name === 'cvc' ? 4 : 2;
      input.addEventListener('input', function () { self._changed(name); });
      input.addEventListener('focus', function () { self._emit('focus'); });
      input.addEventListener('blur', function () { self._emit('blur'); });
      self._inputs[name] = input;
      self._nodes.push(input);
    });
    this._nodes.forEach(function (node) { parent.appendChild(node); });
    setTimeout(function () { self._emit('ready'); }, 0);
  };

  CardElement.prototype._value = function () {
    var get = function (inputs, name) { return inputs && inputs[name] ? inputs[name].value.trim() : ''; };
    var year = get(this._inputs, 'exp_year');
    if (/^\d{2}$/.test(year)) year = '20' + year;
    return {
      card: {
        number: get(this._inputs, 'number').replace(/[\s-]/g, ''),
        exp_month: get(this._inputs, 'exp_month'),
        exp_year: year,
        cvc: get(this._inputs, 'cvc')
      },
      postal_code: get(this._inputs, 'postal_code')
    };
  };

  CardElement.prototype._changed = function (name) {
    var value = this._value();
    var card = value.card;
    var brand = /^4/.test(card.number) ? 'visa' : /^(5[1-5]|2[2-7])/.test(card.number) ? 'mastercard' : /^3[47]/.test(card.number) ? 'amex' : 'unknown';
    var complete = card.number.length >= 14 && card.exp_month !== '' && card.exp_year.length === 4 && card.cvc.length >= 3;
    if (name === 'number' && card.number.length >= 16 && this._inputs.exp_month) this._inputs.exp_month.focus();
    this._emit('change', {elementType: 'card', empty: card.number === '', complete: complete, brand: brand, error: undefined,
                          value: {postalCode: value.postal_code}});
  };

  CardElement.prototype._emit = function (event, payload) {
    (this._listeners[event] || []).forEach(function (handler) { handler(payload); });
  };

  CardElement.prototype.on = function (event, handler) {
    (this._listeners[event] = this._listeners[event] || []).push(handler);
    return this;
  };
  CardElement.prototype.addEventListener = CardElement.prototype.on;
  CardElement.prototype.off = function (event, handler) {
    this._listeners[event] = (this._listeners[event] || []).filter(function (h) { return h !== handler; });
    return this;
  };
  CardElement.prototype.unmount = function () {
    this._nodes.forEach(function (node) { node.remove(); });
    this._nodes = [];
    this._inputs = null;
  };
  CardElement.prototype.destroy = function () { this.unmount(); this._destroyed = true; };
  CardElement.prototype.clear = function () {
    var inputs = this._inputs || {};
    Object.keys(inputs).forEach(function (k) { inputs[k].value = ''; });
  };
  CardElement.prototype.focus = function () { if (this._inputs && this._inputs.number) this._inputs.number.focus(); };
  CardElement.prototype.blur = function () { if (document.activeElement && document.activeElement.blur) document.activeElement.blur(); };
  CardElement.prototype.update = function (options) { Object.assign(this._options, options || {}); };


  // ---------------------------------------------------------------- Payment Element

  var PAYMENT_FIELDS = [
    {name: 'number', label: 'Card number', placeholder: '1234 1234 1234 1234', mode: 'numeric', complete: 'cc-number'},
    {name: 'expiry', label: 'Expiration date', placeholder: 'MM / YY', mode: 'numeric', complete: 'cc-exp'},
    {name: 'cvc', label: 'Security code', placeholder: 'CVC', mode: 'numeric', complete: 'cc-csc'},
    {name: 'postal_code', label: 'ZIP / postal code', placeholder: '12345', mode: 'text', complete: 'postal-code'},
    {name: 'iban', label: 'IBAN', placeholder: 'DE00 0000 0000 0000 0000 00', mode: 'text', complete: 'off', method: 'sepa_debit'},
    {name: 'account_name', label: 'Full name', placeholder: 'Jenny Rosen', mode: 'text', complete: 'name', method: 'sepa_debit'},
    {name: 'account_email', label: 'Email', placeholder: 'jenny@example.com', mode: 'email', complete: 'email', method: 'sepa_debit'}
  ];

  function luhn(digits) {
    var sum = 0;
    for (var i = 0; i < digits.length; i++) {
      var d = Number(digits.charAt(digits.length - 1 - i));
      if (i % 2 === 1) { d *= 2; if (d > 9) d -= 9; }
      sum += d;
    }
    return digits.length >= 12 && sum % 10 === 0;
  }

  function PaymentElement(group, options) {
    this._group = group;
    this._options = options || {};
    this._listeners = {};
    this._inputs = null;
    this._root = null;
    this._destroyed = false;
  }

  PaymentElement.prototype._asksPostalCode = function () {
    var fields = this._options.fields || {};
    var address = fields.billingDetails && fields.billingDetails.address;
    return !(address === 'never' || (address && address.postalCode === 'never'));
  };

  PaymentElement.prototype.mount = function (target) {
    if (this._destroyed) throw new Error('This Element has already been destroyed.');
    var parent = typeof target === 'string' ? document.querySelector(target) : target;
    if (!parent || !parent.appendChild) throw new Error('Invalid DOM element. Call mount() with a valid DOM element or selector.');
    if (this._root) {
      if (this._root.parentNode === parent) return;
      throw new Error('This Element is already mounted. Use unmount() before mounting it again.');
    }
    var self = this;
    var theme = (this._group._options.appearance || {}).variables || {};
    var root = document.createElement('div');
    root.setAttribute('data-payforms-sandbox', 'payment-element');
    Object.assign(root.style, {
      display: 'grid', gridTemplateColumns: '1fr 1fr', gap: '12px',
      fontFamily: theme.fontFamily || 'system-ui, -apple-system, "Segoe UI", sans-serif', fontSize: '15px'
    });
    // Tabs: Card, and SEPA Direct Debit for payments in euros.
    var methods = [['card', 'Card']];
    var currency = String(this._group._options.currency || '').toLowerCase();
    if (currency === 'eur' && this._group._options.mode !== 'setup') methods.push(['sepa_debit', 'SEPA Direct Debit']);
    var tabs = document.createElement('div');
    Object.assign(tabs.style, {gridColumn: '1 / 3', display: 'flex', gap: '8px'});
    var tabButtons = {};
    methods.forEach(function (m) {
      var tab = document.createElement('button');
      tab.type = 'button';
      tab.textContent = m[1];
      tab.setAttribute('data-method', m[0]);
      Object.assign(tab.style, {
        padding: '8px 12px', background: '#fff', borderRadius: theme.borderRadius || '6px', fontWeight: '600',
        color: theme.colorPrimary || '#635bff', width: 'max-content', cursor: 'pointer'
      });
      tab.addEventListener('click', function () { self._select(m[0]); });
      tabButtons[m[0]] = tab;
      tabs.appendChild(tab);
    });
    root.appendChild(tabs);
    this._tabs = tabButtons;
    this._method = 'card';
    this._inputs = {};
    this._panels = {card: [], sepa_debit: []};
    PAYMENT_FIELDS.forEach(function (field) {
      if (field.name === 'postal_code' && !self._asksPostalCode()) return;
      if (field.method === 'sepa_debit' && !self._tabs.sepa_debit) return;
      var label = document.createElement('label');
      Object.assign(label.style, {display: 'flex', flexDirection: 'column', gap: '4px', color: theme.colorText || '#30313d'});
      label.setAttribute('data-display', 'flex');
      if (field.name === 'number' || field.name === 'postal_code' || field.method === 'sepa_debit') label.style.gridColumn = '1 / 3';
      var caption = document.createElement('span');
      caption.textContent = field.label;
      var input = document.createElement('input');
      input.type = 'text';
      // No name: like Stripe's iframe, nothing typed here is part of the
      // page's form, so a card number is never posted to the merchant.
      input.setAttribute('data-field', field.name);
      input.setAttribute('placeholder', field.placeholder);
      input.setAttribute('autocomplete', field.complete);
      input.setAttribute('inputmode', field.mode);
      Object.assign(input.style, {
        padding: '10px 12px', border: '1px solid #e0e0e6', borderRadius: theme.borderRadius || '6px',
        fontSize: '16px', boxShadow: '0 1px 2px rgba(0,0,0,.06)'
      });
      input.addEventListener('input', function () { self._changed(field.name); });
      input.addEventListener('focus', function () { self._emit('focus', {elementType: 'payment'}); });
      input.addEventListener('blur', function () { self._emit('blur', {elementType: 'payment'}); });
      label.appendChild(caption);
      label.appendChild(input);
      root.appendChild(label);
      self._inputs[field.name] = input;
      self._panels[field.method || 'card'].push(label);
    });
    var mandate = document.createElement('p');
    mandate.textContent = 'By providing your IBAN and confirming this payment, you authorise the shop and Stripe, '
      + 'its payment service provider, to send instructions to your bank to debit your account (SEPA Direct Debit mandate).';
    Object.assign(mandate.style, {gridColumn: '1 / 3', fontSize: '12px', color: '#6d6e78', margin: '0'});
    root.appendChild(mandate);
    this._panels.sepa_debit.push(mandate);
    var message = document.createElement('div');
    message.setAttribute('role', 'alert');
    Object.assign(message.style, {gridColumn: '1 / 3', color: theme.colorDanger || '#df1b41', minHeight: '1em'});
    root.appendChild(message);
    this._message = message;
    this._root = root;
    this._select('card');
    parent.appendChild(root);
    setTimeout(function () { self._emit('ready', {elementType: 'payment'}); }, 0);
  };

  PaymentElement.prototype._read = function () {
    var get = function (inputs, name) { return inputs && inputs[name] ? inputs[name].value.trim() : ''; };
    var expiry = get(this._inputs, 'expiry').replace(/\s/g, '');
    var parts = expiry.match(/^(\d{1,2})\/?(\d{2}|\d{4})$/);
    var year = parts ? parts[2] : '';
    if (year.length === 2) year = '20' + year;
    return {
      number: get(this._inputs, 'number').replace(/[\s-]/g, ''),
      exp_month: parts ? String(Number(parts[1])) : '',
      exp_year: year,
      expiry: expiry,
      cvc: get(this._inputs, 'cvc'),
      postal_code: get(this._inputs, 'postal_code')
    };
  };

  // What Stripe's Payment Element says about what was typed, or null.
  // Show the fields of `method` ('card' or 'sepa_debit').
  PaymentElement.prototype._select = function (method) {
    var self = this;
    if (!this._tabs[method]) return;
    this._method = method;
    var color = ((this._group._options.appearance || {}).variables || {}).colorPrimary || '#635bff';
    Object.keys(this._tabs).forEach(function (m) {
      self._tabs[m].style.border = m === method ? '2px solid ' + color : '1px solid #e0e0e6';
    });
    Object.keys(this._panels).forEach(function (m) {
      self._panels[m].forEach(function (node) {
        node.style.display = m === method ? (node.getAttribute('data-display') || '') : 'none';
      });
    });
    if (this._message) this._message.textContent = '';
    this._emit('change', {elementType: 'payment', empty: true, complete: false, collapsed: false, value: {type: method}});
  };

  PaymentElement.prototype._sepaProblem = function () {
    var get = function (inputs, name) { return inputs && inputs[name] ? inputs[name].value.trim() : ''; };
    var iban = get(this._inputs, 'iban').replace(/\s/g, '').toUpperCase();
    if (!iban) return {code: 'incomplete_iban', message: 'Your IBAN is incomplete.'};
    if (!/^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$/.test(iban)) return {code: 'invalid_iban', message: 'Your IBAN is invalid.'};
    if (!get(this._inputs, 'account_name')) return {code: 'incomplete_name', message: 'Please enter your full name.'};
    if (!/^[^@\s]+@[^@\s]+$/.test(get(this._inputs, 'account_email'))) return {code: 'incomplete_email', message: 'Please enter your email address.'};
    return null;
  };

  PaymentElement.prototype._problem = function () {
    if (this._method === 'sepa_debit') return this._sepaProblem();
    var v = this._read();
    if (!v.number) return {code: 'incomplete_number', message: 'Your card number is incomplete.'};
    if (!/^\d+$/.test(v.number) || !luhn(v.number)) return {code: 'invalid_number', message: 'Your card number is invalid.'};
    if (!v.expiry) return {code: 'incomplete_expiry', message: "Your card's expiration date is incomplete."};
    if (!v.exp_year || Number(v.exp_month) < 1 || Number(v.exp_month) > 12) {
      return {code: 'invalid_expiry_month', message: "Your card's expiration date is invalid."};
    }
    var now = new Date();
    var year = Number(v.exp_year);
    if (year < now.getFullYear() || (year === now.getFullYear() && Number(v.exp_month) < now.getMonth() + 1)) {
      return {code: 'invalid_expiry_year_past', message: "Your card's expiration year is in the past."};
    }
    if (!/^\d{3,4}$/.test(v.cvc)) return {code: 'incomplete_cvc', message: "Your card's security code is incomplete."};
    if (this._asksPostalCode() && !v.postal_code) return {code: 'incomplete_zip', message: 'Your postal code is incomplete.'};
    return null;
  };

  PaymentElement.prototype._changed = function () {
    var v = this._read();
    if (this._message) this._message.textContent = '';
    this._emit('change', {elementType: 'payment', empty: v.number === '', complete: this._problem() === null,
                          collapsed: false, value: {type: 'card'}});
  };

  PaymentElement.prototype._show = function (problem) {
    if (this._message) this._message.textContent = problem ? problem.message : '';
  };

  PaymentElement.prototype._emit = CardElement.prototype._emit;
  PaymentElement.prototype.on = CardElement.prototype.on;
  PaymentElement.prototype.addEventListener = CardElement.prototype.on;
  PaymentElement.prototype.off = CardElement.prototype.off;
  PaymentElement.prototype.unmount = function () {
    if (this._root) this._root.remove();
    this._root = null;
    this._inputs = null;
  };
  PaymentElement.prototype.destroy = function () { this.unmount(); this._destroyed = true; };
  PaymentElement.prototype.clear = function () {
    var inputs = this._inputs || {};
    Object.keys(inputs).forEach(function (k) { inputs[k].value = ''; });
    this._group._submitted = false;
  };
  PaymentElement.prototype.focus = function () { if (this._inputs && this._inputs.number) this._inputs.number.focus(); };
  PaymentElement.prototype.blur = CardElement.prototype.blur;
  PaymentElement.prototype.update = function (options) { Object.assign(this._options, options || {}); };
  PaymentElement.prototype.collapse = function () { return this; };

  // payment_method_data for what the Payment Element holds.
  function paymentElementData(element, extra) {
    if (element._method === 'sepa_debit') {
      var field = function (name) { return element._inputs[name].value.trim(); };
      var holder = Object.assign({name: field('account_name'), email: field('account_email')},
        (extra && extra.billing_details) || {});
      return {type: 'sepa_debit', sepa_debit: {iban: field('iban').replace(/\s/g, '')}, billing_details: holder};
    }
    var v = element._read();
    var data = {type: 'card', card: {number: v.number, exp_month: v.exp_month, exp_year: v.exp_year, cvc: v.cvc}};
    var billing = Object.assign({}, (extra && extra.billing_details) || {});
    if (v.postal_code) billing.address = Object.assign({postal_code: v.postal_code}, billing.address || {});
    if (Object.keys(billing).length) data.billing_details = billing;
    return data;
  }

  function ElementsGroup(stripe, options) {
    this._stripe = stripe;
    this._options = options || {};
    this._card = null;
    this._payment = null;
    this._submitted = false;
  }

  ElementsGroup.prototype.create = function (type, opts) {
    if (type === 'card') {
      if (this._card && !this._card._destroyed) throw new Error('Can only create one Element of type card.');
      this._card = new CardElement(type, opts);
      return this._card;
    }
    if (type === 'payment') {
      if (this._payment && !this._payment._destroyed) throw new Error('Can only create one Element of type payment.');
      this._payment = new PaymentElement(this, opts);
      return this._payment;
    }
    throw new Error('The payforms sandbox mock supports the \'payment\' and \'card\' elements only.');
  };

  ElementsGroup.prototype.getElement = function (type) {
    return type === 'card' ? this._card : type === 'payment' ? this._payment : null;
  };

  ElementsGroup.prototype.update = function (options) {
    Object.assign(this._options, options || {});
    return this;
  };

  ElementsGroup.prototype.fetchUpdates = function () { return Promise.resolve({}); };

  // Validate what the visitor typed; Stripe requires this before
  // createConfirmationToken or confirmPayment.
  ElementsGroup.prototype.submit = function () {
    var element = this._payment;
    if (!element || !element._inputs) {
      return Promise.resolve({error: {type: 'validation_error', message: 'Mount a Payment Element before calling elements.submit().'}});
    }
    var problem = element._problem();
    element._show(problem);
    if (problem) {
      this._submitted = false;
      return Promise.resolve({error: {type: 'validation_error', code: problem.code, message: problem.message}});
    }
    this._submitted = true;
    return Promise.resolve({});
  };

  ElementsGroup.prototype._checked = function () {
    if (!this._payment || !this._payment._inputs) {
      return {type: 'integration_error', message: 'Mount a Payment Element created from these elements first.'};
    }
    if (!this._submitted) {
      return {type: 'integration_error', message: 'elements.submit() must be called before stripe.createConfirmationToken().'};
    }
    return null;
  };

  function cardParams(element) {
    if (!(element instanceof CardElement)) throw new Error('Pass the card Element created by elements().create(\'card\').');
    var value = element._value();
    if (!value.card.number) throw new Error('The card element is empty: type a card number first.');
    var card = {number: value.card.number, exp_month: value.card.exp_month, exp_year: value.card.exp_year};
    if (value.card.cvc) card.cvc = value.card.cvc;
    return {card: card, postal_code: value.postal_code};
  }

  // payment_method: 'pm_...' | {card: Element, billing_details} -> request parameters
  function paymentMethodParams(paymentMethod) {
    if (!paymentMethod) return {};
    if (typeof paymentMethod === 'string') return {payment_method: paymentMethod};
    var data = {type: 'card'};
    if (paymentMethod.card instanceof CardElement) {
      var read = cardParams(paymentMethod.card);
      data.card = read.card;
      var billing = Object.assign({}, paymentMethod.billing_details || {});
      if (read.postal_code) billing.address = Object.assign({postal_code: read.postal_code}, billing.address || {});
      if (Object.keys(billing).length) data.billing_details = billing;
    } else if (paymentMethod.card && paymentMethod.card.token) {
      data.card = {token: paymentMethod.card.token};
    }
    return {payment_method_data: data};
  }

  function Stripe(publishableKey, options) {
    if (!(typeof publishableKey === 'string' && publishableKey.indexOf('pk_') === 0)) {
      throw new Error('Stripe(): use your publishable key (pk_test_...).');
    }
    var key = publishableKey;

    function finishPayment(id, clientSecret, intent) {
      if (intent.status !== 'requires_action') return Promise.resolve(intent);
      return challenge(intent).then(function (success) {
        return request('POST', '/v1/payment_intents/' + id + '/_authenticate', key, {client_secret: clientSecret, success: success})
          .then(function (r) { return r.error ? Promise.reject(r) : r.object; });
      });
    }

    function paymentResult(promise) {
      return promise.then(function (intent) {
        if (intent.status === 'requires_payment_method' && intent.last_payment_error) {
          var error = Object.assign({}, intent.last_payment_error, {payment_intent: intent});
          return {error: error};
        }
        return {paymentIntent: intent};
      }, function (failure) {
        return failure && failure.error ? {error: failure.error} : {error: {type: 'api_error', message: String(failure)}};
      });
    }

    // confirmPayment / confirmSetup with the Payment Element (or a saved
    // payment method), then 3-D Secure, then the return_url unless
    // redirect: 'if_required' and nothing needed a redirect.
    function confirmWithElements(opts, prefix) {
      opts = opts || {};
      var isSetup = prefix === 'seti';
      var group = opts.elements;
      var confirmParams = opts.confirmParams || {};
      var clientSecret = opts.clientSecret;
      if (!clientSecret) {
        return Promise.resolve({error: {type: 'integration_error', message: 'Pass the clientSecret of the intent to confirm.'}});
      }
      var id;
      try { id = intentId(clientSecret, prefix); } catch (e) { return Promise.resolve({error: {type: 'integration_error', message: e.message}}); }
      var params = {client_secret: clientSecret};
      if (group instanceof ElementsGroup) {
        var problem = group._checked();
        if (problem) return Promise.resolve({error: problem});
        params.payment_method_data = paymentElementData(group._payment, confirmParams.payment_method_data);
      } else if (confirmParams.payment_method) {
        params.payment_method = confirmParams.payment_method;
      }
      if (confirmParams.return_url) params.return_url = confirmParams.return_url;
      var path = (isSetup ? '/v1/setup_intents/' : '/v1/payment_intents/') + id;
      return request('POST', path + '/confirm', key, params).then(function (r) {
        if (r.error) return {error: r.error};
        var intent = r.object;
        var next = intent.status === 'requires_action'
          ? stripe.handleNextAction({clientSecret: clientSecret})
          : Promise.resolve(isSetup ? {setupIntent: intent} : {paymentIntent: intent});
        return next.then(function (result) {
          if (result.error || opts.redirect === 'if_required' || !confirmParams.return_url) return result;
          var done = result.paymentIntent || result.setupIntent;
          var back = confirmParams.return_url + (confirmParams.return_url.indexOf('?') < 0 ? '?' : '&')
            + (isSetup ? 'setup_intent=' : 'payment_intent=') + encodeURIComponent(done.id)
            + (isSetup ? '&setup_intent_client_secret=' : '&payment_intent_client_secret=') + encodeURIComponent(clientSecret)
            + '&redirect_status=' + (done.status === 'succeeded' || done.status === 'processing' || done.status === 'requires_capture' ? 'succeeded' : 'failed');
          window.location.assign(back);
          return new Promise(function () {});
        });
      });
    }

    var stripe = {
      elements: function (options) {
        return new ElementsGroup(stripe, options);
      },

      createConfirmationToken: function (opts) {
        var group = opts && opts.elements;
        if (!(group instanceof ElementsGroup)) {
          return Promise.resolve({error: {type: 'integration_error', message: 'createConfirmationToken needs {elements}.'}});
        }
        var problem = group._checked();
        if (problem) return Promise.resolve({error: problem});
        var params = (opts && opts.params) || {};
        var body = {payment_method_data: paymentElementData(group._payment, params.payment_method_data)};
        if (params.return_url) body.return_url = params.return_url;
        if (params.shipping) body.shipping = params.shipping;
        var usage = group._options.setupFutureUsage || group._options.setup_future_usage;
        if (usage) body.setup_future_usage = usage;
        return request('POST', '/v1/confirmation_tokens', key, body).then(function (r) {
          return r.error ? {error: r.error} : {confirmationToken: r.object};
        });
      },

      handleNextAction: function (opts) {
        var clientSecret = opts && opts.clientSecret;
        var isSetup = /^seti_/.test(String(clientSecret || ''));
        var id = intentId(clientSecret, isSetup ? 'seti' : 'pi');
        var path = (isSetup ? '/v1/setup_intents/' : '/v1/payment_intents/') + id;
        return request('GET', path, key, {client_secret: clientSecret}).then(function (r) {
          if (r.error) return {error: r.error};
          var intent = r.object;
          if (intent.status !== 'requires_action') {
            return isSetup ? {setupIntent: intent} : {paymentIntent: intent};
          }
          var action = intent.next_action || {};
          if (action.type === 'redirect_to_url' && action.redirect_to_url && action.redirect_to_url.url) {
            window.location.assign(action.redirect_to_url.url);
            return new Promise(function () {});
          }
          return challenge(intent).then(function (success) {
            return request('POST', path + '/_authenticate', key, {client_secret: clientSecret, success: success});
          }).then(function (a) {
            if (a.error) return {error: a.error};
            var done = a.object;
            var failed = isSetup ? done.last_setup_error : done.last_payment_error;
            if (done.status === 'requires_payment_method' && failed) {
              var error = Object.assign({}, failed);
              if (/_authentication_failure$/.test(failed.code || '')) {
                // What Stripe.js says to the visitor, not the API's text.
                error.message = 'We are unable to authenticate your payment method. '
                  + 'Please choose a different payment method and try again.';
              }
              error[isSetup ? 'setup_intent' : 'payment_intent'] = done;
              return {error: error};
            }
            return isSetup ? {setupIntent: done} : {paymentIntent: done};
          });
        });
      },

      confirmPayment: function (opts) {
        return confirmWithElements(opts, 'pi');
      },

      confirmSetup: function (opts) {
        return confirmWithElements(opts, 'seti');
      },

      createToken: function (element, data) {
        var read = cardParams(element);
        var card = Object.assign({}, read.card);
        if (read.postal_code) card.address_zip = read.postal_code;
        if (data && data.name) card.name = data.name;
        return request('POST', '/v1/tokens', key, {card: card}).then(function (r) {
          return r.error ? {error: r.error} : {token: r.object};
        });
      },

      createPaymentMethod: function (typeOrData, element, extra) {
        var data = typeof typeOrData === 'string'
          ? Object.assign({type: typeOrData, card: element}, extra || {})
          : typeOrData;
        if (!data || data.type !== 'card') return Promise.resolve({error: {type: 'validation_error', message: 'The sandbox mock creates card payment methods only.'}});
        var params = paymentMethodParams({card: data.card, billing_details: data.billing_details}).payment_method_data;
        if (data.metadata) params.metadata = data.metadata;
        return request('POST', '/v1/payment_methods', key, params).then(function (r) {
          return r.error ? {error: r.error} : {paymentMethod: r.object};
        });
      },

      retrievePaymentIntent: function (clientSecret) {
        var id = intentId(clientSecret, 'pi');
        return request('GET', '/v1/payment_intents/' + id, key, {client_secret: clientSecret}).then(function (r) {
          return r.error ? {error: r.error} : {paymentIntent: r.object};
        });
      },

      confirmCardPayment: function (clientSecret, data, opts) {
        var id = intentId(clientSecret, 'pi');
        var params = Object.assign({client_secret: clientSecret}, paymentMethodParams(data && data.payment_method));
        if (data && data.setup_future_usage) params.setup_future_usage = data.setup_future_usage;
        if (data && data.receipt_email) params.receipt_email = data.receipt_email;
        var handleActions = !(opts && opts.handleActions === false);
        var flow = request('GET', '/v1/payment_intents/' + id, key, {client_secret: clientSecret}).then(function (r) {
          if (r.error) return Promise.reject(r);
          // Already confirmed on the server and waiting for 3-D Secure: just authenticate.
          if (r.object.status === 'requires_action' && !params.payment_method && !params.payment_method_data) return r.object;
          return request('POST', '/v1/payment_intents/' + id + '/confirm', key, params).then(function (c) {
            return c.error ? Promise.reject(c) : c.object;
          });
        }).then(function (intent) {
          return handleActions ? finishPayment(id, clientSecret, intent) : intent;
        });
        return paymentResult(flow);
      },

      handleCardAction: function (clientSecret) {
        var id = intentId(clientSecret, 'pi');
        var flow = request('GET', '/v1/payment_intents/' + id, key, {client_secret: clientSecret}).then(function (r) {
          return r.error ? Promise.reject(r) : finishPayment(id, clientSecret, r.object);
        });
        return paymentResult(flow);
      },

      confirmCardSetup: function (clientSecret, data) {
        var id = intentId(clientSecret, 'seti');
        var params = Object.assign({client_secret: clientSecret}, paymentMethodParams(data && data.payment_method));
        return request('POST', '/v1/setup_intents/' + id + '/confirm', key, params).then(function (r) {
          if (r.error) return {error: r.error};
          var intent = r.object;
          if (intent.status !== 'requires_action') return {setupIntent: intent};
          return challenge(intent).then(function (success) {
            return request('POST', '/v1/setup_intents/' + id + '/_authenticate', key, {client_secret: clientSecret, success: success});
          }).then(function (a) {
            if (a.error) return {error: a.error};
            if (a.object.status === 'succeeded') return {setupIntent: a.object};
            return {error: Object.assign({}, a.object.last_setup_error, {setup_intent: a.object})};
          });
        });
      },

      redirectToCheckout: function (opts) {
        if (!opts || !opts.sessionId) return Promise.resolve({error: {message: 'redirectToCheckout needs a sessionId.'}});
        window.location.assign(BASE + '/checkout/pay/' + encodeURIComponent(opts.sessionId));
        return new Promise(function () {});
      }
    };
    stripe._sandbox = {base: BASE, options: options || {}};
    return stripe;
  }

  window.Stripe = Stripe;
})();
