// The page's one live connection: reconnects with capped exponential backoff and keeps the
// "connection" indicator honest. Features register handlers per event type with
// window.standxLive.on(type, fn); a handler registered late still gets the last "state".
const handlers = new Map();
let lastState = null;
let socket = null;

function on(type, fn) {
  handlers.set(type, [...(handlers.get(type) || []), fn]);
  if (type === "state" && lastState) fn(lastState);
}

function send(message) {
  if (socket && socket.readyState === WebSocket.OPEN) {
    socket.send(JSON.stringify(message));
    return true;
  }
  return false;
}

const indicator = document.getElementById("conn-state");
function setState(state, text) {
  if (!indicator) return;
  indicator.dataset.state = state;
  indicator.textContent = text;
  document.body.dataset.live = state;
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
  socket = new WebSocket(`${scheme}://${location.host}/ws/live/`);
  socket.addEventListener("open", () => { attempt = 0; setState("live", "Live"); });
  socket.addEventListener("message", (event) => {
    let msg;
    try { msg = JSON.parse(event.data); } catch { return; }
    if (msg.type === "state") lastState = msg;
    for (const fn of handlers.get(msg.type) || []) fn(msg);
  });
  socket.addEventListener("close", () => {
    attempt += 1;
    const delay = Math.min(30000, 500 * 2 ** Math.min(attempt, 6)) * (0.75 + Math.random() / 2);
    setState("lost", "Connection lost, reconnecting…");
    setTimeout(connect, delay);
  });
}
window.standxLive = { on, send };
connect();
