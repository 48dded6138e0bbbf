/* pairchat chat page: the opt-in direct connection (WebRTC), with the server relay as fallback.
 *
 * Loaded before app.js, which calls `PairchatRTC.create(hooks)` and tells it about rooms
 * (`onMatched`, `end`), `signal` frames (`onSignal`) and outgoing text (`sendText`).
 *
 * Privacy first: nothing goes direct until BOTH users have consented, each after a warning
 * in plain words that a direct connection shows their IP address to the stranger (unless the
 * operator forces relay-only ICE, `iceTransportPolicy: "relay"`, which hides it). The ICE
 * configuration comes from the server's `matched` frame, never from this file.
 *
 * Signaling (docs/protocol.md, "Direct connections"): consent and the first offer/answer go
 * through the room as `signal` frames (an SDP is sent once ICE gathering completes, so one
 * frame per side, not one per candidate). Once the data channel is open, everything else
 * (text, renegotiation for video, video consent) travels over it and the server sees nothing.
 * Negotiation follows the "perfect negotiation" pattern: the consent with the higher `tie`
 * is impolite and makes the first offer; the polite side yields on glare.
 *
 * Text over the channel is acknowledged. A message not acknowledged when the channel closes,
 * fails or stalls is handed back to app.js (`hooks.resend`), which sends it through the
 * server with the same `mid`; the receiving page drops a `mid` it has already shown.
 *
 * One file of ~570 lines on purpose: consent, negotiation, the channel and video all read and
 * change one peer connection's state; split, they would hand that state around (no build step
 * to bundle modules either).
 */
