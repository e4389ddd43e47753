// Sortable tables: <table data-sortable>; each cell's data-sort holds the raw value (Decimal
// text for numbers, so "1,234.50" formatting never gets in the way). Headers become buttons;
// aria-sort tells screen readers the order. The order survives live updates of the rows.
const state = new WeakMap();

function compare(a, b, numeric) {
  if (a === "" && b === "") return 0;
  if (a === "") return 1;  // blanks last either way
  if (b === "") return -1;
  return numeric ? Number(a) - Number(b) : a.localeCompare(b);
}

function apply(table) {
  const s = state.get(table);
  if (!s) return;
  const body = table.tBodies[0];
  const rows = [...body.rows];
  rows.sort((r1, r2) => {
    const a = r1.cells[s.index]?.dataset.sort ?? "";
    const b = r2.cells[s.index]?.dataset.sort ?? "";
    const result = compare(a, b, s.numeric);
    return s.dir === "ascending" ? result : -result;
  });
  body.append(...rows);
  table.querySelectorAll("thead th").forEach((th, i) => {
    if (i === s.index) th.setAttribute("aria-sort", s.dir); else th.removeAttribute("aria-sort");
  });
}

function setup(table) {
  if (table.dataset.sortReady) { apply(table); return; }
  table.dataset.sortReady = "1";
  table.querySelectorAll("thead th").forEach((th, index) => {
    const numeric = th.dataset.sortType !== "text";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    button.append(...th.childNodes);
    th.append(button);
    button.addEventListener("click", () => {
      const current = state.get(table);
      const dir = current && current.index === index && current.dir === "ascending" ? "descending" : "ascending";
      state.set(table, { index, numeric, dir });
      apply(table);
    });
  });
}

function setupAll() { document.querySelectorAll("table[data-sortable]").forEach(setup); }
document.addEventListener("live:updated", setupAll);
setupAll();
