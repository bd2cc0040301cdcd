// Keeps a background action's page live: polls its JSON every second until it ends, without reloading.
(function () {
  "use strict";
  var section = document.getElementById("action");
  if (!section || !window.fetch) { return; }
  var url = section.getAttribute("data-url");
  var RUNNING = "running";

  function show(id, text) {
    var element = document.getElementById(id);
    if (element && element.textContent !== text) { element.textContent = text; }
  }

  function render(data) {
    var record = data.record || {};
    show("action-summary", data.error || data.summary || "");
    show("action-state", record.state || "");
    show("action-done", record.done || "0");
    show("action-total", record.total || "—");
    var bar = document.getElementById("action-bar");
    if (bar) {
      bar.max = parseInt(record.total || "1", 10) || 1;
      bar.value = parseInt(record.done || "0", 10) || 0;
    }
    var summary = document.getElementById("action-summary");
    if (summary) {
      summary.className = "flash " + (record.state === "done" ? "ok" : (record.state === RUNNING ? "" : "error"));
    }
    section.setAttribute("data-state", record.state || "");
    return record.state !== RUNNING;
  }

  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) { if (!render(data)) { setTimeout(poll, 1000); } })
      .catch(function (error) {
        show("action-summary", "Progress unavailable (" + error.message + "); retrying.");
        setTimeout(poll, 3000);
      });
  }

  if (section.getAttribute("data-state") === RUNNING) { setTimeout(poll, 1000); }
})();
