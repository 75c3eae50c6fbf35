/* Visio room, the parts room.js uses (window.guichetVisioParts):
 * - devices: the camera and microphone (both, else the microphone alone: audio only), the
 *   choice among the devices found, and the microphone level meter of the waiting room;
 * - chat: the text chat beside the video. Messages are plain text, shown with text nodes
 *   (never as markup); http(s) addresses become links opening in a new tab. */
(function () {
  "use strict";
  var root = document.getElementById("visio");
  if (!root) return;
  var texts = document.getElementById("visio-texts").dataset;
  var mediaDevices = navigator.mediaDevices;

  // --- devices ---------------------------------------------------------------------------------
  var meterTimer = null;
  var audioContext = null;
  var onTrack = null;

  function getMedia(constraints) {
    return mediaDevices.getUserMedia(constraints);
  }

  function selected(kind) {
    var select = root.querySelector('select[data-kind="' + kind + '"]');
    return select && select.value ? { deviceId: { exact: select.value } } : true;
  }

  function fillSelects(stream) {
    if (!mediaDevices || !mediaDevices.enumerateDevices) return;
    mediaDevices.enumerateDevices().then(function (devices) {
      root.querySelectorAll("select[data-kind]").forEach(function (select) {
        var kind = select.dataset.kind;
        var inUse = stream.getTracks().filter(function (track) {
          return (track.kind === "audio" ? "audioinput" : "videoinput") === kind;
        }).map(function (track) { return track.getSettings().deviceId; })[0];
        select.textContent = "";
        devices.filter(function (device) { return device.kind === kind; })
          .forEach(function (device, index) {
            var option = document.createElement("option");
            option.value = device.deviceId;
            option.textContent = device.label || texts.deviceDefault.replace("%(n)s", index + 1);
            option.selected = device.deviceId === inUse;
            select.appendChild(option);
          });
        select.disabled = !select.options.length;
      });
    });
  }

  function meter(stream) {
    var el = document.getElementById("visio-level");
    var track = stream.getAudioTracks()[0];
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!el || !track || !Context) return;
    if (meterTimer) clearInterval(meterTimer);
    if (audioContext) audioContext.close();
    audioContext = new Context();
    var analyser = audioContext.createAnalyser();
    analyser.fftSize = 512;
    var silent = audioContext.createGain();
    silent.gain.value = 0; // the graph runs to the output, which plays nothing
    audioContext.createMediaStreamSource(new MediaStream([track])).connect(analyser);
    analyser.connect(silent);
    silent.connect(audioContext.destination);
    var samples = new Uint8Array(analyser.fftSize);
    meterTimer = setInterval(function () {
      analyser.getByteTimeDomainData(samples);
      var sum = 0;
      for (var i = 0; i < samples.length; i++) {
        var centred = (samples[i] - 128) / 128;
        sum += centred * centred;
      }
      var level = Math.min(100, Math.round(Math.sqrt(sum / samples.length) * 300));
      el.value = level;
      el.textContent = String(level);
      if (level > Number(el.dataset.peak || 0)) el.dataset.peak = String(level);
    }, 100);
  }

  // Browsers start an audio context suspended until the person interacts with the page.
  ["click", "keydown"].forEach(function (type) {
    document.addEventListener(type, function () {
      if (audioContext && audioContext.state === "suspended") audioContext.resume();
    });
  });

  // The camera and the microphone, else the microphone alone, else nothing (still joins).
  function start(useTrack) {
    onTrack = useTrack;
    if (!mediaDevices || !mediaDevices.getUserMedia) return Promise.resolve(new MediaStream());
    return getMedia({ audio: true, video: true }).catch(function () {
      return getMedia({ audio: true });
    }).catch(function () {
      return new MediaStream();
    }).then(function (stream) {
      fillSelects(stream);
      meter(stream);
      return stream;
    });
  }

  function camera() {
    return getMedia({ video: selected("videoinput") }).then(function (stream) {
      return stream.getVideoTracks()[0] || null;
    }).catch(function () { return null; });
  }

  root.querySelectorAll("select[data-kind]").forEach(function (select) {
    select.addEventListener("change", function () {
      var audio = select.dataset.kind === "audioinput";
      var constraints = audio ? { audio: selected("audioinput") } : { video: selected("videoinput") };
      getMedia(constraints).then(function (stream) {
        if (onTrack) onTrack(stream.getTracks()[0]);
      }).catch(function (error) { console.warn("visio: device refused", error); });
    });
  });

  function stop() {
    if (meterTimer) clearInterval(meterTimer);
    meterTimer = null;
    if (audioContext) audioContext.close();
    audioContext = null;
  }

  // --- chat ------------------------------------------------------------------------------------
  var chatEl = document.getElementById("visio-chat");
  var LINK = /(https?:\/\/[^\s<>"]+)/;
  var lastSent = "";

  function appendText(parent, text) {
    text.split(LINK).forEach(function (piece, index) {
      if (!piece) return;
      if (index % 2 === 1) {
        var link = document.createElement("a");
        link.href = piece;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        link.textContent = piece;
        parent.appendChild(link);
      } else {
        parent.appendChild(document.createTextNode(piece));
      }
    });
  }

  function show(message) {
    if (!chatEl) return;
    var empty = chatEl.querySelector(".visio-chat__empty");
    if (empty) empty.remove();
    var line = document.createElement("p");
    line.className = "visio-chat__message fr-mb-1w";
    line.dataset.role = message.role;
    var author = document.createElement("strong");
    author.textContent = message.author + " : ";
    line.appendChild(author);
    appendText(line, message.text);
    chatEl.appendChild(line);
    chatEl.scrollTop = chatEl.scrollHeight;
    var error = document.getElementById("visio-chat-error");
    if (error && message.role === root.dataset.role) error.textContent = "";
  }

  function bind(send) {
    var form = document.getElementById("visio-chat-form");
    var input = document.getElementById("visio-chat-input");
    if (!form || !input) return;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = input.value.trim();
      if (!text) return;
      lastSent = text;
      send({ type: "chat", text: text });
      input.value = "";
      input.focus();
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
  }

  function refused() {
    var error = document.getElementById("visio-chat-error");
    if (error) error.textContent = texts.chatRate;
    var input = document.getElementById("visio-chat-input");
    if (input && !input.value) input.value = lastSent; // nothing typed is lost
  }

  window.guichetVisioParts = {
    devices: { start: start, camera: camera, meter: meter, stop: stop },
    chat: { bind: bind, show: show, refused: refused }
  };
})();
