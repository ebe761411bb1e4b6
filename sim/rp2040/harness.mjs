// hipcue's firmware on an emulated RP2040 (rp2040js 1.4.1), with the parts the board layer
// talks to: an LSM6DSOX on I2C0 (its data-ready on the INT pin), the motor PWM pin, the button,
// the battery divider on the ADC, VBUS sense, and the USB CDC bridged to a pty.
//
//     node harness.mjs CONFIG.json        (started by sim/rp2040/__init__.py)
//
// CONFIG: uf2 (firmware image), bootrom, flash_in / flash_out (a whole 2 MiB flash image to
// start from / to write at exit, so files survive a restart), fs_image + fs_offset (a LittleFS
// image placed in flash before boot), pty_fd (the pty master, passed by the driver), sensor
// (trace samples, see Lsm6dsox), button_low_ms (button held down from power-up that long: safe
// boot), battery_mv, vbus, vbus_at ([[t_ms, on], ...]: VBUS changes at emulated times),
// realtime (never run ahead of the wall clock), events_out (a JSON
// file of timestamped observations written at exit), max_ms (stop after that emulated time).
//
// Control on stdin, one JSON object a line: {"op":"stop"}, {"op":"button","down":true},
// {"op":"battery","mv":3700}, {"op":"status"}, {"op":"samples","start":true}. Reports on
// stdout, one JSON object a line: {"ev":"usb"} when the host side of the CDC is up,
// {"ev":"status",...}, {"ev":"exit",...}.
//
// What rp2040js 1.4.1 gets wrong, and what is done about it here (../shared/notes/
// rp2040-emulator.md): flash erase/program are stubs -> the bootrom's flash_range_erase and
// flash_range_program are patched with BKPT and done here with NOR semantics and W25Q16 timing
// (the clock advances by the erase/program time, during which the core runs nothing); the CDC
// host answers OUT reads with zero-length packets -> reads are held (NAK) until the host has
// data; after an I2C abort TX_EMPTY never rises -> it is raised. Cycle counts: core.cycles
// over-counts SIO divider operations by 8 cycles each, so time here is the emulated clock
// (ns), and cycles = ns * 125 MHz.

import fs from 'node:fs';
import { RP2040, USBCDC, GPIOPinState } from 'rp2040js';

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const NS_PER_CYCLE = 8; // 125 MHz
const FLASH_BASE = 0x10000000;
const PICO_FLASH_BYTES = 2 * 1024 * 1024; // the Pico's W25Q16JV (rp2040js maps 16 MiB)
const ERASE_4K_NS = 45e6; // W25Q16JV typical: sector erase 45 ms, 64 KiB block 150 ms,
const ERASE_64K_NS = 150e6; // page program 0.4 ms
const PROGRAM_PAGE_NS = 0.4e6;

const mcu = new RP2040();
const quiet = () => {};
// A Cortex-M0+ takes a HardFault on an unaligned load or store; rp2040js only logs it. Here it
// stops the run with the faulting address, as the chip would stop.
let faulted = null;
mcu.logger = {
  debug: quiet,
  info: quiet,
  warn: quiet,
  error: (c, m) => {
    if (/not (32|16) bit aligned/.test(m) && !faulted) {
      faulted = `HardFault: unaligned access (${m}) at pc 0x${(core.PC >>> 0).toString(16)}`;
      out({ ev: 'fault', msg: faulted, t_ns: clock.nanos });
    }
    process.stderr.write(`${c}: ${m}\n`);
  },
};
const clock = mcu.clock;
const core = mcu.core;

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

// ---- bootrom with the flash functions patched ----------------------------------------------
const rom = fs.readFileSync(cfg.bootrom);
const romWords = new Uint32Array(rom.buffer.slice(rom.byteOffset, rom.byteOffset + rom.length));
mcu.loadBootrom(romWords);
const romView = new DataView(mcu.bootrom.buffer);
const BKPT_ERASE = 0xe0;
const BKPT_PROGRAM = 0xe1;
{
  let p = romView.getUint16(0x14, true);
  const want = { [0x4552]: BKPT_ERASE, [0x5052]: BKPT_PROGRAM }; // 'R','E' / 'R','P'
  let found = 0;
  for (;;) {
    const code = romView.getUint16(p, true);
    if (code === 0) break;
    const addr = romView.getUint16(p + 2, true) & ~1;
    if (want[code] !== undefined) {
      romView.setUint16(addr, 0xbe00 | want[code], true); // BKPT #imm
      found++;
    }
    p += 4;
  }
  if (found !== 2) throw new Error('bootrom: flash_range_erase/program not in the function table');
}

