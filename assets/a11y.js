/* Accessibility the components leave to us (checked by the accessibility tests):
 * - names for what third-party components render without one: inside an element with
 *   data-a11y-name (layouts.components.named), a dbc.Progress's role=progressbar element and a
 *   dcc.Upload's file input get that name as aria-label;
 * - a one-line text summary under each chart (layouts.components.chart), written from the drawn
 *   figure after each redraw, at most once a second: "Equity: 6.18 M, 2.4 % below its peak of 6.33 M".
 * Runs after the page changes, at most four times a second, and touches nothing else.
 */
(function () {
  "use strict";

  var EVERY_MS = 250;
  var pending = false;

  function nameUnnamed() {
    pending = false;
    bindCharts();
    var holders = document.querySelectorAll("[data-a11y-name]");
    for (var h = 0; h < holders.length; h++) {
      var name = holders[h].getAttribute("data-a11y-name");
      var targets = holders[h].querySelectorAll("[role=progressbar], input[type=file]");
      for (var t = 0; t < targets.length; t++) {
        if (targets[t].getAttribute("aria-label") !== name) targets[t].setAttribute("aria-label", name);
      }
    }
  }

  var SUMMARY_EVERY_MS = 1000;
  var MAX_TRACES = 3;

  function isNum(v) { return typeof v === "number" && isFinite(v); }

  function fmt(v, axis) {
    if (!isNum(v)) { return "—"; }
    var tick = (axis && axis.tickformat) || "", suffix = (axis && axis.ticksuffix) || "";
    if (tick.indexOf("%") >= 0) { return (v * 100).toFixed(1) + " %"; }
    var a = Math.abs(v), sign = v < 0 ? "−" : "", text;
    if (a >= 1e9) { text = (a / 1e9).toFixed(2) + " B"; }
    else if (a >= 1e6) { text = (a / 1e6).toFixed(2) + " M"; }
    else if (a >= 1e3) { text = (a / 1e3).toFixed(2) + " k"; }
    else { text = Number.isInteger(a) ? String(a) : a >= 100 ? a.toFixed(0) : a.toFixed(2); }
    return sign + text + (suffix.trim() === "%" ? " %" : suffix);
  }

  function numbers(values) {
    var out = [];
    for (var i = 0; values && i < values.length; i++) { if (isNum(values[i])) { out.push(values[i]); } }
    return out;
  }

  function axisOf(gd, trace, letter) {
    var ref = (trace[letter + "axis"] || letter).replace(letter, "");
    return gd.layout[letter + "axis" + ref] || gd.layout[letter + "axis"] || {};
  }

  // Plotly's label markup (a line break, bold) as plain words: "medium<br>n=18" reads "medium n=18"
  function plain(text) {
    return String(text).replace(/<[^>]+>/g, " ").replace(/\s+/g, " ").trim();
  }

  function describeTrace(gd, trace, fallback) {
    var name = trace.name || fallback;
    if (trace.type === "pie") {
      var total = numbers(trace.values).reduce(function (a, b) { return a + b; }, 0);
      if (!total) { return null; }
      var parts = (trace.labels || []).map(function (label, i) { return [plain(label), trace.values[i] / total]; })
        .sort(function (a, b) { return b[1] - a[1]; }).slice(0, 4);
      return name + ": " + parts.map(function (p) { return p[0] + " " + (p[1] * 100).toFixed(1) + " %"; }).join(", ");
    }
    if (trace.type === "heatmap") {
      var best = null;
      (trace.z || []).forEach(function (row, r) {
        (row || []).forEach(function (v, c) { if (isNum(v) && (!best || v > best[0])) { best = [v, r, c]; } });
      });
      return best ? name + ": highest " + fmt(best[0]) + " at " + plain(trace.x ? trace.x[best[2]] : best[2]) + ", " +
        plain(trace.y ? trace.y[best[1]] : best[1]) : null;
    }
    if (trace.type === "candlestick" || trace.type === "ohlc") {
      var closes = numbers(trace.close);
      if (!closes.length) { return null; }
      return name + ": last close " + fmt(closes[closes.length - 1]) + ", from " + fmt(Math.min.apply(null, numbers(trace.low))) +
        " to " + fmt(Math.max.apply(null, numbers(trace.high))) + " over " + closes.length + " bars";
    }
    var horizontal = trace.orientation === "h";
    var values = numbers(horizontal ? trace.x : trace.y);
    if (!values.length) { return null; }
    var axis = axisOf(gd, trace, horizontal ? "x" : "y");
    var last = values[values.length - 1], high = Math.max.apply(null, values), low = Math.min.apply(null, values);
    if (trace.type === "bar") {
      var labelAxis = axisOf(gd, trace, horizontal ? "y" : "x");
      var labels = ((horizontal ? trace.y : trace.x) || []).map(function (l) { return isNum(l) ? fmt(l, labelAxis) : plain(l); });
      if (labels.length !== values.length) { labels = values.map(function (_v, i) { return "#" + (i + 1); }); }
      if (values.length <= 6) {
        return name + ": " + values.map(function (v, i) { return labels[i] + " " + fmt(v, axis); }).join(", ");
      }
      return name + ": " + values.length + " bars, highest " + fmt(high, axis) + " at " + labels[values.indexOf(high)] +
        ", lowest " + fmt(low, axis) + " at " + labels[values.indexOf(low)] + ", latest " + fmt(last, axis);
    }
    if ((trace.mode || "lines").indexOf("lines") < 0) {
      return name + ": " + values.length + " points from " + fmt(low, axis) + " to " + fmt(high, axis);
    }
    var text = name + ": " + fmt(last, axis);
    if (low > 0 && last < high) {  // a level (equity, a price): how far below its peak
      return text + ", " + ((high - last) / high * 100).toFixed(1) + " % below its peak of " + fmt(high, axis) +
        " (low " + fmt(low, axis) + ")";
    }
    if (last === high) { return text + ", at its high (low " + fmt(low, axis) + ")"; }
    return text + " latest, high " + fmt(high, axis) + ", low " + fmt(low, axis);
  }

  function summarize(figure) {
    var gd = figure.querySelector(".js-plotly-plot"), out = figure.querySelector(".tb-chart-summary");
    if (!gd || !out || !gd.data) { return; }
    var name = figure.getAttribute("data-chart-name") || "Chart", lines = [];
    for (var i = 0; i < gd.data.length && lines.length < MAX_TRACES; i++) {
      var trace = gd.data[i];
      if (trace.visible === false || trace.visible === "legendonly") { continue; }
      var line = describeTrace(gd, trace, name);
      if (line) { lines.push(line); }
    }
    if (!lines.length) {
      var note = ((gd.layout && gd.layout.annotations) || []).map(function (a) { return a.text; }).filter(Boolean)[0];
      lines.push(note ? plain(note) : "No data to show.");
    }
    var text = lines.join(". ") + ".";
    if (out.textContent !== text) { out.textContent = text; }
  }

  function bindCharts() {
    var figures = document.querySelectorAll("figure.tb-chart");
    for (var f = 0; f < figures.length; f++) {
      var figure = figures[f], gd = figure.querySelector(".js-plotly-plot");
      if (!gd || !gd.on || gd._tbSummary) { continue; }
      gd._tbSummary = {last: 0, timer: null};
      (function (figure, gd) {
        gd.on("plotly_afterplot", function () {
          var state = gd._tbSummary, wait = SUMMARY_EVERY_MS - (Date.now() - state.last);
          if (state.timer) { return; }
          state.timer = setTimeout(function () { state.timer = null; state.last = Date.now(); summarize(figure); },
                                   Math.max(0, wait));
        });
      })(figure, gd);
      summarize(figure);
    }
  }

  function later() {
    if (!pending) {
      pending = true;
      setTimeout(nameUnnamed, EVERY_MS);
    }
  }

  function start() {
    nameUnnamed();
    new MutationObserver(later).observe(document.body, {childList: true, subtree: true});
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
