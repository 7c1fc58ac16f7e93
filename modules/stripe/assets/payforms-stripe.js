/*
 * payforms Stripe forms: the browser half of modules/stripe's form partials.
 *
 * Each partial renders a `[data-payforms-stripe]` box inside a payforms
 * `{% form %}`; its data attributes say what to do:
 *   [data-payforms-payment-element]  an element inside the box: mount Stripe's
 *                                Payment Element there (data-mode payment|setup,
 *                                data-amount, data-currency, data-capture-method)
 *                                and, on submit, turn what was typed into a
 *                                ConfirmationToken posted in `form[source]`; a
 *                                stored record that still needs the customer
 *                                (3-D Secure) is finished with handleNextAction
 *   [data-payforms-card]         (legacy) an element inside the box: mount a Stripe card
 *                                element there and, on submit, turn the card into
 *                                a token (the card number never reaches the
 *                                server) posted in `form[source]`
 *   data-token-source            (on it) "token" posts token.id (the default),
 *                                "card" posts token.card.id (config.token_source,
 *                                for a peer that cannot pay with a token)
 *   data-require-zip="true"      (on it) ask for the postal code
 *   data-confirm-payment="true"  a stored record that still needs the customer
 *                                (3-D Secure) is authenticated with
 *                                confirmCardPayment(record.client_secret)
 *   data-redirect="record.url"   go to the stored record's url (Checkout)
 *   data-confirm="text"          ask before submitting
 *   data-publishable-key, data-js-url   Stripe.js and its key
 * Such forms are posted with `Accept: application/json` and the answer drives
 * the page; every other form is posted normally. Values from the server are
 * only ever written as text, never as HTML.
 */