// ---- flash: the firmware image (UF2), then a filesystem image or a saved flash ------------------
function loadUF2(path) {
  const data = fs.readFileSync(path);
  for (let off = 0; off + 512 <= data.length; off += 512) {
    const magic0 = data.readUInt32LE(off);
    const magic1 = data.readUInt32LE(off + 4);
    if (magic0 !== 0x0a324655 || magic1 !== 0x9e5d5157) throw new Error(`${path}: not a UF2 file`);
    const target = data.readUInt32LE(off + 12);
    const size = data.readUInt32LE(off + 16);
    mcu.flash.set(data.subarray(off + 32, off + 32 + size), target - FLASH_BASE);
  }
}
if (cfg.flash_in && fs.existsSync(cfg.flash_in)) {
  const f = fs.readFileSync(cfg.flash_in);
  mcu.flash.set(f.subarray(0, mcu.flash.length));
} else {
  mcu.flash.fill(0xff);
}
if (cfg.uf2) loadUF2(cfg.uf2);
if (cfg.fs_image) mcu.flash.set(fs.readFileSync(cfg.fs_image), cfg.fs_offset);

const flashOps = []; // [t_ns, 'E'|'P', offset, bytes, stall_ns]
let stallNs = 0; // clock time owed by a flash operation
let stallTotalNs = 0;
mcu.onBreak = (code) => {
  const r = core.registers;
  if (code === BKPT_ERASE) {
    const off = r[0] >>> 0;
    const count = r[1] >>> 0;
    const blockSize = r[2] >>> 0;
    mcu.flash.fill(0xff, off, Math.min(off + count, mcu.flash.length));
    let ns = 0;
    let left = count;
    while (left > 0) {
      if (blockSize === 65536 && left >= 65536) {
        ns += ERASE_64K_NS;
        left -= 65536;
      } else {
        ns += ERASE_4K_NS;
        left -= 4096;
      }
    }
    flashOps.push([clock.nanos, 'E', off, count, ns]);
    stallNs += ns;
  } else if (code === BKPT_PROGRAM) {
    const off = r[0] >>> 0;
    const src = r[1] >>> 0;
    const count = r[2] >>> 0;
    for (let i = 0; i < count; i++) mcu.flash[off + i] &= mcu.readUint8(src + i);
    const ns = Math.ceil(count / 256) * PROGRAM_PAGE_NS;
    flashOps.push([clock.nanos, 'P', off, count, ns]);
    stallNs += ns;
  } else {
    out({ ev: 'break', code, pc: core.PC });
    finish(1);
    return;
  }
  core.PC = r[14] & ~1; // return to the caller (LR)
};

// ---- pins -----------------------------------------------------------------------------------
const PINS = { sda: 4, scl: 5, int: 6, motor: 15, button: 14, vbus: 24, vsys_adc: 3 };
let buttonDown = !!(cfg.button_low_ms > 0);
mcu.gpio[PINS.button].setInputValue(!buttonDown); // pull-up, active low
let vbusOn = cfg.vbus !== false;
mcu.gpio[PINS.vbus].setInputValue(vbusOn);
// cfg.vbus_at: [[t_ms, on], ...]: USB power plugged / unplugged at those emulated times
for (const [ms, on] of cfg.vbus_at || []) {
  clock.createAlarm(() => {
    vbusOn = !!on;
    mcu.gpio[PINS.vbus].setInputValue(vbusOn);
  }).schedule(ms * 1e6);
}
if (cfg.button_low_ms > 0) {
  clock.createAlarm(() => {
    buttonDown = false;
    mcu.gpio[PINS.button].setInputValue(true);
  }).schedule(cfg.button_low_ms * 1e6);
}
function setBattery(mv) {
  // V_SYS/3 on ADC3, 12 bits of 3.3 V
  mcu.adc.channelValues[PINS.vsys_adc] = Math.min(4095, Math.round((mv / 3 / 3300) * 4095));
}
setBattery(cfg.battery_mv || 4000);

// motor: PWM slice 7 channel B drives GP15; the duty the firmware sets, and the first pin edge
const motor = []; // [t_ns (command), duty 0..1, t_ns of the first rising pin edge or -1]
let motorPending = -1; // index into motor of an on-command whose pin edge is not seen yet
{
  const ch = mcu.pwm.channels[7];
  const write = ch.writeRegister.bind(ch);
  let lastDuty = 0;
  ch.writeRegister = (offset, value) => {
    write(offset, value);
    const top = ch.top + 1;
    const duty = ch.csr & 1 ? Math.min(1, (ch.cc >>> 16) / top) : 0;
    if (duty !== lastDuty) {
      motor.push([clock.nanos, duty, -1]);
      motorPending = lastDuty === 0 && duty > 0 ? motor.length - 1 : motorPending;
      if (duty === 0) motorPending = -1;
      lastDuty = duty;
    }
  };
  mcu.gpio[PINS.motor].addListener((state) => {
    if (state === GPIOPinState.High && motorPending >= 0) {
      motor[motorPending][2] = clock.nanos;
      motorPending = -1;
    }
  });
}

