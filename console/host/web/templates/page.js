"use strict";
(function () {
  var live = document.getElementById("live");
  var conn = document.getElementById("conn");
  var refresh = Number(live.getAttribute("data-refresh")) || 15;
  var skew = 0;

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function clock(ms) {
    var s = Math.floor(Math.abs(ms) / 1000), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    var text = (h ? h + ":" + pad(m) : pad(m)) + ":" + pad(s % 60);
    return (ms < 0 ? "-" : "") + text;
  }
  function level(remaining, rto) {
    if (remaining <= 0) return "breached";
    if (remaining <= rto * 0.10) return "red";
    if (remaining <= rto / 3) return "amber";
    return "ok";
  }
  function syncClock() {
    var el = document.getElementById("rto");
    if (el) skew = Date.parse(el.getAttribute("data-as-of")) - Date.now();
  }
  function tick() {
    var el = document.getElementById("rto");
    if (!el || el.getAttribute("data-stopped") === "1") return;
    var remaining = Date.parse(el.getAttribute("data-deadline")) - (Date.now() + skew);
    var lvl = level(remaining, Number(el.getAttribute("data-rto")) * 1000);
    el.textContent = (lvl === "breached" ? "breached " : "") + clock(remaining);
    var box = el.closest(".rto");
    if (box) box.className = "rto lvl-" + lvl;
  }
  function replace(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    live.replaceChildren.apply(live, Array.prototype.slice.call(doc.body.childNodes));
    syncClock();
    tick();
  }
  syncClock();
  tick();
  setInterval(tick, 1000);
  if (!window.EventSource) { setTimeout(function () { location.reload(); }, refresh * 1000); return; }
  var failures = 0;
  var source = new EventSource("events");
  source.addEventListener("state", function (event) {
    failures = 0;
    conn.hidden = false; conn.className = "conn"; conn.textContent = "live";
    var message = JSON.parse(event.data);
    replace(message.html);
    document.title = message.title;
  });
  source.onerror = function () {
    conn.hidden = false; conn.className = "conn lost"; conn.textContent = "reconnecting";
    failures += 1;
    if (source.readyState === EventSource.CLOSED || failures > 5) {
      source.close();
      setTimeout(function () { location.reload(); }, refresh * 1000);
    }
  };
})();
