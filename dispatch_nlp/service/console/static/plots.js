/* Inline SVG plots drawn from the supervisor's figures (no library). Each function takes the data and
   returns an <svg> element; colours by route come from ROUTE_COLOURS. */
"use strict";
const SVG_NS = "http://www.w3.org/2000/svg";
const ROUTE_COLOURS = {dispatch: "#2a7d3b", review: "#d08a1d", emergency_transfer: "#b3261e",
  out_of_scope: "#7c8391", return_to_district: "#6d5fb8"};

function svgEl(name, attrs, text) {
  const el = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

/* Stacked bars: hours = [{start, total, routes: {route: n}}]. */
function plotHourly(hours, routeNames) {
  const w = 620, h = 200, left = 34, bottom = 22, top = 8;
  const max = Math.max(1, ...hours.map(x => x.total));
  const svg = svgEl("svg", {viewBox: `0 0 ${w} ${h + 20}`, width: "100%", role: "img",
    "aria-label": "每小时工单数"});
  const bw = (w - left) / hours.length;
  const y = v => top + (h - top - bottom) * (1 - v / max);
  for (const t of [0, Math.round(max / 2), max]) {
    svg.appendChild(svgEl("line", {x1: left, x2: w, y1: y(t), y2: y(t), stroke: "#e3e6ec"}));
    svg.appendChild(svgEl("text", {x: left - 4, y: y(t) + 4, "text-anchor": "end"}, String(t)));
  }
  hours.forEach((hr, i) => {
    let acc = 0;
    for (const r of Object.keys(ROUTE_COLOURS)) {
      const n = hr.routes[r] || 0;
      if (!n) continue;
      const rect = svgEl("rect", {x: left + i * bw + 1, width: bw - 2, y: y(acc + n), height: y(acc) - y(acc + n),
        fill: ROUTE_COLOURS[r], "data-route": r, "data-count": n});
      rect.appendChild(svgEl("title", {}, `${routeNames[r] || r}：${n}`));
      svg.appendChild(rect);
      acc += n;
    }
    if (i % 3 === 0) {
      const d = new Date(hr.start * 1000);
      svg.appendChild(svgEl("text", {x: left + i * bw + bw / 2, y: h - 6, "text-anchor": "middle"},
        `${String(d.getHours()).padStart(2, "0")}时`));
    }
  });
  let lx = left;
  for (const [r, c] of Object.entries(ROUTE_COLOURS)) {
    svg.appendChild(svgEl("rect", {x: lx, y: h + 6, width: 10, height: 10, fill: c}));
    const label = routeNames[r] || r;
    svg.appendChild(svgEl("text", {x: lx + 13, y: h + 15}, label));
    lx += 22 + label.length * 12;
  }
  return svg;
}

/* Horizontal bars, now vs baseline: rows = [{name, count, baseline_daily}]. */
function plotCompare(rows) {
  const w = 620, rh = 22, left = 200;
  const h = Math.max(1, rows.length) * rh + 6;
  const max = Math.max(1, ...rows.map(r => Math.max(r.count, r.baseline_daily)));
  const svg = svgEl("svg", {viewBox: `0 0 ${w} ${h}`, width: "100%", role: "img", "aria-label": "对比图"});
  const x = v => (w - left - 110) * v / max;
  rows.forEach((r, i) => {
    const y0 = 4 + i * rh;
    const name = r.name.length > 18 ? "…" + r.name.slice(-17) : r.name;
    svg.appendChild(svgEl("text", {x: left - 6, y: y0 + 13, "text-anchor": "end"}, name));
    svg.appendChild(svgEl("rect", {x: left, y: y0 + 1, width: x(r.count), height: 10, fill: "#3b73c4",
      "data-count": r.count}));
    svg.appendChild(svgEl("rect", {x: left, y: y0 + 12, width: x(r.baseline_daily), height: 6, fill: "#b9cbe8"}));
    svg.appendChild(svgEl("text", {x: left + x(r.count) + 4, y: y0 + 11}, `${r.count}（日均 ${r.baseline_daily}）`));
  });
  return svg;
}

/* Hot spots: count (red) against the bound that flags it (tick). */
function plotHot(spots) {
  const w = 620, rh = 24, left = 220;
  const h = Math.max(1, spots.length) * rh + 6;
  const max = Math.max(1, ...spots.map(s => Math.max(s.count, s.bound)));
  const svg = svgEl("svg", {viewBox: `0 0 ${w} ${h}`, width: "100%", role: "img", "aria-label": "热点"});
  const x = v => (w - left - 150) * v / max;
  spots.forEach((s, i) => {
    const y0 = 4 + i * rh;
    const cat = s.category_name.split(" > ").pop();
    svg.appendChild(svgEl("text", {x: left - 6, y: y0 + 14, "text-anchor": "end"}, `${cat} × ${s.street_name}`));
    svg.appendChild(svgEl("rect", {x: left, y: y0 + 3, width: x(s.count), height: 14, fill: "#c8372d",
      "data-count": s.count}));
    svg.appendChild(svgEl("line", {x1: left + x(s.bound), x2: left + x(s.bound), y1: y0, y2: y0 + 20,
      stroke: "#222", "stroke-width": 2}));
    svg.appendChild(svgEl("text", {x: left + Math.max(x(s.count), x(s.bound)) + 5, y: y0 + 15},
      `${s.count}（上界 ${s.bound}，λ=${s.baseline_daily}）`));
  });
  return svg;
}