(function () {
  'use strict';
  if (window.PayformsStripe) {
    window.PayformsStripe.scan();
    return;
  }

  var stripeScript = null;
  var stripeClients = {};

  // Stripe.js is loaded once per page, however many partials ask for it.
  function loadStripe(url) {
    if (typeof window.Stripe === 'function') {
      return Promise.resolve(window.Stripe);
    }
    if (!stripeScript) {
      stripeScript = new Promise(function (resolve, reject) {
        var script = document.createElement('script');
        script.src = url;
        script.onload = function () {
          if (typeof window.Stripe === 'function') {
            resolve(window.Stripe);
          } else {
            reject(new Error('Stripe.js did not load; please reload the page.'));
          }
        };
        script.onerror = function () {
          reject(new Error('Stripe.js could not be loaded; please reload the page.'));
        };
        document.head.appendChild(script);
      });
    }
    return stripeScript;
  }

  function stripeClient(Stripe, key) {
    if (!stripeClients[key]) {
      stripeClients[key] = Stripe(key); // a function call: the localstripe mock refuses `new`
    }
    return stripeClients[key];
  }

  function errorText(error, fallback) {
    if (!error) {
      return fallback;
    }
    if (typeof error === 'string') {
      return error;
    }
    return error.message || fallback;
  }

  // 422 answers carry {errors: {field: [messages]}}; `base` first.
  function validationMessages(errors) {
    var messages = [];
    if (!errors || typeof errors !== 'object') {
      return messages;
    }
    Object.keys(errors).sort(function (a, b) {
      return (a === 'base' ? 0 : 1) - (b === 'base' ? 0 : 1);
    }).forEach(function (field) {
      var list = Array.isArray(errors[field]) ? errors[field] : [errors[field]];
      list.forEach(function (message) {
        messages.push(field === 'base' ? String(message) : field.replace(/_/g, ' ') + ' ' + message);
      });
    });
    return messages;
  }

  // After a refused attempt the form needs a fresh signed state and
  // idempotency key (a new card is a new request): read them from the page.
  function refreshFormState(form) {
    if (!form.id || !window.fetch || !window.DOMParser) {
      return Promise.resolve();
    }
    return fetch(window.location.href, { credentials: 'same-origin', headers: { Accept: 'text/html' } })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, 'text/html').getElementById(form.id);
        if (!fresh) {
          return;
        }
        ['authenticity_token', 'payforms_state', 'idempotency_key'].forEach(function (name) {
          var from = fresh.querySelector('input[name="' + name + '"]');
          var to = form.querySelector('input[name="' + name + '"]');
          if (from && to) {
            to.value = from.value;
          }
        });
      })
      .catch(function () { /* the visitor can still reload the page */ });
  }

  function setup(box) {
    var form = box.closest('form');
    if (!form || form.getAttribute('data-payforms-stripe-ready')) {
      return;
    }
    form.setAttribute('data-payforms-stripe-ready', 'true');
    var cardBox = box.querySelector('[data-payforms-card]');
    var elementBox = box.querySelector('[data-payforms-payment-element]');
    var options = {};
    [box.dataset, cardBox ? cardBox.dataset : {}, elementBox ? elementBox.dataset : {}].forEach(function (set) {
      Object.keys(set).forEach(function (key) { options[key] = set[key]; });
    });
    var wantsElement = !!elementBox;
    var wantsCard = !!cardBox || wantsElement;
    var wantsAuthentication = options.confirmPayment === 'true';
    var viaJson = wantsCard || wantsAuthentication || !!options.redirect;
    var errorBox = box.querySelector('[data-payforms-error]');
    var buttons = Array.prototype.slice.call(form.querySelectorAll('button[type=submit], input[type=submit]'));
    var stripe = null;
    var card = null;
    var elements = null;
    var busy = false;

    function showError(message) {
      if (errorBox) {
        errorBox.textContent = message;
        errorBox.hidden = false;
      } else {
        window.alert(message);
      }
    }

    function clearError() {
      if (errorBox) {
        errorBox.textContent = '';
        errorBox.hidden = true;
      }
    }

    function setBusy(value) {
      busy = value;
      buttons.forEach(function (button) { button.disabled = value; });
    }

    var ready = Promise.resolve();
    if (wantsCard || wantsAuthentication) {
      setBusy(true);
      ready = loadStripe(options.jsUrl).then(function (Stripe) {
        stripe = stripeClient(Stripe, options.publishableKey);
        if (wantsElement) {
          var elementOptions = {
            mode: ['setup', 'subscription'].indexOf(options.mode) >= 0 ? options.mode : 'payment',
            appearance: { theme: 'stripe', variables: { colorPrimary: '#0a7c4a', borderRadius: '6px' } }
          };
          if (options.currency) {
            elementOptions.currency = options.currency;
          }
          if (elementOptions.mode !== 'setup') {
            elementOptions.amount = Number(options.amount);
          }
          if (options.captureMethod) {
            elementOptions.captureMethod = options.captureMethod;
          }
          elements = stripe.elements(elementOptions);
          elements.create('payment', { layout: 'tabs' }).mount(elementBox);
        } else if (cardBox) {
          card = stripe.elements().create('card', { hidePostalCode: options.requireZip !== 'true' });
          card.mount(cardBox);
        }
      });
      ready.then(function () { setBusy(false); }, function (error) {
        showError(errorText(error, 'The card form could not be shown; please reload the page.'));
      });
    }

    // The Payment Element: validate, then a ConfirmationToken the server
    // confirms the intent with.
    function confirmationToken() {
      return Promise.resolve(elements.submit()).then(function (submitted) {
        if (submitted && submitted.error) {
          throw new Error(errorText(submitted.error, 'Please check your payment details.'));
        }
        return stripe.createConfirmationToken({ elements: elements });
      }).then(function (outcome) {
        if (!outcome || outcome.error || !outcome.confirmationToken) {
          throw new Error(errorText(outcome && outcome.error, 'Please check your payment details.'));
        }
        var field = form.querySelector('input[name="form[source]"]');
        if (field) {
          field.value = outcome.confirmationToken.id;
        }
      });
    }

    // Subscription mode: the form is posted first (the subscription and its
    // first invoice are made on the server), then confirmPayment pays the
    // invoice; here only what was typed is checked.
    var confirmsAfterPost = options.mode === 'subscription';

    function tokenize() {
      if (elements && confirmsAfterPost) {
        return Promise.resolve(elements.submit()).then(function (submitted) {
          if (submitted && submitted.error) {
            throw new Error(errorText(submitted.error, 'Please check your payment details.'));
          }
        });
      }
      if (elements) {
        return confirmationToken();
      }
      if (!card) {
        return Promise.resolve();
      }
      var result;
      try {
        result = stripe.createToken(card);
      } catch (error) {
        return Promise.reject(new Error('Please enter your card details.'));
      }
      return Promise.resolve(result).then(function (outcome) {
        if (!outcome || outcome.error || !outcome.token) {
          throw new Error(errorText(outcome && outcome.error, 'Please check your card details.'));
        }
        var field = form.querySelector('input[name="form[source]"]');
        if (field) {
          var useCard = options.tokenSource === 'card' && outcome.token.card && outcome.token.card.id;
          field.value = useCard ? outcome.token.card.id : outcome.token.id;
        }
      }, function () {
        throw new Error('Please enter your card details.');
      });
    }

    function post() {
      return fetch(form.action, {
        method: 'POST',
        body: new URLSearchParams(new FormData(form)),
        headers: { Accept: 'application/json' },
        credentials: 'same-origin'
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          return { status: response.status, body: body };
        });
      });
    }

    function authenticate(record) {
      var needsCustomer = record && record.client_secret &&
        (record.state === 'requires_action' || record.state === 'incomplete');
      if (!wantsAuthentication || !needsCustomer || !stripe) {
        return Promise.resolve();
      }
      var action = !elements
        ? stripe.confirmCardPayment(record.client_secret)
        : confirmsAfterPost
          ? stripe.confirmPayment({ elements: elements, clientSecret: record.client_secret, redirect: 'if_required' })
          : stripe.handleNextAction({ clientSecret: record.client_secret });
      return Promise.resolve(action).then(function (outcome) {
        if (outcome && outcome.error) {
          throw new Error(errorText(outcome.error, 'Your bank did not authenticate this payment.'));
        }
        var intent = outcome && (outcome.paymentIntent || outcome.setupIntent);
        var done = ['succeeded', 'requires_capture', 'processing'];
        if (intent && done.indexOf(intent.status) < 0) {
          throw new Error('Your bank did not authenticate this payment; your card was not charged.');
        }
      });
    }

    function leave(answer) {
      var record = answer.body.record || {};
      if (options.redirect === 'record.url' && record.url) {
        window.location.assign(record.url);
      } else {
        window.location.assign(answer.body.redirect_to || window.location.href);
      }
    }

    form.addEventListener('submit', function (event) {
      if (options.confirm && !window.confirm(options.confirm)) {
        event.preventDefault();
        return;
      }
      if (!viaJson) {
        return; // a plain form post: the server answers with a page
      }
      event.preventDefault();
      if (busy) {
        return;
      }
      clearError();
      setBusy(true);
      ready
        .then(tokenize)
        .then(post)
        .then(function (answer) {
          if (answer.status === 201 || answer.status === 200) {
            return authenticate(answer.body.record).then(function () { leave(answer); }, function (error) {
            error.refresh = true; // that rendered form is spent: a new attempt needs a new one
            throw error;
          });
          }
          var messages = validationMessages(answer.body.errors);
          if (!messages.length && answer.body.error) {
            messages.push(errorText(answer.body.error, 'The form was not accepted.'));
          }
          var failure = new Error(messages.join('. ') || 'The form was not accepted; please try again.');
          failure.refresh = answer.status === 422;
          throw failure;
        })
        .catch(function (error) {
          showError(errorText(error, 'Something went wrong; please try again.'));
          var refresh = error && error.refresh ? refreshFormState(form) : Promise.resolve();
          return refresh.then(function () { setBusy(false); });
        });
    });
  }

  function scan() {
    var boxes = document.querySelectorAll('[data-payforms-stripe]');
    Array.prototype.forEach.call(boxes, setup);
  }

  window.PayformsStripe = { scan: scan };
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', scan);
  } else {
    scan();
  }
})();