// ---- the LSM6DSOX (DS12814) on I2C0 at 0x6A ---------------------------------------------------
// Samples: cfg.sensor.samples, float64 little-endian, 7 per sample: t_s, ax ay az (g),
// gx gy gz (dps). Served at the trace's own times (mode "trace") or at the configured output
// data rate (mode "odr"), converted at the configured full scale and saturated to int16 as the
// sensor does (rounding half to even, as the host's quantiser). The output registers hold the
// latest sample; data-ready (STATUS XLDA/GDA, and INT1/INT2 when routed) is latched until the
// data are read. The stream (re)starts at the first sample on each write of an output data rate
// made before the first data read (the firmware's set-up), so no sample is lost to start-up;
// data-ready drops then (what the registers held is not a sample of the new stream).
//
// The FIFO (DS12814 § 6.5, § 9: FIFO_CTRL1..4 07h-0Ah, FIFO_STATUS1/2 3Ah/3Bh,
// FIFO_DATA_OUT_TAG 78h + 6 data bytes 79h-7Eh): 512 words of 1 tag + 6 data bytes (3 KB of
// data; the "9 kbyte" of the datasheet's front page needs the compression, not modelled).
// Each sample the sensor produces is batched when BDR_GY / BDR_XL (FIFO_CTRL3) are non-zero
// and FIFO_MODE (FIFO_CTRL4) is FIFO (001: batching stops when full) or continuous (110: the
// oldest word is overwritten, FIFO_OVR_IA set); a batch rate below the output data rate keeps
// every 2^(ODR code - BDR code)-th sample. Per sample the gyro word (TAG_SENSOR 01h) goes in
// first, then the accelerometer word (02h); TAG_CNT counts the time slots (2 bits), TAG_PARITY
// is the XOR of tag bits 7:1. DIFF_FIFO[9:0] is the number of unread words; FIFO_WTM_IA is
// level >= watermark (WTM[8:0], FIFO_CTRL1/2; a watermark of 0 never fires), FIFO_FULL_IA
// level = 512, FIFO_OVR_IA set by an overwrite and cleared when a word is read,
// FIFO_OVR_LATCHED cleared by reading FIFO_STATUS2. INT1/INT2 (INT1_CTRL / INT2_CTRL bits 3, 4,
// 5: FIFO_TH, FIFO_OVR, FIFO_FULL) follow those flags as levels. Reading 7Eh pops the word (the
// address then rolls back to 78h with IF_INC, for a burst of several words); reading an empty
// FIFO gives zeros. Bypass (000) empties it. Other FIFO modes (trigger-based) are not modelled:
// treated as bypass. A sample counts as read when the last of its words is popped; a word
// overwritten before it is read leaves its sample unread (missed).
const FIFO_WORDS = 512;
const ODR_HZ = [0, 12.5, 26, 52, 104, 208, 416, 833, 1666, 3332, 6664];
const XL_UG = [61, 488, 122, 244]; // FS_XL 00 2 g, 01 16 g, 10 4 g, 11 8 g
const G_UDPS = [8750, 17500, 35000, 70000]; // FS_G 00 250, 01 500, 10 1000, 11 2000 dps

