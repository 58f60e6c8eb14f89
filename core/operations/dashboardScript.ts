/**
 * The live pages' script, served as its own file so the pages' Content-Security-Policy allows no inline
 * script: every `interval` ms it fetches the JSON named by `main[data-poll]` and replaces the elements named
 * in its `fragments` (server-rendered, escaped markup) in place, announcing only phase changes; it stops once
 * the JSON says the migration has `ended`, and keeps trying (saying so) when a poll fails.
 */
export const DASHBOARD_SCRIPT = `'use strict';
(function () {
  var main = document.querySelector('main[data-poll]');
  if (!main) return;
  var url = main.getAttribute('data-poll');
  var interval = Math.max(500, Number(main.getAttribute('data-interval')) || 2000);
  var status = document.getElementById('poll-status');
  var lastPhase = null;
  function swap(fragments) {
    Object.keys(fragments || {}).forEach(function (id) {
      var target = document.getElementById(id);
      if (!target) return;
      var parsed = new DOMParser().parseFromString('<!doctype html><body>' + fragments[id], 'text/html');
      var nodes = Array.prototype.slice.call(parsed.body.childNodes).map(function (n) {
        return document.adoptNode(n);
      });
      target.replaceChildren.apply(target, nodes);
    });
  }
  function say(text) {
    if (status && status.textContent !== text) status.textContent = text;
  }
  function tick() {
    fetch(url, { headers: { accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin' })
      .then(function (res) {
        if (!res.ok) throw new Error('the app answered ' + res.status);
        return res.json();
      })
      .then(function (data) {
        swap(data.fragments);
        if (data.phase && data.phase !== lastPhase) {
          if (lastPhase !== null) say('Phase: ' + data.phase + '.');
          lastPhase = data.phase;
          if (data.title) document.title = data.title;
        }
        if (data.ended) {
          say('The migration has ended (' + data.phase + ').');
          return;
        }
        setTimeout(tick, interval);
      })
      .catch(function (err) {
        say('Could not refresh (' + err.message + '); trying again.');
        setTimeout(tick, interval * 2);
      });
  }
  setTimeout(tick, interval);
})();
`;
