// The session page's Orders view: one row per order from the orders API, working orders
// on top, refreshed every few seconds (not while the pointer is on the table); clicking an
// order shows its whole chain (intent, gates, order, acks, fills, cancel/reject) with the
// time between steps. Everything from the logs goes in with textContent (Dash.el).
"use strict";

(function () {
  const box = document.getElementById("orders");
  if (!box) return;
  const api = box.dataset.src;
  // An order's chain by ?id=: a path part "." or ".." never reaches the server as sent.
  const chainApi = box.dataset.chain;
  const tbody = document.getElementById("order-rows");
  const table = document.getElementById("orders-table");
  const filter = document.getElementById("orders-filter");
  const empty = document.getElementById("orders-empty");
  const note = document.getElementById("orders-note");
  const detail = document.getElementById("order-detail");
  const ENDED = "filled,cancelled,expired,rejected,blocked,error";
  let status = ""; // "" = all, working ones first
  let selected = null; // the id of the order whose chain is shown
  let pointing = false;
  table.addEventListener("pointerenter", () => { pointing = true; });
  table.addEventListener("pointerleave", () => { pointing = false; });

  const el = Dash.el;

  function num(v, digits) {
    if (v === null || v === undefined || Number.isNaN(Number(v))) return "-";
    return Number(v).toLocaleString("en-US", { maximumFractionDigits: digits });
  }

  function age(s) {
    if (s === null || s === undefined) return "-";
    if (s < 1) return (s * 1000).toFixed(0) + " ms";
    if (s < 120) return s.toFixed(1) + " s";
    if (s < 7200) return (s / 60).toFixed(0) + " min";
    return (s / 3600).toFixed(1) + " h";
  }

  function gap(ms) {
    if (ms === null || ms === undefined) return "";
    if (ms < 1) return "+" + (ms * 1000).toFixed(0) + " µs";
    if (ms < 1000) return "+" + ms.toFixed(ms < 10 ? 2 : 1) + " ms";
    return "+" + (ms / 1000).toFixed(2) + " s";
  }

  function get(url) {
    return fetch(url, { credentials: "same-origin" }).then((r) => {
      if (!r.ok) throw new Error(String(r.status));
      return r.json();
    });
  }

  function statusBadge(o) {
    const text = o.status === "open" && o.stage ? "open · " + o.stage.replace("_", " ") : o.status;
    return el("span", "st st-" + o.status, text);
  }

  function rowFor(o) {
    const tr = el("tr", "order-row");
    tr.dataset.id = o.id;
    tr.tabIndex = 0;
    if (o.id === selected) tr.classList.add("selected");
    const created = el("td", "ts", Dash.clock(o.created_ts));
    created.title = String(o.created_ts);
    tr.appendChild(created);
    const st = el("td");
    st.appendChild(statusBadge(o));
    tr.appendChild(st);
    const sym = el("td", "sym", o.symbol);
    sym.title = String(o.symbol);
    tr.appendChild(sym);
    tr.appendChild(el("td", "", o.side || "-"));
    tr.appendChild(el("td", "num", num(o.filled_quantity, 6) + " / " + num(o.quantity, 6)));
    tr.appendChild(el("td", "num wide-only", num(o.avg_fill_price, 4)));
    tr.appendChild(el("td", "num", age(o.age_s)));
    tr.appendChild(el("td", "wide-only reason", o.reason || ""));
    return tr;
  }

  function showCounts(counts) {
    let all = 0;
    for (const b of filter.querySelectorAll("b[data-count]")) {
      const key = b.dataset.count;
      if (key === "all") continue;
      const n = counts && counts[key] ? counts[key] : 0;
      all += n;
      b.textContent = String(n);
    }
    filter.querySelector("b[data-count='all']").textContent = String(all);
  }

  function render(orders, counts) {
    showCounts(counts);
    tbody.replaceChildren(...orders.map(rowFor));
    empty.hidden = orders.length > 0;
    note.textContent = "";
  }

  function refresh(force) {
    if (document.hidden || (pointing && !force)) return Promise.resolve();
    const base = api + "?limit=";
    const loads = status
      ? [get(base + "100&status=" + encodeURIComponent(status))]
      : [get(base + "100&status=open"), get(base + "30&status=" + ENDED)];
    return Promise.all(loads)
      .then((pages) => {
        render(pages.flatMap((p) => p.orders), pages[0].counts);
        if (selected) return showChain(selected, false);
        return null;
      })
      .catch(() => { note.textContent = "(orders are not available from this server)"; });
  }

  function field(dl, name, value) {
    if (value === null || value === undefined || value === "") return;
    dl.appendChild(el("dt", "", name));
    dl.appendChild(el("dd", "", value));
  }

  function showChain(id, scroll) {
    return get(chainApi + "?id=" + encodeURIComponent(id))
      .then((body) => {
        const o = body.order;
        const head = el("h3", "", "Order " + o.id + " ");
        head.appendChild(statusBadge(o));
        const dl = el("dl", "order-fields");
        field(dl, "symbol", o.symbol);
        field(dl, "side / type", [o.side, o.order_type, o.time_in_force].filter(Boolean).join(" · "));
        field(dl, "limit", o.limit_price === null ? null : num(o.limit_price, 6));
        field(dl, "filled", num(o.filled_quantity, 6) + " of " + num(o.quantity, 6)
          + (o.avg_fill_price === null ? "" : " @ " + num(o.avg_fill_price, 6)));
        field(dl, "fees", num(o.fees, 6));
        field(dl, "slippage", o.slippage_bps === null ? null : num(o.slippage_bps, 2) + " bps");
        field(dl, "why", o.reason);
        const lat = o.latency_ms || {};
        field(dl, "latency", [
          ["intent→order", lat.intent_to_order], ["order→ack", lat.order_to_ack],
          ["order→first fill", lat.order_to_first_fill], ["order→end", lat.order_to_complete],
        ].filter(([, v]) => v !== null && v !== undefined)
          .map(([k, v]) => k + " " + gap(v).slice(1)).join(" · "));
        field(dl, "gates", (o.gates || []).map((g) => g.name + (g.passed ? " PASS" : " BLOCK")).join(", "));
        field(dl, "client / intent id", [o.client_id, o.intent_id].filter(Boolean).join(" / "));
        const chain = el("ol", "chain");
        chain.id = "order-chain";
        for (const step of body.chain || []) {
          const li = el("li", "step kind-" + step.kind);
          li.appendChild(el("span", "gap", gap(step.since_previous_ms)));
          li.appendChild(document.createTextNode(" "));
          li.appendChild(el("span", "badge kind-" + step.kind, step.kind));
          const ev = step.event || {};
          if (step.kind === "gate") {
            const passed = ev.payload && ev.payload.passed === true;
            li.appendChild(document.createTextNode(" "));
            li.appendChild(el("span", passed ? "verdict pass" : "verdict block", passed ? "PASS" : "BLOCK"));
          }
          const when = el("span", "ts muted", " " + Dash.clock(step.ts) + " ");
          when.title = String(step.ts);
          li.appendChild(when);
          li.appendChild(el("span", "desc", step.description));
          chain.appendChild(li);
        }
        const close = el("button", "close", "Close");
        close.type = "button";
        close.addEventListener("click", () => {
          selected = null;
          detail.hidden = true;
          for (const tr of tbody.querySelectorAll("tr.selected")) tr.classList.remove("selected");
        });
        detail.replaceChildren(head, dl, chain, close);
        detail.hidden = false;
        if (scroll) detail.scrollIntoView({ block: "nearest" });
      })
      .catch((err) => {
        detail.replaceChildren(el("p", "muted", "Order " + id + ": " + (err.message === "404" ? "not found" : "could not be loaded")));
        detail.hidden = false;
      });
  }

  tbody.addEventListener("click", (e) => {
    const tr = e.target.closest("tr[data-id]");
    if (!tr) return;
    selected = tr.dataset.id;
    for (const other of tbody.querySelectorAll("tr.selected")) other.classList.remove("selected");
    tr.classList.add("selected");
    showChain(selected, true);
  });
  tbody.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && e.target.matches("tr[data-id]")) e.target.click();
  });
  filter.addEventListener("click", (e) => {
    const b = e.target.closest("button[data-status]");
    if (!b) return;
    status = b.dataset.status;
    for (const other of filter.querySelectorAll("button")) other.classList.toggle("active", other === b);
    refresh(true);
  });

  refresh(true);
  setInterval(() => refresh(false), 3000);
})();
