// The workspace's only script: small helpers; every page works without it.
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
  // One click, one submission: a second tap on a slow phone network does nothing.
  document.querySelectorAll("form[method=post]").forEach(function (form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    });
  });
  // Coming back to a page from the history must not leave its buttons disabled.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("button[disabled]").forEach(function (b) { b.disabled = false; });
  });
})();
