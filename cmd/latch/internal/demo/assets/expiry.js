// The expiry warning. It polls /session/status, which reports the deadlines
// without extending the session, shows a banner with a countdown before
// the idle deadline, and offers "Stay signed in". When the session runs out
// it goes to the sign-in page, which the server tells why.
"use strict";
(function () {
  const banner = document.getElementById("expiry-banner");
  const countdown = document.getElementById("expiry-countdown");
  const stay = document.getElementById("stay");
  if (!banner) return;
  let idleLeft = null, absLeft = null, idleTotal = 120, fetchedAt = 0, inFlight = null, leaving = false;

  function warnBefore() {
    // Warn one minute ahead, or at half the idle timeout for short ones.
    return Math.min(60, Math.max(1, Math.floor(idleTotal / 2)));
  }

  // poll asks the server for the deadlines, one request at a time: the
  // first request that finds the session ended learns why (and the server
  // keeps the reason for the sign-in page); one sent beside it would find
  // the session already gone.
  function poll() {
    if (!inFlight && !leaving) {
      inFlight = ask().finally(function () { inFlight = null; });
    }
    return inFlight || Promise.resolve();
  }

  async function ask() {
    try {
      const r = await fetch("/session/status", { credentials: "same-origin", headers: { Accept: "application/json" } });
      const st = await r.json();
      if (r.status === 401) {
        // The server carries why the session ended to the sign-in page.
        leaving = true;
        location.href = "/login";
        return;
      }
      idleLeft = st.idle_remaining_seconds;
      absLeft = st.absolute_remaining_seconds;
      idleTotal = st.idle_timeout_seconds || idleTotal;
      fetchedAt = Date.now();
    } catch (e) { /* network hiccup: try again at the next tick */ }
  }

  function tick() {
    if (idleLeft === null) return;
    const gone = Math.floor((Date.now() - fetchedAt) / 1000);
    const left = Math.min(idleLeft, absLeft) - gone;
    if (left <= 0) {
      // The page's clock is not the server's: ask the server, and leave
      // only when it says the session is over.
      poll();
      return;
    }
    if (left <= warnBefore()) {
      banner.hidden = false;
      countdown.textContent = left + " s";
    } else {
      banner.hidden = true;
    }
  }

  stay.addEventListener("click", async function () {
    await fetch("/session/touch", { method: "POST", credentials: "same-origin" });
    banner.hidden = true;
    await poll();
  });

  poll();
  setInterval(tick, 500);
  setInterval(poll, 5000);
})();
