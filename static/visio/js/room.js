/* Visio room: WebRTC one-to-one between the case's citizen and agent, signalling over the
 * Guichet websocket (/ws/visio/<token>/), captions and a text chat shown in aria-live logs.
 * The citizen waits in a waiting room (camera and microphone test) until the agent admits them;
 * the server relays no media negotiation before. The agent always makes the offer (once the
 * citizen is admitted and both are connected, again after a reconnection); the citizen answers.
 * Each side always negotiates one audio and one video transceiver, so that switching to audio
 * only, back to the camera, or to a shared screen is a replaceTrack, never a renegotiation.
 * The devices, the microphone meter and the chat are in devices.js (window.guichetVisioParts),
 * the automatic captions' audio capture in captions.js.
 * No external service: STUN/TURN come from the server's settings. */
(function () {
  "use strict";
  var root = document.getElementById("visio");
  if (!root) return;
  var parts = window.guichetVisioParts;
  var texts = document.getElementById("visio-texts").dataset;
  var role = root.dataset.role;
  var hasMedia = root.dataset.media === "1";
  var statusEl = document.getElementById("visio-status");
  var remoteVideo = document.getElementById("visio-remote");
  var localVideo = document.getElementById("visio-local");
  var captionsEl = document.getElementById("visio-captions");
  var FINAL_CODES = [4000, 4400, 4401, 4403, 4404, 4409, 4413, 4429];
  // Connection checks during a call: this many bad checks in a row switch to audio only.
  var QUALITY_EVERY_MS = 4000;
  var BAD_CHECKS = 2;

  var socket = null;
  var pc = null;
  var remoteStream = null;
  var localStream = null; // the microphone's track and the camera's (unless audio only)
  var screenTrack = null;
  var audioOnly = false;
  var iceServers = [];
  var ended = false;
  var retries = 0;
  var admitted = false; // the citizen left the waiting room (the agent admitted them)
  var citizenPresent = false; // for the agent: the citizen's socket is there
  var badChecks = 0;
  var autoCaptions = false; // the room's automatic captions are on

  function setStatus(key, text) {
    statusEl.dataset.state = key;
    statusEl.textContent = text || texts[key] || "";
  }

  function notice(text) {
    var box = document.getElementById("visio-notice");
    if (!box) return;
    document.getElementById("visio-notice-text").textContent = text || "";
    box.hidden = !text;
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function sendAudio(buffer) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(buffer);
  }

  // The microphone is heard for the automatic captions while they are on and this side is in the call.
  function refreshHearing() {
    parts.autoCaptions.update(autoCaptions && admitted && hasMedia && !ended, audioTrack());
  }

  function audioTrack() { return localStream ? localStream.getAudioTracks()[0] || null : null; }
  function cameraTrack() { return localStream ? localStream.getVideoTracks()[0] || null : null; }

  // What this side sends on each transceiver (null: nothing, the transceiver stays).
  function outgoing(kind) {
    if (kind === "audio") return audioTrack();
    if (screenTrack) return screenTrack;
    return audioOnly ? null : cameraTrack();
  }

  function mediaState() {
    var audio = audioTrack();
    var camera = cameraTrack();
    return {
      type: "media",
      audio: !!(audio && audio.enabled),
      video: !!(camera && camera.enabled && !audioOnly),
      screen: !!screenTrack
    };
  }

  function transceiverKind(transceiver) {
    return transceiver.receiver.track ? transceiver.receiver.track.kind : "";
  }

  function refreshSenders() {
    if (!pc) return;
    pc.getTransceivers().forEach(function (transceiver) {
      var kind = transceiverKind(transceiver);
      var track = outgoing(kind);
      if (kind && transceiver.sender.track !== track) {
        transceiver.sender.replaceTrack(track).catch(function (error) {
          console.warn("visio: track not replaced", error);
        });
      }
    });
  }

  function closePeer() {
    if (pc) {
      pc.onicecandidate = pc.ontrack = pc.onconnectionstatechange = null;
      pc.close();
      pc = null;
    }
    root.dataset.connection = "closed";
    remoteStream = null;
    if (remoteVideo) remoteVideo.srcObject = null;
  }

  function newPeer() {
    closePeer();
    var peer = new RTCPeerConnection({ iceServers: iceServers });
    pc = peer;
    remoteStream = new MediaStream();
    remoteVideo.srcObject = remoteStream;
    peer.onicecandidate = function (event) {
      send({ type: "signal", candidate: event.candidate ? event.candidate.toJSON() : null });
    };
    peer.ontrack = function (event) {
      remoteStream.getTracks().forEach(function (track) {
        if (track.kind === event.track.kind) remoteStream.removeTrack(track);
      });
      remoteStream.addTrack(event.track);
    };
    peer.onconnectionstatechange = function () {
      if (peer !== pc) return;
      root.dataset.connection = peer.connectionState;
      if (peer.connectionState === "connected") setStatus("connected");
      else if (peer.connectionState === "failed") {
        setStatus("lost");
        if (role === "agent") call(); // a new negotiation (e.g. the network changed)
      }
    };
    return peer;
  }

  function call() {
    if (!admitted || !citizenPresent) return;
    var peer = newPeer();
    ["audio", "video"].forEach(function (kind) {
      peer.addTransceiver(outgoing(kind) || kind, { direction: "sendrecv" });
    });
    setStatus("connecting");
    peer.createOffer().then(function (offer) {
      return peer.setLocalDescription(offer);
    }).then(function () {
      send({ type: "signal", description: { type: "offer", sdp: peer.localDescription.sdp } });
    }).catch(function (error) { console.warn("visio: offer failed", error); });
  }

  function answer(description) {
    var peer = newPeer();
    setStatus("connecting");
    peer.setRemoteDescription(description).then(function () {
      return Promise.all(peer.getTransceivers().map(function (transceiver) {
        transceiver.direction = "sendrecv";
        return transceiver.sender.replaceTrack(outgoing(transceiverKind(transceiver)));
      }));
    }).then(function () {
      return peer.createAnswer();
    }).then(function (local) {
      return peer.setLocalDescription(local);
    }).then(function () {
      send({ type: "signal", description: { type: "answer", sdp: peer.localDescription.sdp } });
    }).catch(function (error) { console.warn("visio: answer failed", error); });
  }

  function onSignal(message) {
    if (message.description) {
      var description = message.description;
      if (description.type === "offer" && role === "citizen") answer(description);
      else if (description.type === "answer" && pc && pc.signalingState === "have-local-offer") {
        pc.setRemoteDescription(description).catch(function (error) {
          console.warn("visio: answer refused", error);
        });
      }
    } else if ("candidate" in message && pc) {
      pc.addIceCandidate(message.candidate || undefined).catch(function () {
        /* a candidate of a negotiation replaced since: nothing to do */
      });
    }
  }

  function showCaption(message) {
    var empty = captionsEl.querySelector(".visio-captions__empty");
    if (empty) empty.remove();
    if (message.type === "auto_caption") {
      parts.autoCaptions.show(captionsEl, message);
      captionsEl.scrollTop = captionsEl.scrollHeight;
      return;
    }
    var line = document.createElement("p");
    line.className = "visio-caption fr-mb-1w";
    var author = document.createElement("strong");
    author.textContent = message.author + " : ";
    line.appendChild(author);
    line.appendChild(document.createTextNode(message.text));
    captionsEl.appendChild(line);
    captionsEl.scrollTop = captionsEl.scrollHeight;
  }

  function finish(text) {
    ended = true;
    closePeer();
    if (localStream) localStream.getTracks().forEach(function (track) { track.stop(); });
    if (screenTrack) screenTrack.stop();
    parts.devices.stop();
    parts.autoCaptions.stop();
    root.dataset.ended = "1";
    var box = document.getElementById("visio-ended");
    if (text) document.getElementById("visio-ended-text").textContent = text;
    box.hidden = false;
    setStatus("ended", box.querySelector("h2").textContent);
    root.querySelectorAll(".visio-controls button, #visio-admit, form button, form input, form textarea, select, input[type=checkbox]")
      .forEach(function (control) { control.disabled = true; });
  }

  // --- waiting room ----------------------------------------------------------------------------
  function showWaiting(name) {
    var box = document.getElementById("visio-waiting");
    if (!box) return;
    if (name) {
      document.getElementById("visio-waiting-text").textContent =
        texts.waitingFor.replace("%(name)s", name);
    }
    box.hidden = !name;
  }

  function enterCall() {
    admitted = true;
    root.dataset.phase = "call";
    if (role === "citizen") {
      setStatus("waiting", texts.admitted);
      send(mediaState());
    } else {
      showWaiting("");
      call();
    }
    refreshHearing();
  }

  function onPeer(message) {
    if (message.role !== "citizen" && message.role !== "agent") return;
    if (!hasMedia) return;
    if (role === "agent") citizenPresent = message.present;
    if (message.present) {
      if (!admitted && role === "citizen") return;
      if (role === "agent" && !message.admitted) { showWaiting(message.name); return; }
      if (role === "agent") call();
      send(mediaState());
    } else {
      showWaiting("");
      closePeer();
      setStatus("peer-left", texts.peerLeft);
    }
  }

  function onMessage(event) {
    var message = JSON.parse(event.data);
    switch (message.type) {
      case "welcome":
        retries = 0;
        iceServers = message.ice_servers || [];
        admitted = !!message.admitted;
        if (role === "citizen") {
          root.dataset.phase = admitted ? "call" : "lobby";
          screenAllowed(message.screen_allowed, false);
        }
        if (!hasMedia) setStatus("connected");
        else if (role === "citizen") setStatus(admitted ? "waiting" : "lobby");
        else {
          citizenPresent = !!message.peer;
          if (citizenPresent && admitted) call();
          else {
            setStatus("waiting");
            if (citizenPresent) showWaiting(message.peer_name);
          }
        }
        if (admitted) send(mediaState());
        setAutoCaptions(!!message.auto_captions);
        break;
      case "peer":
        onPeer(message);
        break;
      case "admitted":
        if (hasMedia) enterCall();
        break;
      case "signal":
        onSignal(message);
        break;
      case "media":
        var peerVideo = message.video || message.screen ? "on" : "off";
        root.dataset.peerAudio = message.audio ? "on" : "off";
        root.dataset.peerVideo = peerVideo;
        var badge = document.getElementById("visio-peer-audio-only");
        if (badge) badge.hidden = peerVideo === "on";
        break;
      case "caption":
      case "auto_caption":
        showCaption(message);
        break;
      case "chat":
        parts.chat.show(message);
        break;
      case "keep_captions":
      case "keep_chat":
        var keep = document.getElementById(message.type === "keep_chat" ? "visio-keep-chat" : "visio-keep");
        if (keep) keep.checked = message.value;
        break;
      case "auto_captions":
        setAutoCaptions(message.value);
        break;
      case "screen_allowed":
        screenAllowed(message.value, true);
        break;
      case "error":
        if (message.code === "chat_rate") parts.chat.refused();
        if (message.code === "auto_captions_busy") parts.autoCaptions.status("autoBusy");
        if (message.code === "auto_captions_unavailable") parts.autoCaptions.status("autoUnavailable");
        break;
      case "ended":
        finish(message.label ? message.label.replace(/([^.!?])$/, "$1.") : "");
        break;
      case "replaced":
        finish(texts.replaced);
        break;
    }
  }

  function setAutoCaptions(on) {
    autoCaptions = on;
    var box = document.getElementById("visio-auto-captions");
    if (box) box.checked = on;
    root.dataset.autoCaptions = on ? "on" : "off";
    parts.autoCaptions.status("");
    refreshHearing();
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + root.dataset.wsPath);
    socket.onmessage = onMessage;
    socket.onclose = function (event) {
      if (ended) return;
      if (event.code === 4404 || event.code === 4403) { finish(texts.refused); return; }
      if (FINAL_CODES.indexOf(event.code) !== -1) { finish(""); return; }
      closePeer();
      setStatus("lost");
      retries += 1;
      setTimeout(connect, Math.min(10000, 500 * Math.pow(2, retries)));
    };
  }

  // --- audio only, devices, screen -------------------------------------------------------------
  function setAudioOnly(on, why) {
    audioOnly = on;
    var button = document.getElementById("visio-audio-only");
    if (button) button.setAttribute("aria-pressed", on ? "true" : "false");
    root.dataset.audioOnly = on ? "1" : "0";
    var camera = cameraTrack();
    if (on && camera) {
      camera.stop(); // frees the camera and the bandwidth
      localStream.removeTrack(camera);
    }
    badChecks = 0;
    refreshSenders();
    localVideo.hidden = on && !screenTrack;
    notice(on ? why || texts.audioOnly : "");
    send(mediaState());
    if (!on && !cameraTrack()) {
      parts.devices.camera().then(function (track) {
        if (!track) { setAudioOnly(true, texts.noCamera); return; }
        localStream.addTrack(track);
        localVideo.srcObject = localStream;
        refreshSenders();
        send(mediaState());
      });
    }
  }

  // A device chosen in the settings replaces the track of its kind.
  function useTrack(track) {
    if (!localStream) localStream = new MediaStream();
    localStream.getTracks().forEach(function (old) {
      if (old.kind === track.kind) { old.stop(); localStream.removeTrack(old); }
    });
    localStream.addTrack(track);
    if (track.kind === "audio") parts.devices.meter(localStream);
    if (track.kind === "audio") refreshHearing();
    localVideo.srcObject = localStream;
    refreshSenders();
    send(mediaState());
  }

  // Every QUALITY_EVERY_MS: video held back by bandwidth, or heavy loss, twice in a row: audio only.
  function checkQuality() {
    if (!pc || audioOnly || screenTrack || pc.connectionState !== "connected") return;
    pc.getStats().then(function (report) {
      var bad = false;
      report.forEach(function (stat) {
        if (stat.type === "outbound-rtp" && stat.kind === "video" &&
            stat.qualityLimitationReason === "bandwidth" && (stat.framesPerSecond || 0) < 5) bad = true;
        if (stat.type === "remote-inbound-rtp" && (stat.fractionLost || 0) > 0.2) bad = true;
        if (stat.type === "candidate-pair" && stat.nominated &&
            stat.availableOutgoingBitrate && stat.availableOutgoingBitrate < 100000) bad = true;
      });
      badChecks = bad ? badChecks + 1 : 0;
      if (badChecks >= BAD_CHECKS) setAudioOnly(true, texts.weak);
    });
  }

  function toggle(button, track, offKey) {
    if (!track) return;
    track.enabled = !track.enabled;
    button.setAttribute("aria-pressed", track.enabled ? "true" : "false");
    button.textContent = track.enabled ? button.dataset.label : texts[offKey];
    send(mediaState());
  }

  function shareScreen(button) {
    if (screenTrack) {
      screenTrack.stop();
      screenTrack = null;
      refreshSenders();
      localVideo.hidden = audioOnly;
      button.setAttribute("aria-pressed", "false");
      send(mediaState());
      return;
    }
    navigator.mediaDevices.getDisplayMedia({ video: true }).then(function (stream) {
      screenTrack = stream.getVideoTracks()[0];
      screenTrack.contentHint = "detail"; // keep text legible: lower the frame rate, not the size
      screenTrack.onended = function () { if (screenTrack) shareScreen(button); };
      refreshSenders();
      button.setAttribute("aria-pressed", "true");
      send(mediaState());
    }).catch(function () { /* the person declined: nothing shared */ });
  }

  // The citizen's share button appears with the agent's leave; a leave withdrawn stops a share.
  function screenAllowed(allowed, announce) {
    var button = document.getElementById("visio-screen");
    if (role !== "citizen" || !button) return;
    button.parentElement.hidden = !allowed || button.dataset.unsupported === "1";
    if (!allowed && screenTrack) shareScreen(button);
    if (announce && allowed) notice(texts.screenAllowed);
  }

  function bindControls() {
    var mic = document.getElementById("visio-mic");
    var camera = document.getElementById("visio-camera");
    var screen = document.getElementById("visio-screen");
    var only = document.getElementById("visio-audio-only");
    if (mic) {
      mic.dataset.label = mic.textContent;
      mic.addEventListener("click", function () { toggle(mic, audioTrack(), "micOff"); });
    }
    if (camera) {
      camera.dataset.label = camera.textContent;
      camera.addEventListener("click", function () { toggle(camera, cameraTrack(), "cameraOff"); });
    }
    if (only) only.addEventListener("click", function () { setAudioOnly(!audioOnly); });
    if (screen) {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) {
        screen.dataset.unsupported = "1";
        screen.parentElement.hidden = true;
      }
      screen.addEventListener("click", function () { shareScreen(screen); });
    }
    var hangup = document.getElementById("visio-hangup");
    if (hangup) {
      hangup.addEventListener("click", function () {
        send({ type: "hangup" });
        if (!hasMedia) finish("");
      });
    }
    var admit = document.getElementById("visio-admit");
    if (admit) admit.addEventListener("click", function () { send({ type: "admit" }); });
    var form = document.getElementById("visio-caption-form");
    if (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var input = document.getElementById("visio-caption-input");
        var text = input.value.trim();
        if (!text) return;
        send({ type: "caption", text: text });
        input.value = "";
        input.focus();
      });
    }
    [["visio-keep", "keep_captions"], ["visio-keep-chat", "keep_chat"],
     ["visio-allow-screen", "allow_screen"], ["visio-auto-captions", "auto_captions"]].forEach(function (pair) {
      var box = document.getElementById(pair[0]);
      if (box) {
        box.addEventListener("change", function () { send({ type: pair[1], value: box.checked }); });
      }
    });
    parts.chat.bind(send);
    parts.autoCaptions.bind(sendAudio);
  }

  // Sum of one field of the inbound-rtp statistics (of one kind if given).
  function received(field, kind) {
    if (!pc) return Promise.resolve(0);
    return pc.getStats().then(function (report) {
      var total = 0;
      report.forEach(function (stat) {
        if (stat.type === "inbound-rtp" && (!kind || stat.kind === kind)) total += stat[field] || 0;
      });
      return total;
    });
  }

  // For diagnosis (and the browser tests): bytes received so far (of one kind if given), video
  // frames decoded (Firefox counts no playback quality for a MediaStream: getStats does, in every
  // browser), and the size of the video this side sends.
  window.guichetVisio = {
    bytesReceived: function (kind) { return received("bytesReceived", kind); },
    framesDecoded: function () { return received("framesDecoded", "video"); },
    sentVideo: function () {
      var track = outgoing("video");
      if (!track) return null;
      var settings = track.getSettings();
      return { width: settings.width, height: settings.height, screen: track === screenTrack };
    }
  };

  bindControls();
  if (!hasMedia) { connect(); return; }
  setInterval(checkQuality, QUALITY_EVERY_MS);
  parts.devices.start(useTrack).then(function (stream) {
    localStream = stream;
    localVideo.srcObject = stream;
    if (!stream.getTracks().length) setStatus("no-media", texts.noMedia);
    else if (!stream.getVideoTracks().length) setAudioOnly(true, texts.noCamera);
  }).then(connect);
})();
