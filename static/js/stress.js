// The stress slider: the range and the number box move together; each change asks the server
// (Decimal risk maths, the same as the alerts) for the result, at most one request in flight.
const form = document.getElementById("stress-form");
if (form) {
  const range = document.getElementById("stress-range");
  const pct = form.elements.namedItem("pct");
  const result = document.getElementById("stress-result");
  let timer = null;
  let controller = null;

  async function run() {
    const query = new URLSearchParams(new FormData(form)).toString();
    controller?.abort();
    controller = new AbortController();
    result.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(`${form.dataset.fragment}?${query}`, {
        credentials: "same-origin", signal: controller.signal,
      });
      result.innerHTML = await response.text();
    } catch (error) {
      if (error.name !== "AbortError") {
        result.innerHTML = '<p class="form-error" role="alert">Could not compute the stress test; check the connection and try again.</p>';
      }
    } finally {
      result.removeAttribute("aria-busy");
    }
  }
  function later() { clearTimeout(timer); timer = setTimeout(run, 150); }

  range.addEventListener("input", () => { pct.value = range.value; later(); });
  pct.addEventListener("input", () => { if (pct.value !== "") range.value = pct.value; later(); });
  form.elements.namedItem("symbol").addEventListener("change", later);
  form.addEventListener("submit", (event) => { event.preventDefault(); run(); });
}
