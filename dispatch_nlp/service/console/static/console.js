/* The operator console. The API key lives in a variable of this page only (no cookie, no storage);
   every call sends it as X-API-Key; anything typed is sent in a POST body, never in a URL. */
"use strict";
const $ = id => document.getElementById(id);
const ROUTE_NAMES = {dispatch: "自动派单", review: "人工复核", emergency_transfer: "转紧急热线",
  out_of_scope: "不予受理", return_to_district: "退回区级"};
const STATUS_NAMES = {open: "待处理", accepted: "已采纳", corrected: "已纠正", skipped: "已跳过"};
const S = {key: "", who: null, view: null, picks: {}, queue: [], shown: [], index: 0, fromQueue: null};

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) el.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat()) if (kid !== null && kid !== undefined) el.append(kid.nodeType ? kid : String(kid));
  return el;
}
const pct = x => (x === null || x === undefined) ? "—" : `${(100 * x).toFixed(1)}%`;

async function api(path, body) {
  const opts = {method: body === undefined ? "GET" : "POST", headers: {"X-API-Key": S.key}, cache: "no-store",
    referrerPolicy: "no-referrer"};
  if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
  const r = await fetch(path, opts);
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error((data.error && data.error.message) || `HTTP ${r.status}`);
  return data;
}

/* ---- screens and the key ------------------------------------------------------------------ */
function show(screen) {
  for (const b of document.querySelectorAll("nav button")) {
    const on = b.dataset.screen === screen;
    b.setAttribute("aria-selected", on ? "true" : "false");
    $("screen-" + b.dataset.screen).hidden = !on;
  }
  if (screen === "super" && S.who) loadSupervisor();
  if (screen === "queue") $("q-item").focus();
}

async function connect(ev) {
  ev.preventDefault();
  S.key = $("key").value.trim();
  try {
    S.who = await api("/console/api/whoami");
    $("who").textContent = `${S.who.key_id}（${S.who.role}）· 模型 ${S.who.model_version} · 目录 ${S.who.catalog_version}`;
    $("fix-submit").disabled = !S.who.may_correct;
    $("o-text").focus();
  } catch (e) { S.who = null; $("who").textContent = "连接失败：" + e.message; }
}

/* ---- one order ---------------------------------------------------------------------------- */
function viewFromDecision(d, text, marks, extra) {
  const j = d.jurisdiction || {};
  return Object.assign({order_id: d.order_id, route: d.route, confidence: d.confidence,
    category: d.category, alternatives: (d.category.top_k || []).slice(1), district: j.district, street: j.street,
    community: j.community, candidates: j.candidates || [], unit: d.units && d.units.primary,
    cooperating: (d.units && d.units.cooperating) || [], flags: d.flags || [], explanation: d.explanation || [],
    appeal: d.appeal_type, text: text, marks: marks || [], decision: d}, extra || {});
}

function viewFromEntry(e) {
  const d = {order_id: e.order_id, route: e.route, confidence: e.confidence, model_version: e.model_version,
    catalog_version: e.catalog_version, category: {code: e.category_code, path: e.category_path,
      confidence: e.category_confidence, top_k: e.alternatives}, jurisdiction: {district: e.district,
      street: e.street, community: e.community, candidates: []},
    units: {primary: e.unit, cooperating: e.cooperating}, flags: e.flags, explanation: e.explanation};
  const text = e.title ? e.title + "\n" + (e.text || "") : e.text;
  return viewFromDecision(d, text, [], {seq: e.seq, title_len: e.title ? e.title.length + 1 : 0});
}

function markedText(text, marks) {
  const box = h("div", {class: "text", id: "order-text"});
  let at = 0;
  for (const m of marks) {
    if (m.start > at) box.append(text.slice(at, m.start));
    box.append(h("mark", {class: m.kind, title: m.label}, text.slice(m.start, m.end)));
    at = m.end;
  }
  box.append(text.slice(at));
  return box;
}

function division(v) {
  const parts = [v.district, v.street, v.community].filter(Boolean).map(x => x.name);
  return parts.length ? parts.join(" → ") : "未确定";
}

