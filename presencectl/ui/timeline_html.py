"""``timeline -o FILE.html``: one self-contained page (no network at view time).

Why no charting library: the page must open offline from a ticket, stay
small for 1,000 subjects × 100,000 events and draw 10,000 × 1,000,000 without
a DOM node per event. A ~200-line canvas script does exactly that: rows are
virtualised (only the visible ones are drawn), blocks and ticks are binned to
the pixel while drawing, and the data is embedded once as compact JSON
(per row: delta-encoded millisecond times, one digit per event kind, indexes
into one table of type names and summaries). Every remote string reaches the
page through ``textContent`` or canvas ``fillText``: never as markup.
"""

from __future__ import annotations

import json
from typing import Any

from presencectl.core.presence import iso
from presencectl.core.timeline import KIND_CODES, KIND_RANK, Timeline
from presencectl.ui.timeline import (
    KIND_COLOURS,
    STATE_COLOURS,
    UNKNOWN_CSS,
    duration_text,
    title_line,
    zone_for,
)

__all__ = ["draw_html", "page_data"]

#: Rows of the stats table under the picture (the picture has them all).
STATS_ROWS = 2000


def page_data(timeline: Timeline, *, source: str, utc: bool, top: int | None = None) -> dict[str, Any]:
    """Everything the page draws, JSON-ready."""
    start, end = timeline.span()
    rows = []
    for row in timeline.rows(top=top):
        previous = 0
        deltas = []
        for t in row.times:
            ms = int(round((t - start) * 1000))
            deltas.append(ms - previous)
            previous = ms
        stats = timeline.stats(row)
        rows.append({
            "s": row.subject,
            "d": row.dialect,
            "t": deltas,
            "k": "".join(str(code) for code in row.kinds),
            "y": list(row.types),
            "m": list(row.summaries),
            "c": [[int(round((t - start) * 1000)), 1 if state == "online" else 0] for t, state in row.changes],
            "f": stats.flaps if stats is not None else 0,
            "o": duration_text(timeline.offline_total(row)),
        })
    report = timeline.tracker.report()
    keep = {r["s"] for r in rows}
    table = [s for s in report["subjects"] if s["subject"] in keep]
    return {
        "title": title_line(timeline, source, zone_for(utc)),
        "source": source,
        "utc": utc,
        "start": start * 1000,
        "end": end * 1000,
        "kinds": list(KIND_CODES),
        "rank": list(KIND_RANK),
        "kindColours": {k: v[1] for k, v in KIND_COLOURS.items()},
        "stateColours": {k: v[1] for k, v in STATE_COLOURS.items()},
        "unknown": UNKNOWN_CSS,
        "texts": timeline.texts,
        "rows": rows,
        "stats": table[:STATS_ROWS],
        "statsTotal": len(table),
        "events": timeline.events,
        "noSubject": timeline.no_subject,
        "untimed": timeline.untimed,
        "first": iso(timeline.first),
        "last": iso(timeline.last),
    }


