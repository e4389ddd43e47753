// The service worker and Web Push on this device: registration on every page, and one tap
// (permission, then subscription) to get alerts with every tab closed. Buttons with
// data-push="on" / data-push="off" and elements with data-push-state anywhere on the page are
// wired here; window.standxPush = { turnOn, registration } serves the other modules.
const key = document.querySelector('meta[name="push-key"]')?.content || "";
const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
const canPush = "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
const ios = /iPad|iPhone|iPod/.test(navigator.userAgent) || (navigator.platform === "MacIntel" && navigator.maxTouchPoints > 1);
const installed = window.matchMedia("(display-mode: standalone)").matches || navigator.standalone === true;

const registration = "serviceWorker" in navigator
  ? navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch((error) => {
    console.warn("service worker not registered", error);
    return null;
  })
  : Promise.resolve(null);

function keyBytes(base64url) {
  const text = atob(base64url.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

async function post(url, body) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || `the server answered ${response.status}`);
  return data;
}

async function endpointHash(endpoint) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(endpoint));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function say(text, on) {
  for (const el of document.querySelectorAll("[data-push-state]")) el.textContent = text;
  for (const button of document.querySelectorAll('[data-push="on"]')) button.hidden = on || !key || !canPush;
  for (const button of document.querySelectorAll('[data-push="off"]')) button.hidden = !on;
}

async function current() {
  const reg = await registration;
  return reg && canPush ? reg.pushManager.getSubscription() : null;
}

async function markThisDevice(subscription) {
  if (!subscription) return;
  const hash = await endpointHash(subscription.endpoint);
  document.querySelector(`[data-endpoint-hash="${hash}"]`)?.classList.add("this-device");
}

async function refresh() {
  if (!key) return say("Push is not set up on this server; alerts show while a tab is open.", false);
  if (ios && !installed) {
    return say("On iPhone and iPad, alerts reach you with the app closed only from the Home Screen: "
      + "tap Share, then Add to Home Screen (iOS 16.4 or later), open it from there and turn push on.", false);
  }
  if (!canPush) return say("This browser cannot receive push; alerts show while a tab is open.", false);
  if (Notification.permission === "denied") return say("Notifications are blocked for this site in the browser's settings.", false);
  const subscription = await current();
  await markThisDevice(subscription);
  say(subscription ? "Push is on for this device: alerts arrive with every tab closed." : "Push is off for this device.", Boolean(subscription));
}

// Called from a click only: browsers ignore (or punish) a permission prompt without a gesture.
async function turnOn() {
  if (!("Notification" in window)) return false;
  const permission = await Notification.requestPermission();
  if (permission !== "granted" || !key || !canPush || (ios && !installed)) {
    await refresh();
    return permission === "granted";
  }
  try {
    const reg = await navigator.serviceWorker.ready;
    const subscription = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
    await post("/push/subscriptions/", subscription.toJSON());
    await refresh();
  } catch (error) {
    say(`Push could not be turned on: ${error.message}. Alerts still show while a tab is open.`, false);
  }
  return true;
}

async function turnOff() {
  const subscription = await current();
  if (subscription) {
    await subscription.unsubscribe().catch(() => false);
    await post("/push/subscriptions/remove/", { endpoint: subscription.endpoint }).catch(() => null);
  }
  await refresh();
  if (document.getElementById("device-list")) location.reload();
}

for (const button of document.querySelectorAll('[data-push="on"]')) button.addEventListener("click", () => turnOn().then(() => { if (document.getElementById("device-list")) location.reload(); }));
for (const button of document.querySelectorAll('[data-push="off"]')) button.addEventListener("click", turnOff);

// Logging out: this browser stops receiving this user's alerts (the server detaches it too).
for (const form of document.querySelectorAll("form[data-logout]")) {
  form.addEventListener("submit", (event) => {
    if (form.dataset.unsubscribed) return;
    event.preventDefault();
    const done = () => { form.dataset.unsubscribed = "1"; form.submit(); };
    const timeout = new Promise((resolve) => setTimeout(resolve, 1000));
    Promise.race([current().then((s) => s?.unsubscribe()), timeout]).catch(() => null).then(done);
  });
}

// A notification clicked while this tab was not yet controlled by the worker.
navigator.serviceWorker?.addEventListener("message", (event) => {
  const url = event.data?.type === "open" ? new URL(event.data.url, location.origin) : null;
  if (url && url.origin === location.origin) location.assign(url.href);
});

window.standxPush = { turnOn, registration };
refresh();
