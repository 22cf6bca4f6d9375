/* The playback page's chart, driven by the player (assets/playback.js).
 *
 * TradingView's lightweight-charts (vendored under assets/vendor/, loaded on this page only), a
 * canvas chart: candles and fills on the price pane, equity below. Its series.update costs grow with
 * the bars a series holds (about 0.15 ms a bar at 2,000 bars, 10 ms at 100,000: bench/playback.py),
 * so a series never holds more than CAP bars:
 * - a window of W bars (100, 300, 1,000) holds the bars from a multiple of W, at most 2 W, and the
 *   visible range is moved each tick; it is rebuilt once every W bars;
 * - "all" holds the whole run so far in about one candle a pixel of the chart's width, each the OHLC
 *   of k bars (k = 1, then 2, 4, ...). It fits the run until the user zooms or pans; a double-click
 *   fits it again.
 * Bars arrive by series.update; a tick that brings many bars sets the slice at once (updateMax).
 * Fills are drawn by a series primitive (arrows for entries, circles for exits, at the fill price,
 * outlined), only those in view: the library's markers plugin reads the whole series on every update.
 */
(function () {
  "use strict";

  var LIBRARY = "vendor/lightweight-charts-5.3.0/lightweight-charts.standalone.production.js";
  var UP = "#18a558", DOWN = "#e74c3c", EXIT = "#2e86de", EQUITY = "#6c5ce7";
  var GRID = "rgba(128, 128, 128, 0.2)";
  var OUTLINE = "#1f2937"; // round each fill: a green entry on a green candle (red on red) still stands out
  var FILLS = {
    EL: {shape: "arrowUp", color: UP, label: "long entry", radius: 7},
    ES: {shape: "arrowDown", color: DOWN, label: "short entry", radius: 7},
    XL: {shape: "circle", color: EXIT, label: "long exit", radius: 8},
    XS: {shape: "circle", color: EXIT, label: "short exit", radius: 8}
  };
  // candles of the "all" window before they merge two bars into one: about one a pixel of the chart
  function allMax() { return Math.max(500, Math.min(4000, V.chart ? V.chart.timeScale().width() : 1000)); }
  // A tick that brings more new candles than this sets the slice at once: an update costs about 0.3 ms
  // (two series), a setData about 1.5 ms plus 3 us a candle (Chromium, 2,000-candle series).
  function updateMax(held) { return 5 + held / 100; }
  var MIN_FIT_BARS = 30; // "all" over a few bars: room for this many, not a few giant candles
  var SUMMARY_EVERY_MS = 1000;
  var shared = window.tbPlaybackText; // assets/playback.js
  var fmt0 = shared.fmt0, fmt2 = shared.fmt2, fmtP = shared.fmtP, signed = shared.signed, upperBound = shared.upperBound;

  var loading = null;
  var V = blank();

  function blank() {
    return {chart: null, candles: null, equity: null, container: null, tip: null, ease: null, raf: 0,
            times: [], lastTime: -Infinity, from: 0, k: 1, drawn: 0, count: 0, follow: true, clock: null,
            summaryAt: 0, shown: [], state: null};
  }

  function assetBase() {
    var own = document.querySelector('script[src*="playback_chart.js"]');
    var src = own ? own.getAttribute("src") : "/assets/playback_chart.js";
    return src.slice(0, src.indexOf("playback_chart.js"));
  }

  function library() {
    if (window.LightweightCharts) { return Promise.resolve(window.LightweightCharts); }
    if (!loading) {
      loading = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = assetBase() + LIBRARY;
        script.onload = function () { resolve(window.LightweightCharts); };
        script.onerror = function () { loading = null; reject(new Error("the chart library did not load")); };
        document.head.appendChild(script);
      });
    }
    return loading;
  }

  // "YYYY-MM-DD" or "YYYY-MM-DD HH:MM[:SS]" (UTC, as the API sends them) -> seconds since the epoch;
  // a bar without a price (a live bar trimmed before it was read) or out of time order has none.
  function syncTimes(S) {
    for (var i = V.times.length; i < S.n; i++) {
      var text = S.t[i], t = null;
      if (S.o[i] != null && text != null && text.charAt(0) !== "#") {
        var n = function (a, b) { return parseInt(text.slice(a, b), 10) || 0; };
        t = Date.UTC(n(0, 4), n(5, 7) - 1, n(8, 10), n(11, 13), n(14, 16), n(17, 19)) / 1000;
        if (t <= V.lastTime) { t = null; } else { V.lastTime = t; }
      }
      V.times.push(t);
    }
  }

  function palette() {
    var style = getComputedStyle(document.body);
    return {text: style.color || "#212529", font: style.fontFamily};
  }

  // ------------------------------------------------------------------ candles of the slice

  // Candle l of the slice: the bars [from + l k, from + (l + 1) k) up to the position, or null.
  function bucket(S, l, to) {
    var a = V.from + l * V.k, b = Math.min(to, a + V.k), open = null, high = -Infinity, low = Infinity, close = null;
    var time = null, eq = null;
    for (var i = a; i < b; i++) {
      if (V.times[i] == null) { continue; }
      if (time == null) { time = V.times[i]; open = S.o[i]; }
      if (S.h[i] > high) { high = S.h[i]; }
      if (S.l[i] < low) { low = S.l[i]; }
      close = S.c[i];
      if (S.eq[i] != null) { eq = S.eq[i]; }
    }
    if (time == null) { return null; }
    return {candle: {time: time, open: open, high: high, low: low, close: close},
            equity: eq == null ? {time: time} : {time: time, value: eq}};
  }

  function candlesTo(to) { return Math.max(0, Math.ceil((to - V.from) / V.k)); }

  function setSlice(S, to) {
    var candles = [], values = [];
    for (var l = 0, m = candlesTo(to); l < m; l++) {
      var b = bucket(S, l, to);
      if (b) { candles.push(b.candle); values.push(b.equity); }
    }
    V.candles.setData(candles);
    V.equity.setData(values);
    V.count = candles.length;
  }

  // The slice the position needs: where it starts and how many bars make a candle.
  function sliceFor(S, to) {
    if (S.win > 0) { return {from: Math.max(0, (Math.ceil(to / S.win) - 2) * S.win), k: 1}; }
    var k = 1;
    while (Math.ceil(to / k) > allMax()) { k *= 2; }
    return {from: 0, k: k};
  }

  // The series to bar ``to`` (exclusive): the candles it changed by update, the rest by one setData.
  function bringTo(S, to) {
    var want = sliceFor(S, to);
    var same = want.from === V.from && want.k === V.k;
    var first = candlesTo(V.drawn) - ((V.drawn - V.from) % V.k ? 1 : 0); // a partly drawn candle is redrawn
    var last = candlesTo(to);
    if (V.drawn < 0 || !same || to < V.drawn || last - first > updateMax(last) || V.count !== candlesTo(V.drawn)) {
      if (want.k !== V.k && !V.follow && S.win === 0) { rescaleView(V.k / want.k); }
      V.from = want.from; V.k = want.k;
      setSlice(S, to);
    } else {
      for (var l = Math.max(0, first); l < last; l++) {
        var b = bucket(S, l, to);
        if (b) { V.candles.update(b.candle); V.equity.update(b.equity); }
      }
      V.count = last;
    }
    V.drawn = to;
  }

  function rescaleView(factor) {
    var range = V.chart.timeScale().getVisibleLogicalRange();
    if (range) { V.chart.timeScale().setVisibleLogicalRange({from: range.from * factor, to: range.to * factor}); }
  }

  function setRange(from, to) { // compared with the chart's own: a new bar shifts it, an unsized chart ignores it
    var scale = V.chart.timeScale(), now = scale.getVisibleLogicalRange();
    if (now && Math.abs(now.from - from) < 1e-6 && Math.abs(now.to - to) < 1e-6) { return; }
    scale.setVisibleLogicalRange({from: from, to: to});
  }

  // The visible candles: the last ``win`` bars (from the first bar until the window fills), or the run.
  function frame(S, to) {
    if (S.win > 0) {
      var first = Math.max(0, to - S.win) - V.from;
      setRange(first - 0.5, first + S.win - 0.5);
    } else if (V.follow) {
      setRange(-0.5, Math.max(V.count, MIN_FIT_BARS) - 0.5);
    }
  }

  function barOf(logical) { return V.from + logical * V.k; }

  function logicalOf(bar) { return Math.floor((bar - V.from) / V.k); }

  // The bars [first, last] in view now (tests, the summary and the fills read it).
  function inView() {
    var range = V.chart.timeScale().getVisibleLogicalRange();
    if (!range || !V.count) { return null; }
    var a = Math.max(0, Math.ceil(range.from - 1e-6)), b = Math.min(V.count - 1, Math.floor(range.to + 1e-6));
    if (b < a) { return null; }
    return {first: barOf(a), last: Math.min(V.drawn, barOf(b) + V.k) - 1};
  }

  // ------------------------------------------------------------------ fills, drawn by a primitive

  function drawShape(ctx, kind, x, y, scale, outline) {
    var r = kind.radius * scale;
    ctx.beginPath();
    if (kind.shape === "circle") {
      ctx.arc(x, y, r, 0, 2 * Math.PI);
    } else {
      var dir = kind.shape === "arrowUp" ? -1 : 1; // the tip points the way the trade bets
      ctx.moveTo(x, y + dir * r);
      ctx.lineTo(x - r, y - dir * r * 0.7);
      ctx.lineTo(x + r, y - dir * r * 0.7);
      ctx.closePath();
    }
    ctx.fillStyle = kind.color;
    ctx.fill();
    if (outline) {
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = OUTLINE;
      ctx.stroke();
    }
  }

  function fillsInView(S) {
    var seen = inView(), out = [];
    if (!S || !seen) { return out; }
    for (var k = upperBound(S.evBars, seen.first - 1); k < S.ev.length && S.ev[k].b <= seen.last; k++) { out.push(S.ev[k]); }
    return out;
  }

  function described(e) { return [e.b, e.code, e.p, FILLS[e.code].shape, FILLS[e.code].color]; }

  // The fills of the bars in view, each at its bar's x and its price's y (an exit before the entry of
  // a reversal, so the entry is drawn on top); what was drawn is kept for view().
  var fillsView = {
    zOrder: function () { return "top"; },
    renderer: function () {
      return {draw: function (target) {
        var fills = fillsInView(V.state), scale = V.chart.timeScale(), range = scale.getVisibleLogicalRange();
        V.shown = [];
        target.useMediaCoordinateSpace(function (scope) {
          // full size from 6 px a candle; smaller on a narrow chart, so a fill never hides its neighbours
          var spacing = range ? scope.mediaSize.width / Math.max(1, range.to - range.from) : 6;
          var size = Math.max(0.55, Math.min(1, spacing / 6)), dense = spacing < 3, seen = {};
          fills.forEach(function (e) {
            var x = scale.logicalToCoordinate(logicalOf(e.b)), y = V.candles.priceToCoordinate(e.p);
            if (x == null || y == null) { return; }
            // packed tighter than 3 px a candle: one mark per kind per 2 px spot, without its outline
            var spot = dense ? FILLS[e.code].shape + Math.round(x / 2) + ":" + Math.round(y / 2) : null;
            if (!spot || !seen[spot]) { drawShape(scope.context, FILLS[e.code], x, y, size, !dense); }
            if (spot) { seen[spot] = true; }
            V.shown.push(described(e));
          });
        });
      }};
    }
  };

  var fillsPrimitive = {
    attached: function () {},
    detached: function () {},
    updateAllViews: function () {},
    paneViews: function () { return [fillsView]; }
  };

  // ------------------------------------------------------------------ tooltip and summary

  function plural(count, noun) { return fmt0.format(count) + " " + noun + (count === 1 ? "" : "s"); }

  function fillText(e) {
    return FILLS[e.code].label + " " + fmt0.format(e.s) + " @ " + fmtP.format(e.p) +
      (e.pnl == null ? "" : " \u00b7 PnL " + signed(e.pnl));
  }

  function line(text, className) {
    var div = document.createElement("div");
    div.textContent = text;
    if (className) { div.className = className; }
    return div;
  }

  function showTip(param) {
    var S = V.state, tip = V.tip;
    if (!S || !tip) { return; }
    var logical = param.logical == null ? -1 : Math.round(param.logical);
    var bar = logical >= 0 && logical < V.count ? barOf(logical) : null;
    var b = bar == null ? null : bucket(S, logical, V.drawn);
    if (!param.point || !b) { tip.hidden = true; return; }
    var end = Math.min(V.drawn, bar + V.k) - 1, c = b.candle;
    var rows = [line(V.k === 1 ? S.t[bar] + " \u00b7 bar " + fmt0.format(bar + 1)
                                : S.t[bar] + " \u00b7 bars " + fmt0.format(bar + 1) + "\u2013" + fmt0.format(end + 1),
                     "fw-semibold"),
                line("O " + fmtP.format(c.open) + "  H " + fmtP.format(c.high) + "  L " + fmtP.format(c.low) +
                     "  C " + fmtP.format(c.close))];
    var volume = 0;
    for (var i = bar; i <= end; i++) { volume += S.v[i] || 0; }
    rows.push(line("V " + fmt0.format(volume) + (b.equity.value == null ? "" : " \u00b7 equity " + fmt2.format(b.equity.value))));
    for (var k = upperBound(S.evBars, bar - 1); k < S.ev.length && S.ev[k].b <= end; k++) {
      rows.push(line(fillText(S.ev[k]), "tb-playback-tip-fill"));
    }
    tip.replaceChildren.apply(tip, rows);
    tip.hidden = false;
    var width = V.container.clientWidth, boxW = tip.offsetWidth, boxH = tip.offsetHeight;
    var x = param.point.x + 16, y = param.point.y + 16;
    if (x + boxW > width - 60) { x = param.point.x - boxW - 16; }
    if (y + boxH > V.container.clientHeight) { y = Math.max(0, param.point.y - boxH - 16); }
    tip.style.transform = "translate(" + Math.max(0, x) + "px, " + y + "px)";
  }

  // One line a screen reader (and anyone) can read instead of the canvas, at most once a second.
  function summarize(S, force) {
    var now = performance.now(), out = document.getElementById(shared.id("chartSummary"));
    if (!out || (!force && now - V.summaryAt < SUMMARY_EVERY_MS)) { return; }
    V.summaryAt = now;
    var text = "No bars shown yet.";
    if (S.pos > 0) {
      var last = S.pos - 1, first = S.win > 0 ? Math.max(0, S.pos - S.win) : 0, high = -Infinity, low = Infinity;
      for (var i = first; i <= last; i++) {
        if (S.h[i] != null && S.h[i] > high) { high = S.h[i]; }
        if (S.l[i] != null && S.l[i] < low) { low = S.l[i]; }
      }
      var shown = S.win > 0 ? "the last " + fmt0.format(last - first + 1) + " bars" : "all " + fmt0.format(S.pos) + " bars" +
        (V.k > 1 ? " (" + fmt0.format(V.k) + " a candle)" : "");
      text = "Price " + fmtP.format(S.c[last]) + " at " + S.t[last] + ", bar " + fmt0.format(S.pos) + " of " +
        fmt0.format(S.total || S.n) + "; over " + shown + " high " + fmtP.format(high) + ", low " + fmtP.format(low) +
        (S.eq[last] == null ? "" : "; equity " + fmt2.format(S.eq[last]) + " (" + signed(S.eq[last] - S.cash) + ")") +
        "; " + plural(upperBound(S.evBars, last), "fill") + ".";
    }
    if (out.textContent !== text) { out.textContent = text; }
  }

  // ------------------------------------------------------------------ the chart itself

  function create(container) {
    var L = window.LightweightCharts, colours = palette();
    var chart = L.createChart(container, {
      autoSize: true,
      layout: {background: {type: "solid", color: "transparent"}, textColor: colours.text, fontSize: 11,
               fontFamily: colours.font, attributionLogo: false,
               panes: {separatorColor: GRID, separatorHoverColor: GRID, enableResize: false}},
      grid: {vertLines: {visible: false}, horzLines: {color: GRID}},
      rightPriceScale: {borderVisible: false, minimumWidth: 80}, // a fixed width: labels growing would narrow the window
      crosshair: {mode: L.CrosshairMode.Normal},
      // the player sets the visible range itself (the library's shift on a new bar came a frame later)
      // a resize (a scrollbar coming or going) keeps the bars in view rather than the spacing of a bar
      timeScale: {borderVisible: false, rightOffset: 0, minBarSpacing: 0.05, shiftVisibleRangeOnNewBar: false,
                  lockVisibleTimeRangeOnResize: true, enableConflation: true}
    });
    V.candles = chart.addSeries(L.CandlestickSeries, {
      upColor: UP, downColor: DOWN, borderUpColor: UP, borderDownColor: DOWN, wickUpColor: UP, wickDownColor: DOWN,
      priceLineVisible: false}, 0);
    V.equity = chart.addSeries(L.LineSeries, {color: EQUITY, lineWidth: 2, priceLineVisible: false, crosshairMarkerRadius: 3,
                                              priceFormat: {type: "custom", minMove: 1, formatter: fmt0.format}}, 1);
    chart.panes()[0].setStretchFactor(3);
    chart.panes()[1].setStretchFactor(1);
    V.candles.attachPrimitive(fillsPrimitive);
    V.chart = chart; V.container = container;
    V.tip = document.createElement("div");
    V.tip.className = "tb-playback-tip";
    V.tip.hidden = true;
    container.appendChild(V.tip);
    chart.subscribeCrosshairMove(showTip);
    watchTheUser(container);
  }

  // A zoom or a pan in the "all" window: the view is the user's until a double-click fits it again.
  function watchTheUser(container) {
    var down = false;
    var mine = function () { if (V.state && V.state.win === 0) { V.follow = false; } };
    container.addEventListener("wheel", mine, {passive: true});
    container.addEventListener("pointerdown", function () { down = true; });
    container.addEventListener("pointermove", function (event) { if (down && event.buttons) { mine(); } });
    window.addEventListener("pointerup", function () { down = false; });
    container.addEventListener("dblclick", function () {
      V.follow = true;
      if (V.state) { frame(V.state, V.drawn); }
    });
  }

  new MutationObserver(function () {
    if (V.chart) { V.chart.applyOptions({layout: {textColor: palette().text}}); }
  }).observe(document.documentElement, {attributes: true, attributeFilter: ["data-bs-theme"]});

  // The chart of the page as it is now: made when its container appears (a page visit makes a new one).
  function mounted() {
    var container = document.getElementById(shared.id("chart"));
    if (!container || !window.LightweightCharts) { return false; }
    if (V.container !== container) {
      if (V.chart) { V.chart.remove(); }
      var state = V.state;
      V = blank();
      V.state = state;
      create(container);
    }
    return true;
  }

  // One animation frame of a tick's bars: the chart moves from where it was to the player's position
  // over part of the tick's interval, a few bars a frame, instead of all of them at once.
  function ease(now) {
    V.raf = 0;
    var S = V.state, e = V.ease;
    if (!S || !e || !V.chart) { return; }
    var part = Math.min(1, (now - e.t0) / e.ms), to = Math.round(e.from + (e.to - e.from) * part);
    if (to !== V.drawn) { bringTo(S, to); frame(S, to); }
    if (part < 1) { V.raf = requestAnimationFrame(ease); }
  }

  window.tbPlaybackChart = {
    library: library,

    // A new run (or none): the chart starts empty and follows again.
    reset: function (S) {
      var kept = {chart: V.chart, candles: V.candles, equity: V.equity, container: V.container, tip: V.tip};
      V = Object.assign(blank(), V.chart ? kept : {}, {state: S});
      if (V.chart) { V.candles.setData([]); V.equity.setData([]); V.tip.hidden = true; }
    },

    // The chart to the player's state: bars up to S.pos (at once, or eased over ``ms`` when the
    // player moves on while playing), the window, the summary.
    draw: function (S, force, ms) {
      V.state = S;
      if (!mounted()) { return false; }
      syncTimes(S);
      var clock = S.n > 0 && String(S.t[0]).length > 10;
      if (clock !== V.clock) {
        V.clock = clock;
        V.chart.applyOptions({timeScale: {timeVisible: clock, secondsVisible: false}});
      }
      if (force) { V.drawn = -1; }
      if (ms > 0 && S.pos > V.drawn && V.drawn >= 0) {
        V.ease = {from: V.drawn, to: S.pos, t0: performance.now(), ms: ms};
        if (!V.raf) { V.raf = requestAnimationFrame(ease); }
      } else {
        V.ease = null;
        bringTo(S, S.pos);
        frame(S, S.pos);
      }
      summarize(S, force);
      return true;
    },

    drawn: function () { return V.drawn; },

    follow: function () { V.follow = true; },

    // What the chart shows now (tests and bench/playback.py): the bars drawn, the first and last bar in
    // view and their count, bars per candle, the closes of the candles held, the fills in view as
    // [bar, code, price, shape, colour], and those the last paint drew (read after a frame, the same).
    view: function () {
      if (!V.chart) { return null; }
      var seen = inView();
      return {
        drawn: V.drawn, k: V.k, follow: V.follow,
        first: seen ? seen.first : null, last: seen ? seen.last : null,
        shown: seen ? seen.last - seen.first + 1 : 0,
        closes: V.candles.data().map(function (d) { return d.close; }),
        markers: fillsInView(V.state).map(described),
        painted: V.shown.slice()
      };
    },

    // Where a bar's body is drawn on the price pane (CSS pixels): its centre and its height (tests
    // read the candle's colour there). Bars of a window only (one bar a candle).
    bodyPoint: function (bar) {
      var S = V.state;
      var x = V.chart.timeScale().logicalToCoordinate(logicalOf(bar));
      var top = V.candles.priceToCoordinate(S.o[bar]), bottom = V.candles.priceToCoordinate(S.c[bar]);
      if (x == null || top == null || bottom == null) { return null; }
      return {x: x, y: (top + bottom) / 2, height: Math.abs(top - bottom)};
    }
  };
})();
