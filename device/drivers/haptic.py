"""Vibration output: a coin ERM on a PWM pin (through a logic-level MOSFET), or a TI
DRV2605L haptic driver on I2C. Both are tick-driven state machines: `update(now_ms)` is
called from the sample loop and nothing here ever sleeps.

ERM drive (hardware/pins.md, motor PWM): full duty for `kick_ms` to overcome the rotor's
inertia and stiction (a short pulse at the hold duty would barely spin up), then the hold
duty that gives the motor its rated voltage from the present supply, min(1, 3.0 V / V_SYS).
Stopping: with a single low-side MOSFET the winding cannot be shorted or reversed, so
"braking" is a guaranteed off period of `brake_ms` (the flyback diode lets the rotor coast
down) before the next kick; back-to-back pulses of a pattern stay distinct that way.

Patterns are tuples of durations in ms, on, off, on, ... (starting with on); with
`repeat_ms` > 0 the pattern restarts that long after its start. A pattern overrides the
cue (app) drive until `stop()`: the board uses one for its fault signal.
"""

from device.drivers.i2cdev import I2CDevice
from device.drivers.ticks import add, diff
from shared.mp import const

_IDLE = const(0)
_KICK = const(1)
_HOLD = const(2)
_BRAKE = const(3)

FULL = const(65535)

# Cue: one pulse, length from the app (cue_ms). Fault: three short buzzes every 4 s, a
# rhythm no cue can produce (cues are single pulses with a >= refractory gap).
PATTERN_FAULT = (80, 120, 80, 120, 80)
FAULT_REPEAT_MS = const(4000)
PATTERN_BOOT = (40,)  # one short tick when the loop starts
PATTERN_CALIBRATED = (60, 100, 60)


class Haptic:
    """The state machine; subclasses supply `_drive(duty_u16)`."""

    def __init__(self, kick_ms=25, brake_ms=20, rated_mv=3000, supply_mv=3700):
        self.kick_ms = kick_ms
        self.brake_ms = brake_ms
        self.rated_mv = rated_mv
        self.hold = FULL
        self.set_supply_mv(supply_mv)
        self.state = _IDLE
        self.duty = -1  # last value driven
        self._until = 0  # end of the current KICK / BRAKE phase (ms ticks)
        self._want = 0  # what the cue (or the pattern step) asks for
        self._cue = 0
        self._pattern = None
        self._step = 0
        self._step_at = 0
        self._pattern_at = 0
        self.repeat_ms = 0
        self.pulses = 0  # kicks started, for tests and the log
        self.errors = 0

    def set_supply_mv(self, mv):
        """Hold duty for the motor's rated voltage from supply `mv` (integer, no floats)."""
        if mv <= self.rated_mv:
            self.hold = FULL
        else:
            self.hold = self.rated_mv * FULL // mv

    def _drive(self, duty):
        raise NotImplementedError

    def _set(self, duty):
        if duty != self.duty:
            self.duty = duty
            try:
                self._drive(duty)
            except OSError:  # an I2C driver that stopped answering must not stop the loop
                self.errors += 1

    # -- requests (take effect at once, then on update()) ---------------------------------
    def cue(self, on, now_ms):
        """Motor on/off for the app's cue; ignored while a pattern plays."""
        self._cue = 1 if on else 0
        if self._pattern is None:
            self._want = self._cue
            self.update(now_ms)

    def play(self, pattern, now_ms, repeat_ms=0):
        self._pattern = pattern
        self.repeat_ms = repeat_ms
        self._step = 0
        self._pattern_at = now_ms
        self._step_at = now_ms
        self._want = 1
        self.update(now_ms)

    def stop(self, now_ms):
        """End a pattern; the cue state applies again."""
        self._pattern = None
        self._want = self._cue
        self.update(now_ms)

    @property
    def playing(self):
        return self._pattern is not None

    def wait_ms(self, now_ms):
        """Milliseconds until update() has timed work (the end of a kick or brake, the next
        step of a pattern), 0 if it is due now, -1 if it has none (idle, or holding a cue
        until the app stops it): how long a sleeping loop may leave it alone."""
        w = 0x3FFFFFFF
        if self.state == _KICK or self.state == _BRAKE:
            w = diff(self._until, now_ms)
        p = self._pattern
        if p is not None:
            if self._step < len(p):
                at = add(self._step_at, p[self._step])
            else:
                at = add(self._pattern_at, self.repeat_ms)
            d = diff(at, now_ms)
            if d < w:
                w = d
        if w == 0x3FFFFFFF:
            return -1
        return w if w > 0 else 0

    # -- the state machine ---------------------------------------------------------------
    def update(self, now_ms):
        p = self._pattern
        if p is not None:
            self._advance_pattern(p, now_ms)
        st = self.state
        if st == _IDLE:
            if self._want:
                self._start(now_ms)
        elif st == _KICK:
            if not self._want:
                self._brake(now_ms)
            elif _after(now_ms, self._until):
                self.state = _HOLD
                self._set(self.hold)
        elif st == _HOLD:
            if not self._want:
                self._brake(now_ms)
            elif self.duty != self.hold:
                self._set(self.hold)  # the supply changed
        elif _after(now_ms, self._until):  # _BRAKE done
            self.state = _IDLE
            if self._want:
                self._start(now_ms)

    def _advance_pattern(self, p, now_ms):
        # Step through the durations; several steps may have passed since the last call.
        while self._step < len(p) and _after(now_ms, add(self._step_at, p[self._step])):
            self._step_at = add(self._step_at, p[self._step])
            self._step += 1
        if self._step >= len(p):
            if self.repeat_ms > 0 and _after(now_ms, add(self._pattern_at, self.repeat_ms)):
                self._pattern_at = add(self._pattern_at, self.repeat_ms)
                self._step_at = self._pattern_at
                self._step = 0
            else:
                self._want = 0
                if self.repeat_ms <= 0:
                    self._pattern = None
                    self._want = self._cue
                return
        self._want = 1 if self._step < len(p) and not self._step & 1 else 0

    def _start(self, now_ms):
        self.pulses += 1
        if self.kick_ms > 0 and self.hold < FULL:
            self.state = _KICK
            self._until = add(now_ms, self.kick_ms)
            self._set(FULL)
        else:
            self.state = _HOLD
            self._set(self.hold)

    def _brake(self, now_ms):
        self._set(0)
        if self.brake_ms > 0:
            self.state = _BRAKE
            self._until = add(now_ms, self.brake_ms)
        else:
            self.state = _IDLE


