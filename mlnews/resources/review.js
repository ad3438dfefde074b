// mlnews review page. Every text from the data is put in the DOM with textContent, never as HTML.
"use strict";
(function () {
  const state = { meta: null, filters: {}, rows: [], current: 0, detail: null };
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  // With an API key (mlnews review --api-key-file): open the page as http://HOST:PORT/#key=KEY. The fragment is
  // never sent to the server; the key is kept for this tab and sent with every API call.
  const hashKey = new URLSearchParams(location.hash.slice(1)).get("key");
  if (hashKey) { sessionStorage.setItem("mlnews-key", hashKey); history.replaceState(null, "", location.pathname); }
  const key = sessionStorage.getItem("mlnews-key");

  async function api(path, options) {
    const headers = { "content-type": "application/json" };
    if (key) headers["x-api-key"] = key;
    const res = await fetch(path, Object.assign({ headers: headers }, options || {}));
    const body = await res.json();
    if (!res.ok) throw new Error(body.message || res.statusText);
    return body;
  }

  function query() {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(state.filters)) if (v) q.set(k, v);
    return q;
  }

  function fillFilters() {
    for (const select of document.querySelectorAll("select[data-filter]")) {
      const key = select.dataset.filter;
      select.replaceChildren(el("option", { value: "" }, "all"));
      for (const v of state.meta.filters[key]) select.append(el("option", { value: v }, v === "-" ? "(none)" : v));
      select.value = state.filters[key] || "";
      select.onchange = () => { state.filters[key] = select.value; refresh(); };
    }
  }

  async function refresh() {
    fillFilters();
    const q = query();
    q.set("limit", "500");
    const [list, conf] = await Promise.all([api("api/rows?" + q), api("api/confusion?" + query())]);
    state.rows = list.rows;
    $("count").textContent = list.total + " rows" + (list.total > list.rows.length ? " (first " + list.rows.length + " shown)" : "");
    state.current = Math.min(state.current, Math.max(0, state.rows.length - 1));
    renderConfusion(conf);
    renderRows();
    await select(state.current);
  }

  function renderConfusion(conf) {
    const table = $("confusion");
    const head = el("tr", {}, el("th", {}, "gold \\ pred"), ...conf.labels.map((l) => el("th", {}, l)));
    const rows = [head];
    const cell = (n, gold, pred) => {
      const cls = ["cell", n === 0 ? "zero" : gold === pred ? "diag" : "off"];
      if (state.filters.gold === gold && state.filters.pred === pred) cls.push("selected");
      return el("td", { class: cls.join(" "), "data-gold": gold, "data-pred": pred, title: gold + " predicted as " + pred,
        onclick: () => { const same = state.filters.gold === gold && state.filters.pred === pred;
          state.filters.gold = same ? "" : gold; state.filters.pred = same ? "" : pred; state.current = 0; refresh(); } }, n);
    };
    conf.gold_labels.forEach((g, i) => rows.push(el("tr", {}, el("th", {}, g), ...conf.matrix[i].map((n, j) => cell(n, g, conf.labels[j])))));
    if (conf.no_gold.some((n) => n > 0))
      rows.push(el("tr", {}, el("th", {}, "(no gold)"), ...conf.no_gold.map((n, j) => cell(n, "-", conf.labels[j]))));
    table.replaceChildren(...rows);
  }

  function renderRows() {
    const ol = $("rows");
    ol.replaceChildren(...state.rows.map((r, i) => {
      const wrong = r.gold && r.gold !== r.pred;
      const tags = el("span", { class: "tags" },
        el("span", { class: "badge pred" }, "pred " + r.pred + " " + r.top_k[0].score.toFixed(2)),
        el("span", { class: "badge" + (r.origin === "reviewed" ? " reviewed" : "") }, "gold " + (r.gold || "—") + " (" + (r.origin || "none") + ")"),
        el("span", { class: "badge" }, "margin " + r.margin.toFixed(3)),
        el("span", { class: "badge" }, [r.lang, r.source, r.split].filter(Boolean).join(" · ")));
      return el("li", { class: (wrong ? "wrong " : "") + (i === state.current ? "current" : ""), "data-idx": r.idx,
        onclick: () => select(i) }, el("span", { class: "text" }, r.text), tags);
    }));
  }

  function articleNode(d) {
    const box = el("div", { class: "article" });
    if (!d.summary) { if (d.lead) box.append(el("p", {}, d.lead)); if (d.body) box.append(el("p", {}, d.body)); return box; }
    const chosen = new Set(d.summary.indices || []);
    const p = el("p", {});
    d.summary.sentences.forEach((s, i) => { p.append(chosen.has(i) ? el("mark", { class: "summary" }, s) : s, " "); });
    if (d.lead) box.append(el("p", { class: "meta" }, d.lead));
    box.append(p);
    if (!d.summary.indices) box.append(el("p", {}, el("b", {}, "Summary: "), d.summary.summary));
    box.append(el("p", { class: "meta" }, "summary sentences highlighted (" + d.summary.method + ")"));
    return box;
  }

  async function select(i) {
    if (!state.rows.length) { $("detail").replaceChildren(el("p", { class: "meta" }, "No rows match.")); return; }
    state.current = Math.max(0, Math.min(i, state.rows.length - 1));
    for (const li of $("rows").children) li.classList.toggle("current", Number(li.dataset.idx) === state.rows[state.current].idx);
    const cur = $("rows").children[state.current];
    if (cur && cur.scrollIntoView) cur.scrollIntoView({ block: "nearest" });
    const d = await api("api/rows/" + state.rows[state.current].idx);
    state.detail = d;
    const labels = el("div", { class: "labels" }, ...state.meta.labels.map((l, j) => el("button", {
      type: "button", class: (l === d.gold ? "gold " : "") + (l === d.pred ? "pred" : ""), "data-label": l,
      onclick: () => setLabel(l) }, (j < 9 ? (j + 1) + " " : "") + l)));
    const scores = el("ul", {}, ...d.top_k.map((t) => el("li", {}, t.label + ": " + t.score.toFixed(3))));
    $("detail").replaceChildren(
      el("h3", { id: "detail-text" }, d.text),
      el("p", { class: "meta" }, "id " + d.id + " · " + [d.kind, d.lang, d.source, d.split].filter(Boolean).join(" · ")),
      el("p", {}, "gold: ", el("b", { id: "detail-gold" }, d.gold || "—"), " (" + (d.origin || "no label") + ")" + (d.reviewer ? " by " + d.reviewer : "")),
      el("p", {}, "model: top " + d.top_k.length), scores,
      d.kind === "article" ? articleNode(d) : el("span", {}),
      labels);
  }

  async function setLabel(label) {
    const row = state.rows[state.current];
    if (!row) return;
    try {
      const res = await api("api/review", { method: "POST", body: JSON.stringify({ idx: row.idx, label: label }) });
      $("status").textContent = "saved: " + res.record.id + " " + (res.record.old_label || "—") + " → " + res.record.new_label;
      state.rows[state.current] = res.row;
      renderRows();
      renderConfusion(await api("api/confusion?" + query()));
      await select(state.current + 1 < state.rows.length ? state.current + 1 : state.current);
    } catch (e) { $("status").textContent = "not saved: " + e.message; }
  }

  document.addEventListener("keydown", (ev) => {
    if (ev.target.tagName === "SELECT" || ev.target.tagName === "INPUT" || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "j") select(state.current + 1);
    else if (ev.key === "k") select(state.current - 1);
    else if (/^[1-9]$/.test(ev.key) && Number(ev.key) <= state.meta.labels.length) setLabel(state.meta.labels[Number(ev.key) - 1]);
    else if (ev.key === "a" || ev.key === "Enter") { if (state.detail) setLabel(state.detail.pred); }
    else return;
    ev.preventDefault();
  });

  $("clear").onclick = () => { state.filters = {}; state.current = 0; refresh(); };
  api("api/meta").then((m) => {
    state.meta = m;
    $("model").textContent = m.model; $("reviewer").textContent = m.reviewer; $("out").textContent = m.out; document.body.dataset.ready = "1"; return refresh(); })
    .then(() => { document.body.dataset.loaded = "1"; })
    .catch((e) => { $("status").textContent = "error: " + e.message; });
})();