function renderDecision(v, into) {
  const c = v.category || {};
  const alts = h("div", {class: "alts"}, (v.alternatives || []).slice(0, 4).map(a =>
    h("button", {type: "button", onclick: () => pickCategory({code: a.code, path: a.path})},
      `${a.path.join(" > ")}（${pct(a.confidence)}）`)));
  const bar = h("span", {class: "bar"});
  bar.style.width = `${Math.round(100 * (c.confidence || 0))}px`;
  const cands = (v.candidates || []).filter(x => x.district).map(x =>
    `${[x.district, x.street, x.community].filter(Boolean).map(d => d.name).join(" → ")}（${pct(x.confidence)}）`);
  into.replaceChildren(
    h("h2", {}, "判断 ", h("span", {class: "route route-" + v.route, id: "route"}, ROUTE_NAMES[v.route] || v.route),
      ` 综合置信度 ${pct(v.confidence)}`),
    h("h3", {}, "工单正文（个人信息已遮蔽）"),
    v.text ? markedText(v.text, v.marks) : h("p", {class: "muted"}, "批量结果文件不含正文。"),
    h("p", {class: "legend"}, h("mark", {class: "keyword"}, "类别关键词"), h("mark", {class: "place"}, "属地依据"),
      h("mark", {class: "other_place"}, "其他地名"), h("mark", {class: "other_keyword"}, "其他类别词"),
      h("mark", {class: "emergency"}, "紧急/非受理线索"), h("mark", {class: "pii"}, "已遮蔽")),
    h("dl", {},
      h("dt", {}, "工单"), h("dd", {}, v.order_id || "—"),
      h("dt", {}, "类别"), h("dd", {id: "category"}, (c.path || []).join(" > ") || "未分类",
        ` ${c.code || ""} `, pct(c.confidence), bar),
      h("dt", {}, "其他可能"), h("dd", {}, alts),
      h("dt", {}, "属地"), h("dd", {id: "jurisdiction"}, division(v)),
      h("dt", {}, "候选属地"), h("dd", {}, cands.join("；") || "—"),
      h("dt", {}, "承办单位"), h("dd", {id: "unit"}, v.unit ? `${v.unit.name}（${v.unit.id}）` : "未确定"),
      h("dt", {}, "协办单位"), h("dd", {}, v.cooperating.map(u => u.name).join("、") || "—"),
      h("dt", {}, "诉求类型"), h("dd", {}, v.appeal ? `${v.appeal.label}（${pct(v.appeal.confidence)}）` : "—"),
      h("dt", {}, "标记"), h("dd", {class: "flags"}, v.flags.length ? v.flags.map(f => h("span", {}, f)) : "—"),
      h("dt", {}, "理由"), h("dd", {}, h("ul", {}, v.explanation.map(x => h("li", {}, x))))));
}

async function dispatchOrder(ev) {
  if (ev) ev.preventDefault();
  const order = {text: $("o-text").value, channel: $("o-channel").value};
  if ($("o-id").value.trim()) order.id = $("o-id").value.trim();
  if ($("o-title").value.trim()) order.title = $("o-title").value.trim();
  try {
    const r = await api("/console/api/analyze", {order, record: true});
    S.view = viewFromDecision(r.decision, r.view.text, r.view.marks, {title_len: r.view.title_len});
    // The form keeps only what the model read: personal data masked, as everywhere on the page.
    $("o-text").value = r.view.text.slice(r.view.title_len);
    if (r.view.title_len) $("o-title").value = r.view.text.slice(0, r.view.title_len - 1);
    S.fromQueue = null;
    $("queue-note").hidden = true;
    renderDecision(S.view, $("decision"));
    clearPicks();
    $("cat-q").focus();
  } catch (e) { $("decision").replaceChildren(h("p", {class: "error"}, "分派失败：" + e.message)); }
}

/* ---- correcting --------------------------------------------------------------------------- */
function clearPicks() {
  S.picks = {};
  $("cat-picked").textContent = $("place-picked").textContent = $("unit-picked").textContent = "（未改）";
  $("fix-appeal").value = ""; $("fix-reason").value = ""; $("fix-status").textContent = "";
  for (const id of ["cat-results", "place-results", "unit-results"]) $(id).replaceChildren();
  $("cat-q").value = $("place-q").value = $("unit-q").value = "";
}

