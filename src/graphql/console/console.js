// The GraphQL console of payforms: served by payforms itself (no CDN), so
// it works offline and under the site's Content-Security-Policy.
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var SCHEMA_QUERY = '{ __schema { queryType { fields { name args { name } } } mutationType { fields { name } } } }';

  function run(query, variables) {
    var out = $('result');
    out.textContent = 'Running…';
    return fetch(window.location.pathname, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Authorization': 'Bearer ' + $('key').value },
      body: JSON.stringify({ query: query, variables: variables })
    }).then(function (r) { return r.text(); })
      .then(function (text) {
        try { out.textContent = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { out.textContent = text; }
      })
      .catch(function (e) { out.textContent = 'Request failed: ' + e; });
  }

  $('console').addEventListener('submit', function (event) {
    event.preventDefault();
    var variables;
    try { variables = JSON.parse($('variables').value || '{}'); } catch (e) {
      $('result').textContent = 'Variables are not JSON: ' + e;
      return;
    }
    run($('query').value, variables);
  });
  $('schema').addEventListener('click', function () { run(SCHEMA_QUERY, {}); });
})();
