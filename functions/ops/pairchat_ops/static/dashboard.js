/* pairchat ops dashboard: polls the ops API and draws live charts with uPlot (vendored).
 *
 * Every chart shows the last hour from /stats/series: matches and wait times per minute, and
 * queue depth as the sweeper sampled it each minute (so a reload keeps the history). Between
 * samples the queue chart adds what this page's own polls of /stats saw since it loaded. The
 * x axis always spans that hour, whatever the number of points (one sample is one point, not
 * an axis of years). ?refresh=<ms> changes the polling interval (default 5000). With several
 * pools (/pools) a select narrows every number to one pool (?pool=<name>); "every pool" adds a
 * line per pool.
 */
(() => {
  "use strict";

  const base = location.pathname.endsWith("/") ? location.pathname : location.pathname + "/";
  const params = new URLSearchParams(location.search);
  const refreshMs = Math.max(250, Number(params.get("refresh")) || 5000);
  const MAX_SAMPLES = 720;
  const SERIES_MINUTES = 60;
  const QUEUES = [
    ["wait:chat:male:female", "#58a6ff"],
    ["wait:chat:male:male", "#79c0ff"],
    ["wait:chat:male:any", "#1f6feb"],
    ["wait:chat:female:male", "#ff7b72"],
    ["wait:chat:female:female", "#ffa198"],
    ["wait:chat:female:any", "#da3633"],
  ];
  const AXIS = { stroke: "#8b98a5", grid: { stroke: "#2a3441", width: 1 }, ticks: { stroke: "#2a3441" } };

  const state = {
    pool: params.get("pool") || "",
    pools: [],
    refreshMs,
    updates: 0,
    errors: 0,
    lastError: null,
    // This page's own samples since it loaded: [t (s), per-queue lengths..., total].
    live: [],
    // The server's per-minute samples, from the last /stats/series.
    history: [],
    // The x range every chart shows: the series' hour, up to the server's clock.
    window: null,
    charts: {},
  };
  window.pairchatDashboard = state;

  const $ = (id) => document.getElementById(id);

  function fmtMs(ms) {
    if (ms === null || ms === undefined) return "–";
    if (ms < 1000) return `${Math.round(ms)} ms`;
    if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
    return `${(ms / 60000).toFixed(1)} min`;
  }

  function fmtCount(c) {
    return c.exact ? String(c.value) : `≈ ${c.value}`;
  }

  async function getJSON(path, allow = []) {
    const response = await fetch(base + path, { cache: "no-store", headers: { accept: "application/json" } });
    if (!response.ok && !allow.includes(response.status)) {
      throw new Error(`${path}: HTTP ${response.status}`);
    }
    return response.json();
  }

  function chartWidth(el) {
    return Math.max(280, Math.floor(el.getBoundingClientRect().width));
  }

  // The hour the series covers; before the first answer, the hour up to now.
  function xRange() {
    if (state.window) return [state.window.min, state.window.max];
    const now = Date.now() / 1000;
    return [now - SERIES_MINUTES * 60, now];
  }

  function makeChart(id, series, extra = {}) {
    const el = $(id);
    const opts = {
      width: chartWidth(el),
      height: 220,
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true, range: () => xRange() },
        y: { range: (u, min, max) => [0, Math.max(extra.minTop ?? 1, max * 1.15)] },
      },
      axes: [AXIS, { ...AXIS, size: 50 }],
      legend: { live: false },
      series: [{}, ...series],
      };
    const data = [[], ...series.map(() => [])];
    const chart = new uPlot(opts, data, el);
    state.charts[id.replace("chart-", "")] = chart;
    return chart;
  }

  const queueChart = makeChart("chart-queues", [
    ...QUEUES.map(([name, color]) => ({
      label: name.replace("wait:chat:", ""),
      stroke: color,
      width: 2,
      points: { size: 4 },
    })),
    { label: "total", stroke: "#e6edf3", width: 1, dash: [5, 4], points: { size: 3 } },
  ]);

  const bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.7, 40] }) : undefined;
  const matchChart = makeChart("chart-matches", [
    { label: "matches", stroke: "#3fb950", fill: "rgba(63,185,80,0.45)", width: 1, paths: bars, points: { show: false } },
  ]);

  const waitChart = makeChart(
    "chart-waits",
    [
      { label: "median (waiters)", stroke: "#d2a8ff", width: 2, points: { show: true, size: 5 }, spanGaps: false },
      { label: "p90 (waiters)", stroke: "#f2cc60", width: 2, points: { show: true, size: 5 }, spanGaps: false },
    ],
    { minTop: 0.01 },
  );

  window.addEventListener("resize", () => {
    for (const [name, chart] of Object.entries(state.charts)) {
      chart.setSize({ width: chartWidth($(`chart-${name}`)), height: 220 });
    }
  });

  function withPool(path) {
    if (!state.pool) return path;
    return path + (path.includes("?") ? "&" : "?") + "pool=" + encodeURIComponent(state.pool);
  }

  async function loadPools() {
    const pools = await getJSON("pools");
    state.pools = pools.map((p) => p.pool);
    if (state.pools.length < 2) return;
    const select = $("pool");
    for (const name of state.pools) {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = name;
      select.append(option);
    }
    select.value = state.pools.includes(state.pool) ? state.pool : "";
    state.pool = select.value;
    $("pool-picker").hidden = false;
    select.addEventListener("change", () => {
      state.pool = select.value;
      state.live.splice(0);  // another pool: another history
      state.history = [];
      const url = new URL(location.href);
      if (state.pool) url.searchParams.set("pool", state.pool);
      else url.searchParams.delete("pool");
      history.replaceState(null, "", url);
    });
  }

  function renderPools(stats) {
    const rows = stats.pools || [];
    $("pools-section").hidden = rows.length < 2;
    document.querySelector("#pools tbody").replaceChildren(
      ...rows.map((p) => {
        const tr = document.createElement("tr");
        const cells = [
          [p.pool, ""],
          [String(p.users_waiting), "num"],
          [fmtCount(p.active_rooms), "num"],
          [fmtCount(p.live_sessions), "num"],
          [String(p.matches_last_minute), "num"],
          [String(p.matches_last_hour), "num"],
          [fmtMs(p.waiter_wait_last_hour.median_ms), "num"],
        ];
        for (const [text, cls] of cells) {
          const td = document.createElement("td");
          td.textContent = text;
          if (cls) td.className = cls;
          tr.append(td);
        }
        return tr;
      }),
    );
  }

  function renderStats(stats) {
    renderPools(stats);
    $("users-waiting").textContent = String(stats.users_waiting);
    $("shadowed").textContent = String(stats.shadowed ?? 0);
    $("active-rooms").textContent = fmtCount(stats.active_rooms);
    $("active-rooms-note").textContent = stats.active_rooms.exact ? "exact" : `estimated from ${stats.active_rooms.sampled_keys} keys`;
    $("live-sessions").textContent = fmtCount(stats.live_sessions);
    $("live-sessions-note").textContent = stats.live_sessions.exact ? "exact" : `estimated from ${stats.live_sessions.sampled_keys} keys`;
    $("matches-minute").textContent = String(stats.last_minute.matches);
    $("matches-hour").textContent = String(stats.last_hour.matches);
    $("wait-median").textContent = fmtMs(stats.last_hour.waiter_wait.median_ms);
    $("wait-p90").textContent = fmtMs(stats.last_hour.waiter_wait.p90_ms);

    const tbody = document.querySelector("#queues tbody");
    tbody.replaceChildren(
      ...stats.queues.map((q) => {
        const tr = document.createElement("tr");
        for (const [text, cls] of [[q.name, ""], [q.gender, ""], [q.preference, ""], [String(q.length), "num"]]) {
          const td = document.createElement("td");
          td.textContent = text;
          if (cls) td.className = cls;
          tr.append(td);
        }
        return tr;
      }),
    );

    const lengths = Object.fromEntries(stats.queues.map((q) => [q.name, q.length]));
    state.live.push([stats.time_ms / 1000, ...QUEUES.map(([name]) => lengths[name] ?? 0), stats.users_waiting]);
    if (state.live.length > MAX_SAMPLES) state.live.shift();
  }

  // The sweeper's samples and this page's own, in time order, within the window.
  function renderQueues() {
    const [min] = xRange();
    const rows = [...state.history, ...state.live].filter((r) => r[0] >= min).sort((a, b) => a[0] - b[0]);
    queueChart.setData(Array.from({ length: QUEUES.length + 2 }, (_, i) => rows.map((r) => r[i])));
  }

  function renderSeries(series) {
    const now = series.time_ms / 1000;
    state.window = { min: now - SERIES_MINUTES * 60, max: now };
    state.history = series.minutes
      .filter((p) => p.depth)
      .map((p) => [p.ts_ms / 1000, ...QUEUES.map(([name]) => p.depth[name] ?? 0), p.waiting]);
    const xs = series.minutes.map((p) => p.ts_ms / 1000);
    matchChart.setData([xs, series.minutes.map((p) => p.matches)]);
    const secs = (v) => (v === null ? null : v / 1000);
    waitChart.setData([
      xs,
      series.minutes.map((p) => secs(p.waiter_wait.median_ms)),
      series.minutes.map((p) => secs(p.waiter_wait.p90_ms)),
    ]);
  }

  function renderHealth(health) {
    $("redis-latency").textContent = health.redis ? `${health.latency_ms.toFixed(1)} ms` : "down";
    $("redis-note").textContent = health.redis
      ? `round trip · scripts ${Object.values(health.scripts).filter(Boolean).length}/${Object.keys(health.scripts).length} cached`
      : health.error || "unreachable";
  }

  function setStatus(ok, text) {
    const el = $("status");
    el.className = `status ${ok ? "ok" : "bad"}`;
    el.textContent = text;
  }

  async function tick() {
    try {
      const [stats, series, health] = await Promise.all([
        getJSON(withPool("stats")),
        getJSON(withPool(`stats/series?minutes=${SERIES_MINUTES}`)),
        getJSON("health", [503]),
      ]);
      renderStats(stats);
      renderSeries(series);
      renderQueues();
      renderHealth(health);
      state.updates += 1;
      state.lastError = null;
      setStatus(true, `updated ${new Date().toLocaleTimeString()} · every ${refreshMs / 1000} s`);
    } catch (error) {
      state.errors += 1;
      state.lastError = String(error);
      setStatus(false, `update failed: ${error.message || error}`);
    } finally {
      setTimeout(tick, refreshMs);
    }
  }

  loadPools()
    .catch((error) => { state.lastError = String(error); })
    .finally(tick);
})();