function resultList(ul, rows, label, onPick, groupOf) {
  let last = null;
  ul.replaceChildren();
  for (const row of rows) {
    const g = groupOf ? groupOf(row) : null;
    if (g && g !== last) { ul.append(h("li", {class: "group", role: "presentation"}, g)); last = g; }
    ul.append(h("li", {role: groupOf ? "treeitem" : null},
      h("button", {type: "button", onclick: () => onPick(row)}, label(row))));
  }
}

function debounce(fn, ms) { let t; return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); }; }

async function browseCategories() {  // the tree's first two levels; a branch lists its leaves
  if (!S.tree) S.tree = (await api("/console/api/catalog/tree")).tree;
  const rows = S.tree.flatMap(top => top.children.map(c => ({...c, top: top.name})));
  resultList($("cat-results"), rows, c => `${c.name}（${c.leaves}）  ${c.code}`,
    c => { $("cat-q").value = c.code; searchCategories(); $("cat-q").focus(); }, c => c.top);
}

async function searchCategories() {
  const q = $("cat-q").value.trim();
  if (!q) { $("cat-results").replaceChildren(); return []; }
  const r = await api("/console/api/catalog/search", {q});
  resultList($("cat-results"), r.results, x => `${x.path[x.path.length - 1]}  ${x.code}`, pickCategory,
    x => x.path.slice(0, -1).join(" > "));
  return r.results;
}

function pickCategory(x) {
  S.picks.category = x;
  $("cat-picked").textContent = `${x.path.join(" > ")}（${x.code}）`;
  $("cat-results").replaceChildren();
  loadUnits();
  $("fix-submit").focus();
}

async function searchPlaces() {
  const q = $("place-q").value.trim();
  if (!q) { $("place-results").replaceChildren(); return []; }
  const r = await api("/console/api/divisions/search", {q});
  resultList($("place-results"), r.results, x => `${x.name}（${[x.district && x.district.name,
    x.street && x.street.name].filter(Boolean).join(" ")}）`, pickPlace);
  return r.results;
}

function pickPlace(x) {
  S.picks.place = x;
  $("place-picked").textContent = `${x.district ? x.district.name + " → " : ""}${x.street ? x.street.name + " → " : ""}${x.name}`;
  $("place-results").replaceChildren();
  loadUnits();
}

async function loadUnits() {
  const cat = S.picks.category ? S.picks.category.code : (S.view && S.view.category && S.view.category.code);
  const place = S.picks.place || (S.view && (S.view.street || S.view.district));
  const district = place ? (place.district ? place.district.code : place.code) : null;
  const r = await api("/console/api/units", {q: $("unit-q").value.trim(), category_code: cat || null, district});
  resultList($("unit-results"), r.units, u => `${u.own ? "★ " : ""}${u.name}（${u.id}）`, pickUnit);
}

function pickUnit(u) {
  S.picks.unit = u;
  $("unit-picked").textContent = `${u.name}（${u.id}）`;
  $("unit-results").replaceChildren();
  $("fix-submit").focus();
}

function correctionBody() {
  const v = S.view, p = S.picks, d = v.decision || {};
  const body = {order_id: v.order_id, kind: $("fix-kind").value, correction_id: crypto.randomUUID(),
    decision: {model_version: d.model_version, catalog_version: d.catalog_version,
      category: {code: (d.category || {}).code || null}, units: {primary: (d.units || {}).primary || null},
      route: d.route, confidence: d.confidence}};
  if (p.category) body.category_code = p.category.code;
  if (p.unit) body.unit = p.unit.id;
  if (p.place) {
    if (p.place.level === "street") body.street = p.place.code;
    else if (p.place.street) body.street = p.place.street.code;
    if (p.place.district) body.district = p.place.district.code;
  }
  if ($("fix-appeal").value) body.appeal_type = $("fix-appeal").value;
  if ($("fix-reason").value.trim()) body.reason = $("fix-reason").value.trim();
  if (v.text) {
    const tl = v.title_len || 0;
    body.text = v.text.slice(tl);
    if (tl) body.title = v.text.slice(0, tl).replace(/\n$/, "");
  }
  return body;
}

