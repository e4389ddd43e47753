// Forms with data-confirm ask before they submit (unlink, close a position and other destructive
// actions). Delegated, so rows replaced by a live update keep asking.
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
});
