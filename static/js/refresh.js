// Live numbers: the server sends {"type": "portfolio"} when a sync stored something or a mark
// moved a position; the page then re-fetches itself and swaps every [data-live-region] element
// in place (at most once every 1.5 s, and not while the tab is hidden). Data ages tick locally.
const MIN_GAP_MS = 1500;
const STALE_AFTER_S = 120;
let timer = null;
let last = 0;
let missed = false;
let connects = 0;

function regions() { return document.querySelectorAll("[data-live-region][id]"); }

async function refresh() {
  if (!regions().length) return;
  if (document.hidden) { missed = true; return; }
  last = Date.now();
  try {
    const response = await fetch(location.href, {
      headers: { "X-Live-Refresh": "1" }, credentials: "same-origin", cache: "no-store",
    });
    if (!response.ok || response.redirected) return;  // logged out or an error: keep what we show
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const region of regions()) {
      const next = fresh.getElementById(region.id);
      if (!next || next.innerHTML === region.innerHTML) continue;
      region.innerHTML = next.innerHTML;
      region.dispatchEvent(new CustomEvent("live:updated", { bubbles: true }));
    }
    document.body.dataset.refreshedAt = String(Date.now());
    tickAges();
  } catch {
    // Network trouble shows in the connection indicator; the numbers stay as they were.
  }
}

function schedule() {
  if (timer) return;
  const wait = Math.max(0, MIN_GAP_MS - (Date.now() - last));
  timer = setTimeout(() => { timer = null; refresh(); }, wait);
}

function ageText(seconds) {
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["min", 60]]) {
    if (seconds >= size) return `${Math.floor(seconds / size)} ${unit}`;
  }
  return `${Math.max(0, seconds)} s`;
}

function tickAges() {
  const now = Date.now();
  for (const cell of document.querySelectorAll("[data-synced-at]")) {
    const seconds = Math.floor((now - Date.parse(cell.dataset.syncedAt)) / 1000);
    // The source ("stream", "reconciling", "polled") is as the page was last rendered.
    const source = cell.dataset.source ? ` · ${cell.dataset.source}` : "";
    cell.textContent = `updated ${ageText(seconds)} ago${source}`;
    cell.classList.toggle("stale", seconds > STALE_AFTER_S);
  }
}

const live = window.standxLive;
if (live) {
  live.on("portfolio", schedule);
  // A reconnect may have missed events: catch up once (not on the first connection).
  live.on("state", () => { connects += 1; if (connects > 1) schedule(); });
}
// Events are throttled on the server, so also catch up every 15 s while the tab is visible.
setInterval(() => { if (!document.hidden && Date.now() - last > 15000) schedule(); }, 5000);
document.addEventListener("visibilitychange", () => {
  if (!document.hidden && missed) { missed = false; schedule(); }
});
setInterval(tickAges, 1000);
