// StandX Portfolio's service worker (served at /sw.js, scope "/"): shows pushed alerts even
// when every dashboard tab is closed, opens the position on a click, and keeps the device
// subscribed when the browser rotates its subscription.
const { ICON, BADGE, APP_KEY, RENEW_URL } = {{ config|safe }};

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

// Only links into this site are opened: a push is data from the network.
function sameOrigin(url) {
  try {
    const target = new URL(url, self.location.origin);
    return target.origin === self.location.origin ? target.href : null;
  } catch {
    return null;
  }
}

async function show(data) {
  const url = sameOrigin(data.url || "/") || `${self.location.origin}/`;
  // An open tab may have shown this very event under the same tag already: then this one
  // replaces it without a second sound.
  const standing = await self.registration.getNotifications({ tag: data.tag });
  const seen = Boolean(data.event) && standing.some((n) => n.data && n.data.event === data.event);
  await self.registration.showNotification(data.title, {
    body: data.body,
    tag: data.tag,
    renotify: Boolean(data.renotify) && !seen,
    requireInteraction: Boolean(data.requireInteraction),
    icon: ICON,
    badge: BADGE,
    timestamp: typeof data.at === "number" ? data.at : Date.now(),
    data: { url, event: data.event, severity: data.severity, kind: data.kind },
  });
}

self.addEventListener("push", (event) => {
  let data = null;
  try {
    data = event.data ? event.data.json() : null;
  } catch {
    data = null;
  }
  if (!data || typeof data.title !== "string" || typeof data.tag !== "string") return;
  // Past its relevance (a phone that slept through a warning): the dashboard shows the present.
  if (typeof data.expires === "number" && Date.now() > data.expires) return;
  event.waitUntil(show(data));
});

async function openPosition(url) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const tab = windows.find((client) => new URL(client.url).origin === self.location.origin);
  if (!tab) return self.clients.openWindow(url);
  await tab.focus().catch(() => null); // refused without a user activation; still navigate
  try {
    return await tab.navigate(url);
  } catch {
    tab.postMessage({ type: "open", url }); // a tab this worker does not control yet
    return tab;
  }
}

self.addEventListener("notificationclick", (event) => {
  const url = sameOrigin(event.notification.data?.url || "/") || `${self.location.origin}/`;
  event.notification.close();
  event.waitUntil(openPosition(url));
});

self.addEventListener("pushsubscriptionchange", (event) => {
  event.waitUntil((async () => {
    const old = event.oldSubscription;
    let fresh = event.newSubscription;
    if (!fresh && APP_KEY) {
      const key = Uint8Array.from(atob(APP_KEY.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
      fresh = await self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    }
    if (!fresh) return;
    await fetch(RENEW_URL, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ old_endpoint: old ? old.endpoint : null, subscription: fresh.toJSON() }),
    });
  })());
});
