// The dashboard's pages, in plain JavaScript (no build step).
//
// Safety rule: text from the logs is only ever put in the page with textContent. The HTML
// fragments fetched below (alerts, sessions, cards, charts) are rendered by the server,
// which escapes every string from the logs; they are parsed with DOMParser (scripts in
// them never run) and swapped in as nodes.
"use strict";

const Dash = (function () {
  // Fetch a server-rendered fragment and swap the elements with the given ids in place.
  function swapParts(url, ids) {
    if (document.hidden) return Promise.resolve(false);
    return fetch(url, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.text() : null))
      .then((html) => {
        if (html === null) return false;
        const doc = new DOMParser().parseFromString(html, "text/html");
        for (const id of ids) {
          const fresh = doc.getElementById(id);
          const old = document.getElementById(id);
          if (fresh && old) old.replaceWith(document.adoptNode(fresh));
        }
        return true;
      })
      .catch(() => false);
  }

  // 12:00:01.250 from an ISO time (UTC, as the server writes it).
  function clock(ts) {
    if (typeof ts !== "string" || ts.length < 19) return String(ts);
    const frac = ts.charAt(19) === "." ? ts.slice(19, 23) : ".000";
    return ts.slice(11, 19) + frac;
  }

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  return { swapParts, clock, el };
})();

// The alerts panel (index and session pages) and the sessions table (index).
(function () {
  setInterval(() => {
    const box = document.getElementById("alerts");
    if (box) Dash.swapParts(box.dataset.src, ["alerts"]);
  }, 5000);
  setInterval(() => {
    const box = document.getElementById("sessions-box");
    if (box) Dash.swapParts(box.dataset.src, ["sessions-box"]);
  }, 5000);
})();

// The session page's live parts: state, cards and charts, every few seconds, for the
// chosen time range; every second while the charts are still being built (#charts
// carries data-pending then).
(function () {
  const parts = document.getElementById("live-parts");
  if (!parts) return;
  let range = parts.dataset.range;
  const every = (Number(parts.dataset.refresh) || 3) * 1000;

  function refresh() {
    const url = parts.dataset.src + "?range=" + encodeURIComponent(range);
    return Dash.swapParts(url, ["session-state", "cards", "session-meta", "charts"]);
  }

  const nav = document.getElementById("ranges");
  nav.addEventListener("click", (e) => {
    const a = e.target.closest("a[data-range]");
    if (!a) return;
    e.preventDefault();
    range = a.dataset.range;
    for (const other of nav.querySelectorAll("a[data-range]")) {
      other.classList.toggle("active", other === a);
    }
    // The address and the page's other links keep the range.
    for (const link of [window.location, ...document.querySelectorAll("#filters a, #older")]) {
      const url = new URL(link.href);
      url.searchParams.set("range", range);
      if (link === window.location) history.replaceState(null, "", url);
      else link.href = url.toString();
    }
    refresh();
  });
  function pending() {
    const box = document.getElementById("charts");
    return box !== null && (box.dataset.pending === "building" || box.dataset.pending === "decoding");
  }

  function loop() {
    refresh().finally(() => setTimeout(loop, pending() ? 1000 : every));
  }
  setTimeout(loop, pending() ? 1000 : every);
})();

