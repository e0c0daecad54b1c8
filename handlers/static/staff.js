// The workspace's only script: small helpers; every page works without it (alerts and
// the queue's self-refresh need it).
(function () {
  "use strict";
  // Canned replies: choosing one fills the reply box (to be edited before sending).
  document.querySelectorAll("select.canned").forEach(function (select) {
    select.addEventListener("change", function () {
      var box = document.getElementById(select.dataset.target);
      if (box && select.value) {
        box.value = select.value;
        box.dispatchEvent(new Event("input"));
        box.focus();
      }
      select.selectedIndex = 0;
    });
  });
  // A character count beside the reply box (WeChat takes at most 600 here).
  document.querySelectorAll(".counter").forEach(function (counter) {
    var box = document.getElementById(counter.dataset.for);
    if (!box) return;
    var update = function () { counter.textContent = box.value.length + " / " + box.maxLength; };
    box.addEventListener("input", update);
    update();
  });
  // Buttons that take access away ask first (captured before the form's own handler).
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    if (button && button.dataset.confirm && !window.confirm(button.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
  // One click, one submission: a second tap on a slow phone network does nothing. A
  // disabled button is left out of what the form sends, so the pressed one's name and
  // value (删除 beside 保存) travel in a hidden field instead.
  document.querySelectorAll("form[method=post]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var pressed = event.submitter;
      if (pressed && pressed.name) {
        var field = document.createElement("input");
        field.type = "hidden";
        field.name = pressed.name;
        field.value = pressed.value;
        form.appendChild(field);
      }
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    });
  });
  // Alerts: every open page asks for new ones every ALERT_POLL_MS and shows each as a
  // banner with a sound; the queue reloads its table when one arrives and every
  // data-refresh seconds (never while someone is typing in its filters).
  var ALERT_POLL_MS = 10000;
  var box = document.getElementById("ws-alerts");
  var queue = document.querySelector("table.queue[data-refresh]");
  var beep = function () {
    try {
      var Audio = window.AudioContext || window.webkitAudioContext;
      var ctx = new Audio();
      [0, 0.35].forEach(function (at) {
        var tone = ctx.createOscillator(), gain = ctx.createGain();
        tone.frequency.value = 880;
        gain.gain.value = 0.2;
        tone.connect(gain);
        gain.connect(ctx.destination);
        tone.start(ctx.currentTime + at);
        tone.stop(ctx.currentTime + at + 0.2);
      });
      return true;
    } catch (e) {
      return false;  // no audio here: the banner still shows
    }
  };
  var showAlert = function (alert) {
    var banner = document.createElement("div");
    banner.className = "ws-alert kind-" + alert.kind;
    banner.setAttribute("role", "alert");
    var link = document.createElement("a");
    link.href = alert.url;
    link.textContent = alert.text;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "btn-link";
    close.textContent = "知道了";
    close.addEventListener("click", function () { banner.remove(); });
    banner.appendChild(link);
    banner.appendChild(close);
    box.appendChild(banner);
    banner.dataset.sound = beep() ? "played" : "none";
  };
  // Fetch this page again and swap in the parts that show what changed (never a form
  // someone may be typing in).
  var refreshParts = function (selectors, done) {
    fetch(window.location.href, {credentials: "same-origin"}).then(function (r) {
      return r.ok ? r.text() : null;
    }).then(function (html) {
      if (!html) return;
      var fresh = new DOMParser().parseFromString(html, "text/html");
      selectors.forEach(function (selector) {
        var now = document.querySelector(selector), next = fresh.querySelector(selector);
        if (now && next) now.replaceWith(next);
      });
      if (done) done(fresh);
    }).catch(function () {});
  };
  var refreshQueue = function () {
    var filters = document.querySelector("form.filters");
    if (!queue || (filters && filters.contains(document.activeElement))) return;
    refreshParts(["table.queue", "nav.tabs"], function () {
      queue = document.querySelector("table.queue[data-refresh]");
      if (queue) queue.dataset.refreshedAt = String(Date.now());
    });
  };
  // The ticket page asks every TICKET_POLL_MS whether anything on it changed (a cheap
  // stamp, no personal data) and only then reloads its transcript, head and trail.
  var TICKET_POLL_MS = 10000;
  var ticketPage = document.querySelector(".ticket-page[data-stamp-url]");
  if (ticketPage) {
    window.setInterval(function () {
      fetch(ticketPage.dataset.stampUrl, {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data || data.stamp === ticketPage.dataset.stamp) return;
          refreshParts([".head-badges", ".head-facts", "ol.transcript", "#clocks ul.clocks", "ol.trail"], function (fresh) {
            var next = fresh.querySelector(".ticket-page[data-stamp]");
            if (next) ticketPage.dataset.stamp = next.dataset.stamp;
            ticketPage.dataset.refreshedAt = String(Date.now());
          });
        }).catch(function () {});
    }, TICKET_POLL_MS);
  }
  if (box) {
    var poll = function () {
      fetch(box.dataset.poll + "?after=" + encodeURIComponent(box.dataset.after), {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) return;
          box.dataset.after = data.last;
          data.alerts.forEach(showAlert);
          if (data.alerts.length) refreshQueue();
        }).catch(function () {});
    };
    window.setInterval(poll, ALERT_POLL_MS);
    poll();
  }
  if (queue) window.setInterval(refreshQueue, Number(queue.dataset.refresh) * 1000);
  // Coming back to a page from the history must not leave its buttons disabled.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("button[disabled]").forEach(function (b) { b.disabled = false; });
  });
})();
