// The alerts panel (index and session pages): re-fetched in place every 5 s. The server
// renders it with every string escaped, as it does the charts.
(function () {
  "use strict";
  function refreshAlerts() {
    const box = document.getElementById("alerts");
    if (!box || document.hidden) return;
    fetch(box.dataset.src, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.text() : null))
      .then((html) => { if (html !== null) box.outerHTML = html; })
      .catch(() => {});
  }
  setInterval(refreshAlerts, 5000);
})();

// Live updates for the session page. Everything from the logs is inserted with
// textContent, never as HTML, so a symbol or payload containing markup shows as text.
(function () {
  "use strict";
  const table = document.getElementById("timeline");
  if (!table) return;
  const rows = document.getElementById("rows");
  const status = document.getElementById("live-status");
  const session = table.dataset.session;
  const kindFilter = table.dataset.kind;
  const seen = new Set();
  for (const tr of rows.querySelectorAll("tr[data-key]")) {
    if (tr.dataset.key) seen.add(tr.dataset.key);
  }

  function setStatus(text, cls) {
    status.textContent = text;
    status.className = "status " + (cls || "");
  }

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  function addRow(row) {
    const key = row.event_id || (row.ts + "|" + row.description);
    if (seen.has(key)) return;
    seen.add(key);
    bump("count-total");
    bump("count-" + row.kind);
    const end = document.getElementById("end-time");
    if (end) end.textContent = row.ts;
    if (kindFilter && row.kind !== kindFilter) return;
    const tr = document.createElement("tr");
    tr.className = "kind-" + row.kind + " fresh";
    tr.dataset.key = key;
    tr.appendChild(cell(row.ts));
    const kindTd = document.createElement("td");
    const badge = document.createElement("span");
    badge.className = "badge kind-" + row.kind;
    badge.textContent = row.kind;
    kindTd.appendChild(badge);
    tr.appendChild(kindTd);
    tr.appendChild(cell(row.symbol));
    const descTd = document.createElement("td");
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    summary.textContent = row.description;
    const pre = document.createElement("pre");
    pre.textContent = JSON.stringify(row.details, null, 2);
    details.appendChild(summary);
    details.appendChild(pre);
    descTd.appendChild(details);
    tr.appendChild(descTd);
    rows.insertBefore(tr, rows.firstChild);
    const empty = document.getElementById("empty");
    if (empty) empty.remove();
  }

  function bump(id) {
    const el = document.getElementById(id);
    if (el) el.textContent = String(Number(el.textContent) + 1);
  }

  function connect() {
    if (table.dataset.live !== "yes") { setStatus("paged view (not live)", ""); return; }
    let url = "/api/live/execution/" + encodeURIComponent(session) + "/stream";
    if (table.dataset.position) url += "?since=" + encodeURIComponent(table.dataset.position);
    const source = new EventSource(url);
    source.onopen = () => setStatus("live", "live");
    source.addEventListener("event", (e) => addRow(JSON.parse(e.data)));
    source.addEventListener("dropped", () => {
      source.close();
      setStatus("fell behind: reload", "error");
    });
    // Missed more events than a reconnect replays (the server caps the backlog).
    source.addEventListener("reload", () => {
      source.close();
      setStatus("missed too many events: reload the page", "error");
    });
    source.onerror = () => setStatus("reconnecting…", "warn");
  }

  function refreshCharts() {
    const box = document.getElementById("charts");
    if (!box || document.hidden) return;
    // Server-rendered SVG in which all log text is already escaped.
    fetch(box.dataset.src, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.text() : null))
      .then((html) => { if (html !== null) box.innerHTML = html; })
      .catch(() => {});
  }

  connect();
  setInterval(refreshCharts, 5000);
})();
