// Keeps the job page's progress section live: polls its JSON endpoint every second, without reloading.
(function () {
  "use strict";
  var section = document.getElementById("progress");
  if (!section || !window.fetch) { return; }
  var url = section.getAttribute("data-url");
  var FINAL = { done: true, failed: true };
  var polls = 0;

  function show(id, text) {
    var element = document.getElementById(id);
    if (element && element.textContent !== text) { element.textContent = text; }
  }

  function render(data) {
    var p = data.progress || {};
    show("progress-step", p.step || "—");
    show("progress-percent", p.percent ? p.percent + " %" : "—");
    show("progress-message", p.message || "");
    show("progress-updated", p.updated_at ? p.updated_at.replace("T", " ").slice(0, 19) : "—");
    var bar = document.getElementById("progress-bar");
    if (bar) { bar.value = parseInt(p.percent || "0", 10) || 0; }
    if (data.status) {
      var status = document.getElementById("status");
      if (status) { status.textContent = data.status; status.className = "status s-" + data.status.toLowerCase(); }
      show("row-status", data.status);
    }
    show("progress-note", data.error || (p.step ? "" : "No progress recorded (not started yet, or older than its TTL)."));
    polls += 1;
    section.setAttribute("data-polls", String(polls));
    return FINAL[p.step] === true;
  }

  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) { if (!render(data)) { setTimeout(poll, 1000); } })
      .catch(function (error) {
        show("progress-note", "Progress unavailable (" + error.message + "); retrying.");
        setTimeout(poll, 3000);
      });
  }

  setTimeout(poll, 1000);
})();