// The events table: new events arrive over Server-Sent Events. It holds at most
// data-max-rows rows. While the operator points at it, scrolls, or has a row open, new
// rows wait behind the "N new" button, so what they read does not move.
(function () {
  const table = document.getElementById("timeline");
  if (!table) return;
  const rows = document.getElementById("rows");
  const box = document.getElementById("events-box");
  const button = document.getElementById("new-rows");
  const note = document.getElementById("hold-note");
  const status = document.getElementById("live-status");
  const session = table.dataset.session;
  const kindFilter = table.dataset.kind;
  const maxRows = Math.max(1, Number(table.dataset.maxRows) || 200);
  const seen = new Set();
  for (const tr of rows.querySelectorAll("tr[data-key]")) {
    if (tr.dataset.key) seen.add(tr.dataset.key);
  }
  let waiting = []; // arrived, not shown yet (oldest first); at most maxRows kept
  let arrived = 0; // how many arrived since the table last took new rows
  let pointing = false;
  let lastScroll = 0;

  box.addEventListener("pointerenter", () => { pointing = true; });
  box.addEventListener("pointerleave", () => { pointing = false; });
  window.addEventListener("scroll", () => { lastScroll = Date.now(); }, { passive: true });
  // <details> toggles do not bubble; a capturing listener sees them.
  rows.addEventListener("toggle", (e) => {
    const tr = e.target.closest("tr");
    if (tr) tr.classList.toggle("is-open", e.target.open);
  }, true);

  function held() {
    return pointing
      || rows.querySelector("details[open]") !== null
      || table.getBoundingClientRect().top < 0
      || Date.now() - lastScroll < 1500;
  }

  function setStatus(text, cls) {
    status.textContent = text;
    status.className = "status " + (cls || "");
  }

  function rowFor(row, key) {
    const tr = Dash.el("tr", "kind-" + row.kind + " fresh");
    tr.dataset.key = key;
    const ts = Dash.el("td", "ts", Dash.clock(row.ts));
    ts.title = String(row.ts);
    tr.appendChild(ts);
    const kind = Dash.el("td", "kind");
    kind.appendChild(Dash.el("span", "badge kind-" + row.kind, row.kind));
    if (row.kind === "gate") {
      const passed = row.details && row.details.passed === true; // fails closed
      kind.appendChild(document.createTextNode(" "));
      kind.appendChild(Dash.el("span", passed ? "verdict pass" : "verdict block", passed ? "PASS" : "BLOCK"));
    }
    tr.appendChild(kind);
    const sym = Dash.el("td", "sym", row.symbol);
    sym.title = String(row.symbol);
    tr.appendChild(sym);
    const desc = Dash.el("td", "desc");
    const details = document.createElement("details");
    details.appendChild(Dash.el("summary", "", row.description));
    details.appendChild(Dash.el("pre", "", JSON.stringify(row.details, null, 2)));
    desc.appendChild(details);
    tr.appendChild(desc);
    return tr;
  }

  function take(row) {
    const key = row.event_id || (row.ts + "|" + row.description);
    if (seen.has(key)) return;
    seen.add(key);
    if (seen.size > 4 * maxRows) seen.delete(seen.values().next().value);
    if (kindFilter && row.kind !== kindFilter) return;
    row.key = key;
    waiting.push(row);
    arrived += 1;
    if (waiting.length > maxRows) waiting.splice(0, waiting.length - maxRows);
  }

  // Put the waiting rows on top and drop the oldest beyond maxRows (never an open one).
  function show() {
    if (!waiting.length) return;
    const frag = document.createDocumentFragment();
    for (let i = waiting.length - 1; i >= 0; i--) frag.appendChild(rowFor(waiting[i], waiting[i].key));
    rows.insertBefore(frag, rows.firstChild);
    waiting = [];
    arrived = 0;
    let extra = rows.children.length - maxRows;
    let tr = rows.lastElementChild;
    while (extra > 0 && tr) {
      const before = tr.previousElementSibling;
      if (!tr.querySelector("details[open]")) {
        tr.remove();
        extra -= 1;
      }
      tr = before;
    }
    const empty = document.getElementById("empty");
    if (empty) empty.remove();
  }

  function tick() {
    if (waiting.length && !held()) show();
    const n = waiting.length ? arrived : 0;
    button.hidden = n === 0;
    note.hidden = n === 0;
    button.textContent = n.toLocaleString("en-US") + " new";
  }

  button.addEventListener("click", () => {
    show();
    tick();
    table.scrollIntoView({ block: "start" });
  });

  function connect() {
    if (table.dataset.live !== "yes") { setStatus("paged view (not live)", ""); return; }
    let url = "/api/live/execution/" + encodeURIComponent(session) + "/stream";
    if (table.dataset.position) url += "?since=" + encodeURIComponent(table.dataset.position);
    const source = new EventSource(url);
    source.onopen = () => setStatus("live", "live");
    source.addEventListener("event", (e) => take(JSON.parse(e.data)));
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

  connect();
  setInterval(tick, 250);
})();
