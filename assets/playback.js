/* The playback page's player (see callbacks/playback.py).
 *
 * The run's bars live here, in plain arrays, loaded once (replay: in chunks from
 * /api/v1/playback/runs/<id>/chunk; live: polled from /api/v1/playback/live/<id>?after=<last id>).
 * Each tick of the page's dcc.Interval (the clientside callback `control`) moves the position by the
 * bars due at the chosen speed and hands it to the chart (assets/playback_chart.js), which draws them
 * over the next frames; the cards, the status and the signal log are written into the page's elements,
 * so a tick changes no Dash output: each output a callback returns costs this page several store
 * updates and React renders (~15 ms a tick with the cards as outputs), a dropped frame at large
 * windows. Seeks, windows and replays move the same position, drawn at once. window.tbPlaybackState
 * is the player's state (tests and bench/playback.py read workTimes: each tick's main-thread work, the
 * callback with the chart's update).
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
  // ten ticks a second at most, the chart easing each tick's bars in over the first EASE_SHARE of the interval
  var MIN_INTERVAL = 100, MAX_INTERVAL = 1000, EASE_SHARE = 0.6;
  var WORK_SHARE_INVERSE = 2; // tick interval >= 2x the work per tick: at most half the main thread
  var WORK_EMA = 0.3; // weight of the latest tick in the smoothed work per tick
  var CARDS_EVERY_MS = 200;
  var ENTRY = {EL: ["Entry", "long"], ES: ["Entry", "short"], XL: ["Exit", "long"], XS: ["Exit", "short"]};
  var IDS_ELEMENT = "playback-client-ids", ids = null;
  var fmt0 = new Intl.NumberFormat("en-US", {maximumFractionDigits: 0});
  var fmt2 = new Intl.NumberFormat("en-US", {minimumFractionDigits: 2, maximumFractionDigits: 2});
  var fmtP = new Intl.NumberFormat("en-US", {maximumFractionDigits: 4});
  var chart = function () { return window.tbPlaybackChart; };

  // the page's component ids by name (layouts/playback_ids.py client_ids(), carried by a hidden element);
  // null off the playback page
  function id(name) {
    if (!ids) {
      var el = document.getElementById(IDS_ELEMENT);
      if (!el) { return null; }
      ids = JSON.parse(el.getAttribute("data-ids"));
    }
    return ids[name];
  }

  function fresh() {
    return {
      key: null, mode: null, runId: null, liveId: null, header: null, gen: 0,
      total: 0, n: 0, cash: 100000, error: null, loading: false,
      t: [], o: [], h: [], l: [], c: [], v: [], eq: [], nT: [], nW: [], nL: [],
      ev: [], evBars: [],
      pos: 0, playing: false, speed: 30, win: 300, carry: 0, last: 0,
      lastId: "0", inflight: false, lastPoll: 0, liveStatus: null, finished: false, resume: false,
      logIdx: -1, workTimes: [], lastCards: 0,
      workEma: 0, interval: PAUSED_INTERVAL, announced: null
    };
  }

  var S = fresh();
  window.tbPlaybackState = S;
  // what the chart (assets/playback_chart.js, loaded after this file) formats and searches with, and the ids
  window.tbPlaybackText = {fmt0: fmt0, fmt2: fmt2, fmtP: fmtP, signed: signed, upperBound: upperBound, id: id};

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

  // ------------------------------------------------------------------ keys and announcements

  // What a screen reader hears: playing or paused, and where, once per tenth of the run (not per bar).
  function announce() {
    var total = S.total || S.n || 0;
    var el = document.getElementById(id("announce"));
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
    if (!id("play") || !document.getElementById(id("play")) || event.altKey || event.ctrlKey || event.metaKey) { return; }
    var t = event.target;
    if (t && (/^(INPUT|SELECT|TEXTAREA|BUTTON|A)$/.test(t.tagName) || t.isContentEditable ||
              (t.closest && t.closest(".ag-root-wrapper, .dash-dropdown, [role=listbox]")))) { return; }
    if (event.key === " ") {
      event.preventDefault(); document.getElementById(id("play")).click();
    } else if (event.key === "ArrowRight") {
      event.preventDefault(); document.getElementById(id("step")).click();
    } else if (event.key === "ArrowLeft" && S.key && S.pos > 0) {
      event.preventDefault();
      window.dash_clientside.set_props(id("seekTo"), {value: String(S.pos - 1)});
      setTimeout(function () { document.getElementById(id("seek")).click(); }, 0);
    }
  }
  document.addEventListener("keydown", onKey);

  function signed(value) { return (value > 0 ? "+" : value < 0 ? "−" : "") + fmt2.format(Math.abs(value)); }

  // ------------------------------------------------------------------ cards, log, status

  // The log's latest fills as [cells, class of the type cell], or null when they have not changed.
  function logRows() {
    var end = upperBound(S.evBars, S.pos - 1);
    if (end === S.logIdx) { return null; }
    S.logIdx = end;
    var rows = [];
    for (var k = end - 1; k >= Math.max(0, end - LOG_ROWS); k--) {
      var e = S.ev[k], d = ENTRY[e.code];
      var cls = e.code === "EL" ? "tb-sig-long" : (e.code === "ES" ? "tb-sig-short" : "tb-sig-exit");
      rows.push([[S.t[e.b], d[0], d[1], fmtP.format(e.p), fmt0.format(e.s), e.pnl == null ? "" : signed(e.pnl)], cls]);
    }
    if (!rows.length) { rows.push([["No signals yet", "", "", "", "", ""], ""]); }
    return rows;
  }

  // The log's rows are written into its table here, not returned to Dash: Dash 4 remounts a returned
  // subtree on every update (plotly/dash#3846), 50-130 ms for these 60 cells, a dropped frame each time.
  function writeLog(rows) {
    var body = document.getElementById(id("logBody"));
    if (!body) { return; }
    body.replaceChildren.apply(body, rows.map(function (row) {
      var tr = document.createElement("tr");
      row[0].forEach(function (text, k) {
        var cell = document.createElement("td");
        cell.textContent = text;
        if (k === 1 && row[1]) { cell.className = row[1]; }
        tr.appendChild(cell);
      });
      return tr;
    }));
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

  // The tick interval: the speed's (bars due are counted from the time elapsed, so a longer interval
  // adds more bars per tick, not a slower playback), but at least WORK_SHARE_INVERSE times the recent
  // work per tick, so a large window leaves the main thread free for input (typing a seek, clicks).
  function intervalFor() {
    if (!S.playing) { return PAUSED_INTERVAL; }
    var bySpeed = Math.round(1000 / S.speed), byWork = Math.round(WORK_SHARE_INVERSE * S.workEma);
    return Math.max(MIN_INTERVAL, Math.min(MAX_INTERVAL, Math.max(bySpeed, byWork)));
  }

  function intervalDrifted() { // far enough from the interval in use to change it?
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

  // ------------------------------------------------------------------ ticks

  function write(id, text) {
    var el = document.getElementById(id);
    if (el && el.textContent !== text) { el.textContent = text; }
  }

  function writeBar(id, value) { // a dbc.Progress: its bar's width and its role=progressbar value
    var el = document.getElementById(id);
    if (!el) { return; }
    var bar = el.querySelector(".progress-bar") || el, role = el.querySelector("[role=progressbar]") || el;
    bar.style.width = value + "%";
    role.setAttribute("aria-valuenow", String(Math.round(value)));
  }

  function writeCards(values) {
    values.forEach(function (value, i) {
      var card = id("cards")[i];
      if (typeof value === "number") { writeBar(card, value); } else { write(card, value); }
    });
  }

  // The page after the position moved (or jumped, or play started or stopped): the chart, then, at most
  // every CARDS_EVERY_MS while playing (at once on any other change), the cards and the log; the status,
  // the announcement and the tick interval (asked for again when ``retime``: the speed changed).
  function present(started, jumped, moved, playChanged, retime) {
    if (S.key) { chart().draw(S, jumped, S.playing && moved ? EASE_SHARE * S.interval : 0); }
    if (playChanged) { write(id("play"), S.playing ? "Pause" : "Play"); }
    var cardsDue = moved && (!S.playing || started - S.lastCards >= CARDS_EVERY_MS || S.pos >= S.n);
    if (jumped || cardsDue || playChanged) {
      S.lastCards = started;
      writeCards(cards());
      var rows = logRows();
      if (rows) { writeLog(rows); }
    }
    write(id("status"), statusText());
    announce();
    var work = performance.now() - started;
    if (moved) { // main-thread work of the tick, the chart's update with it
      S.workTimes.push(work);
      if (S.workTimes.length > TICK_RING) { S.workTimes.shift(); }
      S.workEma = S.workEma ? (1 - WORK_EMA) * S.workEma + WORK_EMA * work : work;
    }
    if (jumped) { S.workEma = 0; } // a new window: its own work per tick
    var always = playChanged || jumped || retime; // a new page's interval starts from its layout's
    if (always || (moved && S.playing && intervalDrifted())) {
      var interval = intervalFor();
      if (interval !== S.interval || always) { // the one Dash update the player makes, rarely
        S.interval = interval;
        window.dash_clientside.set_props(id("tick"), {interval: interval});
      }
    }
  }

  // One tick: the bars due since the last one at the chosen speed, new live bars asked for.
  function tick(started) {
    var moved = false, playChanged = false;
    if (S.mode === "live") { poll(started); }
    if (S.playing && S.key) {
      var due = S.speed * (started - S.last) / 1000 + S.carry;
      var k = Math.floor(due);
      S.carry = due - k; S.last = started;
      k = Math.min(k, MAX_STEP, S.n - S.pos);
      if (k > 0) { S.pos += k; moved = true; } else if (S.pos >= S.n) { S.carry = 0; }
      var done = S.mode === "replay" ? (!S.loading && S.pos >= S.total) : (S.finished && S.pos >= S.n);
      if (done) { S.playing = false; playChanged = true; }
    }
    present(started, false, moved, playChanged, false);
  }

  // ------------------------------------------------------------------ Dash entry points

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    tbPlayback: {
      load: function (source) {
        var keep = {speed: S.speed, win: S.win, workTimes: S.workTimes, interval: S.interval};
        var gen = S.gen + 1;
        Object.assign(S, fresh(), keep, {gen: gen});
        chart().reset(S);
        if (!source) { return {key: null, gen: gen}; }
        var drawable = chart().library(); // the chart library arrives while the run does
        var answer = function (extra) {
          return drawable.then(function () { return Object.assign({key: S.key, gen: gen, total: S.total}, extra); },
                               function (err) { S.error = String(err.message || err); return {key: S.key, gen: gen, error: S.error}; });
        };
        if (source.mode === "replay" && source.run != null) {
          S.mode = "replay"; S.runId = source.run; S.key = "replay:" + source.run; S.loading = true;
          history.replaceState(history.state, "", "/playback?run=" + encodeURIComponent(source.run));
          return loadRun(source.run, gen).then(function () { return answer({}); }).catch(function (err) {
            S.error = String(err.message || err);
            return {key: S.key, gen: gen, error: S.error};
          });
        }
        S.mode = "live"; S.liveId = source.live; S.key = "live:" + source.live;
        S.resume = new URLSearchParams(location.search).get("live") === String(source.live); // a reload
        history.replaceState(history.state, "", "/playback?live=" + encodeURIComponent(source.live));
        return Promise.resolve(poll(performance.now())).then(function () { return answer({error: S.error}); });
      },

      // The interval ticked, or a control of the page changed (or a run finished loading): the player
      // moves, the page follows. A plain tick changes no Dash output (the page is written above).
      control: function (nTick, nPlay, nStep, nRestart, nSeek, nSubmit, speed, win, loaded, seekTo) {
        var started = performance.now();
        var ctx = window.dash_clientside.callback_context;
        var trig = ctx.triggered.map(function (t) { return t.prop_id.split(".")[0]; });
        var has = function (id) { return trig.indexOf(id) >= 0; };
        if (trig.length === 1 && has(id("tick"))) {
          tick(started);
          return window.dash_clientside.no_update;
        }
        var jumped = false, moved = false, playChanged = false;
        S.speed = Math.max(1, parseInt(speed, 10) || 30);
        var newWin = win === "all" ? 0 : (parseInt(win, 10) || 300);

        if (has(id("loaded"))) {
          // a reloaded live run shows what its stream already holds, then goes on from there
          S.pos = S.mode === "live" && S.resume ? S.n : 0; S.carry = 0; S.logIdx = -1; S.win = newWin;
          jumped = true;
          S.playing = !!(loaded && loaded.key && !loaded.error);
          S.last = started; playChanged = true;
        }
        if (has(id("window")) && newWin !== S.win) {
          S.win = newWin; jumped = true;
          if (!newWin) { chart().follow(); }
        }
        if (has(id("restart")) && S.key) {
          S.pos = 0; S.carry = 0; S.logIdx = -1; jumped = true;
          S.playing = true; S.last = started; playChanged = true;
        }
        if ((has(id("seek")) || has(id("seekTo"))) && S.key) {
          var target = parseSeek(seekTo);
          if (target != null) {
            S.pos = Math.max(0, Math.min(target, S.n)); S.carry = 0; S.logIdx = -1;
            jumped = true; S.last = started;
          }
        }
        if (has(id("play")) && S.key) {
          var atEnd = S.pos >= S.n && (S.mode === "replay" ? !S.loading : S.finished);
          if (!S.playing && atEnd) { S.pos = 0; S.logIdx = -1; jumped = true; }
          S.playing = !S.playing; S.last = started; S.carry = 0; playChanged = true;
        }
        if (has(id("step")) && S.key) {
          if (S.playing) { S.playing = false; playChanged = true; }
          if (S.pos < S.n && !jumped) { S.pos += 1; moved = true; }
        }
        present(started, jumped, moved, playChanged, has(id("speed")));
        return {pos: S.pos, playing: S.playing, win: S.win};
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