async function submitCorrection(ev) {
  if (ev) ev.preventDefault();
  if (!S.view) { $("fix-status").textContent = "请先分派或打开一个工单。"; return; }
  if (!S.view.order_id) {
    S.view.order_id = $("o-id").value.trim() || `C-${Date.now().toString(36)}`;
    $("o-id").value = S.view.order_id;
  }
  try {
    const r = await api("/v1/corrections", correctionBody());
    $("fix-status").textContent = `已保存纠正 ${r.correction_id.slice(0, 8)}（工单 ${r.order_id}）`;
    $("fix-status").dataset.saved = r.correction_id;
    if (S.fromQueue) await finishQueueItem("corrected");
  } catch (e) { $("fix-status").textContent = "未保存：" + e.message; }
}

/* ---- the review queue --------------------------------------------------------------------- */
function queueItemFromRow(row, i) {
  const d = typeof row.decision === "string" ? JSON.parse(row.decision) : row.decision;
  const v = viewFromDecision(d, null, [], {});
  v.order_id = v.order_id || row.id || `row-${row.row || i + 1}`;
  v.changed = row.category_changed === true || row.category_changed === "true" || row.category_changed === "True";
  v.before = row.path_before || row.label_before || null;
  return {view: v, status: "open"};
}

function parseTable(text, sep) {
  const rows = []; let row = [], cell = "", q = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (q) {
      if (ch === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (ch === '"') q = false; else cell += ch;
    } else if (ch === '"') q = true;
    else if (ch === sep) { row.push(cell); cell = ""; }
    else if (ch === "\n") { row.push(cell.replace(/\r$/, "")); rows.push(row); row = []; cell = ""; }
    else cell += ch;
  }
  if (cell || row.length) { row.push(cell); rows.push(row); }
  const head = rows.shift() || [];
  return rows.filter(r => r.length === head.length).map(r => Object.fromEntries(head.map((k, i) => [k, r[i]])));
}

async function openFile() {
  const f = $("q-file").files[0];
  if (!f) return;
  const text = await f.text();
  const rows = f.name.endsWith(".jsonl") ? text.split("\n").filter(x => x.trim()).map(x => JSON.parse(x))
    : parseTable(text.replace(/^\ufeff/, ""), f.name.endsWith(".tsv") ? "\t" : ",");
  setQueue(rows.filter(r => r.decision).map(queueItemFromRow), "file");
  $("q-file").value = "";
}

async function loadServiceQueue() {
  try {
    const r = await api("/console/api/review");
    setQueue(r.items.map(e => ({view: viewFromEntry(e), status: e.status})), "service");
    if (r.open > r.items.length) $("q-progress").textContent += `（服务中共有 ${r.open} 条待复核，先载入最早的 ${r.items.length} 条）`;
  } catch (e) { $("q-progress").textContent = "载入失败：" + e.message; }
}

function setQueue(items, source) {
  S.queue = items; S.source = source; S.index = 0;
  const fill = (id, values, names) => {
    const sel = $(id), keep = sel.value;
    sel.replaceChildren(h("option", {value: ""}, "全部"), ...[...values].sort().map(x => h("option", {value: x}, names ? names[x] || x : x)));
    sel.value = keep;
  };
  fill("f-route", new Set(items.map(x => x.view.route)), ROUTE_NAMES);
  fill("f-flag", new Set(items.flatMap(x => x.view.flags)));
  fill("f-district", new Set(items.map(x => x.view.district ? x.view.district.name : "未确定")));
  applyFilters();
}

function applyFilters() {
  const route = $("f-route").value, flag = $("f-flag").value, cat = $("f-cat").value.trim();
  const dist = $("f-district").value, conf = parseFloat($("f-conf").value), changed = $("f-changed").checked;
  S.shown = S.queue.filter(x => {
    const v = x.view;
    return (!route || v.route === route) && (!flag || v.flags.includes(flag))
      && (!cat || (v.category.code || "").startsWith(cat) || (v.category.path || []).join(">").includes(cat))
      && (!dist || (v.district ? v.district.name : "未确定") === dist)
      && (isNaN(conf) || v.confidence <= conf + 1e-9) && (!changed || v.changed);
  });
  S.index = Math.min(S.index, Math.max(0, S.shown.length - 1));
  renderQueue();
}

