// Wallet sign-in in the browser: the wallet signs StandX's message; the server holds the
// temporary request-signing key and completes the login. The wallet key never leaves the wallet.
const card = document.getElementById("wallet-card");
const statusEl = document.getElementById("wallet-status");
const csrf = card.querySelector("input[name=csrfmiddlewaretoken]").value;

function say(text, isError = false) {
  statusEl.textContent = text;
  statusEl.classList.toggle("error", isError);
}

async function post(url, fields) {
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

function toBase64(bytes) {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

async function evmAddressAndSigner() {
  const provider = window.ethereum;
  if (!provider) throw new Error("No EVM wallet found in this browser. Install MetaMask or Rabby, or import a token.");
  const [address] = await provider.request({ method: "eth_requestAccounts" });
  if (!address) throw new Error("The wallet shared no account.");
  return {
    address,
    sign: (message) => provider.request({ method: "personal_sign", params: [utf8Hex(message), address] }),
  };
}

async function solanaAddressAndSigner() {
  const provider = window.solana || window.phantom?.solana;
  if (!provider) throw new Error("No Solana wallet found in this browser. Install Phantom, or import a token.");
  const connected = await provider.connect();
  const publicKey = (connected && connected.publicKey) || provider.publicKey;
  const address = publicKey.toString();
  return {
    address,
    sign: async (message) => {
      const result = await provider.signMessage(new TextEncoder().encode(message), "utf8");
      const signature = result.signature || result;
      return toBase64(signature);
    },
  };
}

async function link(chain) {
  const buttons = card.querySelectorAll("button[data-chain]");
  buttons.forEach((b) => { b.disabled = true; });
  try {
    say("Waiting for your wallet…");
    const wallet = chain === "bsc" ? await evmAddressAndSigner() : await solanaAddressAndSigner();
    const exchange = document.getElementById("wallet-exchange")?.value || "";
    say("Asking StandX for a sign-in message…");
    const begun = await post(card.dataset.beginUrl, { chain, address: wallet.address, exchange_url: exchange });
    say("Please sign the message in your wallet.");
    const signature = await wallet.sign(begun.message);
    say("Completing the sign-in with StandX…");
    const done = await post(card.dataset.completeUrl, {
      challenge_id: begun.challenge_id,
      signature,
      label: document.getElementById("wallet-label").value,
      exchange_url: exchange,
    });
    window.location.assign(done.redirect);
  } catch (error) {
    const text = error && error.code === 4001 ? "You declined the request in your wallet." : (error.message || String(error));
    say(text, true);
    buttons.forEach((b) => { b.disabled = false; });
  }
}

for (const button of card.querySelectorAll("button[data-chain]")) {
  button.addEventListener("click", () => link(button.dataset.chain));
}