def _after(now_ms, t):
    """now_ms >= t on the wrapping ms tick counter."""
    return diff(now_ms, t) >= 0


class ERM(Haptic):
    """Coin ERM motor on a PWM output (duty_u16, high = on)."""

    def __init__(self, pwm, freq_hz=20000, **kw):
        self.pwm = pwm
        pwm.freq(freq_hz)  # 20 kHz: above hearing (hardware/pins.md)
        pwm.duty_u16(0)
        super().__init__(**kw)
        self._set(0)

    def _drive(self, duty):
        self.pwm.duty_u16(duty)


_DRV_STATUS = const(0x00)  # STATUS: DEVICE_ID bits 7:5 (7 = DRV2605L, 3 = DRV2605)
_DRV_MODE = const(0x01)  # MODE: bit 6 STANDBY, MODE[2:0] (5 = real-time playback)
_DRV_RTP_INPUT = const(0x02)  # RTP_INPUT: drive level in RTP mode
_DRV_LIBRARY = const(0x03)  # LIBRARY_SEL
_DRV_RATED_VOLTAGE = const(0x16)
_DRV_OD_CLAMP = const(0x17)
_DRV_FEEDBACK = const(0x1A)  # FEEDBACK_CONTROL: bit 7 N_ERM_LRA (1 = LRA)
_DRV_CONTROL3 = const(0x1D)  # CONTROL3: bit 5 ERM_OPEN_LOOP, bit 3 DATA_FORMAT_RTP (1 unsigned)
_DRV_MODE_RTP = const(0x05)


class DRV2605L(Haptic):
    """TI DRV2605L (datasheet SLOS854) at 0x5A in real-time playback (RTP) mode: the
    level written to RTP_INPUT is the drive; 0 stops it. The chip does its own overdrive
    and active braking, so the software kick and brake are off by default. RTP is written
    only when the level changes (a few I2C writes per cue, none per sample)."""

    def __init__(self, i2c, address=0x5A, lra=False, **kw):
        dev = I2CDevice(i2c, address)
        ident = dev.read_reg(_DRV_STATUS) >> 5
        if ident not in (3, 4, 6, 7):
            raise OSError("DRV260x not found at 0x%02x (DEVICE_ID %d)" % (address, ident))
        self.dev = dev
        dev.write_reg(_DRV_MODE, 0x00)  # out of standby
        if lra:
            dev.update_bits(_DRV_FEEDBACK, 0x80, 0x80)
            dev.write_reg(_DRV_LIBRARY, 6)  # LRA library
        else:
            dev.update_bits(_DRV_FEEDBACK, 0x80, 0x00)
            dev.write_reg(_DRV_LIBRARY, 1)
        dev.update_bits(_DRV_CONTROL3, 0x08, 0x08)  # RTP data unsigned
        dev.write_reg(_DRV_RTP_INPUT, 0)
        dev.write_reg(_DRV_MODE, _DRV_MODE_RTP)
        kw.setdefault("kick_ms", 0)
        kw.setdefault("brake_ms", 0)
        super().__init__(**kw)
        self.hold = FULL

    def set_supply_mv(self, mv):
        self.hold = FULL  # the DRV2605L regulates the drive itself (RATED_VOLTAGE)

    def _drive(self, duty):
        self.dev.write_reg(_DRV_RTP_INPUT, duty >> 8)
