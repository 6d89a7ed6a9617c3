/**
 * @module
 * The status page's stylesheet and its one small script, inline (the central
 * node is offline: nothing is loaded from elsewhere). The script only
 * enhances: it follows the live stream and updates rows and the timeline
 * with textContent (never innerHTML: node names are hostile input), refreshes
 * the "ago" times and filters rows as one types. The page's Content-Security-
 * Policy allows this script by its hash and no other.
 */
import { createHash } from "node:crypto";

export const STATUS_CSS = `
:root{--ok:#1a7f37;--proxy:#0969da;--off:#6e7781;--auto:#bf8700;--bad:#cf222e;--fg:#1f2328;--dim:#656d76;--line:#d0d7de;--bg:#f6f8fa}
*{box-sizing:border-box}body{margin:0;font:14px/1.4 system-ui,sans-serif;color:var(--fg);background:#fff}
header{display:flex;flex-wrap:wrap;gap:12px;align-items:baseline;padding:10px 16px;border-bottom:1px solid var(--line);background:var(--bg)}
header h1{font-size:18px;margin:0}.chips{display:flex;flex-wrap:wrap;gap:6px}
.chip{padding:1px 8px;border:1px solid var(--line);border-radius:10px;background:#fff;color:var(--fg);text-decoration:none}
#live{margin-left:auto;color:var(--dim)}#live.on{color:var(--ok)}
main{padding:8px 16px;display:grid;gap:14px}section h2{font-size:15px;margin:6px 0}
svg text{font:12px system-ui,sans-serif;fill:var(--fg)}svg .col{fill:var(--dim);font-weight:600}svg .dim{fill:var(--dim)}
svg .host{fill:var(--bg);stroke:var(--line)}svg .wire{stroke:#8c959f;stroke-width:1.5}
svg .port rect{fill:#fff;stroke:var(--ok)}svg .port.link-down rect{stroke:var(--bad);stroke-dasharray:4 3}
svg .segbox{fill:#fff;stroke-width:2}svg .seg-title{font-weight:600}svg .badge{font-weight:600}
svg .m-server .segbox{stroke:var(--ok)}svg .m-server .badge{fill:var(--ok)}
svg .m-proxy .segbox{stroke:var(--proxy)}svg .m-proxy .badge{fill:var(--proxy)}
svg .m-off .segbox{stroke:var(--off)}svg .m-off .badge{fill:var(--off)}
svg .m-auto .segbox{stroke:var(--auto)}svg .m-auto .badge{fill:var(--auto)}
svg .dhcp-server rect{fill:#fff8c5;stroke:var(--auto)}svg .dhcp-server.proxy rect{fill:#ddf4ff;stroke:var(--proxy)}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:3px 8px;border-bottom:1px solid var(--line);white-space:nowrap}
th a{color:inherit}tbody tr:hover{background:var(--bg)}tr.flash{animation:flash 1.5s}
@keyframes flash{from{background:#fff8c5}to{background:transparent}}
td.c-mac,td.c-ip,td.c-id{font-family:ui-monospace,monospace}
.bar i{display:inline-block;width:10px;height:10px;margin-right:2px;border-radius:2px;background:#eaeef2}
.bar i.d{background:var(--ok)}.bar i.c{background:var(--auto)}.bar i.s{background:#afb8c1}
form{display:flex;flex-wrap:wrap;gap:8px;align-items:center}input,select,button{font:inherit}
ol.tl{list-style:none;padding:0;margin:0;display:grid;gap:3px;max-width:760px}
ol.tl li{display:grid;grid-template-columns:80px 1fr 130px 70px;gap:8px;align-items:center}
ol.tl .track{background:#eaeef2;height:12px;border-radius:3px;overflow:hidden}ol.tl .fill{display:block;height:100%;background:var(--ok)}
ol.tl li.current .fill{background:var(--auto)}ol.tl li.skipped .lbl,ol.tl li.todo .lbl{color:var(--dim)}
.dim{color:var(--dim)}.why{max-width:420px;white-space:normal}
`;

