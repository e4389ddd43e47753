// A wallet sign-in that mints API keys (OCX): the wallet signs the venue's sign-in message; the
// server exchanges the signature for a session, mints a key with it and keeps what the chosen
// mode says. The wallet key never leaves the wallet.
import { evmAddressAndSigner, signInCard, signInSteps, walletErrorWords } from "./wallet_common.js";

const { card, csrf, say } = signInCard("mint-card", "mint-status");
const button = document.getElementById("mint-start");

async function link() {
  button.disabled = true;
  try {
    say("Waiting for your wallet…");
    const wallet = await evmAddressAndSigner("paste an API key below");
    const exchange = document.getElementById("mint-exchange")?.value || "";
    const mode = card.querySelector("input[name=mint-mode]:checked")?.value || "";
    await signInSteps({
      card, csrf, say, wallet, venue: card.dataset.venueName,
      begin: { mode, exchange_url: exchange },
      complete: { label: document.getElementById("mint-label").value, exchange_url: exchange },
    });
  } catch (error) {
    say(walletErrorWords(error), true);
    button.disabled = false;
  }
}

button.addEventListener("click", link);
