// The page's one live connection: reconnects with capped exponential backoff and keeps the
// "connection" indicator honest. Later features register handlers for their event types.
const handlers = new Map();
export function on(type, fn) { handlers.set(type, [...(handlers.get(type) || []), fn]); }

const indicator = document.getElementById("conn-state");
function setState(state, text) {
  if (!indicator) return;
  indicator.dataset.state = state;
  indicator.textContent = text;
}

function renderSystem(system) {
  for (const [part, info] of Object.entries(system || {})) {
    const row = document.querySelector(`#system-status tr[data-part="${part}"]`);
    if (!row) continue;
    const pill = row.querySelector(".pill");
    pill.className = `pill ${info.status}`;
    pill.textContent = info.status;
    row.querySelector(".detail").textContent = info.detail;
  }
}
on("state", (msg) => renderSystem(msg.state.system));

let attempt = 0;
function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/live/`);
  socket.addEventListener("open", () => { attempt = 0; setState("live", "Live"); });
  socket.addEventListener("message", (event) => {
    let msg;
    try { msg = JSON.parse(event.data); } catch { return; }
    for (const fn of handlers.get(msg.type) || []) fn(msg);
  });
  socket.addEventListener("close", () => {
    attempt += 1;
    const delay = Math.min(30000, 500 * 2 ** Math.min(attempt, 6)) * (0.75 + Math.random() / 2);
    setState("lost", "Connection lost, reconnecting…");
    setTimeout(connect, delay);
  });
}
connect();
window.standxLive = { on };