function renderQueue() {
  const done = S.shown.filter(x => x.status !== "open").length;
  $("q-progress").textContent = S.shown.length ? `已处理 ${done} / 共 ${S.shown.length}，剩余 ${S.shown.length - done}`
    + (S.queue.length !== S.shown.length ? `（筛选前 ${S.queue.length} 条）` : "") : "队列为空";
  $("q-progress").dataset.done = done; $("q-progress").dataset.total = S.shown.length;
  const body = $("q-table").tBodies[0];
  body.replaceChildren(...S.shown.map((x, i) => h("tr", {class: (i === S.index ? "current " : "") + (x.status !== "open" ? "done" : ""),
    onclick: () => { S.index = i; renderQueue(); }},
  h("td", {}, i + 1), h("td", {}, x.view.order_id), h("td", {}, ROUTE_NAMES[x.view.route] || x.view.route),
  h("td", {}, (x.view.category.path || []).slice(-1)[0] || "—"), h("td", {}, pct(x.view.confidence)),
  h("td", {}, x.view.district ? x.view.district.name : "—"), h("td", {class: "status"}, STATUS_NAMES[x.status]))));
  const cur = S.shown[S.index];
  if (!cur) { $("q-item").replaceChildren(h("p", {class: "muted"}, "没有符合条件的工单。")); return; }
  renderDecision(cur.view, $("q-item"));
  if (cur.view.text && !cur.view.marks.length && !cur.view.marking) {
    markQueued(cur.view).then(() => { if (S.shown[S.index] === cur && !$("screen-queue").hidden) renderQueue(); });
  }
  if (cur.view.before) $("q-item").prepend(h("p", {class: "note"}, `重分类前：${cur.view.before}`));
  const row = body.rows[S.index];
  if (row) row.scrollIntoView({block: "nearest"});
}

async function finishQueueItem(status) {
  const cur = S.shown[S.index];
  if (!cur) return;
  if (S.source === "service" && cur.view.seq !== undefined) {
    try { await api("/console/api/review/mark", {seq: cur.view.seq, status}); }
    catch (e) { $("q-progress").textContent = "未能标记：" + e.message; return; }
  }
  cur.status = status;
  const next = S.shown.findIndex((x, i) => i > S.index && x.status === "open");
  S.index = next >= 0 ? next : Math.min(S.index + 1, S.shown.length - 1);
  if (S.fromQueue) { S.fromQueue = null; show("queue"); }
  renderQueue();
}

async function correctQueueItem() {
  const cur = S.shown[S.index];
  if (!cur) return;
  S.view = cur.view; S.fromQueue = cur;
  clearPicks();
  $("queue-note").hidden = false;
  $("queue-note").textContent = `正在纠正队列中的工单 ${cur.view.order_id}；提交后回到队列。`;
  renderDecision(cur.view, $("decision"));
  show("order");
  $("cat-q").focus();
  await markQueued(cur.view);
  if (S.view === cur.view) renderDecision(cur.view, $("decision"));
}

async function markQueued(v) {
  /* A queued order's deciding words, marked on its masked text (re-read without logging it again). */
  if (!v.text || v.marks.length) return;
  if (!v.marking) v.marking = (async () => {
    try {
      const tl = v.title_len || 0, order = {text: v.text.slice(tl), id: v.order_id};
      if (tl) order.title = v.text.slice(0, tl - 1);
      const r = await api("/console/api/analyze", {order, record: false});
      Object.assign(v, {text: r.view.text, marks: r.view.marks, title_len: r.view.title_len});
    } catch (e) { /* shown without marks */ }
  })();
  return v.marking;
}

/* ---- supervisor --------------------------------------------------------------------------- */
async function loadSupervisor() {
  try {
    const s = await api("/console/api/supervisor");
    const a = s.automatic;
    const card = (id, title, value, note) => h("div", {class: "card", id}, title, h("b", {}, value), h("span", {class: "note"}, note));
    $("s-when").textContent = `截至 ${new Date(s.now * 1000).toLocaleString("zh-CN")}`;
    $("s-cards").replaceChildren(
      card("c-orders", "近 24 小时工单", String(s.orders_24h), `前 7 日 ${s.orders_baseline} 单`),
      card("c-auto", "自动派单占比", pct(a.share), `${a.orders} 单`),
      card("c-acc", "自动派单准确率（上限）", pct(a.accuracy_bound), `被纠正且改动 ${a.corrected_changed} 单 / 有纠正 ${a.corrected} 单`),
      card("c-corr", "近 24 小时有纠正的工单", String(s.corrections_24h), "按工单编号对应"));
    $("s-hourly").replaceChildren(plotHourly(s.hourly, ROUTE_NAMES));
    $("s-cats").replaceChildren(plotCompare(s.top_categories.map(x => ({...x, name: x.name.split(" > ").slice(-2).join(" > ")}))));
    $("s-places").replaceChildren(plotCompare(s.top_places));
    $("s-hot").replaceChildren(s.hot_spots.length ? plotHot(s.hot_spots) : h("p", {class: "muted"}, "近 24 小时没有热点。"));
    $("s-alpha").textContent = String(s.alpha); $("s-minhot").textContent = String(s.min_hot);
  } catch (e) { $("s-when").textContent = "载入失败：" + e.message; }
}

