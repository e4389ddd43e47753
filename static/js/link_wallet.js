// Wallet sign-in in the browser: the wallet signs StandX's message; the server holds the
// temporary request-signing key and completes the login. The wallet key never leaves the wallet.
import { evmAddressAndSigner, signInCard, signInSteps, walletErrorWords } from "./wallet_common.js";

const { card, csrf, say } = signInCard("wallet-card", "wallet-status");

function toBase64(bytes) {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
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
    const wallet = chain === "bsc" ? await evmAddressAndSigner("import a token") : await solanaAddressAndSigner();
    const exchange = document.getElementById("wallet-exchange")?.value || "";
    await signInSteps({
      card, csrf, say, wallet, venue: "StandX",
      begin: { chain, exchange_url: exchange },
      complete: { label: document.getElementById("wallet-label").value, exchange_url: exchange },
    });
  } catch (error) {
    say(walletErrorWords(error), true);
    buttons.forEach((b) => { b.disabled = false; });
  }
}

for (const button of card.querySelectorAll("button[data-chain]")) {
  button.addEventListener("click", () => link(button.dataset.chain));
}
