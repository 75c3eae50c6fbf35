/* Visio room: WebRTC one-to-one between the case's citizen and agent, signalling over the
 * Guichet websocket (/ws/visio/<token>/), captions shown in an aria-live log.
 * The agent always makes the offer (when both are connected, again after a reconnection);
 * the citizen answers. No external service: STUN/TURN come from the server's settings. */
(function () {
  "use strict";
  var root = document.getElementById("visio");
  if (!root) return;
  var texts = document.getElementById("visio-texts").dataset;
  var role = root.dataset.role;
  var hasMedia = root.dataset.media === "1";
  var statusEl = document.getElementById("visio-status");
  var remoteVideo = document.getElementById("visio-remote");
  var localVideo = document.getElementById("visio-local");
  var captionsEl = document.getElementById("visio-captions");
  var FINAL_CODES = [4000, 4400, 4401, 4403, 4404, 4409, 4413, 4429];

  var socket = null;
  var pc = null;
  var localStream = null;
  var cameraTrack = null;
  var screenTrack = null;
  var iceServers = [];
  var ended = false;
  var retries = 0;

  function setStatus(key, text) {
    statusEl.dataset.state = key;
    statusEl.textContent = text || texts[key] || "";
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function mediaState() {
    var audio = localStream && localStream.getAudioTracks()[0];
    return {
      type: "media",
      audio: !!(audio && audio.enabled),
      video: !!(cameraTrack && cameraTrack.enabled),
      screen: !!screenTrack
    };
  }

  function closePeer() {
    if (pc) {
      pc.onicecandidate = pc.ontrack = pc.onconnectionstatechange = null;
      pc.close();
      pc = null;
    }
    root.dataset.connection = "closed";
    if (remoteVideo) remoteVideo.srcObject = null;
  }

  function newPeer() {
    closePeer();
    var peer = new RTCPeerConnection({ iceServers: iceServers });
    pc = peer;
    if (localStream) {
      localStream.getTracks().forEach(function (track) {
        var sent = track.kind === "video" && screenTrack ? screenTrack : track;
        peer.addTrack(sent, localStream);
      });
    } else if (role === "agent") {
      peer.addTransceiver("audio", { direction: "recvonly" });
      peer.addTransceiver("video", { direction: "recvonly" });
    }
    peer.onicecandidate = function (event) {
      send({ type: "signal", candidate: event.candidate ? event.candidate.toJSON() : null });
    };
    peer.ontrack = function (event) {
      if (remoteVideo && remoteVideo.srcObject !== event.streams[0]) {
        remoteVideo.srcObject = event.streams[0];
      }
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
    var peer = newPeer();
    setStatus("connecting");
    peer.createOffer().then(function (offer) {
      return peer.setLocalDescription(offer);
    }).then(function () {
      send({ type: "signal", description: { type: "offer", sdp: peer.localDescription.sdp } });
    }).catch(function (error) { console.warn("visio: offer failed", error); });
  }

  function onSignal(message) {
    if (message.description) {
      var description = message.description;
      if (description.type === "offer") {
        if (role !== "citizen") return;
        var peer = newPeer();
        setStatus("connecting");
        peer.setRemoteDescription(description).then(function () {
          return peer.createAnswer();
        }).then(function (answer) {
          return peer.setLocalDescription(answer);
        }).then(function () {
          send({ type: "signal", description: { type: "answer", sdp: peer.localDescription.sdp } });
        }).catch(function (error) { console.warn("visio: answer failed", error); });
      } else if (description.type === "answer" && pc && pc.signalingState === "have-local-offer") {
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
    root.dataset.ended = "1";
    var box = document.getElementById("visio-ended");
    if (text) document.getElementById("visio-ended-text").textContent = text;
    box.hidden = false;
    setStatus("ended", box.querySelector("h2").textContent);
    root.querySelectorAll(".visio-controls button, #visio-caption-form button, #visio-caption-form input, #visio-keep")
      .forEach(function (control) { control.disabled = true; });
  }

  function onMessage(event) {
    var message = JSON.parse(event.data);
    switch (message.type) {
      case "welcome":
        retries = 0;
        iceServers = message.ice_servers || [];
        if (!hasMedia) setStatus("connected");
        else if (message.peer && role === "agent") call();
        else if (!message.peer) setStatus("waiting");
        send(mediaState());
        break;
      case "peer":
        if (message.role !== "citizen" && message.role !== "agent") break;
        if (!hasMedia) break;
        if (message.present) {
          if (role === "agent") call();
          send(mediaState());
        } else {
          closePeer();
          setStatus("peer-left", texts.peerLeft);
        }
        break;
      case "signal":
        onSignal(message);
        break;
      case "media":
        root.dataset.peerAudio = message.audio ? "on" : "off";
        root.dataset.peerVideo = message.video || message.screen ? "on" : "off";
        break;
      case "caption":
        showCaption(message);
        break;
      case "keep_captions":
        var keep = document.getElementById("visio-keep");
        if (keep) keep.checked = message.value;
        break;
      case "ended":
        finish(message.label ? message.label.replace(/([^.!?])$/, "$1.") : "");
        break;
      case "replaced":
        finish(texts.replaced);
        break;
    }
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

  function toggle(button, track, offKey) {
    if (!track) return;
    track.enabled = !track.enabled;
    button.setAttribute("aria-pressed", track.enabled ? "true" : "false");
    button.textContent = track.enabled ? button.dataset.label : texts[offKey];
    send(mediaState());
  }

  function replaceVideo(track) {
    if (!pc) return;
    pc.getSenders().forEach(function (sender) {
      if (sender.track && sender.track.kind === "video") sender.replaceTrack(track);
    });
  }

  function bindControls() {
    var mic = document.getElementById("visio-mic");
    var camera = document.getElementById("visio-camera");
    var screen = document.getElementById("visio-screen");
    if (mic) {
      mic.dataset.label = mic.textContent;
      mic.addEventListener("click", function () {
        toggle(mic, localStream && localStream.getAudioTracks()[0], "micOff");
      });
    }
    if (camera) {
      camera.dataset.label = camera.textContent;
      camera.addEventListener("click", function () { toggle(camera, cameraTrack, "cameraOff"); });
    }
    if (screen) {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) screen.hidden = true;
      screen.addEventListener("click", function () {
        if (screenTrack) {
          screenTrack.stop();
          screenTrack = null;
          replaceVideo(cameraTrack);
          screen.setAttribute("aria-pressed", "false");
          send(mediaState());
          return;
        }
        navigator.mediaDevices.getDisplayMedia({ video: true }).then(function (stream) {
          screenTrack = stream.getVideoTracks()[0];
          screenTrack.onended = function () {
            if (screenTrack) screen.click();
          };
          replaceVideo(screenTrack);
          screen.setAttribute("aria-pressed", "true");
          send(mediaState());
        }).catch(function () { /* the person declined: nothing shared */ });
      });
    }
    var hangup = document.getElementById("visio-hangup");
    if (hangup) {
      hangup.addEventListener("click", function () {
        send({ type: "hangup" });
        if (!hasMedia) finish("");
      });
    }
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
    var keep = document.getElementById("visio-keep");
    if (keep) {
      keep.addEventListener("change", function () {
        send({ type: "keep_captions", value: keep.checked });
      });
    }
  }

  // For diagnosis (and the browser tests): bytes received by the call so far.
  window.guichetVisio = {
    bytesReceived: function () {
      if (!pc) return Promise.resolve(0);
      return pc.getStats().then(function (report) {
        var total = 0;
        report.forEach(function (stat) {
          if (stat.type === "inbound-rtp") total += stat.bytesReceived || 0;
        });
        return total;
      });
    }
  };

  bindControls();
  if (!hasMedia) { connect(); return; }
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    setStatus("no-media", texts.noMedia);
    connect();
    return;
  }
  navigator.mediaDevices.getUserMedia({ audio: true, video: true }).then(function (stream) {
    localStream = stream;
    cameraTrack = stream.getVideoTracks()[0] || null;
    localVideo.srcObject = stream;
  }).catch(function () {
    setStatus("no-media", texts.noMedia); // still joins: receives the other side and captions
  }).then(connect);
})();
