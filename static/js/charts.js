// Charts drawn with TradingView's lightweight-charts (static/vendor, from npm at setup).
// The server sends decimal strings; Number() here is only for drawing.
const LC = window.LightweightCharts;

function css(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }
function readJSON(id) {
  const el = document.getElementById(id);
  return el ? JSON.parse(el.textContent) : null;
}
function points(series) { return series.map((p) => ({ time: p.time, value: Number(p.value) })); }

function makeChart(el, height) {
  return LC.createChart(el, {
    autoSize: true,
    height,
    layout: { background: { color: "transparent" }, textColor: css("--muted"), attributionLogo: false },
    grid: { vertLines: { color: css("--border") }, horzLines: { color: css("--border") } },
    rightPriceScale: { borderColor: css("--border") },
    timeScale: { borderColor: css("--border"), timeVisible: true, secondsVisible: false },
    crosshair: { mode: LC.CrosshairMode.Normal },
  });
}

function unavailable(el) {
  el.innerHTML = '<p class="muted chart-empty">Charts are unavailable: the chart library did not load.</p>';
}

function fmtSigned(text, places) {
  const n = Number(text) + 0; // -0 shows as 0
  const s = n.toLocaleString("en-US", { minimumFractionDigits: places, maximumFractionDigits: places });
  return n >= 0 ? `+${s}` : s;
}

function equity() {
  const el = document.getElementById("equity-chart");
  const data = readJSON("equity-data");
  if (!el || !data) return;
  if (!LC) { unavailable(el); return; }
  const ddEl = document.getElementById("drawdown-chart");
  const chart = makeChart(el, 260);
  const line = chart.addSeries(LC.AreaSeries, {
    lineColor: css("--accent"), topColor: "rgba(45, 212, 191, 0.30)", bottomColor: "rgba(45, 212, 191, 0.02)",
    lineWidth: 2, priceFormat: { type: "price", precision: 2, minMove: 0.01 },
  });
  const flowMarkers = LC.createSeriesMarkers(line, []);
  const ddChart = makeChart(ddEl, 120);
  const dd = ddChart.addSeries(LC.AreaSeries, {
    lineColor: css("--bad"), topColor: "rgba(248, 113, 113, 0.05)", bottomColor: "rgba(248, 113, 113, 0.35)",
    lineWidth: 1, priceFormat: { type: "price", precision: 2, minMove: 0.01 },
  });
  // Scroll and zoom the two panels together.
  chart.timeScale().subscribeVisibleLogicalRangeChange((r) => r && ddChart.timeScale().setVisibleLogicalRange(r));
  ddChart.timeScale().subscribeVisibleLogicalRangeChange((r) => r && chart.timeScale().setVisibleLogicalRange(r));

  function show(curve) {
    const empty = el.querySelector(".chart-empty");
    if (empty) empty.remove();
    line.setData(points(curve.equity));
    dd.setData(points(curve.drawdown));
    chart.timeScale().fitContent();
    ddChart.timeScale().fitContent();
    // A flow is money in or out, not gain: marked where it entered, never part of the return.
    flowMarkers.setMarkers(curve.markers.map((m) => {
      const into = Number(m.amount) >= 0;
      return {
        time: m.time, position: into ? "belowBar" : "aboveBar", shape: into ? "arrowUp" : "arrowDown",
        color: css("--muted"), text: m.text,
      };
    }));
    const caption = document.getElementById("equity-caption");
    if (caption) {
      caption.textContent = curve.equity.length
        ? `Return over the range: ${curve.return_pct === null ? "—" : `${fmtSigned(curve.return_pct, 2)}%`}` +
          ` (time-weighted) · PnL ${curve.pnl === null ? "—" : fmtSigned(curve.pnl, 2)}` +
          ` · deposits and withdrawals ${fmtSigned(curve.flows, 2)}` +
          ` · largest drawdown ${Number(curve.max_drawdown_pct).toFixed(2)}%`
        : "No balance history in this range.";
    }
    el.dataset.markers = String(curve.markers.length);
    el.dataset.points = String(curve.equity.length);
    el.dataset.range = curve.range;
  }
  show(data);

  for (const button of document.querySelectorAll("#equity-ranges button")) {
    button.addEventListener("click", async () => {
      const response = await fetch(`equity.json?range=${encodeURIComponent(button.dataset.range)}`, { credentials: "same-origin" });
      if (!response.ok) return;
      show(await response.json());
      for (const b of document.querySelectorAll("#equity-ranges button")) b.setAttribute("aria-pressed", String(b === button));
    });
  }
}

// Markers sit on the candle that contains the fill (lightweight-charts needs a bar's time).
function snapMarkers(markers, candles, width) {
  if (!candles.length) return [];
  const first = candles[0].time;
  const end = candles[candles.length - 1].time + width;
  const times = new Set(candles.map((c) => c.time));
  const out = [];
  for (const m of markers) {
    if (m.time < first || m.time >= end) continue;
    const bar = m.time - ((m.time - first) % width);
    if (!times.has(bar)) continue;
    const buy = m.side === "buy";
    out.push({
      time: bar, position: buy ? "belowBar" : "aboveBar", shape: buy ? "arrowUp" : "arrowDown",
      color: buy ? css("--ok") : css("--bad"), text: m.text,
    });
  }
  return out;
}

