/* Visio automatic captions: an AudioWorklet processor that turns the microphone's audio (the
 * context's rate, 44.1 or 48 kHz) into 16-bit mono PCM at 16 kHz (each output sample is the mean
 * of the input samples of its period: a box filter against aliasing, enough for speech) and
 * posts it to the page in blocks of 250 ms (4000 samples, 8000 bytes). */
/* global sampleRate, registerProcessor, AudioWorkletProcessor */
var OUTPUT_RATE = 16000;
var BLOCK = 4000;

class GuichetPcmTap extends AudioWorkletProcessor {
  constructor() {
    super();
    this.ratio = sampleRate / OUTPUT_RATE;
    this.position = 0;
    this.next = this.ratio;
    this.sum = 0;
    this.count = 0;
    this.block = new Int16Array(BLOCK);
    this.filled = 0;
  }

  process(inputs) {
    var channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    for (var i = 0; i < channel.length; i++) {
      this.sum += channel[i];
      this.count += 1;
      this.position += 1;
      if (this.position < this.next) continue;
      var value = Math.max(-1, Math.min(1, this.sum / this.count));
      this.block[this.filled++] = value < 0 ? value * 32768 : value * 32767;
      this.sum = 0;
      this.count = 0;
      this.next += this.ratio;
      if (this.filled === BLOCK) {
        this.port.postMessage(this.block.buffer, [this.block.buffer]);
        this.block = new Int16Array(BLOCK);
        this.filled = 0;
      }
    }
    return true;
  }
}

registerProcessor("guichet-pcm-tap", GuichetPcmTap);