/* ---- keyboard ----------------------------------------------------------------------------- */
function listKeys(input, ul, search) {
  input.addEventListener("keydown", async ev => {
    if (ev.key === "ArrowDown") { ev.preventDefault(); const b = ul.querySelector("button"); if (b) b.focus(); }
    if (ev.key === "Enter") {
      ev.preventDefault();
      if (search) await search();
      const b = ul.querySelector("button"); if (b) b.click();
    }
  });
  ul.addEventListener("keydown", ev => {
    const all = [...ul.querySelectorAll("button")], i = all.indexOf(document.activeElement);
    if (ev.key === "ArrowDown" && i < all.length - 1) { ev.preventDefault(); all[i + 1].focus(); }
    if (ev.key === "ArrowUp") { ev.preventDefault(); (i > 0 ? all[i - 1] : input).focus(); }
    if (ev.key === "Escape") input.focus();
  });
}

document.addEventListener("keydown", ev => {
  if (ev.altKey && ["1", "2", "3"].includes(ev.key)) { ev.preventDefault(); show(["order", "queue", "super"][+ev.key - 1]); return; }
  if (ev.altKey && ["c", "p", "u"].includes(ev.key.toLowerCase())) {
    ev.preventDefault(); show("order"); $({c: "cat-q", p: "place-q", u: "unit-q"}[ev.key.toLowerCase()]).focus(); return;
  }
  if (ev.ctrlKey && ev.key === "Enter") {
    ev.preventDefault();
    if ($("order-form").contains(document.activeElement)) dispatchOrder(); else if (!$("screen-order").hidden) submitCorrection();
    return;
  }
  const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
  if ($("screen-queue").hidden || typing || ev.ctrlKey || ev.altKey || ev.metaKey) return;
  const k = ev.key.toLowerCase();
  if (k === "a") finishQueueItem("accepted");
  else if (k === "s") finishQueueItem("skipped");
  else if (k === "c") correctQueueItem();
  else if (k === "j" || k === "arrowdown") { S.index = Math.min(S.index + 1, S.shown.length - 1); renderQueue(); }
  else if (k === "k" || k === "arrowup") { S.index = Math.max(S.index - 1, 0); renderQueue(); }
  else return;
  ev.preventDefault();
});

for (const b of document.querySelectorAll("nav button")) b.addEventListener("click", () => show(b.dataset.screen));
$("key-form").addEventListener("submit", connect);
$("order-form").addEventListener("submit", dispatchOrder);
$("fix-form").addEventListener("submit", submitCorrection);
$("fix-clear").addEventListener("click", clearPicks);
$("cat-q").addEventListener("input", debounce(searchCategories, 150));
$("place-q").addEventListener("input", debounce(searchPlaces, 150));
$("unit-q").addEventListener("input", debounce(loadUnits, 150));
$("cat-q").addEventListener("focus", () => { if (!$("cat-q").value.trim() && S.who) browseCategories(); });
$("unit-q").addEventListener("focus", () => { if (!$("unit-results").children.length) loadUnits(); });
listKeys($("cat-q"), $("cat-results"), searchCategories);
listKeys($("place-q"), $("place-results"), searchPlaces);
listKeys($("unit-q"), $("unit-results"), null);
$("q-load-service").addEventListener("click", loadServiceQueue);
$("q-file").addEventListener("change", openFile);
for (const id of ["f-route", "f-flag", "f-district", "f-changed"]) $(id).addEventListener("change", applyFilters);
for (const id of ["f-cat", "f-conf"]) $(id).addEventListener("input", debounce(applyFilters, 150));
$("s-refresh").addEventListener("click", loadSupervisor);
