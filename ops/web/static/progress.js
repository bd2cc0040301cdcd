// Keeps the job page's progress section live: polls its JSON endpoint every second, without reloading.
(function () {
  "use strict";
  var section = document.getElementById("progress");
  if (!section || !window.fetch) { return; }
  var url = section.getAttribute("data-url");
  var FINAL = { done: true, failed: true };
  var polls = 0;
  // A job already final when the page loaded needs no refresh of what the page shows.
  var startedLive = !FINAL[(document.getElementById("progress-step") || {}).textContent];

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

  // When the job ends while the page is open, the row and the outputs it wrote are
  // fetched once more (the page itself, parsed) and swapped in: still no reload.
  function refreshSections() {
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("section.refreshable").forEach(function (old) {
          var replacement = fresh.getElementById(old.id);
          if (replacement) { old.replaceWith(document.importNode(replacement, true)); }
        });
        section.setAttribute("data-refreshed", "true");
      })
      .catch(function () { show("progress-note", "The job ended; reload the page to see its row and outputs."); });
  }

  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        if (!render(data)) { setTimeout(poll, 1000); } else if (startedLive) { refreshSections(); }
      })
      .catch(function (error) {
        show("progress-note", "Progress unavailable (" + error.message + "); retrying.");
        setTimeout(poll, 3000);
      });
  }

  setTimeout(poll, 1000);
})();
