// The alert centre: firing list, acknowledge, recent notifications, browser notifications
// and the firing count in the tab title. Fed by the live socket (see live.js).
const live = window.standxLive;
const bell = document.getElementById("alert-bell");
const centre = document.getElementById("alert-centre");
const list = document.getElementById("alert-list");
const recent = document.getElementById("alert-recent");
const badge = document.getElementById("alert-count");
const ask = document.getElementById("notify-ask");
const denied = document.getElementById("notify-denied");
const snoozeState = document.getElementById("snooze-state");
const baseTitle = document.title.replace(/^\(\d+\) /, "");
const firing = new Map(); // alert id -> alert
const RECENT = 20;

function setCount(count) {
  if (badge) {
    badge.textContent = String(count);
    badge.classList.toggle("zero", count === 0);
  }
  document.title = count ? `(${count}) ${baseTitle}` : baseTitle;
}

function timeText(iso) {
  return iso ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }) : "";
}

function alertItem(alert) {
  const li = document.createElement("li");
  li.className = `alert-item ${alert.severity}${alert.acknowledged ? " acked" : ""}`;
  li.dataset.alertId = alert.id;
  const title = document.createElement("a");
  title.className = "alert-title";
  title.href = alert.url;
  title.textContent = alert.title;
  const body = document.createElement("p");
  body.className = "alert-body";
  body.textContent = alert.body;
  const meta = document.createElement("small");
  meta.className = "muted";
  meta.textContent = `${alert.severity} · since ${timeText(alert.fired_at || alert.since)}`;
  li.append(title, body, meta);
  if (alert.fix_url) {
    // The suggested fix opens its order (or margin) form filled in, with the preview: no send.
    const fix = document.createElement("a");
    fix.className = "button small alert-fix";
    fix.href = alert.fix_url;
    fix.textContent = alert.fix;
    li.append(" ", fix);
  }
  if (!alert.acknowledged) {
    const ack = document.createElement("button");
    ack.type = "button";
    ack.className = "ack";
    ack.textContent = "Acknowledge";
    ack.setAttribute("aria-label", `Acknowledge: ${alert.title}`);
    ack.addEventListener("click", () => {
      if (!live.send({ type: "ack", id: alert.id })) ack.textContent = "Offline: try again";
    });
    li.append(" ", ack);
  }
  return li;
}

function renderFiring() {
  list.replaceChildren();
  const items = [...firing.values()].sort((a, b) => (b.fired_at || "").localeCompare(a.fired_at || ""));
  if (!items.length) {
    const li = document.createElement("li");
    li.className = "muted empty-note";
    li.textContent = "Nothing is firing.";
    list.append(li);
  }
  for (const alert of items) list.append(alertItem(alert));
  bell?.classList.toggle("has-critical", items.some((a) => a.severity === "critical" && !a.acknowledged));
}

function addRecent(event) {
  recent.querySelector(".empty-note")?.remove();
  const li = document.createElement("li");
  li.className = `alert-item ${event.kind === "resolved" ? "resolved" : event.severity}`;
  li.textContent = `${timeText(event.at)} ${event.title}`;
  recent.prepend(li);
  while (recent.children.length > RECENT) recent.lastElementChild.remove();
}

function renderSnooze(until) {
  if (!snoozeState) return;
  snoozeState.hidden = !until;
  snoozeState.textContent = until ? `Warnings snoozed until ${timeText(until)}; critical alerts still come.` : "";
}

function updatePermissionUi() {
  if (!("Notification" in window)) { ask.hidden = true; return; }
  ask.hidden = Notification.permission !== "default";
  denied.hidden = Notification.permission !== "denied";
}

// One notification per alert subject: the push to this device's service worker carries the
// same tag, and whichever of the two arrives second replaces the first without a second sound.
async function notify(msg) {
  const allowed = msg.notify && "Notification" in window && Notification.permission === "granted";
  if (!allowed) return false;
  const alert = msg.alert;
  const options = {
    body: msg.event.body,
    tag: msg.tag,
    renotify: msg.kind !== "resolved",
    requireInteraction: alert.severity === "critical" && msg.kind !== "resolved",
    icon: document.querySelector('link[rel="icon"]')?.href,
    data: { url: alert.fix_url || alert.url, event: msg.event.id, severity: alert.severity, kind: msg.kind },
  };
  const reg = await window.standxPush?.registration;
  if (reg) {
    const standing = await reg.getNotifications({ tag: msg.tag });
    if (standing.some((n) => n.data && n.data.event === msg.event.id)) return true; // the push was first
    await reg.showNotification(msg.event.title, options);
    return true;
  }
  try {
    const n = new Notification(msg.event.title, options);
    n.addEventListener("click", () => { window.focus(); location.assign(alert.fix_url || alert.url); n.close(); });
    return true;
  } catch (error) {
    console.warn("notification failed", error); // e.g. a browser that only allows service-worker notifications
    return false;
  }
}

live.on("state", (msg) => {
  const state = msg.state.alerts;
  if (!state) return;
  firing.clear();
  for (const alert of state.firing) firing.set(alert.id, alert);
  renderFiring();
  recent.replaceChildren();
  for (const event of [...state.recent].reverse()) addRecent(event);
  if (!state.recent.length) {
    const li = document.createElement("li");
    li.className = "muted empty-note";
    li.textContent = "No notifications yet.";
    recent.append(li);
  }
  renderSnooze(state.snoozed_until);
  setCount(state.firing.length);
});

live.on("alert", (msg) => {
  const alert = msg.alert;
  if (alert.status === "firing") firing.set(alert.id, alert); else firing.delete(alert.id);
  renderFiring();
  addRecent({ ...msg.event, kind: msg.kind, severity: alert.severity });
  setCount(msg.firing);
  // The alert history records that an open tab got it (and whether it raised a notification).
  notify(msg).catch(() => false).then((notified) => live.send({ type: "shown", event: msg.event.id, notified }));
  document.dispatchEvent(new CustomEvent("standx:alert", { detail: msg }));
});

live.on("alert_ack", (msg) => {
  const alert = firing.get(msg.id);
  if (alert) { alert.acknowledged = true; renderFiring(); }
});

live.on("snooze", (msg) => renderSnooze(msg.until));

function toggleCentre(open) {
  centre.hidden = !open;
  bell.setAttribute("aria-expanded", String(open));
  if (open) updatePermissionUi();
}
bell?.addEventListener("click", () => toggleCentre(centre.hidden));
document.getElementById("alert-centre-close")?.addEventListener("click", () => { toggleCentre(false); bell.focus(); });
document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !centre.hidden) { toggleCentre(false); bell.focus(); } });
// Permission is asked only on this click: browsers ignore (or punish) unprompted requests.
// One tap: the permission, then this device's push subscription (see push.js).
document.getElementById("notify-enable")?.addEventListener("click", async () => {
  if (window.standxPush) await window.standxPush.turnOn(); else await Notification.requestPermission();
  updatePermissionUi();
});
updatePermissionUi();
