/* pairchat chat page: plain JS, no build step.
 *
 * Speaks docs/protocol.md over one WebSocket: same origin `/ws` under `pairchat dev`, or any
 * deployed API with `?ws=wss://<api>.execute-api.<region>.amazonaws.com/<stage>`.
 * Pools: `pools.json` next to the page (`pairchat dev` serves it from POOLS) lists them; with
 * more than one the start form offers a select, and the socket carries `?pool=<name>` (a
 * pool is chosen per connection: changing it opens a new one). `?pool=` preselects one.
 * Server frames carry an `id`: a duplicate delivery is dropped. A `message` (or
 * `partner_left`) can arrive just before the `matched` of its room: it waits for it.
 * rtc.js (loaded first) adds the opt-in direct connection; this file hands it rooms, `signal`
 * frames and outgoing text, and shows what arrives either way once (by message id, `mid`).
 * interests.js (loaded first) is the interests field; while searching the page heartbeats
 * every `retryMs` (from `queued`/`pong`) and shows the queue status; in a room it sends and
 * shows `typing`.
 */
(() => {
  "use strict";

  const HEARTBEAT_MS = 30000;
  const TYPING_EVERY_MS = 1000;   // typing:true at most this often while the user types
  const TYPING_IDLE_MS = 3000;    // typing:false after this long without input
  const TYPING_EXPIRE_MS = 6000;  // the stranger's indicator goes out if no refresh came (a
                                  // typing:false the server dropped must not leave it on)
  const MAX_TEXT = 4096;
  const params = new URLSearchParams(location.search);
  const WS_BASE = params.get("ws") ||
    `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
  let pools = [];                // the configured pools (pools.json); [] when not offered
  let pool = params.get("pool") || "";

  /** The socket URL: a signed-in user's JWT (AUTH_MODE optional/required) and the chosen
   * pool ride on the upgrade, as ?token= and ?pool=. */
  function wsUrl() {
    const query = [];
    if (params.get("token")) query.push(`token=${encodeURIComponent(params.get("token"))}`);
    if (pool) query.push(`pool=${encodeURIComponent(pool)}`);
    if (!query.length) return WS_BASE;
    return `${WS_BASE}${WS_BASE.includes("?") ? "&" : "?"}${query.join("&")}`;
  }

  /** A pool's name for people: a language code as its language ("es" -> "Spanish"). */
  function poolLabel(name) {
    if (name === "default") return "Everyone";
    try {
      const label = new Intl.DisplayNames([navigator.language || "en"], { type: "language" }).of(name);
      if (label && label.toLowerCase() !== name.toLowerCase()) return label;
    } catch { /* not a language code */ }
    return name;
  }

  async function loadPools() {
    try {
      const response = await fetch("pools.json", { cache: "no-store" });
      if (response.ok) {
        const listed = (await response.json()).pools;
        if (Array.isArray(listed)) pools = listed.filter((p) => typeof p === "string");
      }
    } catch { /* no list: the server's default pool */ }
    if (pools.length < 2) return;
    if (!pools.includes(pool)) pool = pools[0];
    const select = $("pool");
    select.replaceChildren(...pools.map((name) => {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = poolLabel(name);
      return option;
    }));
    select.value = pool;
    $("pool-choice").hidden = false;
    select.addEventListener("change", () => {
      if (select.value === pool) return;
      pool = select.value;
      window.pairchatPool = pool;
      reconnectNow(); // a pool is chosen per connection
    });
    window.pairchatPool = pool;
  }

  const $ = (id) => document.getElementById(id);
  const body = document.body;
  const ui = {
    linkLabel: $("link-label"),
    form: $("start-form"),
    startBtn: $("start-btn"),
    cancelBtn: $("cancel-btn"),
    searchingDetail: $("searching-detail"),
    searchingTimer: $("searching-timer"),
    messages: $("messages"),
    presenceLabel: $("presence-label"),
    ended: $("ended"),
    endedText: $("ended-text"),
    againBtn: $("again-btn"),
    homeBtn: $("home-btn"),
    nextBtn: $("next-btn"),
    leaveBtn: $("leave-btn"),
    composer: $("composer"),
    input: $("input"),
    counter: $("counter"),
    sendBtn: $("send-btn"),
    toasts: $("toasts"),
    reportBtn: $("report-btn"),
    reportDialog: $("report-dialog"),
    reportForm: $("report-form"),
    reportReason: $("report-reason"),
    reportBlock: $("report-block"),
    reportCancel: $("report-cancel"),
    interestInput: $("interest-input"),
    interestTags: $("interest-tags"),
    interestHint: $("interest-hint"),
    fallback: $("fallback"),
    queueStats: $("queue-stats"),
    statOnline: $("stat-online"),
    statEta: $("stat-eta"),
    onlyRecent: $("only-recent"),
    typing: $("typing"),
  };
  const interests = window.PairchatInterests.create({
    input: ui.interestInput,
    list: ui.interestTags,
    hint: ui.interestHint,
    onChange: (tags) => { ui.fallback.closest("label").classList.toggle("inactive", !tags.length); },
  });

  // -- state -------------------------------------------------------------------------------
  let ws = null;
  let online = false;
  let state = "idle";           // idle | searching | chatting | ended
  let room = null;              // the current room id
  let sentCount = 0;            // numbers the refs of sent messages
  let prefs = null;             // {gender, preference, interests, fallback} of the last search
  let retries = 0;
  let reconnectTimer = null;
  let heartbeatTimer = null;
  let searchStarted = 0;
  let searchTicker = null;
  let unread = 0;
  let resuming = false;
  let lastJoinAt = 0;         // reconnected mid-chat: the first pong says if the room survived
  const outbox = [];            // frames waiting for the socket to open
  const seen = new Set();       // server frame ids already handled
  const seenOrder = [];
  const early = new Map();      // roomId -> frames that came before its `matched`
  const finished = new Set();   // rooms that are over: late frames for them are dropped
  const mids = new Set();       // message ids shown in this room (direct or relayed: once)
  const typingOut = { on: false, sentAt: 0, idle: null, trailing: null };  // ours
  let typingInTimer = null;     // expires the stranger's indicator

  // -- socket ------------------------------------------------------------------------------
  function connect() {
    clearTimeout(reconnectTimer);
    setLink("connecting", retries ? "Reconnecting…" : "Connecting…");
    let socket;
    try {
      socket = new WebSocket(wsUrl());
    } catch (err) {
      scheduleReconnect();
      return;
    }
    ws = socket;
    socket.onopen = () => {
      if (socket !== ws) return;
      online = true;
      const wasRetry = retries > 0;
      retries = 0;
      setLink("online", "Online");
      startHeartbeat();
      if (wasRetry) resume();
      socket.send(JSON.stringify({ action: "heartbeat" })); // as the protocol asks, and it says where we are
      while (outbox.length) socket.send(outbox.shift());
      render();
    };
    socket.onmessage = (ev) => {
      if (socket !== ws) return;
      let frame;
      try { frame = JSON.parse(ev.data); } catch { return; }
      if (frame && typeof frame === "object") onFrame(frame);
    };
    socket.onclose = (ev) => {
      if (socket !== ws) return;
      online = false;
      ws = null;
      stopHeartbeat();
      if (ev.code === 1009) toast("That message was too large to send.", "The connection was reset.");
      scheduleReconnect();
      render();
    };
    socket.onerror = () => { /* onclose follows */ };
  }

  function scheduleReconnect() {
    const delay = Math.min(10000, 500 * 2 ** retries) * (0.75 + Math.random() * 0.5);
    retries += 1;
    setLink(retries > 2 ? "offline" : "connecting", retries > 2 ? "Offline, retrying…" : "Reconnecting…");
    clearTimeout(reconnectTimer);
    reconnectTimer = setTimeout(connect, delay);
  }

  /** A new socket is a new identity: carry the user's intent over to it. */
  function resume() {
    if (state === "searching" && prefs) {
      join("join");
    } else if (state === "chatting") {
      resuming = true; // a signed-in user may get the room back within the grace period
    }
  }

  function send(frame) {
    const data = JSON.stringify(frame);
    if (ws && online && ws.readyState === WebSocket.OPEN) {
      ws.send(data);
      return true;
    }
    if (frame.action !== "heartbeat" && frame.action !== "send" && frame.action !== "signal") outbox.push(data);
    if (!ws) connect();
    return false;
  }

  /** The next heartbeat in `ms`; each one schedules the next at the default interval, and a
   * `queued` or `pong` while searching brings it forward to the server's `retryMs`. */
  function startHeartbeat(ms = HEARTBEAT_MS) {
    stopHeartbeat();
    heartbeatTimer = setTimeout(() => {
      send({ action: "heartbeat" });
      startHeartbeat();
    }, ms);
  }
  function stopHeartbeat() { clearTimeout(heartbeatTimer); heartbeatTimer = null; }

  function reconnectNow() {
    if (ws) {
      const old = ws;
      ws = null;
      online = false;
      old.close(1000);
    }
    retries = Math.max(retries, 1);
    connect();
  }

  // -- frames ------------------------------------------------------------------------------
  function onFrame(frame) {
    if (typeof frame.id === "string") {
      if (seen.has(frame.id)) return;
      seen.add(frame.id);
      seenOrder.push(frame.id);
      if (seenOrder.length > 500) seen.delete(seenOrder.shift());
    }
    if (!frame.type) {
      // API Gateway's own answer when an integration fails.
      if (frame.message === "Internal server error") {
        toast("Something went wrong on our side.", "Please try that again.");
      } else if (frame.message) {
        toast("The server refused that.", String(frame.message));
      }
      return;
    }
    switch (frame.type) {
      case "queued":
        onQueued(frame);
        break;
      case "matched":
        onMatched(frame);
        break;
      case "message":
      case "signal":
      case "partner_left":
      case "partner_reconnecting":
      case "partner_back":
      case "typing":
        onRoomFrame(frame);
        break;
      case "left":
        break;
      case "reported":
        toast("Thanks for reporting.", "Our moderators will take a look.", "info");
        break;
      case "blocked":
        if (state === "chatting" && (!frame.roomId || frame.roomId === room)) {
          endChat("You blocked this stranger. You won't be matched again.");
        } else {
          toast("Blocked.", "You won't be matched with them again.", "info");
        }
        break;
      case "pong":
        onPong(frame);
        break;
      case "error":
        onError(frame);
        break;
      default:
        break; // a newer server: ignore what this page does not know
    }
  }

  function onMatched(frame) {
    if (finished.has(frame.roomId)) return;
    if (state === "idle") {
      // Matched just as the user cancelled: free the stranger rather than leave them waiting.
      finished.add(frame.roomId);
      send({ action: "leave" });
      return;
    }
    if (room && room !== frame.roomId) finished.add(room);
    room = frame.roomId;
    body.dataset.partner = "here";
    setState("chatting");
    clearMessages();
    mids.clear();
    notice(matchedText(frame), "good");
    if (rtc) rtc.onMatched(room, frame.rtc);
    const waiting = early.get(room) || [];
    early.clear();
    waiting.forEach(onRoomFrame);
    ui.input.focus();
  }

  function onRoomFrame(frame) {
    const rid = frame.roomId;
    if (rid && rid !== room) {
      if (finished.has(rid)) return;
      // Before its `matched`: keep it (a few, bounded) until the room is announced.
      const list = early.get(rid) || [];
      if (list.length < 50) list.push(frame);
      early.set(rid, list);
      return;
    }
    if (frame.type === "typing") {
      if (state === "chatting") strangerTyping(frame.typing === true);
    } else if (frame.type === "message") {
      if (state !== "chatting") return;
      incoming(String(frame.text ?? ""), frame.mid);
    } else if (frame.type === "signal") {
      if (state === "chatting" && rtc) rtc.onSignal(frame.data);
    } else if (frame.type === "partner_left" && state === "chatting") {
      endChat("Stranger left the chat.");
    } else if (frame.type === "partner_reconnecting" && state === "chatting") {
      strangerTyping(false);
      partnerAway(true);
      notice("Stranger lost their connection. Waiting for them to come back…");
    } else if (frame.type === "partner_back" && state === "chatting") {
      partnerAway(false);
      notice("Stranger is back.", "good");
    }
  }

  /** A message from the stranger, relayed or direct: shown once per message id. */
  function incoming(text, mid) {
    if (typeof mid === "string") {
      if (mids.has(mid)) return;
      mids.add(mid);
    }
    strangerTyping(false); // a message implies typing:false
    bubble(text, "them");
    if (document.hidden) { unread += 1; updateTitle(); }
  }

  function onPong(frame) {
    if (resuming) {
      resuming = false;
      if (state === "chatting" && frame.state === "room" && frame.roomId === room) {
        notice("Reconnected. The chat goes on.", "good");
        return;
      }
      if (state === "chatting") {
        endChat("You were disconnected, so the chat ended.");
        return;
      }
    }
    if (state === "searching" && frame.state === "queued") {
      showQueueStatus(frame);
    } else if (state === "chatting" && frame.state !== "room") {
      endChat("The chat ended.");
    } else if (state === "searching" && frame.state === "idle" && prefs &&
               Date.now() - lastJoinAt > 5000) {
      // The server lost our place (an expired session): join again. Not right after a
      // join, whose pong can overtake it (frames are handled concurrently).
      join("join");
    }
  }

  function onError(frame) {
    switch (frame.code) {
      case "session_expired":
        toast("Your session expired.", "Reconnecting…", "info");
        reconnectNow();
        return;
      case "not_in_room":
        // Only an error about a message of this chat ends it: a late one about the last
        // chat (frames are handled concurrently) must not end the new one.
        if (state === "chatting" && (!frame.ref || frame.ref.split("|")[0] === room)) {
          endChat("The chat ended.");
        }
        return;
      case "already_in_room":
        return;
      case "partner_away":
        toast("Not sent: they're reconnecting.", "Try again in a moment.", "info");
        return;
      case "no_partner":
        toast("There's nobody to report.", "You can report your current or last partner.");
        return;
      case "too_large":
        toast("That message is too long.", frame.message);
        return;
      default:
        toast(titleFor(frame.code), frame.message || "Please try again.");
    }
  }

  function titleFor(code) {
    return ({
      invalid_json: "That could not be sent.",
      unknown_action: "That could not be sent.",
      invalid_field: "Check your choices.",
      not_joined: "Pick who you'd like to meet first.",
      unavailable: "We're having a hiccup.",
      rate_limited: "Slow down a little.",
      too_soon: "It's a little early to report.",
    })[code] || "Something went wrong.";
  }

  // -- user actions ------------------------------------------------------------------------
  function startSearch(action) {
    const data = new FormData(ui.form);
    prefs = {
      gender: data.get("gender"),
      preference: data.get("preference"),
      interests: interests.values(),
      fallback: ui.fallback.checked,
    };
    if (room) finished.add(room);
    room = null;
    early.clear();
    setState("searching");
    join(action);
  }

  function join(action) {
    lastJoinAt = Date.now();
    send({ action, ...prefs });
  }

  function leave() {
    if (room) finished.add(room);
    room = null;
    setState("idle");
    send({ action: "leave" });
  }

  function partnerAway(away) {
    body.dataset.partner = away ? "away" : "here";
    render();
  }

  function endChat(text) {
    if (room) finished.add(room);
    ui.endedText.textContent = text;
    notice(text, "bad");
    setState("ended");
    ui.againBtn.focus();
  }

  function submitMessage() {
    const text = ui.input.value;
    if (!text.trim() || state !== "chatting") return;
    if (text.length > MAX_TEXT) { toast("That message is too long.", `Keep it under ${MAX_TEXT} characters.`); return; }
    const li = bubble(text, "me");
    const mid = newMid();
    // Direct when a data channel is open; else (or if it fails later) through the server.
    if (rtc && rtc.sendText(text, mid)) {
      li.dataset.via = "direct";
    } else if (!relay(text, mid)) {
      li.classList.add("pending");
      toast("Not sent: you're offline.", "We'll reconnect in a moment.");
    }
    ui.input.value = "";
    typingStopped(false); // the message tells the stranger we stopped
    autosize();
    updateComposer();
  }

  function relay(text, mid) {
    // The ref comes back on an error about this message (see onError).
    return send({ action: "send", text, mid, ref: `${room}|${++sentCount}` });
  }

  function newMid() {
    const bytes = crypto.getRandomValues(new Uint8Array(8));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function openReport() {
    ui.reportReason.value = "";
    ui.reportBlock.checked = true;
    if (typeof ui.reportDialog.showModal === "function") ui.reportDialog.showModal();
    ui.reportReason.focus();
  }

  function submitReport() {
    const reason = ui.reportReason.value.trim();
    send(reason ? { action: "report", reason } : { action: "report" });
    if (ui.reportBlock.checked) send({ action: "block" });
    ui.reportDialog.close();
  }

  // -- rendering ---------------------------------------------------------------------------
  function setState(next) {
    if (next !== "chatting" && rtc) rtc.end();
    state = next;
    body.dataset.state = next;
    clearInterval(searchTicker);
    if (next !== "chatting") { typingStopped(false); strangerTyping(false); }
    if (next === "searching") {
      searchStarted = Date.now();
      ui.searchingDetail.textContent = searchingText(prefs?.interests || []);
      showQueueStatus(null);
      tickSearch();
      searchTicker = setInterval(tickSearch, 1000);
    }
    render();
  }

  function render() {
    ui.startBtn.disabled = false;
    const away = body.dataset.partner === "away";
    // Our own link, for the presence dot: not green while we are the one reconnecting.
    body.dataset.self = online ? "here" : "away";
    ui.presenceLabel.textContent = state !== "chatting" ? "Left the chat"
      : !online ? "You're reconnecting…" : away ? "Reconnecting…" : "In the chat";
    ui.ended.hidden = state !== "ended";
    updateComposer();
  }

  function updateComposer() {
    const len = ui.input.value.length;
    ui.sendBtn.disabled = !ui.input.value.trim() || state !== "chatting";
    ui.counter.textContent = len > MAX_TEXT - 200 ? `${len}/${MAX_TEXT}` : "";
    ui.counter.classList.toggle("over", len > MAX_TEXT);
  }

  function setLink(kind, label) {
    body.dataset.link = kind;
    ui.linkLabel.textContent = label;
  }

  function searchingText(tags) {
    const who = { male: "men", female: "women", any: "anyone" }[prefs?.preference] || "anyone";
    if (!tags.length) return `Matching you with ${who} who'd like to talk to you.`;
    const likes = `${who === "anyone" ? "someone" : who} who like${who === "anyone" ? "s" : ""} ${orList(tags)}`;
    return prefs?.fallback === false ? `Matching you only with ${likes}.`
      : `Matching you with ${likes}; if nobody does, with anyone after a few seconds.`;
  }

  function orList(items) {
    return items.length < 2 ? items.join("") : `${items.slice(0, -1).join(", ")} or ${items[items.length - 1]}`;
  }

  // -- queue status (while searching) ------------------------------------------------------
  function onQueued(frame) {
    if (state !== "searching") return;
    if (Array.isArray(frame.interests)) {
      interests.set(frame.interests); // the server's normalized spelling
      ui.searchingDetail.textContent = searchingText(frame.interests);
    }
    showQueueStatus(frame);
  }

  /** `online`, `etaMs`, `onlyRecent` and `retryMs` of a `queued` or `pong` (null: clear). */
  function showQueueStatus(frame) {
    const known = frame !== null && typeof frame.online === "number";
    ui.queueStats.hidden = !known;
    ui.onlyRecent.hidden = !(frame && frame.onlyRecent === true);
    if (!known) return;
    ui.statOnline.textContent = frame.online.toLocaleString();
    ui.statEta.textContent = waitText(frame.etaMs);
    if (typeof frame.retryMs === "number" && frame.retryMs > 0) {
      startHeartbeat(Math.min(Math.max(frame.retryMs, 250), HEARTBEAT_MS));
    }
  }

  function waitText(ms) {
    if (typeof ms !== "number") return "unknown";
    if (ms < 5000) return "a few seconds";
    if (ms < 60000) return `~${Math.round(ms / 5000) * 5} s`;
    if (ms < 3600000) return `~${Math.round(ms / 60000)} min`;
    return "over an hour";
  }

  function matchedText(frame) {
    const common = Array.isArray(frame.commonInterests) ? frame.commonInterests : [];
    if (common.length) return `You both like: ${common.join(", ")}`;
    if (prefs?.interests?.length) {
      return "You're chatting with a random stranger: nobody who shares your interests was around.";
    }
    return "You're chatting with a random stranger. Say hi!";
  }

  // -- typing ------------------------------------------------------------------------------
  /** Ours: typing:true at most every TYPING_EVERY_MS while the user types, false after
   * TYPING_IDLE_MS without input or when the field is emptied. */
  function typingInput() {
    if (state !== "chatting" || !online) return;
    if (!ui.input.value.trim()) { typingStopped(true); return; }
    clearTimeout(typingOut.idle);
    typingOut.idle = setTimeout(() => typingStopped(true), TYPING_IDLE_MS);
    const wait = typingOut.sentAt + TYPING_EVERY_MS - Date.now();
    if (wait <= 0) {
      sendTyping(true);
    } else if (!typingOut.on && !typingOut.trailing) {
      // Started again within a second of the last one: say so as soon as allowed.
      typingOut.trailing = setTimeout(() => { typingOut.trailing = null; typingInput(); }, wait);
    }
  }

  function sendTyping(value) {
    // Best effort: never kept for a later socket.
    if (!ws || !online || ws.readyState !== WebSocket.OPEN) return;
    typingOut.on = value;
    if (value) typingOut.sentAt = Date.now();
    // The ref names the room: a late not_in_room about the last room must not end this one.
    send({ action: "typing", typing: value, ref: `${room}|typing` });
  }

  /** Stops our typing state; tells the stranger when `tell` (a sent message tells it). */
  function typingStopped(tell) {
    clearTimeout(typingOut.idle);
    clearTimeout(typingOut.trailing);
    typingOut.idle = typingOut.trailing = null;
    if (typingOut.on && tell && state === "chatting") sendTyping(false);
    typingOut.on = false;
  }

  /** Theirs: the indicator, which also goes out by itself after TYPING_EXPIRE_MS. */
  function strangerTyping(on) {
    clearTimeout(typingInTimer);
    body.dataset.typing = on ? "yes" : "no";
    const text = on ? "Stranger is typing…" : "";
    if (ui.typing.textContent !== text) ui.typing.textContent = text;
    if (on) typingInTimer = setTimeout(() => strangerTyping(false), TYPING_EXPIRE_MS);
  }

  function tickSearch() {
    const s = Math.floor((Date.now() - searchStarted) / 1000);
    ui.searchingTimer.textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }

  function clearMessages() { ui.messages.replaceChildren(); }

  function bubble(text, who) {
    const li = document.createElement("li");
    li.className = `msg ${who}`;
    const prev = ui.messages.lastElementChild;
    if (prev && prev.classList.contains(who)) { prev.classList.add("same-next"); li.classList.add("same"); }
    const b = document.createElement("div");
    b.className = "bubble";
    b.textContent = text;            // never innerHTML: the text is the stranger's
    const t = document.createElement("time");
    t.className = "time";
    const now = new Date();
    t.dateTime = now.toISOString();
    t.textContent = now.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    li.append(b, t);
    ui.messages.append(li);
    scrollDown();
    return li;
  }

  function notice(text, kind) {
    const li = document.createElement("li");
    li.className = `notice ${kind || ""}`;
    li.textContent = text;
    ui.messages.append(li);
    scrollDown();
  }

  function scrollDown() { ui.messages.scrollTop = ui.messages.scrollHeight; }

  function toast(title, detail, kind) {
    const el = document.createElement("div");
    el.className = `toast ${kind || ""}`;
    el.setAttribute("role", "alert");
    const text = document.createElement("div");
    const strong = document.createElement("strong");
    strong.textContent = title;
    text.append(strong);
    if (detail) text.append(document.createTextNode(detail));
    const close = document.createElement("button");
    close.className = "close";
    close.type = "button";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    const dismiss = () => { el.classList.add("leaving"); setTimeout(() => el.remove(), 200); };
    close.onclick = dismiss;
    el.append(text, close);
    ui.toasts.append(el);
    while (ui.toasts.children.length > 3) ui.toasts.firstElementChild.remove();
    setTimeout(dismiss, 5000);
  }

  function updateTitle() {
    document.title = (unread ? `(${unread}) ` : "") + "pairchat · talk to someone new";
  }

  function autosize() {
    ui.input.style.height = "auto";
    ui.input.style.height = `${Math.min(ui.input.scrollHeight + 2, 140)}px`;
  }

  // -- direct connection (rtc.js) ----------------------------------------------------------
  const rtc = window.PairchatRTC ? window.PairchatRTC.create({
    signal: (data) => send({ action: "signal", data }),
    deliver: (text, mid) => { if (state === "chatting") incoming(text, mid); },
    resend: (messages) => messages.forEach(({ text, mid }) => relay(text, mid)),
    notice: (text, kind) => { if (state === "chatting") notice(text, kind); },
    toast: (title, detail) => toast(title, detail),
  }) : null;

  // -- wiring ------------------------------------------------------------------------------
  ui.form.addEventListener("submit", (e) => {
    e.preventDefault();
    interests.values();
    // An interest that could not be added stays in its field with the reason: fix it first.
    if (ui.interestInput.value.trim()) { ui.interestInput.focus(); return; }
    startSearch("join");
  });
  ui.cancelBtn.addEventListener("click", leave);
  ui.nextBtn.addEventListener("click", () => startSearch("next"));
  ui.againBtn.addEventListener("click", () => startSearch("next"));
  ui.homeBtn.addEventListener("click", leave);
  ui.leaveBtn.addEventListener("click", leave);
  ui.reportBtn.addEventListener("click", openReport);
  ui.reportCancel.addEventListener("click", () => ui.reportDialog.close());
  ui.reportForm.addEventListener("submit", (e) => { e.preventDefault(); submitReport(); });
  ui.composer.addEventListener("submit", (e) => { e.preventDefault(); submitMessage(); });
  ui.input.addEventListener("input", () => { autosize(); updateComposer(); typingInput(); });
  // The textarea's maxlength would cut a long paste without a word: paste what fits and say so.
  ui.input.addEventListener("paste", (e) => {
    const pasted = e.clipboardData ? e.clipboardData.getData("text/plain") : "";
    const { selectionStart: from, selectionEnd: to, value } = ui.input;
    const fits = MAX_TEXT - (value.length - (to - from));
    if (!pasted || pasted.length <= fits) return;
    e.preventDefault();
    let kept = pasted.slice(0, Math.max(0, fits));
    if (/[\uD800-\uDBFF]$/.test(kept)) kept = kept.slice(0, -1); // never half a character
    ui.input.setRangeText(kept, from, to, "end");
    autosize();
    updateComposer();
    const left = (pasted.length - kept.length).toLocaleString();
    toast("Your paste was cut short.", `A message holds ${MAX_TEXT.toLocaleString()} characters; the last ${left} were left out.`, "info");
  });
  ui.input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submitMessage(); }
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && state === "searching") leave();
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) { unread = 0; updateTitle(); }
  });
  window.addEventListener("online", () => { if (!ws) { retries = 1; connect(); } });

  render();
  loadPools().finally(connect);
})();