def draw_html(timeline: Timeline, *, source: str, utc: bool, top: int | None = None) -> str:
    """The page as one string."""
    data = page_data(timeline, source=source, utc=utc, top=top)
    # ensure_ascii escapes U+2028/2029; "<" inside strings becomes \u003c so
    # no payload text can close the <script> element.
    blob = json.dumps(data, ensure_ascii=True, separators=(",", ":")).replace("<", "\\u003c")
    title = data["title"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _PAGE.replace("@@TITLE@@", title).replace("@@DATA@@", blob)


_PAGE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>presencectl timeline: @@TITLE@@</title>
<style>
  body { font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 16px; color: #222; }
  h1 { font-size: 16px; margin: 0 0 4px; word-break: break-all; white-space: pre-wrap; }
  .bar { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; margin: 6px 0; color: #555; }
  button { font: inherit; padding: 1px 8px; }
  .sw { display: inline-block; width: 12px; height: 10px; margin-right: 4px; vertical-align: -1px; }
  .tk { display: inline-block; width: 3px; height: 10px; margin-right: 4px; vertical-align: -1px; }
  #scroller { position: relative; overflow-y: auto; border: 1px solid #ddd; max-height: 70vh; }
  #lanes { position: sticky; top: 0; display: block; cursor: grab; }
  #tip { position: fixed; pointer-events: none; background: #fffff0; border: 1px solid #999; padding: 4px 6px;
         font: 12px/1.35 ui-monospace, Menlo, Consolas, monospace; white-space: pre; display: none; z-index: 10;
         max-width: 70vw; overflow: hidden; box-shadow: 0 2px 6px rgba(0,0,0,.2); }
  table { border-collapse: collapse; margin-top: 14px; font: 12px ui-monospace, Menlo, Consolas, monospace; }
  th, td { padding: 2px 8px; border-bottom: 1px solid #eee; text-align: right; }
  th:first-child, td:first-child, td:nth-child(2), td:nth-child(3) { text-align: left; }
  th { position: sticky; top: 0; background: #f6f6f6; }
</style>
</head>
<body>
<h1 id="title"></h1>
<div class="bar" id="legend"></div>
<div class="bar">
  <button id="zin" title="Zoom in (+)">+</button><button id="zout" title="Zoom out (-)">&minus;</button>
  <button id="reset" title="Whole session (0)">reset</button>
  <span id="range"></span>
  <span>wheel over the lanes: zoom &middot; drag: pan &middot; wheel over the names or the scrollbar: scroll &middot; hover: details</span>
</div>
<div id="scroller"><div id="spacer"><canvas id="lanes"></canvas></div></div>
<div id="tip"></div>
<div id="note" class="bar"></div>
<table id="stats"><thead></thead><tbody></tbody></table>
<script type="application/json" id="data">@@DATA@@</script>
<script>
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("data").textContent);
  const ROW = 18, AXIS = 26, NAME = 230, TAIL = 130;
  const canvas = document.getElementById("lanes"), ctx = canvas.getContext("2d");
  const scroller = document.getElementById("scroller"), spacer = document.getElementById("spacer");
  const tip = document.getElementById("tip");
  const span = Math.max(1, D.end - D.start);
  const rankOf = D.kinds.map(k => { const i = D.rank.indexOf(k); return i < 0 ? 99 : i; });
  for (const r of D.rows) {
    const T = new Float64Array(r.t.length); let acc = 0;
    for (let i = 0; i < r.t.length; i++) { acc += r.t[i]; T[i] = acc; }
    r.T = T;
  }
  let t0 = 0, t1 = span;
  document.getElementById("title").textContent = D.title;
  document.title = "presencectl timeline: " + D.title;

  function pad(n, w) { return String(n).padStart(w || 2, "0"); }
  function fmt(ms, withDate) {
    const d = new Date(D.start + ms);
    const p = D.utc
      ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()]
      : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds()];
    const time = pad(p[3]) + ":" + pad(p[4]) + ":" + pad(p[5]) + (t1 - t0 < 120000 ? "." + pad(p[6], 3) : "");
    return withDate ? p[0] + "-" + pad(p[1]) + "-" + pad(p[2]) + " " + time : time;
  }
  function dur(ms) {
    let s = Math.round(ms / 1000);
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m" + pad(s % 60) + "s";
    if (s < 86400) return Math.floor(s / 3600) + "h" + pad(Math.floor(s / 60) % 60) + "m";
    return Math.floor(s / 86400) + "d" + pad(Math.floor(s / 3600) % 24) + "h";
  }
  function barW() { return Math.max(50, canvas.clientWidth - NAME - TAIL); }
  function xOf(ms) { return NAME + (ms - t0) / (t1 - t0) * barW(); }
  function lower(T, v) { let lo = 0, hi = T.length; while (lo < hi) { const m = (lo + hi) >> 1; if (T[m] < v) lo = m + 1; else hi = m; } return lo; }

  function size() {
    const w = scroller.clientWidth, dpr = window.devicePixelRatio || 1;
    const h = Math.min(D.rows.length * ROW + AXIS, Math.max(200, Math.floor(window.innerHeight * 0.7)));
    spacer.style.height = (D.rows.length * ROW + AXIS) + "px";
    canvas.style.width = w + "px"; canvas.style.height = h + "px";
    canvas.width = Math.floor(w * dpr); canvas.height = Math.floor(h * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    draw();
  }

  function draw() {
    const W = canvas.clientWidth, H = canvas.clientHeight, bw = barW();
    ctx.clearRect(0, 0, W, H);
    ctx.font = "11px ui-monospace, Menlo, Consolas, monospace"; ctx.textBaseline = "middle";
    // Axis.
    ctx.fillStyle = "#555";
    const labels = Math.max(2, Math.floor(bw / 110));
    let right = 0;
    for (let i = 0; i <= labels; i++) {
      const ms = t0 + (t1 - t0) * i / labels, x = NAME + bw * i / labels, text = fmt(ms, i === 0);
      const w = ctx.measureText(text).width, left = i === 0 ? x : (i === labels ? x - w : x - w / 2);
      ctx.fillStyle = "#eee"; ctx.fillRect(Math.round(x), AXIS - 6, 1, H); ctx.fillStyle = "#555";
      if (left < right + 8) continue;  // would overlap the label before it
      ctx.textAlign = "left"; ctx.fillText(text, left, 10); right = left + w;
    }
    ctx.textAlign = "right"; ctx.fillText("flaps   offline", W - 6, 10);
    const first = Math.floor(scroller.scrollTop / ROW), count = Math.ceil((H - AXIS) / ROW) + 1;
    ctx.save(); ctx.beginPath(); ctx.rect(0, AXIS - 2, W, H); ctx.clip();
    const off = scroller.scrollTop % ROW;
    for (let n = 0; n < count && first + n < D.rows.length; n++) {
      const r = D.rows[first + n], y = AXIS + n * ROW - off;
      if ((first + n) % 2) { ctx.fillStyle = "#fafafa"; ctx.fillRect(0, y, W, ROW); }
      ctx.fillStyle = "#222"; ctx.textAlign = "left";
      let name = r.s; if (name.length > 30) name = name.slice(0, 29) + "\u2026";
      ctx.fillText(name, 4, y + ROW / 2);
      ctx.textAlign = "right";
      ctx.fillText(String(r.f).padStart(5) + "  " + r.o.padStart(8), W - 6, y + ROW / 2);
      // Unknown state underneath, then the known runs.
      ctx.fillStyle = D.unknown; ctx.fillRect(NAME, y + 10, bw, 5);
      for (let i = 0; i < r.c.length; i++) {
        const a = Math.max(r.c[i][0], t0), b = Math.min(i + 1 < r.c.length ? r.c[i + 1][0] : span, t1);
        if (b <= a && !(b === a && a === t1)) continue;
        const xa = Math.floor(xOf(a)), xb = Math.max(xa + 1, Math.ceil(xOf(b)));
        ctx.fillStyle = r.c[i][1] ? D.stateColours.online : D.stateColours.offline;
        ctx.fillRect(xa, y + 9, xb - xa, 7);
      }
      // Ticks, binned to the pixel: the most telling kind wins a pixel.
      const T = r.T, k = r.k;
      let i = lower(T, t0), px = -1, best = 99;
      for (; i < T.length && T[i] <= t1; i++) {
        const x = Math.floor(xOf(T[i])), rank = rankOf[k.charCodeAt(i) - 48];
        if (x !== px) {
          if (px >= 0) { ctx.fillStyle = D.kindColours[D.rank[best]] || "#999"; ctx.fillRect(px, y + 1, 1, 7); }
          px = x; best = rank;
        } else if (rank < best) best = rank;
      }
      if (px >= 0) { ctx.fillStyle = D.kindColours[D.rank[best]] || "#999"; ctx.fillRect(px, y + 1, 1, 7); }
    }
    ctx.restore();
    document.getElementById("range").textContent = fmt(t0, true) + " \u2192 " + fmt(t1, true) + (D.utc ? " UTC" : "") + " (" + dur(t1 - t0) + ")";
    canvas.dataset.rows = String(D.rows.length);
    canvas.dataset.view = t0 + "," + t1;
  }

  function zoom(factor, atX) {
    const bw = barW(), frac = Math.min(1, Math.max(0, (atX - NAME) / bw));
    const at = t0 + (t1 - t0) * frac;
    let w = Math.max(10, Math.min(span * 1.0, (t1 - t0) * factor));
    t0 = at - w * frac; t1 = t0 + w;
    if (t0 < 0) { t1 -= t0; t0 = 0; } if (t1 > span) { t0 -= t1 - span; t1 = span; t0 = Math.max(0, t0); }
    draw();
  }
  function pan(dx) {
    const w = t1 - t0, shift = -dx / barW() * w;
    t0 = Math.min(Math.max(0, t0 + shift), span - w); t1 = t0 + w; draw();
  }

  // What is under the pointer: a tick (nearest within 3 px) or a state block.
  function hit(cx, cy) {
    const rect = canvas.getBoundingClientRect(), x = cx - rect.left, y = cy - rect.top;
    if (y < AXIS || x < NAME || x > NAME + barW()) return null;
    const n = Math.floor((y - AXIS + scroller.scrollTop) / ROW), r = D.rows[n];
    if (!r) return null;
    const ms = t0 + (x - NAME) / barW() * (t1 - t0), tol = 3 / barW() * (t1 - t0);
    const T = r.T; let i = lower(T, ms - tol), pick = -1, bestD = Infinity;
    for (; i < T.length && T[i] <= ms + tol; i++) { const d = Math.abs(T[i] - ms); if (d < bestD) { bestD = d; pick = i; } }
    if (pick >= 0) {
      const kind = D.kinds[r.k.charCodeAt(pick) - 48];
      let same = 0; for (let j = lower(T, ms - tol); j < T.length && T[j] <= ms + tol; j++) same++;
      return { kind: "tick", lines: [
        D.texts[r.y[pick]] + "  (" + kind + ")",
        "subject  " + r.s, "dialect  " + (r.d || "-"), "time     " + fmt(T[pick], true) + (D.utc ? " UTC" : ""),
        "summary  " + D.texts[r.m[pick]]].concat(same > 1 ? ["(" + same + " events here; zoom in to separate them)"] : []) };
    }
    let state = null, from = 0, to = span;
    for (let j = 0; j < r.c.length; j++) {
      if (r.c[j][0] <= ms) { state = r.c[j][1] ? "online" : "offline"; from = r.c[j][0]; to = j + 1 < r.c.length ? r.c[j + 1][0] : span; }
    }
    return { kind: "block", lines: [
      r.s + "  " + (state || "unknown"),
      state ? fmt(from, true) + " \u2192 " + fmt(to, true) + " (" + dur(to - from) + ")" : "state not known yet",
      "flaps " + r.f + ", offline " + r.o] };
  }
  window.presencectl = { data: D, hit: hit, zoom: zoom, pan: pan, draw: draw,
    view: function () { return [t0, t1]; }, xOf: xOf, rowY: function (n) { return AXIS + n * ROW + ROW / 2 - scroller.scrollTop; } };

  let drag = null;
  canvas.addEventListener("mousedown", e => { drag = e.clientX; canvas.style.cursor = "grabbing"; });
  window.addEventListener("mouseup", () => { drag = null; canvas.style.cursor = "grab"; });
  canvas.addEventListener("mousemove", e => {
    if (drag !== null) { pan(e.clientX - drag); drag = e.clientX; tip.style.display = "none"; return; }
    const h = hit(e.clientX, e.clientY);
    if (!h) { tip.style.display = "none"; return; }
    tip.textContent = h.lines.join("\n"); tip.dataset.kind = h.kind;
    tip.style.left = Math.min(e.clientX + 14, window.innerWidth - tip.offsetWidth - 8) + "px";
    tip.style.top = (e.clientY + 14) + "px"; tip.style.display = "block";
  });
  canvas.addEventListener("mouseleave", () => { tip.style.display = "none"; });
  canvas.addEventListener("wheel", e => {
    const rect = canvas.getBoundingClientRect(), x = e.clientX - rect.left;
    if (x < NAME || e.shiftKey) return;  // over the names: scroll the rows
    e.preventDefault(); zoom(e.deltaY > 0 ? 1.25 : 0.8, x);
  }, { passive: false });
  canvas.addEventListener("dblclick", () => { t0 = 0; t1 = span; draw(); });
  document.getElementById("zin").onclick = () => zoom(0.5, NAME + barW() / 2);
  document.getElementById("zout").onclick = () => zoom(2, NAME + barW() / 2);
  document.getElementById("reset").onclick = () => { t0 = 0; t1 = span; draw(); };
  document.addEventListener("keydown", e => {
    if (e.key === "+" || e.key === "=") zoom(0.5, NAME + barW() / 2);
    else if (e.key === "-") zoom(2, NAME + barW() / 2);
    else if (e.key === "0") { t0 = 0; t1 = span; draw(); }
    else if (e.key === "ArrowLeft") pan(barW() / 4);
    else if (e.key === "ArrowRight") pan(-barW() / 4);
  });
  scroller.addEventListener("scroll", draw);
  window.addEventListener("resize", size);

  // Legend.
  const legend = document.getElementById("legend");
  function item(cls, colour, label) {
    const s = document.createElement("span"), b = document.createElement("span");
    b.className = cls; b.style.background = colour; s.appendChild(b); s.appendChild(document.createTextNode(label)); legend.appendChild(s);
  }
  item("sw", D.stateColours.online, "online"); item("sw", D.stateColours.offline, "offline"); item("sw", D.unknown, "unknown");
  for (const k of D.rank) item("tk", D.kindColours[k], k);

  // The stats table (same figures as `presencectl stats`).
  const cols = [["subject", "subject"], ["dialect", "dialect"], ["state", "state"], ["events", "events"],
    ["connects", "connects"], ["disconnects", "disconnects"], ["flaps", "flaps"], ["offline_s", "offline"],
    ["longest_offline_s", "longest offline"], ["first_seen", "first seen"], ["last_seen", "last seen"]];
  const head = document.createElement("tr");
  for (const c of cols) { const th = document.createElement("th"); th.textContent = c[1]; head.appendChild(th); }
  document.querySelector("#stats thead").appendChild(head);
  const body = document.querySelector("#stats tbody");
  for (const s of D.stats) {
    const tr = document.createElement("tr");
    for (const c of cols) {
      const td = document.createElement("td"); let v = s[c[0]];
      if (c[0].endsWith("_s") && v !== null) v = dur(v * 1000);
      else if (c[0].endsWith("_seen") && v) v = fmt(Date.parse(v) - D.start, true);
      td.textContent = v === null || v === undefined ? "-" : String(v); tr.appendChild(td);
    }
    body.appendChild(tr);
  }
  const note = [D.events + " events"];
  if (D.noSubject) note.push(D.noSubject + " without a subject (not drawn)");
  if (D.untimed) note.push(D.untimed + " without a time (not drawn)");
  if (D.statsTotal > D.stats.length) note.push("table: first " + D.stats.length + " of " + D.statsTotal + " subjects");
  document.getElementById("note").textContent = note.join(" \u00b7 ");
  size();
})();
</script>
</body>
</html>
"""