function roundHalfEven(x) {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

class Lsm6dsox {
  constructor(sc) {
    this.addr = 0x6a;
    this.reg = new Uint8Array(128);
    this.reg[0x0f] = 0x6c;
    this.reg[0x12] = 0x04; // CTRL3_C: IF_INC
    this.ptr = 0;
    this.first = false;
    this.mode = (sc && sc.mode) || 'trace';
    this.loop = !!(sc && sc.loop);
    this.data = null;
    if (sc && sc.samples) {
      const b = fs.readFileSync(sc.samples);
      this.data = new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
    }
    this.n = this.data ? this.data.length / 7 : 0;
    this.k = -1; // index of the sample in the output registers
    this.next = 0; // index of the next sample to serve
    this.held = !!(sc && sc.hold);
    this.reads = 0; // output-register bursts read
    this.served = []; // per sample: [t_ns data-ready, t_ns read (or -1: overwritten unread)]
    this.overwritten = 0;
    this.t0 = 0; // clock time of the stream's start
    this.tt0 = 0; // trace time of the sample the stream started at
    this.alarm = clock.createAlarm(() => this.tick());
    this.unread = false;
    this.fifo = []; // words, oldest first: [Uint8Array(7) tag + data, sample index]
    this.fifoLeft = []; // per sample: its words still in the FIFO
    this.fifoSlot = 0; // time slots batched (TAG_CNT)
    this.fifoOvr = false; // FIFO_OVR_IA
    this.fifoOvrLatched = false; // FIFO_OVR_LATCHED
    this.fifoLost = 0; // words overwritten unread (continuous) or not batched (FIFO mode, full)
    this.fifoPopped = 0;
    this.fifoPeak = 0;
    this.samplesMade = 0; // for the batch-rate decimation
    // the wake-up function (below): the last accel counts, consecutive samples over the
    // threshold, the latched event, and the events seen [t_ns]
    this.wuPrev = null;
    this.wuOver = 0;
    this.wuSrc = 0;
    this.wuEvents = [];
    // trace samples per served sample in "odr" mode: the trace's own rate over the output
    // data rate (4 at 26 Hz from a 104 Hz trace), so the trace keeps emulated time
    this.traceHz = 0;
    if (this.n > 1) {
      const dts = [];
      for (let i = 1; i < Math.min(this.n, 200); i++) dts.push(this.data[i * 7] - this.data[(i - 1) * 7]);
      dts.sort((a, b) => a - b);
      this.traceHz = 1 / dts[dts.length >> 1];
    }
    this.odrSteps = []; // [t_ns, odr Hz, gyro odr Hz]: each change of the output data rates
  }
  fifoMode() {
    const m = this.reg[0x0a] & 7;
    return m === 1 || m === 6 ? m : 0;
  }
  fifoWtm() {
    return this.reg[0x07] | ((this.reg[0x08] & 1) << 8);
  }
  fifoClear() {
    this.fifo.length = 0;
    this.fifoOvr = false;
    this.fifoOvrLatched = false;
  }
  batches(bdrCode) {
    // BDR codes 1..10 are the ODR codes' rates (11 = 6.5 Hz: kept at 1 in 2^(odr) as the lowest)
    const odr = this.reg[0x10] >> 4;
    if (bdrCode === 0 || odr === 0) return false;
    const b = bdrCode === 11 ? 0 : bdrCode;
    const shift = Math.max(0, odr - b);
    return this.samplesMade % (1 << shift) === 0;
  }
  fifoPush(k, tagSensor, at) {
    const w = new Uint8Array(7);
    let tag = (tagSensor << 3) | ((this.fifoSlot & 3) << 1);
    let p = 0;
    for (let v = tag >> 1; v; v >>= 1) p ^= v & 1;
    w[0] = tag | p;
    for (let i = 0; i < 6; i++) w[1 + i] = this.reg[at + i];
    if (this.fifo.length >= FIFO_WORDS) {
      if (this.fifoMode() === 1) {
        this.fifoLost++; // FIFO mode: batching stops when full
        return;
      }
      const old = this.fifo.shift(); // continuous: the oldest word is overwritten
      this.fifoLeft[old[1]]--;
      this.fifoLost++;
      this.fifoOvr = true;
      this.fifoOvrLatched = true;
    }
    this.fifo.push([w, k]);
    this.fifoLeft[k] = (this.fifoLeft[k] || 0) + 1;
    if (this.fifo.length > this.fifoPeak) this.fifoPeak = this.fifo.length;
  }
  fifoPop() {
    const word = this.fifo.shift();
    if (!word) return;
    this.fifoPopped++;
    this.reads++;
    this.fifoOvr = false;
    const k = word[1];
    if (--this.fifoLeft[k] === 0 && this.served[k] && this.served[k][1] < 0) {
      this.served[k][1] = clock.nanos;
    }
    this.updateInt();
  }
  odrHz() {
    return ODR_HZ[this.reg[0x10] >> 4] || 0;
  }
  schedule() {
    if (this.held || !this.data || this.odrHz() === 0) return;
    if (this.next >= this.n) {
      if (!this.loop) return;
      this.next = 0;
      this.t0 = clock.nanos;
      this.tt0 = -1;
    }
    let due;
    if (this.mode === 'odr') {
      due = 1e9 / this.odrHz();
    } else {
      const t = this.data[this.next * 7];
      if (this.tt0 < 0) {
        this.tt0 = t - (this.next > 0 ? 0 : 1 / this.odrHz());
      }
      due = Math.max(0, this.t0 + Math.round((t - this.tt0) * 1e9) - clock.nanos);
    }
    this.alarm.schedule(due);
  }
  restart() {
    // a new stream: whatever was in the output registers (or the FIFO) is not a sample of it
    this.reg[0x1e] &= ~0x03;
    this.unread = false;
    this.fifoClear();
    this.updateInt();
    this.next = 0;
    this.t0 = clock.nanos;
    this.tt0 = -1;
    this.alarm.cancel();
    this.schedule();
  }
  tick() {
    const k = this.next;
    this.next += this.mode === 'odr' && this.traceHz > 0 ? Math.max(1, Math.round(this.traceHz / this.odrHz())) : 1;
    if (this.next > this.n && this.loop) this.next = this.n;
    const d = this.data;
    const fsx = (this.reg[0x10] >> 2) & 3;
    const fsg = (this.reg[0x11] >> 2) & 3;
    const gUdps = this.reg[0x11] & 2 ? 4375 : G_UDPS[fsg];
    const put = (at, v) => {
      const c = Math.max(-32768, Math.min(32767, v));
      this.reg[at] = c & 0xff;
      this.reg[at + 1] = (c >> 8) & 0xff;
    };
    for (let i = 0; i < 3; i++) {
      put(0x28 + 2 * i, roundHalfEven((d[k * 7 + 1 + i] * 1e6) / XL_UG[fsx]));
      put(0x22 + 2 * i, roundHalfEven((d[k * 7 + 4 + i] * 1e6) / gUdps));
    }
    const idx = this.served.length;
    this.served.push([clock.nanos, -1]);
    const fm = this.fifoMode();
    const bg = fm && this.batches(this.reg[0x09] >> 4);
    const bx = fm && this.batches(this.reg[0x09] & 0x0f);
    this.samplesMade++;
    if (bg || bx) {
      if (bg) this.fifoPush(idx, 0x01, 0x22); // gyroscope NC
      if (bx) this.fifoPush(idx, 0x02, 0x28); // accelerometer NC
      this.fifoSlot++;
    } else if (this.unread && this.k >= 0) this.overwritten++;
    this.k = k;
    this.unread = !(bg || bx); // batched: read (or lost) through the FIFO
    this.reg[0x1e] |= this.reg[0x11] >> 4 ? 0x03 : 0x01; // XLDA (| GDA while the gyro runs)
    this.wakeUp();
    this.updateInt();
    if (this.mode === 'odr') this.t0 = clock.nanos;
    this.schedule();
  }
  wakeUp() {
    // The wake-up function (DS12814 § 6.2, registers § 9: TAP_CFG0 56h SLOPE_FDS / LIR,
    // TAP_CFG2 58h INTERRUPTS_ENABLE, WAKE_UP_THS 5Bh WK_THS, WAKE_UP_DUR 5Ch WAKE_DUR /
    // WAKE_THS_W, MD1_CFG / MD2_CFG 5Eh / 5Fh INT1_WU / INT2_WU, WAKE_UP_SRC 1Bh): the
    // accelerometer's slope, (a[k] - a[k-1]) / 2 per axis (SLOPE_FDS = 0; the high-pass
    // option is modelled as the same slope), against WK_THS x FS_XL / 2^6 (or / 2^8 with
    // WAKE_THS_W); an event when an axis stays over it for WAKE_DUR + 1 consecutive samples
    // (1 LSB of WAKE_DUR = 1 ODR period). WU_IA and the axes go to WAKE_UP_SRC, latched until
    // it is read with LIR, for one sample without; INT1 / INT2 follow it where routed.
    const on = this.reg[0x58] & 0x80;
    const a = [0, 1, 2].map((i) => {
      const v = this.reg[0x28 + 2 * i] | (this.reg[0x29 + 2 * i] << 8);
      return v & 0x8000 ? v - 65536 : v;
    });
    const prev = this.wuPrev;
    this.wuPrev = a;
    if (!(this.reg[0x56] & 0x01)) this.wuSrc = 0; // not latched (LIR = 0): one sample
    if (!on || !prev) {
      this.wuOver = 0;
      return;
    }
    const fsx = (this.reg[0x10] >> 2) & 3;
    const fsMg = [2000, 16000, 4000, 8000][fsx];
    const ths = (this.reg[0x5b] & 0x3f) * fsMg / (this.reg[0x5c] & 0x10 ? 256 : 64); // mg
    const ug = XL_UG[fsx];
    let axes = 0;
    for (let i = 0; i < 3; i++) {
      const slopeMg = (Math.abs(a[i] - prev[i]) / 2) * ug / 1000;
      if (ths > 0 && slopeMg > ths) axes |= 4 >> i; // X_WU bit 2, Y_WU 1, Z_WU 0
    }
    this.wuOver = axes ? this.wuOver + 1 : 0;
    if (axes && this.wuOver >= ((this.reg[0x5c] >> 5) & 3) + 1 && !(this.wuSrc & 0x08)) {
      this.wuSrc |= 0x08 | axes;
      this.wuEvents.push(clock.nanos);
    }
  }
  fifoFlags() {
    // FIFO_STATUS2 bits 7:3: WTM_IA, OVR_IA, FULL_IA, (COUNTER_BDR_IA: 0), OVR_LATCHED
    const n = this.fifo.length;
    const wtm = this.fifoWtm();
    return (
      (wtm > 0 && n >= wtm ? 0x80 : 0) |
      (this.fifoOvr ? 0x40 : 0) |
      (n >= FIFO_WORDS ? 0x20 : 0) |
      (this.fifoOvrLatched ? 0x08 : 0)
    );
  }
  updateInt() {
    const st = this.reg[0x1e] & 0x03;
    const route = this.reg[0x0d] | this.reg[0x0e];
    let level = !!(st & route & 0x03);
    if (this.wuSrc & 0x08 && this.reg[0x58] & 0x80 && (this.reg[0x5e] | this.reg[0x5f]) & 0x20) {
      level = true; // INT1_WU / INT2_WU
    }
    if (route & 0x38) {
      const f = this.fifoFlags();
      if (route & 0x08 && f & 0x80) level = true; // INT_FIFO_TH
      if (route & 0x10 && f & 0x40) level = true; // INT_FIFO_OVR
      if (route & 0x20 && f & 0x20) level = true; // INT_FIFO_FULL
    }
    mcu.gpio[PINS.int].setInputValue(level);
  }
  write(reg, v) {
    if (reg === 0x12 && v & 1) {
      // SW_RESET: registers to their defaults (the bit clears itself at once)
      this.reg.fill(0, 0x07, 0x5f);
      this.reg[0x12] = 0x04;
      this.reg[0x0f] = 0x6c;
      this.alarm.cancel();
      this.fifoClear();
      this.updateInt();
      return;
    }
    const oldOdr = this.reg[0x10] >> 4;
    this.reg[reg] = v;
    if (reg === 0x10 || reg === 0x11) {
      this.odrSteps.push([clock.nanos, this.odrHz(), ODR_HZ[this.reg[0x11] >> 4] || 0]);
    }
    if (reg === 0x10 && v >> 4 !== 0 && (this.reads === 0 || oldOdr === 0)) this.restart();
    if (reg === 0x0a && this.fifoMode() === 0) this.fifoClear(); // bypass empties the FIFO
    if (reg === 0x0d || reg === 0x0e || (reg >= 0x07 && reg <= 0x0a)) this.updateInt();
    if (reg === 0x58 || reg === 0x5e || reg === 0x5f || reg === 0x56) this.updateInt();
  }
  read(reg) {
    if (reg === 0x1b) {
      const v = this.wuSrc; // WAKE_UP_SRC: reading it clears the latched event
      this.wuSrc = 0;
      this.updateInt();
      return v;
    }
    if (reg === 0x3a) {
      this.fifoSnap = this.fifo.length; // DIFF_FIFO as of the burst's first byte
      return this.fifoSnap & 0xff;
    }
    if (reg === 0x3b) {
      const n = this.ptrFrom3a ? this.fifoSnap : this.fifo.length;
      const v = this.fifoFlags() | ((n >> 8) & 0x03);
      this.fifoOvrLatched = false;
      return v;
    }
    if (reg >= 0x78 && reg <= 0x7e) {
      const word = this.fifo[0];
      const v = word ? word[0][reg - 0x78] : 0;
      if (reg === 0x7e) this.fifoPop();
      return v;
    }
    const v = this.reg[reg];
    if (reg === 0x2d) {
      // the last output byte (OUTZ_H_A): the sample has been read
      this.reads++;
      if (this.unread) {
        this.served[this.served.length - 1][1] = clock.nanos;
        this.unread = false;
      }
      this.reg[0x1e] &= ~0x03;
      this.updateInt();
    }
    return v;
  }
}
const imu = new Lsm6dsox(cfg.sensor);

{
  const i2c = mcu.i2c[0];
  let target = null;
  let fresh = false; // next written byte is the register address
  i2c.onStart = () => i2c.completeStart();
  i2c.onConnect = (address, mode) => {
    target = address === imu.addr ? imu : null;
    if (target) target.lastRead = -1;
    fresh = mode === 0;
    i2c.completeConnect(target !== null);
  };
  i2c.onWriteByte = (value) => {
    if (!target) return i2c.completeWrite(false);
    if (fresh) {
      target.ptr = value & 0x7f;
      fresh = false;
    } else {
      target.write(target.ptr, value);
      if (target.reg[0x12] & 0x04) target.ptr = (target.ptr + 1) & 0x7f;
    }
    i2c.completeWrite(true);
  };
  i2c.onReadByte = () => {
    if (!target) return i2c.completeRead(0xff);
    target.ptrFrom3a = target.lastRead === 0x3a && target.ptr === 0x3b;
    const v = target.read(target.ptr);
    target.lastRead = target.ptr;
    if (target.reg[0x12] & 0x04) {
      // FIFO output: rolls back from 7Eh to the tag of the next word
      target.ptr = target.ptr === 0x7e ? 0x78 : (target.ptr + 1) & 0x7f;
    }
    i2c.completeRead(v);
  };
  i2c.onStop = () => i2c.completeStop();
  // rp2040js never raises TX_EMPTY after an abort (address NACK): raise it, as silicon does
  const abort = i2c.abort.bind(i2c);
  i2c.abort = (reason) => {
    abort(reason);
    i2c.setInterrupts(1 << 4); // R_TX_EMPTY
  };
}

// ---- USB CDC, bridged to the pty --------------------------------------------------------------
const cdc = new USBCDC(mcu.usbCtrl);
const hostTx = []; // bytes from the host waiting for the device's OUT read
let pendingRead = null; // [endpoint, size]: an OUT read held back (NAK) until data come
let usbUp = false;
cdc.onDeviceConnected = () => {
  usbUp = true;
  out({ ev: 'usb', t_ns: clock.nanos, wall_ms: Date.now() - wallStart });
};
mcu.usbCtrl.onEndpointRead = (endpoint, size) => {
  if (endpoint !== cdc.outEndpoint) return;
  pendingRead = [endpoint, size];
  feedDevice();
};
function feedDevice() {
  if (!pendingRead || hostTx.length === 0) return;
  const [endpoint, size] = pendingRead;
  pendingRead = null;
  const n = Math.min(size, hostTx.length);
  mcu.usbCtrl.endpointReadDone(endpoint, Uint8Array.from(hostTx.splice(0, n)));
}
const ptyFd = cfg.pty_fd;
let ptyQueue = [];
let ptyWriting = false;
let txBytes = 0;
let rxBytes = 0;
cdc.onSerialData = (buf) => {
  txBytes += buf.length;
  if (ptyFd === undefined) return;
  ptyQueue.push(Buffer.from(buf));
  flushPty();
};
function flushPty() {
  if (ptyWriting || ptyQueue.length === 0) return;
  const b = Buffer.concat(ptyQueue);
  ptyQueue = [];
  ptyWriting = true;
  fs.write(ptyFd, b, 0, b.length, null, (err, n) => {
    ptyWriting = false;
    if (!err && n < b.length) ptyQueue.unshift(b.subarray(n));
    if (err && err.code === 'EAGAIN') ptyQueue.unshift(b);
    if (err && err.code === 'EAGAIN') setTimeout(flushPty, 5);
    else flushPty();
  });
}
function readPty() {
  const b = Buffer.alloc(4096);
  fs.read(ptyFd, b, 0, b.length, null, (err, n) => {
    if (stopped) return;
    if (err || n === 0) {
      setTimeout(readPty, 20); // EIO: no one has the other side open
      return;
    }
    rxBytes += n;
    for (let i = 0; i < n; i++) hostTx.push(b[i]);
    feedDevice();
    readPty();
  });
}
if (ptyFd !== undefined) readPty();

// ---- control -------------------------------------------------------------------------------
let stopped = false;
let inBuf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  inBuf += chunk;
  let i;
  while ((i = inBuf.indexOf('\n')) >= 0) {
    const line = inBuf.slice(0, i);
    inBuf = inBuf.slice(i + 1);
    if (line.trim()) command(JSON.parse(line));
  }
});
process.stdin.on('end', () => finish(0));
function status() {
  return {
    ev: 'status',
    t_ns: clock.nanos,
    busy_cycles: busyCycles,
    wait_ns: waitNs,
    stall_ns: stallTotalNs,
    samples_served: imu.served.length,
    samples_overwritten: imu.overwritten,
    fifo_words_lost: imu.fifoLost,
    fifo_words_read: imu.fifoPopped,
    fifo_peak_words: imu.fifoPeak,
    next_sample: imu.next,
    trace_samples: imu.n,
    flash_ops: flashOps.length,
    usb_tx_bytes: txBytes,
    usb_rx_bytes: rxBytes,
    motor_events: motor.length,
    gc_runs: gcRuns.length,
    stamps: stamps.length,
    wakes: episodes.length,
    motion_events: imu.wuEvents.length,
    vbus: vbusOn,
  };
}
function command(c) {
  if (c.op === 'stop') finish(0);
  else if (c.op === 'status') out(status());
  else if (c.op === 'button') {
    buttonDown = !!c.down;
    mcu.gpio[PINS.button].setInputValue(!buttonDown);
  } else if (c.op === 'battery') setBattery(c.mv);
  else if (c.op === 'samples') {
    imu.held = !c.start;
    if (c.start) imu.restart();
    else imu.alarm.cancel();
  } else if (c.op === 'mark') {
    marks.push([clock.nanos, c.name]);
  }
}
const marks = [];

