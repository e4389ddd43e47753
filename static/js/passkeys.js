// Passkeys (WebAuthn): sign in or confirm with one (buttons with data-passkey-sign), and add
// one on the Security page (data-passkey-add). The server sends the options as JSON text and
// checks the answer; this module only converts between base64url and the browser's buffers.
const status = document.querySelector("[data-passkey-status]");

function say(text) {
  if (status) {
    status.textContent = text;
    status.hidden = !text;
  }
}

function toBuffer(base64url) {
  const text = atob(base64url.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(text, (c) => c.charCodeAt(0)).buffer;
}

function toBase64url(buffer) {
  const bytes = new Uint8Array(buffer);
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// The credential as the JSON the server reads (base64url for every buffer).
function asJson(credential, response) {
  return {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    response,
    clientExtensionResults: credential.getClientExtensionResults(),
  };
}

function descriptors(list) {
  return (list || []).map((d) => ({ ...d, id: toBuffer(d.id) }));
}

async function post(url, csrf, body) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
    body: body === undefined ? "{}" : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok || data.error) {
    throw new Error(data.error || `the server answered ${response.status}`);
  }
  return data;
}

async function signWithPasskey(button) {
  const { optionsUrl, signUrl, next, csrf } = button.dataset;
  const data = await post(optionsUrl, csrf);
  const options = JSON.parse(data.publicKey);
  options.challenge = toBuffer(options.challenge);
  options.allowCredentials = descriptors(options.allowCredentials);
  const credential = await navigator.credentials.get({ publicKey: options });
  const r = credential.response;
  const answer = asJson(credential, {
    clientDataJSON: toBase64url(r.clientDataJSON),
    authenticatorData: toBase64url(r.authenticatorData),
    signature: toBase64url(r.signature),
    userHandle: r.userHandle ? toBase64url(r.userHandle) : null,
  });
  const done = await post(`${signUrl}?${new URLSearchParams({ next: next || "" })}`, csrf, answer);
  window.location.assign(done.redirect);
}

function showCodes(codes, then) {
  const section = document.getElementById("new-recovery-codes");
  const list = section?.querySelector("ol");
  if (!section || !list) {
    window.location.assign(then);
    return;
  }
  list.replaceChildren(...codes.map((code) => {
    const item = document.createElement("li");
    const text = document.createElement("code");
    text.textContent = code;
    item.append(text);
    return item;
  }));
  section.querySelector("a[data-continue]").href = then;
  section.hidden = false;
  section.scrollIntoView();
}

async function addPasskey(button) {
  const { optionsUrl, addUrl, csrf } = button.dataset;
  const name = document.getElementById("id_name")?.value || "";
  const data = await post(optionsUrl, csrf);
  const options = JSON.parse(data.publicKey);
  options.challenge = toBuffer(options.challenge);
  options.user.id = toBuffer(options.user.id);
  options.excludeCredentials = descriptors(options.excludeCredentials);
  const credential = await navigator.credentials.create({ publicKey: options });
  const r = credential.response;
  const answer = asJson(credential, {
    clientDataJSON: toBase64url(r.clientDataJSON),
    attestationObject: toBase64url(r.attestationObject),
    transports: r.getTransports ? r.getTransports() : [],
  });
  const done = await post(addUrl, csrf, { name, credential: answer });
  if (done.codes && done.codes.length) showCodes(done.codes, done.redirect);
  else window.location.assign(done.redirect);
}

function wire(selector, action, busyText) {
  for (const button of document.querySelectorAll(selector)) {
    if (!window.PublicKeyCredential) {
      button.disabled = true;
      button.title = "This browser does not support passkeys.";
      continue;
    }
    button.addEventListener("click", async () => {
      button.disabled = true;
      say(busyText);
      try {
        await action(button);
      } catch (error) {
        say(error.name === "NotAllowedError" ? "The passkey request was cancelled or timed out." : `No passkey: ${error.message}`);
        button.disabled = false;
      }
    });
  }
}

wire("[data-passkey-sign]", signWithPasskey, "Waiting for your passkey…");
wire("[data-passkey-add]", addPasskey, "Follow your browser's prompts to make the passkey…");
