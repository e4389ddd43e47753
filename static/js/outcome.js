// The outcome of a sent order arrives on the live socket ("audit" events) when the first look
// could not settle it; the card updates in place.
const card = document.getElementById("order-outcome");
const live = window.standxLive;
if (card && live) {
  live.on("audit", (msg) => {
    if (String(msg.entry.id) !== card.dataset.auditId) return;
    card.querySelector("[data-field=status]").textContent = msg.entry.status_text;
    card.querySelector("[data-field=status]").className = `pill ${msg.entry.status}`;
    card.querySelector("[data-field=result]").textContent = msg.entry.result;
  });
}
// One submit per click: a second click while the first is on its way does nothing (the server
// also refuses a second order with the same cl_ord_id).
const form = document.getElementById("order-form");
if (form) {
  form.addEventListener("submit", (event) => {
    if (form.dataset.sending === "1") { event.preventDefault(); return; }
    if (event.submitter && event.submitter.value === "submit") form.dataset.sending = "1";
  });
}
