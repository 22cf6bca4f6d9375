/* The playback page's player (see callbacks/playback.py).
 *
 * The run's bars live here, in plain arrays, loaded once (replay: in chunks from
 * /api/v1/playback/runs/<id>/chunk; live: polled from /api/v1/playback/live/<id>?after=<last id>).
 * Each interval tick appends the bars due at the chosen speed with Plotly.extendTraces (what the
 * graph's extendData prop calls, applied directly: see control) and a per-trace maxPoints window, so the chart, the browser's memory and the work per tick stay the size
 * of the window, however many bars have been shown. Only seeks, window changes and replays rebuild
 * the figure (from the template the server drew). window.tbPlaybackState is the player's state
 * (tests and bench/playback.py read tickTimes: per-tick work from the callback to Plotly's redraw,
 * measured with performance.now()).
 */
(function () {
  "use strict";

  var CHUNK = 5000;
  var POLL_MAX = 2000;
  var POLL_EVERY_MS = 100;
  var MAX_STEP = 1000; // bars a single tick may add (after a stalled tab)
  var TICK_RING = 600;
  var LOG_ROWS = 10;
  var PAUSED_INTERVAL = 250;
  var MIN_INTERVAL = 33, MAX_INTERVAL = 1000;
  var WORK_SHARE_INVERSE = 2; // tick interval >= 2x the work per tick: at most half the main thread
  var WORK_EMA = 0.3; // weight of the latest tick in the smoothed work per tick
  var CARDS_EVERY_MS = 200;
  var LABEL_HALF_PX = 3.4; // half the width of one character of an 11 px axis label
  var CONFIG = {displaylogo: false, responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d"]};
  var ENTRY = {EL: ["Entry", "long"], ES: ["Entry", "short"], XL: ["Exit", "long"], XS: ["Exit", "short"]};
  var TRACE = {XL: 1, XS: 1, EL: 2, ES: 3}; // trace of each marker kind (exits below entries)
  var ANNOUNCE_ID = "playback-announce";
  var fmt0 = new Intl.NumberFormat("en-US", {maximumFractionDigits: 0});
  var fmt2 = new Intl.NumberFormat("en-US", {minimumFractionDigits: 2, maximumFractionDigits: 2});
  var fmtP = new Intl.NumberFormat("en-US", {maximumFractionDigits: 4});

  function fresh() {
    return {
      key: null, mode: null, runId: null, liveId: null, header: null, gen: 0,
      total: 0, n: 0, cash: 100000, error: null, loading: false,
      t: [], o: [], h: [], l: [], c: [], v: [], eq: [], nT: [], nW: [], nL: [],
      ev: [], evBars: [],
      pos: 0, playing: false, speed: 30, win: 300, carry: 0, last: 0,
      lastId: "0", inflight: false, lastPoll: 0, liveStatus: null, finished: false, resume: false,
      logIdx: -1, shown: {}, tickStart: 0, tickTimes: [], workTimes: [], ticks: 0, lastCards: 0,
      cbMs: 0, plotMs: 0, workEma: 0, interval: PAUSED_INTERVAL, announced: null
    };
  }

  var S = fresh();
  window.tbPlaybackState = S;

  function noUpdate() { return window.dash_clientside.no_update; }

  function getJSON(url) {
    return fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}}).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) {
          var message = body && body.error ? body.error.message : ("HTTP " + r.status);
          throw new Error(message);
        }
        return body;
      });
    });
  }

  // ------------------------------------------------------------------ data

  function upperBound(arr, value) { // first index with arr[i] > value
    var lo = 0, hi = arr.length;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (arr[mid] <= value) { lo = mid + 1; } else { hi = mid; }
    }
    return lo;
  }

  function pushEvent(bar, code, price, size, pnl) {
    S.ev.push({b: bar, code: code, p: price, s: size, pnl: pnl == null ? null : pnl});
    S.evBars.push(bar);
  }

  function appendChunk(chunk) {
    var k, e = 0, ev = chunk.ev;
    var trades = S.n ? S.nT[S.n - 1] : 0, wins = S.n ? S.nW[S.n - 1] : 0, losses = S.n ? S.nL[S.n - 1] : 0;
    for (k = 0; k < chunk.count; k++) {
      var bar = chunk.start + k;
      S.t.push(chunk.t[k]); S.o.push(chunk.o[k]); S.h.push(chunk.h[k]); S.l.push(chunk.l[k]);
      S.c.push(chunk.c[k]); S.v.push(chunk.v[k]); S.eq.push(chunk.eq[k]);
      while (e < ev.length && ev[e][0] === bar) {
        var row = ev[e];
        pushEvent(row[0], row[1], row[2], row[3], row[4]);
        if (row[1][0] === "X") {
          trades += 1;
          if (row[4] > 0) { wins += 1; } else if (row[4] < 0) { losses += 1; }
        }
        e += 1;
      }
      S.nT.push(trades); S.nW.push(wins); S.nL.push(losses);
    }
    S.n = S.t.length;
  }

  function appendLive(e) {
    if (e.i < S.n) { return; } // already have it (a redelivered run publishes again)
    while (S.n < e.i) { // entries trimmed before we read them: keep the bar numbers
      S.t.push("#" + S.n); S.o.push(null); S.h.push(null); S.l.push(null); S.c.push(null); S.v.push(null);
      S.eq.push(null); S.nT.push(S.n ? S.nT[S.n - 1] : 0); S.nW.push(S.n ? S.nW[S.n - 1] : 0);
      S.nL.push(S.n ? S.nL[S.n - 1] : 0); S.n += 1;
    }
    S.t.push(e.t); S.o.push(e.o); S.h.push(e.h); S.l.push(e.l); S.c.push(e.c); S.v.push(e.v); S.eq.push(e.e);
    S.nT.push(e.n[0]); S.nW.push(e.n[1]); S.nL.push(e.n[2]);
    if (e.s) {
      for (var k = 0; k < e.s.length; k++) {
        var s = e.s[k];
        pushEvent(e.i, s[0], s[1], s[2], s.length > 3 ? s[3] : null);
      }
    }
    S.n += 1;
  }

  function loadRun(runId, gen) {
    return getJSON("/api/v1/playback/runs/" + runId).then(function (header) {
      if (gen !== S.gen) { return null; }
      S.header = header; S.total = header.total; S.cash = header.cash;
      var next = function (start) {
        return getJSON("/api/v1/playback/runs/" + runId + "/chunk?start=" + start + "&count=" + CHUNK)
          .then(function (chunk) {
            if (gen !== S.gen) { return; }
            appendChunk(chunk);
            if (chunk.count > 0 && S.n < S.total) {
              next(S.n).catch(function (err) { if (gen === S.gen) { S.error = String(err.message || err); } });
            } else {
              S.loading = false;
            }
          });
      };
      return next(0);
    });
  }

  function poll(now) {
    if (S.inflight || S.finished || !S.liveId || now - S.lastPoll < POLL_EVERY_MS) { return null; }
    S.inflight = true; S.lastPoll = now;
    var gen = S.gen;
    return getJSON("/api/v1/playback/live/" + S.liveId + "?after=" + encodeURIComponent(S.lastId) + "&max=" + POLL_MAX)
      .then(function (body) {
        if (gen !== S.gen) { return; }
        for (var k = 0; k < body.events.length; k++) { appendLive(body.events[k]); }
        S.lastId = body.last_id; S.total = body.total || S.total; S.liveStatus = body.status;
        S.finished = body.finished;
        if (body.status === "failed") { S.error = body.error || "the live run failed"; }
      })
      .catch(function (err) { if (gen === S.gen) { S.error = String(err.message || err); S.finished = true; } })
      .then(function () { if (gen === S.gen) { S.inflight = false; } });
  }

  // ------------------------------------------------------------------ figure

  // What a screen reader hears: playing or paused, and where, once per tenth of the run (not per bar).
  function announce() {
    var total = S.total || S.n || 0;
    var el = document.getElementById(ANNOUNCE_ID);
    if (!el || !total) { return; }
    var state = (S.playing ? "Playing" : "Paused") + ":" + Math.floor(S.pos / total * 10);
    if (state === S.announced) { return; }
    S.announced = state;
    el.textContent = (S.playing ? "Playing, " : "Paused, ") + "bar " + fmt0.format(S.pos) + " of " +
      fmt0.format(total) + " (" + Math.round(S.pos / total * 100) + " %)";
  }

  // Keys, anywhere on the page but in a field, a button or a grid: Space plays or pauses, the right
  // arrow shows one more bar, the left arrow one bar fewer.
  function onKey(event) {
    if (!document.getElementById("playback-play") || event.altKey || event.ctrlKey || event.metaKey) { return; }
    var t = event.target;
    if (t && (/^(INPUT|SELECT|TEXTAREA|BUTTON|A)$/.test(t.tagName) || t.isContentEditable ||
              (t.closest && t.closest(".ag-root-wrapper, .dash-dropdown, [role=listbox]")))) { return; }
    if (event.key === " ") {
      event.preventDefault(); document.getElementById("playback-play").click();
    } else if (event.key === "ArrowRight") {
      event.preventDefault(); document.getElementById("playback-step").click();
    } else if (event.key === "ArrowLeft" && S.key && S.pos > 0) {
      event.preventDefault();
      window.dash_clientside.set_props("playback-seek-to", {value: String(S.pos - 1)});
      setTimeout(function () { document.getElementById("playback-seek").click(); }, 0);
    }
  }
  document.addEventListener("keydown", onKey);

  function signed(value) { return (value > 0 ? "+" : value < 0 ? "−" : "") + fmt2.format(Math.abs(value)); }

  function windowSize() { return S.win > 0 ? S.win : S.total + S.n + 10; }

  function markerText(e) {
    var d = ENTRY[e.code];
    return d[1] + " " + d[0].toLowerCase() + " " + fmt0.format(e.s) + " @ " + fmtP.format(e.p) +
      (e.pnl == null ? "" : " · PnL " + signed(e.pnl));
  }

  function volText(i) { return "V " + (S.v[i] == null ? "—" : fmt0.format(S.v[i])); }

  function emptyUpdate() {
    var u = {}, keys = ["x", "open", "high", "low", "close", "y", "customdata", "text"];
    for (var k = 0; k < keys.length; k++) { u[keys[k]] = [[], [], [], [], []]; }
    return u;
  }

  function fillBars(u, a, b) { // bars [a, b) into update u (traces 0 and 4)
    for (var i = a; i < b; i++) {
      u.x[0].push(S.t[i]); u.open[0].push(S.o[i]); u.high[0].push(S.h[i]); u.low[0].push(S.l[i]);
      u.close[0].push(S.c[i]); u.customdata[0].push(i); u.text[0].push(volText(i));
      u.x[4].push(S.t[i]); u.y[4].push(S.eq[i]); u.customdata[4].push(i);
    }
    var from = upperBound(S.evBars, a - 1), to = upperBound(S.evBars, b - 1);
    for (var k = from; k < to; k++) {
      var e = S.ev[k], tr = TRACE[e.code];
      u.x[tr].push(S.t[e.b]); u.y[tr].push(e.p); u.customdata[tr].push(e.b); u.text[tr].push(markerText(e));
    }
    return u;
  }

  function markersIn(a, b) { // markers per trace (1..3) for bars [a, b)
    var counts = [0, 0, 0, 0, 0];
    var from = upperBound(S.evBars, a - 1), to = upperBound(S.evBars, b - 1);
    for (var k = from; k < to; k++) { counts[TRACE[S.ev[k].code]] += 1; }
    return counts;
  }

  function rebuild(template) {
    var fig = JSON.parse(JSON.stringify(template));
    var a = Math.max(0, S.pos - windowSize());
    var u = fillBars(emptyUpdate(), a, S.pos);
    for (var key in u) {
      for (var tr = 0; tr < 5; tr++) { fig.data[tr][key] = u[key][tr]; }
    }
    fig.layout.uirevision = S.key;
    var gd = document.querySelector("#playback-chart .js-plotly-plot"); // date labels that fit the width
    fig.layout.xaxis.nticks = Math.max(3, Math.min(10, Math.floor((gd ? gd.clientWidth : 1200) / 150)));
    // the first date label is centred on the first candle: leave half its width on the left (fixed per
    // figure, so no tick measures labels), instead of a label cut at the chart's edge
    var label = S.t.length ? String(S.t[a] || S.t[0]).length : 10;
    fig.layout.margin = Object.assign({}, fig.layout.margin, {l: Math.max(fig.layout.margin.l, Math.ceil(label * LABEL_HALF_PX))});
    S.shown = {from: a, to: S.pos};
    return fig;
  }

  function extend(k) {
    var a = S.pos, b = S.pos + k, w = windowSize();
    var u = fillBars(emptyUpdate(), a, b);
    var counts = markersIn(Math.max(0, b - w), b);
    var caps = [w, counts[1], counts[2], counts[3], w];
    var maxPoints = {};
    for (var key in u) { maxPoints[key] = caps; }
    S.pos = b;
    S.shown = {from: Math.max(0, b - w), to: b};
    return [u, [0, 1, 2, 3, 4], maxPoints];
  }

  // ------------------------------------------------------------------ cards, log, status

  function tr(cells, cls) {
    return {type: "Tr", namespace: "dash_html_components", props: {children: cells.map(function (c, k) {
      return {type: "Td", namespace: "dash_html_components", props: {children: c, className: k === 1 ? cls : ""}};
    })}};
  }

  function logRows() {
    var end = upperBound(S.evBars, S.pos - 1);
    if (end === S.logIdx) { return noUpdate(); }
    S.logIdx = end;
    var rows = [];
    for (var k = end - 1; k >= Math.max(0, end - LOG_ROWS); k--) {
      var e = S.ev[k], d = ENTRY[e.code];
      var cls = e.code === "EL" ? "tb-sig-long" : (e.code === "ES" ? "tb-sig-short" : "tb-sig-exit");
      rows.push(tr([S.t[e.b], d[0], d[1], fmtP.format(e.p), fmt0.format(e.s),
                    e.pnl == null ? "" : signed(e.pnl)], cls));
    }
    if (!rows.length) { rows.push(tr(["No signals yet", "", "", "", "", ""], "")); }
    return rows;
  }

  function statusText() {
    if (S.error) { return "Error: " + S.error; }
    if (!S.key) { return "Pick a stored run or start a live one."; }
    var total = S.total ? fmt0.format(S.total) : "?";
    if (S.mode === "replay") {
      var h = S.header || {};
      return "Replay of run #" + S.runId + (h.symbol ? " · " + h.symbol + " · " + h.config : "") +
        (S.n < S.total ? " · loading " + fmt0.format(S.n) + " / " + total + " bars" : " · " + total + " bars");
    }
    return "Live run " + S.liveId + " · " + (S.liveStatus || "queued") + " · received " + fmt0.format(S.n) +
      " / " + total + " bars";
  }

  function cards() {
    var p = S.pos, total = S.total || S.n || 0;
    var pct = total ? Math.min(100, p / total * 100) : 0;
    var trades = p ? S.nT[p - 1] : 0, wins = p ? S.nW[p - 1] : 0, losses = p ? S.nL[p - 1] : 0;
    var eq = null;
    for (var i = p - 1; i >= 0 && eq == null && i >= p - 50; i--) { eq = S.eq[i]; }
    var pnl = eq == null ? 0 : eq - S.cash;
    var rate = trades ? wins / trades * 100 : 0;
    return [
      fmt0.format(p) + " / " + (total ? fmt0.format(total) : "?"),
      pct.toFixed(1) + " %",
      pct,
      fmt0.format(trades),
      wins + " W · " + losses + " L",
      trades ? rate.toFixed(1) + " %" : "—",
      rate,
      (pnl >= 0 ? "+" : "−") + fmt2.format(Math.abs(pnl)),
      (pnl >= 0 ? "+" : "−") + (Math.abs(pnl) / S.cash * 100).toFixed(2) + " % of " + fmt0.format(S.cash)
    ];
  }

  // Plotly styles a candlestick candle by candle: for each one it parses the direction's colours again
  // and sets six style properties, ~6 ms of an 18 ms tick at 300 candles (CPU profile, bench/playback.py).
  // Every candle of one direction ends up with the same style attribute, so after Plotly has styled a
  // trace once (its own code, unchanged), the candles of later redraws get that attribute copied. Any
  // other trace, a selection, a new colour or opacity goes through Plotly's own style.
  function candleStyleSignature(t) {
    return [t.uid, t.opacity, t.increasing.line.color, t.increasing.line.width, t.increasing.fillcolor,
            t.decreasing.line.color, t.decreasing.line.width, t.decreasing.fillcolor].join("|");
  }

  function copyCandleStyles(module) {
    var plotlyStyle = module.style, learned = {};
    module.style = function (gd, cd, selection) {
      var groups = gd.querySelectorAll("g.trace.boxes"), i, j, trace;
      for (i = 0; i < groups.length && !selection; i++) {
        trace = groups[i].__data__ && groups[i].__data__[0].trace;
        if (!trace || trace.type !== "candlestick" || trace.selectedpoints || !learned[candleStyleSignature(trace)]) {
          selection = true;
        }
      }
      if (selection) { // Plotly's own, then learn what it set (one candle of each direction)
        plotlyStyle.apply(this, arguments);
        for (i = 0; i < groups.length; i++) {
          trace = groups[i].__data__ && groups[i].__data__[0].trace;
          if (!trace || trace.type !== "candlestick" || trace.selectedpoints) { continue; }
          var styles = {}, paths = groups[i].querySelectorAll("path.box");
          for (j = 0; j < paths.length; j++) {
            var d = paths[j].__data__;
            if (d && !d.empty && !styles[d.dir]) { styles[d.dir] = paths[j].getAttribute("style"); }
          }
          if (styles.increasing && styles.decreasing) { learned[candleStyleSignature(trace)] = styles; }
        }
        return;
      }
      for (i = 0; i < groups.length; i++) {
        trace = groups[i].__data__[0].trace;
        var known = learned[candleStyleSignature(trace)], candles = groups[i].querySelectorAll("path.box");
        groups[i].style.opacity = trace.opacity;
        for (j = 0; j < candles.length; j++) {
          var box = candles[j].__data__;
          if (box && !box.empty) { candles[j].setAttribute("style", known[box.dir]); }
        }
      }
    };
    module._tbCopiesCandleStyles = true;
  }

  function hookChart() {
    if (window.Plotly && !window.Plotly._tbPlaybackTimed) { // the synchronous extend + redraw, timed
      var extendTraces = window.Plotly.extendTraces;
      window.Plotly.extendTraces = function () {
        var t = performance.now();
        var result = extendTraces.apply(this, arguments);
        S.plotMs = performance.now() - t;
        return result;
      };
      window.Plotly._tbPlaybackTimed = true;
    }
    var gd = document.querySelector("#playback-chart .js-plotly-plot");
    var candles = gd && gd._fullData && gd._fullData[0] && gd._fullData[0]._module;
    if (candles && candles.name === "candlestick" && typeof candles.style === "function" &&
        !candles._tbCopiesCandleStyles) {
      copyCandleStyles(candles);
    }
    if (gd && gd.on && !gd._tbPlaybackHooked) {
      gd._tbPlaybackHooked = true;
      gd.on("plotly_afterplot", function () {
        if (S.tickStart) {
          var took = performance.now() - S.tickStart;
          S.tickStart = 0;
          S.tickTimes.push(took); // wall time: callback start to Plotly's afterplot (idle gaps included)
          if (S.tickTimes.length > TICK_RING) { S.tickTimes.shift(); }
          S.ticks += 1;
        }
      });
    }
  }

  // The tick interval: the speed's (bars due are counted from the time elapsed, so a longer interval
  // adds more bars per tick, not a slower playback), but at least WORK_SHARE_INVERSE times the recent
  // work per tick, so a large window leaves the main thread free for input (typing a seek, clicks).
  function intervalFor() {
    if (!S.playing) { return PAUSED_INTERVAL; }
    var bySpeed = Math.round(1000 / S.speed), byWork = Math.round(WORK_SHARE_INVERSE * S.workEma);
    return Math.max(MIN_INTERVAL, Math.min(MAX_INTERVAL, Math.max(bySpeed, byWork)));
  }

  function intervalDrifted() { // worth a re-render of the interval (which restarts its timer)?
    var want = intervalFor();
    return want > S.interval * 1.25 || want < S.interval * 0.8;
  }

  function parseSeek(text) {
    text = (text == null ? "" : String(text)).trim();
    if (!text) { return null; }
    if (/^\d+$/.test(text)) { return parseInt(text, 10); } // bar number (1-based: show bars 1..n)
    var date = text.replace("T", " ");
    for (var i = 0; i < S.n; i++) { // first bar at or after the date (times sort as text)
      if (S.t[i] >= date) { return i + 1; }
    }
    return S.n;
  }

  // ------------------------------------------------------------------ Dash entry points

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    tbPlayback: {
      load: function (source) {
        var keep = {speed: S.speed, win: S.win, tickTimes: S.tickTimes, workTimes: S.workTimes, ticks: S.ticks,
                    interval: S.interval};
        var gen = S.gen + 1;
        Object.assign(S, fresh(), keep, {gen: gen});
        if (!source) { return {key: null, gen: gen}; }
        if (source.mode === "replay" && source.run != null) {
          S.mode = "replay"; S.runId = source.run; S.key = "replay:" + source.run; S.loading = true;
          history.replaceState(history.state, "", "/playback?run=" + encodeURIComponent(source.run));
          return loadRun(source.run, gen).then(function () {
            return {key: S.key, gen: gen, total: S.total};
          }).catch(function (err) {
            S.error = String(err.message || err);
            return {key: S.key, gen: gen, error: S.error};
          });
        }
        S.mode = "live"; S.liveId = source.live; S.key = "live:" + source.live;
        S.resume = new URLSearchParams(location.search).get("live") === String(source.live); // a reload
        history.replaceState(history.state, "", "/playback?live=" + encodeURIComponent(source.live));
        return Promise.resolve(poll(performance.now())).then(function () {
          return {key: S.key, gen: gen, total: S.total, error: S.error};
        });
      },

      control: function (nTick, nPlay, nStep, nRestart, nSeek, nSubmit, speed, win, loaded, seekTo, template) {
        var started = performance.now();
        var ctx = window.dash_clientside.callback_context;
        var trig = ctx.triggered.map(function (t) { return t.prop_id.split(".")[0]; });
        var has = function (id) { return trig.indexOf(id) >= 0; };
        var out = new Array(15).fill(noUpdate());
        var figure = null, extendData = null, intervalChanged = false, playChanged = false;
        S.speed = Math.max(1, parseInt(speed, 10) || 30);
        var newWin = win === "all" ? 0 : (parseInt(win, 10) || 300);
        hookChart();

        if (has("playback-loaded")) {
          // a reloaded live run shows what its stream already holds, then goes on from there
          S.pos = S.mode === "live" && S.resume ? S.n : 0; S.carry = 0; S.logIdx = -1; S.win = newWin;
          figure = rebuild(template);
          S.playing = !!(loaded && loaded.key && !loaded.error);
          S.last = started; playChanged = intervalChanged = true;
        }
        if (has("playback-window") && newWin !== S.win) {
          S.win = newWin; figure = rebuild(template);
        }
        if (has("playback-speed")) { intervalChanged = true; }
        if (has("playback-restart") && S.key) {
          S.pos = 0; S.carry = 0; S.logIdx = -1; figure = rebuild(template);
          S.playing = true; S.last = started; playChanged = intervalChanged = true;
        }
        if ((has("playback-seek") || has("playback-seek-to")) && S.key) {
          var target = parseSeek(seekTo);
          if (target != null) {
            S.pos = Math.max(0, Math.min(target, S.n)); S.carry = 0; S.logIdx = -1;
            figure = rebuild(template); S.last = started;
          }
        }
        if (has("playback-play") && S.key) {
          var atEnd = S.pos >= S.n && (S.mode === "replay" ? !S.loading : S.finished);
          if (!S.playing && atEnd) { S.pos = 0; S.logIdx = -1; figure = rebuild(template); }
          S.playing = !S.playing; S.last = started; S.carry = 0; playChanged = intervalChanged = true;
        }
        if (has("playback-step") && S.key) {
          if (S.playing) { S.playing = false; playChanged = intervalChanged = true; }
          if (S.pos < S.n && !figure) { extendData = extend(1); }
        }
        if (S.mode === "live") { poll(started); }
        if (has("playback-tick") && S.playing && !figure && S.key) {
          var due = S.speed * (started - S.last) / 1000 + S.carry;
          var k = Math.floor(due);
          S.carry = due - k; S.last = started;
          k = Math.min(k, MAX_STEP, S.n - S.pos);
          if (k > 0) { extendData = extend(k); } else if (S.pos >= S.n) { S.carry = 0; }
          var done = S.mode === "replay" ? (!S.loading && S.pos >= S.total) : (S.finished && S.pos >= S.n);
          if (done) { S.playing = false; playChanged = intervalChanged = true; }
        }

        // Applied here, synchronously, with the functions dcc.Graph's figure/extendData props call
        // (Plotly.react / Plotly.extendTraces): dcc.Graph queues extendData behind a promise and,
        // when ticks come faster than it clears the queue (a loaded machine), applied a pending
        // extend twice (169 candles for 160 bars). Before the graph exists, through the props.
        var gd = document.querySelector("#playback-chart .js-plotly-plot");
        if (figure) {
          if (gd && window.Plotly) { window.Plotly.react(gd, figure.data, figure.layout, CONFIG); } else { out[0] = figure; }
        }
        if (extendData) {
          S.tickStart = started;
          if (gd && window.Plotly) {
            window.Plotly.extendTraces(gd, extendData[0], extendData[1], extendData[2]);
          } else { out[1] = extendData; }
        }
        if (playChanged) { out[3] = S.playing ? "Pause" : "Play"; }
        // the cards and the log follow at most every CARDS_EVERY_MS while playing (each output
        // updated is a React render on the tick's budget); at once on any other change
        var cardsDue = extendData && (!S.playing || started - S.lastCards >= CARDS_EVERY_MS || S.pos >= S.n);
        if (figure || cardsDue || playChanged || has("playback-loaded")) {
          S.lastCards = started;
          var c = cards();
          for (var i = 0; i < c.length; i++) { out[4 + i] = c[i]; }
          out[13] = logRows();
        }
        var status = statusText();
        if (status !== S.lastStatus) { S.lastStatus = status; out[14] = status; }
        announce();
        S.cbMs = performance.now() - started;
        if (extendData) { // main-thread work of the tick: the callback with Plotly's extend and redraw
          S.workTimes.push(S.cbMs);
          if (S.workTimes.length > TICK_RING) { S.workTimes.shift(); }
          S.workEma = S.workEma ? (1 - WORK_EMA) * S.workEma + WORK_EMA * S.cbMs : S.cbMs;
          if (S.playing && intervalDrifted()) { intervalChanged = true; }
        }
        if (figure) { S.workEma = 0; } // a new window: its own work per tick
        if (intervalChanged) { S.interval = out[2] = intervalFor(); }
        return out;
      },

      csv: function () {
        var lines = ["bar,time,type,side,price,size,pnl"];
        for (var k = 0; k < S.ev.length; k++) {
          var e = S.ev[k], d = ENTRY[e.code];
          lines.push([e.b + 1, S.t[e.b], d[0].toLowerCase(), d[1], e.p, e.s, e.pnl == null ? "" : e.pnl].join(","));
        }
        var name = S.mode === "live" ? "playback-live-" + S.liveId : "playback-run-" + S.runId;
        return {content: lines.join("\n") + "\n", filename: name + "-signals.csv", type: "text/csv"};
      }
    }
  });
})();
