/* Visio room, automatic captions (window.guichetVisioParts.autoCaptions, used by room.js).
 * While the room's automatic captions are on and this side is in the call, the microphone's
 * audio goes through an AudioWorklet (pcm-worklet.js: 16-bit mono PCM at 16 kHz, 250 ms
 * blocks) and each block is sent as a binary frame on the room's socket; the server cuts the
 * utterances, transcribes them and sends the text back to everyone as "auto_caption" messages.
 * Nothing is sent while the microphone is muted. */
(function () {
  "use strict";
  var script = document.currentScript;
  var root = document.getElementById("visio");
  if (!root || !script) return;
  var parts = window.guichetVisioParts;
  var texts = document.getElementById("visio-texts").dataset;
  var Context = window.AudioContext || window.webkitAudioContext;

  var context = null;
  var track = null; // the microphone track being heard
  var sendAudio = null;
  var starting = null;

  function stop() {
    track = null;
    starting = null;
    if (context) context.close();
    context = null;
  }

  function start(microphone) {
    stop();
    if (!Context || !microphone) return;
    var own = new Context();
    context = own;
    track = microphone;
    starting = own.audioWorklet.addModule(script.dataset.worklet).then(function () {
      if (context !== own) return;
      var tap = new AudioWorkletNode(own, "guichet-pcm-tap");
      var silent = own.createGain();
      silent.gain.value = 0; // the graph runs to the output, which plays nothing
      own.createMediaStreamSource(new MediaStream([microphone])).connect(tap);
      tap.connect(silent);
      silent.connect(own.destination);
      tap.port.onmessage = function (event) {
        if (context === own && microphone.enabled && microphone.readyState === "live" && sendAudio) {
          sendAudio(event.data);
        }
      };
    }).catch(function (error) {
      console.warn("visio: automatic captions not started", error);
    });
  }

  // Hear ``microphone`` when ``on`` (the room's choice and this side in the call), else nothing.
  function update(on, microphone) {
    if (!on || !microphone) { if (context) stop(); return; }
    if (microphone !== track) start(microphone);
  }

  // Browsers start an audio context suspended until the person interacts with the page.
  ["click", "keydown"].forEach(function (type) {
    document.addEventListener(type, function () {
      if (context && context.state === "suspended") context.resume();
    });
  });

  function show(container, message) {
    var line = document.createElement("p");
    line.className = "visio-caption visio-caption--auto fr-mb-1w";
    line.dataset.role = message.role;
    var source = document.createElement("span");
    source.className = "visio-caption__source fr-text--xs";
    source.textContent = texts.autoLabel + " — ";
    var speaker = document.createElement("strong");
    speaker.textContent = (message.role === "agent" ? texts.roleAgent : texts.roleCitizen) + " : ";
    line.appendChild(source);
    line.appendChild(speaker);
    line.appendChild(document.createTextNode(message.text));
    container.appendChild(line);
  }

  function status(key) {
    var el = document.getElementById("visio-auto-status");
    if (el) el.textContent = key ? texts[key] : "";
  }

  parts.autoCaptions = {
    bind: function (send) { sendAudio = send; },
    update: update,
    stop: stop,
    show: show,
    status: status,
    hearing: function () { return !!(context && starting); }
  };
})();
