// Alert sound shared by the agent screens (chat desk, workstation): a short WebAudio tone (no
// audio file), switched on or off by a checkbox whose state is kept in localStorage under one key
// for every screen. Browsers only let audio start after a user gesture, so the context is created
// on the first click or key press.
(function () {
  "use strict";
  var STORAGE_KEY = "guichet-chat-sound";

  window.GuichetAlertSound = function (checkbox) {
    var audio = null;
    try {
      var saved = window.localStorage.getItem(STORAGE_KEY);
      if (saved !== null && checkbox) { checkbox.checked = saved === "1"; }
    } catch (e) { /* storage unavailable */ }
    if (checkbox) {
      checkbox.addEventListener("change", function () {
        try { window.localStorage.setItem(STORAGE_KEY, checkbox.checked ? "1" : "0"); } catch (e) { /* ignore */ }
      });
    }
    function unlock() {
      var Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) { return; }
      if (!audio) { audio = new Context(); }
      if (audio.state === "suspended") { audio.resume(); }
    }
    document.addEventListener("click", unlock, { once: true });
    document.addEventListener("keydown", unlock, { once: true });

    // Two short notes; "high" (a new conversation) a little higher than a new message.
    function beep(high) {
      if (!checkbox || !checkbox.checked || !audio) { return; }
      try {
        var now = audio.currentTime;
        [0, 0.18].forEach(function (offset, index) {
          var osc = audio.createOscillator();
          var gain = audio.createGain();
          osc.type = "sine";
          osc.frequency.value = (high ? 988 : 784) + index * 200;
          gain.gain.setValueAtTime(0.0001, now + offset);
          gain.gain.exponentialRampToValueAtTime(0.18, now + offset + 0.02);
          gain.gain.exponentialRampToValueAtTime(0.0001, now + offset + 0.16);
          osc.connect(gain);
          gain.connect(audio.destination);
          osc.start(now + offset);
          osc.stop(now + offset + 0.18);
        });
      } catch (e) { /* no sound, the visual alert remains */ }
    }
    return { beep: beep };
  };
}());