(() => {
  "use strict";

  const GATHER_MS = 3000;      // longest wait for ICE candidates before sending an SDP
  const ACK_MS = 10000;        // a direct message unacknowledged this long: the path is dead
  const CONNECT_MS = 30000;    // consented but not connected by then: give up, stay relayed
  const MAX_PENDING = 200;     // unacknowledged direct messages kept for a resend
  const MAX_TEXT = 4096;       // what the server relay accepts; a peer is held to it too
  const MAX_EARLY = 20;        // signals that arrive before our peer connection exists

  const MODE_LABEL = {
    server: "Relayed by server",
    connecting: "Connecting directly…",
    direct: "Direct (peer-to-peer)",
    turn: "Direct via TURN relay",
  };

  // Static markup (no user text ever goes through innerHTML).
  const BAR = `
    <div class="rtc-bar" id="rtc-bar" hidden>
      <span class="rtc-mode" id="rtc-mode" role="status" aria-live="polite" title="How your messages travel">
        <span class="dot" aria-hidden="true"></span><span id="rtc-mode-label">Relayed by server</span>
      </span>
      <span class="rtc-cam" id="rtc-cam" role="status" hidden><span class="rec" aria-hidden="true"></span>Camera on</span>
      <span class="rtc-hint" id="rtc-hint" aria-live="polite"></span>
      <span class="rtc-actions">
        <button type="button" class="btn secondary small" id="rtc-direct-btn">Go direct</button>
        <button type="button" class="btn ghost small" id="rtc-stop-btn" hidden>Back to server</button>
        <button type="button" class="btn secondary small" id="rtc-video-btn" hidden>Video</button>
        <button type="button" class="btn ghost small" id="rtc-mute-btn" aria-pressed="false" hidden>Mute mic</button>
        <button type="button" class="btn ghost small" id="rtc-camera-btn" aria-pressed="false" hidden>Camera off</button>
        <button type="button" class="btn ghost danger small" id="rtc-video-stop-btn" hidden>Stop video</button>
      </span>
    </div>
    <div class="rtc-video" id="rtc-video" hidden>
      <video id="rtc-remote" autoplay playsinline aria-label="The stranger's camera"></video>
      <video id="rtc-local" autoplay playsinline muted aria-label="Your camera"></video>
    </div>`;
  const DIALOG = `
    <dialog class="card sheet" id="rtc-dialog" aria-labelledby="rtc-title">
      <form method="dialog" id="rtc-form">
        <h2 id="rtc-title"></h2>
        <p id="rtc-warning"></p>
        <p class="muted" id="rtc-more"></p>
        <div class="sheet-actions">
          <button type="button" class="btn ghost" id="rtc-cancel">Not now</button>
          <button type="submit" class="btn primary" id="rtc-confirm"></button>
        </div>
      </form>
    </dialog>`;

  const off = () => ({ on: false, tie: 0 });
  const tie = () => crypto.getRandomValues(new Uint32Array(1))[0] + 1;

  function create(hooks) {
    const head = document.querySelector(".view-chat .chat-head");
    if (!head || typeof RTCPeerConnection !== "function") return null;
    head.insertAdjacentHTML("afterend", BAR);
    document.body.insertAdjacentHTML("beforeend", DIALOG);
    const $ = (id) => document.getElementById(id);
    const ui = {
      bar: $("rtc-bar"), modeLabel: $("rtc-mode-label"), cam: $("rtc-cam"), hint: $("rtc-hint"),
      directBtn: $("rtc-direct-btn"), stopBtn: $("rtc-stop-btn"), videoBtn: $("rtc-video-btn"),
      muteBtn: $("rtc-mute-btn"), cameraBtn: $("rtc-camera-btn"), videoStopBtn: $("rtc-video-stop-btn"),
      video: $("rtc-video"), remote: $("rtc-remote"), local: $("rtc-local"),
      dialog: $("rtc-dialog"), form: $("rtc-form"), title: $("rtc-title"), warning: $("rtc-warning"),
      more: $("rtc-more"), confirm: $("rtc-confirm"), cancel: $("rtc-cancel"),
    };

    let cfg = null;             // the `rtc` field of this room's `matched`, or null (feature off)
    let mine = off();           // my consent to a direct connection
    let theirs = off();         // the stranger's
    let pc = null;
    let dc = null;
    let polite = false;
    let makingOffer = false;
    let ignoreOffer = false;
    let descSent = false;       // the current local SDP went out: later candidates trickle
    let mode = "server";
    let early = [];             // descriptions/candidates that beat our peer connection
    let lateCandidates = [];    // candidates that beat the remote description
    let chain = Promise.resolve();
    let connectTimer = null;
    const pending = new Map();  // mid -> {text, timer}: sent direct, not yet acknowledged
    let media = { mine: false, theirs: false, stream: null, senders: [] };
    let dialogFor = null;       // "direct" | "video"

    // -- lifecycle -------------------------------------------------------------------------
    function onMatched(roomId, config) {
      teardown();
      cfg = config && typeof config === "object" && Array.isArray(config.iceServers) ? config : null;
      mine = off();
      theirs = off();
      render();
    }

    /** The room is over (next, leave, partner_left, block): close everything, quietly. */
    function end() {
      teardown();
      cfg = null;
      mine = off();
      theirs = off();
      if (ui.dialog.open) ui.dialog.close();
      render();
    }

    function teardown() {
      clearTimeout(connectTimer);
      for (const { timer } of pending.values()) clearTimeout(timer);
      pending.clear();
      stopMedia();
      media = { mine: false, theirs: false, stream: null, senders: [] };
      if (dc) {
        dc.onopen = dc.onclose = dc.onmessage = dc.onerror = null;
        try { dc.close(); } catch { /* already closed */ }
      }
      if (pc) {
        pc.onnegotiationneeded = pc.onicecandidate = pc.ondatachannel = null;
        pc.ontrack = pc.onconnectionstatechange = null;
        try { pc.close(); } catch { /* already closed */ }
      }
      pc = null;
      dc = null;
      early = [];
      lateCandidates = [];
      chain = Promise.resolve();
      makingOffer = ignoreOffer = descSent = false;
      mode = "server";
    }

    /** Back to the server relay mid-chat; unacknowledged messages are sent through it. */
    function fallback(reason, tellPartner) {
      if (!pc && !dc) return;
      const unsent = [...pending].map(([mid, p]) => ({ mid, text: p.text }));
      teardown();
      mine = off();
      theirs = off();
      if (tellPartner) hooks.signal({ kind: "consent", on: false });
      if (reason) hooks.notice(reason);
      if (unsent.length) hooks.resend(unsent);
      render();
    }

    // -- consent ---------------------------------------------------------------------------
    function consent() {
      if (!cfg || mine.on) return;
      mine = { on: true, tie: tie() };
      if (!hooks.signal({ kind: "consent", on: true, tie: mine.tie })) {
        mine = off();
        hooks.toast("You're offline.", "Try again once you're reconnected.");
        render();
        return;
      }
      if (!theirs.on) hooks.notice("Waiting for the stranger to agree to a direct connection…");
      start();
      render();
    }

    function withdraw() {
      if (pc) {
        fallback("You went back to the server relay.", true);
      } else if (mine.on) {
        mine = off();
        hooks.signal({ kind: "consent", on: false });
        render();
      }
    }

    // -- signaling -------------------------------------------------------------------------
    /** Sends a signaling object: over the data channel when open, else through the room. */
    function sig(data) {
      if (dc && dc.readyState === "open") {
        try { dc.send(JSON.stringify({ t: "sig", data })); return true; } catch { /* fall through */ }
      }
      return hooks.signal(data);
    }

    function onSignal(data) {
      if (!cfg || !data || typeof data !== "object") return;
      if (data.kind === "consent") {
        if (data.on === true) {
          const asked = theirs.on;
          theirs = { on: true, tie: Number(data.tie) || 0 };
          if (mine.on) start();
          else if (!asked) hooks.notice("The stranger would like a direct connection. Press “Go direct” to read what that means.");
        } else if (pc) {
          fallback("The stranger went back to the server relay.", false);
        } else {
          theirs = off();
        }
        render();
        return;
      }
      if (data.kind === "video") { onVideoSignal(data); return; }
      if (data.kind !== "description" && data.kind !== "candidate") return;
      if (!mine.on) return; // never connect without this user's consent
      if (!pc) {
        if (early.length < MAX_EARLY) early.push(data);
        return;
      }
      const p = pc;
      chain = chain.then(() => (p === pc ? handle(p, data) : null)).catch((err) => {
        console.warn("pairchat rtc: signaling failed", err);
      });
    }

    async function handle(p, data) {
      if (data.kind === "description") {
        const desc = data.description;
        if (!desc || (desc.type !== "offer" && desc.type !== "answer") || typeof desc.sdp !== "string") return;
        const collision = desc.type === "offer" && (makingOffer || p.signalingState !== "stable");
        ignoreOffer = !polite && collision;
        if (ignoreOffer) return;
        await p.setRemoteDescription(desc); // a polite peer's own offer is rolled back
        const queued = lateCandidates;
        lateCandidates = [];
        for (const c of queued) await addCandidate(p, c);
        if (desc.type === "offer") {
          descSent = false;
          await p.setLocalDescription();
          sendDescription(p);
        }
      } else if (data.candidate && typeof data.candidate === "object") {
        if (!p.remoteDescription) {
          if (lateCandidates.length < 50) lateCandidates.push(data.candidate);
        } else {
          await addCandidate(p, data.candidate);
        }
      }
    }

    async function addCandidate(p, candidate) {
      try {
        await p.addIceCandidate(candidate);
      } catch (err) {
        if (!ignoreOffer) console.warn("pairchat rtc: candidate refused", err);
      }
    }

    /** Sends the local SDP once it holds the candidates (or GATHER_MS passed). */
    async function sendDescription(p) {
      if (!(dc && dc.readyState === "open")) await gathered(p);
      if (p !== pc || !p.localDescription) return;
      // An offer the partner's offer overtook (we rolled back) is not sent.
      if (p.localDescription.type === "offer" && p.signalingState !== "have-local-offer") return;
      descSent = true;
      sig({ kind: "description", description: p.localDescription.toJSON() });
    }

    function gathered(p) {
      return new Promise((resolve) => {
        if (p.iceGatheringState === "complete") { resolve(); return; }
        const timer = setTimeout(done, GATHER_MS);
        function done() {
          clearTimeout(timer);
          p.removeEventListener("icegatheringstatechange", check);
          resolve();
        }
        function check() { if (p.iceGatheringState === "complete") done(); }
        p.addEventListener("icegatheringstatechange", check);
      });
    }

    function start() {
      if (pc || !cfg || !mine.on || !theirs.on) return;
      if (mine.tie === theirs.tie) { // 1 in 4 billion: both would wait; ask again
        mine = off();
        hooks.signal({ kind: "consent", on: false });
        hooks.notice("The direct connection could not start. Try “Go direct” again.");
        render();
        return;
      }
      polite = mine.tie < theirs.tie;
      try {
        pc = new RTCPeerConnection({
          iceServers: cfg.iceServers,
          iceTransportPolicy: cfg.iceTransportPolicy === "relay" ? "relay" : "all",
        });
      } catch (err) {
        pc = null;
        mine = off();
        hooks.signal({ kind: "consent", on: false });
        hooks.toast("A direct connection is not possible here.", String(err && err.message || err));
        render();
        return;
      }
      const p = pc;
      mode = "connecting";
      p.onicecandidate = (e) => {
        if (e.candidate && descSent && p === pc) sig({ kind: "candidate", candidate: e.candidate.toJSON() });
      };
      p.onnegotiationneeded = async () => {
        try {
          makingOffer = true;
          descSent = false;
          await p.setLocalDescription();
        } catch (err) {
          console.warn("pairchat rtc: offer failed", err);
          return;
        } finally {
          makingOffer = false;
        }
        sendDescription(p);
      };
      p.ondatachannel = (e) => { if (p === pc && !dc) attach(e.channel); };
      p.ontrack = (e) => {
        if (p !== pc) return;
        ui.remote.srcObject = e.streams[0] || new MediaStream([e.track]);
        ui.video.hidden = false;
      };
      p.onconnectionstatechange = () => {
        if (p !== pc) return;
        if (p.connectionState === "failed") {
          fallback("The direct connection failed. Messages go through the server again.", true);
        } else if (p.connectionState === "connected" && dc && dc.readyState === "open") {
          updateMode();
        }
      };
      if (!polite) attach(p.createDataChannel("chat", { ordered: true }));
      connectTimer = setTimeout(() => {
        if (mode === "connecting") {
          fallback("Could not connect directly. Messages keep going through the server.", true);
        }
      }, CONNECT_MS);
      const queued = early;
      early = [];
      queued.forEach(onSignal);
      render();
    }

    // -- the data channel ------------------------------------------------------------------
    function attach(channel) {
      dc = channel;
      channel.onopen = () => {
        if (channel !== dc) return;
        clearTimeout(connectTimer);
        mode = "direct";
        hooks.notice(cfg && cfg.iceTransportPolicy === "relay"
          ? "Direct connection open through the relay: your messages no longer pass through our chat server, and neither of you sees the other's IP address."
          : "Direct connection open: your messages now go straight to the stranger, not through our server.", "good");
        updateMode();
        render();
      };
      channel.onclose = () => {
        if (channel === dc) fallback("The direct connection closed. Messages go through the server again.", false);
      };
      channel.onmessage = (e) => { if (channel === dc) onChannelMessage(e.data); };
    }

    function onChannelMessage(raw) {
      let msg;
      try { msg = JSON.parse(raw); } catch { return; }
      if (!msg || typeof msg !== "object") return;
      if (msg.t === "msg" && typeof msg.text === "string" && typeof msg.mid === "string" &&
          msg.text.length <= MAX_TEXT && msg.mid.length <= 64) {
        try { dc.send(JSON.stringify({ t: "ack", mid: msg.mid })); } catch { /* it resends via the server */ }
        hooks.deliver(msg.text, msg.mid);
      } else if (msg.t === "ack" && typeof msg.mid === "string") {
        const p = pending.get(msg.mid);
        if (p) { clearTimeout(p.timer); pending.delete(msg.mid); }
      } else if (msg.t === "sig" && msg.data && typeof msg.data === "object") {
        onSignal(msg.data);
      }
    }

    /** Sends text over the data channel; false means: send it through the server. */
    function sendText(text, mid) {
      if (!dc || dc.readyState !== "open" || pending.size >= MAX_PENDING) return false;
      try {
        dc.send(JSON.stringify({ t: "msg", mid, text }));
      } catch {
        return false;
      }
      const timer = setTimeout(() => {
        if (pending.has(mid)) fallback("The direct connection stopped responding. Messages go through the server again.", true);
      }, ACK_MS);
      pending.set(mid, { text, timer });
      return true;
    }

    /** Which path the selected ICE candidate pair takes: straight, or through a TURN relay. */
    async function updateMode() {
      const p = pc;
      if (!p) return;
      let relayed = cfg && cfg.iceTransportPolicy === "relay";
      try {
        const stats = await p.getStats();
        let pair = null;
        stats.forEach((r) => {
          if (r.type === "transport" && r.selectedCandidatePairId) pair = stats.get(r.selectedCandidatePairId);
        });
        if (!pair) stats.forEach((r) => { if (r.type === "candidate-pair" && r.nominated && r.state === "succeeded") pair = r; });
        if (pair) {
          const local = stats.get(pair.localCandidateId);
          const remote = stats.get(pair.remoteCandidateId);
          relayed = (local && local.candidateType === "relay") || (remote && remote.candidateType === "relay");
        }
      } catch { /* keep the policy's answer */ }
      if (p === pc && dc && dc.readyState === "open") {
        mode = relayed ? "turn" : "direct";
        render();
      }
    }

    // -- video -----------------------------------------------------------------------------
    function requestVideo() {
      if (!dc || dc.readyState !== "open" || media.mine) return;
      media.mine = true;
      sig({ kind: "video", on: true });
      if (media.theirs) startMedia();
      else hooks.notice("Waiting for the stranger to turn on video too…");
      render();
    }

    function onVideoSignal(data) {
      if (!pc) return;
      if (data.on === true) {
        media.theirs = true;
        if (media.mine) startMedia();
        else hooks.notice("The stranger would like to turn on video. Press “Video” to turn on yours too.");
      } else {
        const had = media.mine || media.stream;
        media.theirs = false;
        media.mine = false;
        stopMedia();
        if (had) hooks.notice("The stranger stopped the video.");
      }
      render();
    }

    async function startMedia() {
      if (media.stream || !pc) return;
      const p = pc;
      let stream;
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
      } catch (err) {
        media.mine = false;
        sig({ kind: "video", on: false });
        hooks.toast("Your camera is not available.", String(err && err.message || err));
        render();
        return;
      }
      if (p !== pc || !media.mine || !media.theirs) { stream.getTracks().forEach((t) => t.stop()); return; }
      media.stream = stream;
      media.senders = stream.getTracks().map((t) => p.addTrack(t, stream)); // renegotiates over the channel
      ui.local.srcObject = stream;
      ui.video.hidden = false;
      render();
    }

    function stopMedia() {
      if (pc && pc.signalingState !== "closed") {
        for (const s of media.senders) { try { pc.removeTrack(s); } catch { /* closed */ } }
      }
      if (media.stream) media.stream.getTracks().forEach((t) => t.stop());
      media.stream = null;
      media.senders = [];
      ui.local.srcObject = null;
      ui.remote.srcObject = null;
      ui.video.hidden = true;
    }

    function stopVideo() {
      media.mine = false;
      media.theirs = false;
      stopMedia();
      sig({ kind: "video", on: false });
      hooks.notice("You stopped the video.");
      render();
    }

    function toggleTrack(kind) {
      if (!media.stream) return;
      const tracks = kind === "audio" ? media.stream.getAudioTracks() : media.stream.getVideoTracks();
      tracks.forEach((t) => { t.enabled = !t.enabled; });
      render();
    }

    // -- dialog ----------------------------------------------------------------------------
    function openDialog(kind) {
      dialogFor = kind;
      const relayOnly = cfg && cfg.iceTransportPolicy === "relay";
      if (kind === "direct") {
        ui.title.textContent = "Connect directly to this stranger?";
        ui.warning.textContent = relayOnly
          ? "Your messages will travel through a relay server instead of our chat server. The stranger will not see your IP address, and you won't see theirs."
          : "A direct connection sends your messages straight to the stranger's device. To set it up, your browsers swap network addresses: the stranger will be able to see your IP address, which can show roughly where you are and who your internet provider is. Only agree if you're fine with that.";
        ui.more.textContent = "It starts only if you both agree. Reports and blocks still work, and you can go back to the server at any time.";
        ui.confirm.textContent = theirs.on ? "Agree and connect" : "Ask to connect directly";
      } else {
        ui.title.textContent = "Turn on your camera and microphone?";
        ui.warning.textContent = "The stranger will see and hear you. Video starts only when you have both turned it on.";
        ui.more.textContent = "You can mute your microphone, turn your camera off or stop the video at any time.";
        ui.confirm.textContent = media.theirs ? "Turn on video too" : "Turn on video";
      }
      if (typeof ui.dialog.showModal === "function") ui.dialog.showModal();
      else ui.dialog.setAttribute("open", "");
      ui.confirm.focus();
    }

    // -- rendering -------------------------------------------------------------------------
    function render() {
      const open = !!dc && dc.readyState === "open";
      ui.bar.hidden = !cfg;
      document.body.dataset.rtc = cfg ? mode : "off";
      ui.modeLabel.textContent = MODE_LABEL[mode] || MODE_LABEL.server;
      ui.directBtn.hidden = !cfg || !!pc;
      ui.directBtn.disabled = mine.on;
      ui.directBtn.textContent = mine.on ? "Waiting for them…" : theirs.on ? "Accept direct" : "Go direct";
      ui.stopBtn.hidden = !pc && !mine.on;
      ui.stopBtn.textContent = pc ? "Back to server" : "Cancel";
      ui.videoBtn.hidden = !open || !!media.stream;
      ui.videoBtn.disabled = media.mine;
      ui.videoBtn.textContent = media.mine ? "Waiting for their video…" : media.theirs ? "Turn on video too" : "Video";
      const live = !!media.stream;
      ui.muteBtn.hidden = ui.cameraBtn.hidden = ui.videoStopBtn.hidden = !live;
      const audioOn = live && media.stream.getAudioTracks().some((t) => t.enabled);
      const videoOn = live && media.stream.getVideoTracks().some((t) => t.enabled && t.readyState === "live");
      ui.muteBtn.textContent = audioOn ? "Mute mic" : "Unmute mic";
      ui.muteBtn.setAttribute("aria-pressed", String(live && !audioOn));
      ui.cameraBtn.textContent = videoOn ? "Camera off" : "Camera on";
      ui.cameraBtn.setAttribute("aria-pressed", String(live && !videoOn));
      ui.cam.hidden = !videoOn;
      document.body.dataset.camera = videoOn ? "on" : "off";
      ui.hint.textContent = !cfg ? ""
        : theirs.on && !mine.on && !pc ? "The stranger asks to connect directly."
        : mine.on && !pc ? "Waiting for the stranger to agree…"
        : "";
    }

    // -- wiring ----------------------------------------------------------------------------
    ui.directBtn.addEventListener("click", () => openDialog("direct"));
    ui.stopBtn.addEventListener("click", withdraw);
    ui.videoBtn.addEventListener("click", () => openDialog("video"));
    ui.muteBtn.addEventListener("click", () => toggleTrack("audio"));
    ui.cameraBtn.addEventListener("click", () => toggleTrack("video"));
    ui.videoStopBtn.addEventListener("click", stopVideo);
    ui.cancel.addEventListener("click", () => ui.dialog.close());
    ui.form.addEventListener("submit", (e) => {
      e.preventDefault();
      ui.dialog.close();
      if (dialogFor === "direct") consent();
      else if (dialogFor === "video") requestVideo();
    });

    render();
    return { onMatched, onSignal, sendText, end, mode: () => mode };
  }

  window.PairchatRTC = { create };
})();