// ---- instrumentation ------------------------------------------------------------------------
// Stage markers: a 32-bit write to TBMAN (0x4006c000, unused by the firmware) is stamped with
// the emulated time; the bench's on-chip wrapper writes one at each stage's entry and exit.
const stamps = []; // [t_ns, value]
{
  const tb = mcu.peripherals[0x4006c];
  const write = tb.writeUint32.bind(tb);
  tb.writeUint32 = (offset, value) => {
    if (offset === 0) stamps.push([clock.nanos, value >>> 0]);
    else write(offset, value);
  };
}
// Garbage collections: from the pc entering gc_collect (the port's, cfg.gc_collect: its address
// from the firmware's ELF symbol table) to its return to the caller.
const gcRuns = []; // [t_ns start, t_ns end]
const gcAddr = cfg.gc_collect ? cfg.gc_collect & ~1 : -1;
let gcReturn = -1;

// ---- run ------------------------------------------------------------------------------------
let busyCycles = 0;
let waitNs = 0;
const wallStart = Date.now();
const maxNs = cfg.max_ms ? cfg.max_ms * 1e6 : Infinity;
core.PC = 0x10000000; // boot2, as rp2040js's own MicroPython demo (the bootrom is skipped)

// Sleep accounting: each wake-up of the core (leaving WFI/WFE) starts an episode that lasts
// until it waits again: [t_ns at the wake, busy cycles in it]. Flash stalls count as neither
// busy nor waiting (the clock advances with the core held).
const episodes = [];
let asleep = false;
let epBusy = 0;
// and every 100 ms of emulated time: [t_ns, busy cycles, waiting ns] so far (a loop that never
// waits has no episodes)
const meter = [];
{
  const a = clock.createAlarm(() => {
    meter.push([clock.nanos, busyCycles, waitNs]);
    a.schedule(100e6);
  });
  a.schedule(100e6);
}
function slice() {
  if (stopped) return;
  const until = Date.now() + 25;
  let k = 0;
  let idle = false;
  for (;;) {
    if (core.waiting !== asleep) {
      asleep = core.waiting;
      if (asleep) {
        if (episodes.length) episodes[episodes.length - 1][1] = epBusy;
      } else {
        episodes.push([clock.nanos, 0]);
        epBusy = 0;
      }
    }
    if (core.waiting) {
      const dn = clock.nanosToNextAlarm;
      if (!(dn > 0 && dn < Infinity)) {
        // nothing scheduled: wait for the host
        idle = true;
        break;
      }
      clock.tick(dn);
      waitNs += dn;
    } else {
      const c = core.executeInstruction();
      busyCycles += c;
      epBusy += c;
      if (gcAddr >= 0) {
        const pc = core.PC;
        if (pc === gcAddr && gcReturn < 0) {
          gcRuns.push([clock.nanos, -1]);
          gcReturn = core.registers[14] & ~1;
        } else if (pc === gcReturn) {
          gcRuns[gcRuns.length - 1][1] = clock.nanos;
          gcReturn = -1;
        }
      }
      clock.tick(c * NS_PER_CYCLE);
      if (stallNs) {
        const s = stallNs;
        stallNs = 0;
        stallTotalNs += s;
        clock.tick(s);
      }
    }
    if ((++k & 0x3fff) === 0) {
      if (Date.now() >= until) break;
      if (cfg.realtime && clock.nanos / 1e6 > Date.now() - wallStart) break;
    }
    if (faulted) {
      finish(3);
      return;
    }
    if (clock.nanos >= maxNs) {
      finish(0);
      return;
    }
  }
  if (cfg.realtime) {
    const ahead = clock.nanos / 1e6 - (Date.now() - wallStart);
    if (ahead > 0) {
      setTimeout(slice, Math.min(ahead, 50));
      return;
    }
  }
  if (idle) setTimeout(slice, 5);
  else setImmediate(slice);
}