export const STATUS_JS = `(() => {
  "use strict";
  const $ = (s, r) => (r || document).querySelector(s);
  const fmt = (ms) => ms == null ? "" : ms < 1000 ? ms + " ms" : ms < 60000 ? (ms / 1000).toFixed(1) + " s"
    : Math.floor(ms / 60000) + " min " + Math.round((ms % 60000) / 1000) + " s";
  const ago = (at) => fmt(Math.max(0, Date.now() - at)) + " ago";
  const cls = { done: "d", current: "c", skipped: "s", todo: "t" };
  const set = (el, text) => { if (el && el.textContent !== text) el.textContent = text; };
  function updateRow(r) {
    const id = "n-" + r.key;
    let tr = document.getElementById(id);
    if (!tr) {
      const tpl = $("#row-tpl");
      if (!tpl) return;
      tr = tpl.content.firstElementChild.cloneNode(true);
      tr.id = id;
      const body = $("#nodes tbody");
      body.insertBefore(tr, body.firstChild);
    }
    tr.dataset.stage = r.stage;
    const a = $(".c-id a", tr); a.href = "?node=" + encodeURIComponent(r.key); set(a, r.id || r.key);
    set($(".c-machine", tr), r.machine || "");
    set($(".c-mac", tr), r.mac || ""); set($(".c-ip", tr), r.ip || "");
    set($(".c-seg", tr), r.segment || ""); set($(".c-stage", tr), r.stage);
    const seen = $(".c-seen", tr); seen.dataset.at = r.lastSeen; set(seen, ago(r.lastSeen));
    const is = tr.querySelectorAll(".bar i");
    r.steps.forEach((s, i) => { if (is[i]) is[i].className = cls[s.state]; });
    set($(".tot", tr), fmt(r.totalMs));
    tr.classList.remove("flash"); void tr.offsetWidth; tr.classList.add("flash");
    const tl = $("#timeline");
    if (tl && tl.dataset.key === r.key) updateTimeline(tl, r);
  }
  function updateTimeline(tl, r) {
    const max = Math.max(1, ...r.steps.map((s) => s.ms || 0));
    set($(".tl-stage", tl), r.stage);
    r.steps.forEach((s) => {
      const li = tl.querySelector('li[data-stage="' + s.stage + '"]');
      if (!li) return;
      li.className = s.state;
      set($(".dur", li), s.state === "skipped" ? "skipped" : s.state === "current" ? "waiting " + fmt(s.ms) : fmt(s.ms));
      set($(".at", li), s.at ? new Date(s.at).toISOString().slice(11, 19) : "");
      $(".fill", li).style.width = (s.ms ? Math.max(2, Math.round(100 * s.ms / max)) : 0) + "%";
    });
  }
  setInterval(() => {
    for (const el of document.querySelectorAll(".c-seen[data-at]")) set(el, ago(Number(el.dataset.at)));
  }, 5000);
  const q = $("#q");
  if (q) q.addEventListener("input", () => {
    const n = q.value.trim().toLowerCase();
    for (const tr of document.querySelectorAll("#nodes tbody tr")) {
      const text = [".c-id", ".c-machine", ".c-mac", ".c-ip"].map((c) => $(c, tr).textContent).join(" ").toLowerCase();
      tr.hidden = n !== "" && !text.includes(n);
    }
  });
  const live = $("#live"), url = document.body.dataset.stream;
  if (!url || !window.EventSource) return;
  const es = new EventSource(url);
  es.onopen = () => { live.textContent = "live"; live.className = "on"; };
  es.onerror = () => { live.textContent = "reconnecting…"; live.className = ""; };
  es.addEventListener("node", (e) => { try { updateRow(JSON.parse(e.data)); } catch (_) { /* a bad event */ } });
})();`;

/** The CSP source that lets exactly STATUS_JS run. */
export const STATUS_JS_HASH = `'sha256-${createHash("sha256").update(STATUS_JS).digest("base64")}'`;

export const STATUS_CSP = [
  "default-src 'none'",
  `script-src ${STATUS_JS_HASH}`,
  "style-src 'unsafe-inline'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");
