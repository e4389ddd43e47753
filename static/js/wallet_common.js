// What the wallet sign-in pages share: a CSRF-protected form POST that answers JSON, and an
// EIP-1193 wallet's address and personal_sign. The wallet key never leaves the wallet.

// A sign-in card: its element, the page's CSRF token, and a status line that says where it is.
export function signInCard(cardId, statusId) {
  const card = document.getElementById(cardId);
  const statusEl = document.getElementById(statusId);
  const say = (text, isError = false) => {
    statusEl.textContent = text;
    statusEl.classList.toggle("error", isError);
  };
  return { card, csrf: card.querySelector("input[name=csrfmiddlewaretoken]").value, say };
}

export async function post(url, fields, csrf) {
  const body = new URLSearchParams(fields);
  const response = await fetch(url, {
    method: "POST",
    body,
    headers: { "X-CSRFToken": csrf },
    credentials: "same-origin",
  });
  let data = {};
  try { data = await response.json(); } catch { /* handled below */ }
  if (!response.ok || data.error) throw new Error(data.error || `The server answered ${response.status}.`);
  return data;
}

function utf8Hex(text) {
  return "0x" + Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function evmAddressAndSigner(fallback) {
  const provider = window.ethereum;
  if (!provider) throw new Error(`No EVM wallet found in this browser. Install MetaMask or Rabby, or ${fallback}.`);
  const [address] = await provider.request({ method: "eth_requestAccounts" });
  if (!address) throw new Error("The wallet shared no account.");
  return {
    address,
    sign: (message) => provider.request({ method: "personal_sign", params: [utf8Hex(message), address] }),
  };
}

export function walletErrorWords(error) {
  return error && error.code === 4001 ? "You declined the request in your wallet." : (error.message || String(error));
}

// The sign-in's two steps: the server asks the exchange for a message, the wallet signs it, the
// server completes the sign-in; then the page the server names.
export async function signInSteps({ card, csrf, say, wallet, venue, begin, complete }) {
  say(`Asking ${venue} for a sign-in message…`);
  const begun = await post(card.dataset.beginUrl, { ...begin, address: wallet.address }, csrf);
  say("Please sign the message in your wallet.");
  const signature = await wallet.sign(begun.message);
  say(`Completing the sign-in with ${venue}…`);
  const done = await post(card.dataset.completeUrl, { ...complete, challenge_id: begun.challenge_id, signature }, csrf);
  window.location.assign(done.redirect);
}
