/*
 * payforms sandbox: a small Stripe.js (v3) mock for offline demos and tests.
 * Load it with <script src=".../js.stripe.com/v3/"></script> and call
 * Stripe(publishableKey). It talks to the sandbox that served it.
 * The card element renders plain inputs with the placeholders number,
 * exp_month, exp_year, cvc and postal_code, like localstripe's mock.
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

  // The 3-D Secure challenge: resolves true (complete) or false (fail).
  function challenge(text) {
    return new Promise(function (resolve) {
      var box = document.createElement('div');
      box.setAttribute('role', 'dialog');
      box.setAttribute('data-payforms-sandbox', '3ds');
      Object.assign(box.style, {
        position: 'fixed', top: '30%', left: '50%', width: '320px', marginLeft: '-160px',
        padding: '16px', background: '#fff', border: '3px solid #ccc', textAlign: 'center', zIndex: 2147483647
      });
      var p = document.createElement('p');
      p.textContent = text;
      var ok = document.createElement('button');
      ok.type = 'button';
      ok.textContent = 'Complete authentication';
      var fail = document.createElement('button');
      fail.type = 'button';
      fail.textContent = 'Fail authentication';
      box.appendChild(p);
      box.appendChild(ok);
      box.appendChild(document.createTextNode(' '));
      box.appendChild(fail);
      document.body.appendChild(box);
      function done(result) { box.remove(); resolve(result); }
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
      input.name = name;
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
      return challenge('3D Secure: do you want to confirm or cancel?').then(function (success) {
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

    var stripe = {
      elements: function () {
        var created = null;
        return {
          create: function (type, opts) {
            if (type !== 'card') throw new Error('The payforms sandbox mock supports the combined \'card\' element only.');
            if (created && !created._destroyed) throw new Error('Can only create one Element of type card.');
            created = new CardElement(type, opts);
            return created;
          },
          getElement: function (type) { return type === 'card' ? created : null; }
        };
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
          return challenge('3D Secure: do you want to confirm or cancel?').then(function (success) {
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