// A marker's label is centred on its bar: one on the last bars would run under the price axis,
// so the visible range is widened past the last bar until the widest such label fits.
const LABEL_FONT = "12px -apple-system, BlinkMacSystemFont, 'Trebuchet MS', Roboto, Ubuntu, sans-serif";
function labelWidth(text) {
  const ctx = document.createElement("canvas").getContext("2d");
  ctx.font = LABEL_FONT;
  return ctx.measureText(text).width;
}
function roomForLabels(chart, placed, candles) {
  const ts = chart.timeScale();
  const range = ts.getVisibleLogicalRange();
  if (!range || !placed.length || !candles.length) return;
  const index = new Map(candles.map((c, i) => [c.time, i]));
  const last = candles.length - 1;
  const spacing = ts.width() / (range.to - range.from);
  let bars = 0;
  for (const m of placed) {
    const half = labelWidth(m.text || "") / 2 + 4;
    bars = Math.max(bars, half / spacing - (last - index.get(m.time)) - (range.to - last));
  }
  // Widening shrinks the bars a little, so ask for a fifth more than the sum says.
  if (bars > 0) ts.setVisibleLogicalRange({ from: range.from, to: range.to + bars * 1.2 });
  return bars > 0;
}

// The chart applies fitContent and a widened range at a frame of its own, which a busy machine
// may not have drawn by our next frame: measure again each frame until the range held still
// and the labels fit (a few frames at most), then mark the chart placed.
function placeLabels(el, chart, placed, candles, generation, frames = 10) {
  const ts = chart.timeScale();
  let last = null;
  const step = (left) => {
    if (el.placing !== generation) return; // a newer resolution took over
    const range = ts.getVisibleLogicalRange();
    const still = range && last && range.from === last.from && range.to === last.to;
    last = range && { from: range.from, to: range.to };
    const widened = roomForLabels(chart, placed, candles);
    if ((widened || !still) && left > 0) { requestAnimationFrame(() => step(left - 1)); return; }
    el.dataset.labelsPlaced = String(candles[candles.length - 1]?.time ?? "");
  };
  requestAnimationFrame(() => step(frames));
}

function candlesChart() {
  const el = document.getElementById("candle-chart");
  const data = readJSON("symbol-chart");
  if (!el || !data) return;
  if (!LC) { unavailable(el); return; }
  const chart = makeChart(el, 380);
  el.chart = chart; // for the browser test that checks the labels fit
  const series = chart.addSeries(LC.CandlestickSeries, {
    upColor: css("--ok"), downColor: css("--bad"), wickUpColor: css("--ok"), wickDownColor: css("--bad"),
    borderVisible: false,
  });
  const markers = LC.createSeriesMarkers(series, []);
  const error = document.getElementById("candles-error");

  function show(candles, width) {
    const empty = el.querySelector(".chart-empty");
    if (empty) empty.remove();
    series.setData(candles.map((c) => ({
      time: c.time, open: Number(c.open), high: Number(c.high), low: Number(c.low), close: Number(c.close),
    })));
    const placed = snapMarkers(data.markers, candles, width);
    markers.setMarkers(placed);
    chart.timeScale().fitContent();
    el.placed = placed;
    delete el.dataset.labelsPlaced;
    el.placing = (el.placing || 0) + 1;
    placeLabels(el, chart, placed, candles, el.placing);
    el.dataset.candles = String(candles.length);
    el.dataset.markers = String(placed.length);
  }
  show(data.candles, data.resolution_s);

  for (const button of document.querySelectorAll("#resolutions button")) {
    button.addEventListener("click", async () => {
      const url = `${el.dataset.candlesUrl}?resolution=${encodeURIComponent(button.dataset.resolution)}`;
      const response = await fetch(url, { credentials: "same-origin" });
      const body = await response.json().catch(() => ({ error: "The price history could not be read." }));
      if (!response.ok) { error.textContent = body.error; error.hidden = false; return; }
      error.hidden = true;
      show(body.candles, body.resolution_s);
      const change = document.querySelector("#market-stats [data-field=change]");
      if (change) {
        change.textContent = body.change_pct === null ? "—" : `${fmtSigned(body.change_pct, 2)}%`;
        change.className = Number(body.change_pct) < 0 ? "neg" : "pos";
      }
      for (const b of document.querySelectorAll("#resolutions button")) b.setAttribute("aria-pressed", String(b === button));
    });
  }

  const fundingEl = document.getElementById("funding-chart");
  if (fundingEl && data.funding.length) {
    const fchart = makeChart(fundingEl, 140);
    const bars = fchart.addSeries(LC.HistogramSeries, { priceFormat: { type: "price", precision: 4, minMove: 0.0001 } });
    bars.setData(data.funding.map((f) => ({
      time: f.time, value: Number(f.value), color: Number(f.value) >= 0 ? css("--ok") : css("--bad"),
    })));
    fchart.timeScale().fitContent();
  }
}

equity();
candlesChart();