function finish(code) {
  if (stopped) return;
  stopped = true;
  if (cfg.flash_out) fs.writeFileSync(cfg.flash_out, mcu.flash.subarray(0, PICO_FLASH_BYTES));
  if (cfg.events_out) {
    fs.writeFileSync(
      cfg.events_out,
      JSON.stringify({
        t_ns: clock.nanos,
        busy_cycles: busyCycles,
        wait_ns: waitNs,
        stall_ns: stallTotalNs,
        samples: imu.served,
        overwritten: imu.overwritten,
        fifo_words_lost: imu.fifoLost,
        fifo_words_read: imu.fifoPopped,
        fifo_peak_words: imu.fifoPeak,
        motor,
        flash: flashOps,
        marks,
        stamps,
        gc: gcRuns,
        usb_tx_bytes: txBytes,
        usb_rx_bytes: rxBytes,
        episodes,
        meter,
        motion_events: imu.wuEvents,
        odr_steps: imu.odrSteps,
      }),
    );
  }
  const s = status();
  s.ev = 'exit';
  s.wall_ms = Date.now() - wallStart;
  out(s);
  // a moment for the last pty write; a blocked one (no reader) does not hold the exit up
  setTimeout(() => process.exit(code), ptyFd !== undefined ? 200 : 10);
}
process.on('SIGTERM', () => (stopped ? process.exit(0) : finish(0)));
out({ ev: 'started' });
slice();
