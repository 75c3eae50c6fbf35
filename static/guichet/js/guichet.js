// Guichet: small progressive enhancements, no inline script (CSP: script-src 'self').
(function () {
  "use strict";
  // htmx: announce swapped regions to assistive technologies by focusing the new heading if asked.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    var focus = target && target.querySelector("[data-focus-after-swap]");
    if (focus) { focus.focus(); }
  });
})();

// Websocket close codes every socket shares (docs/realtime.md). 4401: the login session ended
// (logout in another tab, password change, expiry, account deactivated): reload the page, which
// leads to the login page and back. 4408 (too many open sockets) and 4429 (flooding): wait
// 30 to 60 s before reconnecting rather than at once.
(function () {
  "use strict";
  var leaving = false;
  window.addEventListener("beforeunload", function () { leaving = true; });
  window.GuichetSockets = {
    sessionEnded: function () {
      if (leaving) { return; }  // this tab is logging out or going elsewhere already
      try {
        // Never more than one reload per 10 s: the page must not loop if it is the socket only
        // that refuses this session.
        var last = Number(window.sessionStorage.getItem("guichet-session-ended") || 0);
        if (Date.now() - last < 10000) { return; }
        window.sessionStorage.setItem("guichet-session-ended", String(Date.now()));
      } catch (e) { /* storage unavailable: reload anyway */ }
      window.location.reload();
    },
    // Milliseconds to wait before reconnecting after a refusal, or null for other codes.
    backoff: function (code) {
      return code === 4408 || code === 4429 ? 30000 + Math.random() * 30000 : null;
    }
  };
})();
