#!/usr/bin/python3
"""Seeded GUI monkey test of the attnviz window under Xvfb.

Starts Xvfb on a free display and BUILD/bin/attnviz in it with a throwaway HOME, then
for SECONDS sends seeded random input through xdotool: clicks, double-clicks, drags and
the wheel on both pictures and both head grids, keys, every combo box, the alpha slider,
the keep-mass box, the whole-image box, the plot tabs and the head table, every menu
action, the Cancel button, and paths typed into Qt's file dialogs (the shipped models
and samples, the model fixtures, the hostile image corpus and hostile model files made
here). It fails on

  * a crash (the app ends by a signal, or with a status other than 0),
  * an AddressSanitizer, LeakSanitizer or UBSan report,
  * a window that does not answer for more than --hang-after seconds (default 5).

Liveness is measured from outside the process: after every action the monkey sends the
window a _NET_WM_PING client message (Qt's xcb windows list _NET_WM_PING in
WM_PROTOCOLS) and waits for Qt to send it back to the root window. Qt answers it on the
GUI thread, in the order of the X events before it, so the reply also says that the
input sent just before it has been handled; the monkey never runs more than one action
ahead of the window.

Every action is logged with its step number (--verbose prints them); the same seed makes the same choices (what
the window does in between depends on timing). Exit status: 0 clean, 1 a finding (one
line starting "monkey: FAIL"), 2 the monkey could not run (no Xvfb, no binary, ...).

Run it through scripts/monkey.sh, which checks the tools first. Needs Debian's xvfb,
xdotool and python3-xlib; uses only the standard library and python-xlib.
"""

import argparse
import collections
import glob
import os
import random
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zlib

from Xlib import X, Xatom, display, error as xerror, protocol

SCREEN_W, SCREEN_H = 1600, 1200
WINDOW_W, WINDOW_H = 1180, 1080  # the window's size on a first start (no settings)

# Reports of the sanitizers, in the app's stderr or their log files.
REPORT_PATTERNS = [
    re.compile(r"ERROR: AddressSanitizer"),
    re.compile(r"ERROR: LeakSanitizer"),
    re.compile(r"runtime error:"),
    re.compile(r"SUMMARY: UndefinedBehaviorSanitizer"),
    re.compile(r"AddressSanitizer:DEADLYSIGNAL"),
]


class Finding(Exception):
    """Something the monkey was built to find: the run fails with this one line."""


class Broken(Exception):
    """The monkey itself could not run (exit status 2)."""


def now():
    return time.monotonic()


# --------------------------------------------------------------------------------------
# The X side: windows, pings, input.

class XSide:
    def __init__(self, name):
        self.name = name
        self.d = display.Display(name)
        self.root = self.d.screen().root
        # Qt sends the ping's echo to the root window with StructureNotify (Qt 5 and 6.4)
        # or SubstructureNotify in its mask: a client that selected either receives it.
        self.root.change_attributes(event_mask=X.StructureNotifyMask | X.SubstructureNotifyMask)
        self.atom = {n: self.d.intern_atom(n) for n in (
            "WM_PROTOCOLS", "_NET_WM_PING", "WM_DELETE_WINDOW", "_NET_WM_PID", "_NET_WM_NAME", "UTF8_STRING",
            "_NET_WM_WINDOW_TYPE", "_NET_WM_WINDOW_TYPE_DIALOG", "WM_TRANSIENT_FOR")}
        self.errors = []
        self.d.set_error_handler(self._on_error)
        self.ping_serial = 0

    def _on_error(self, err, *args):
        self.errors.append(err)

    def env(self):
        e = dict(os.environ)
        e["DISPLAY"] = self.name
        return e

    # --- windows

    def _prop(self, w, atom, kind=X.AnyPropertyType):
        try:
            p = w.get_full_property(atom, kind)
        except (xerror.BadWindow, xerror.BadMatch, xerror.BadValue):
            return None
        return p.value if p else None

    def title(self, w):
        v = self._prop(w, self.atom["_NET_WM_NAME"], self.atom["UTF8_STRING"])
        if v is None:
            v = self._prop(w, Xatom.WM_NAME)
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        return v or ""

    def app_windows(self, pid):
        """Mapped top-level windows of the process, bottom to top of the stacking order:
        (window, override_redirect)."""
        found = []
        try:
            children = self.root.query_tree().children
        except xerror.XError:
            return found
        for w in children:
            try:
                a = w.get_attributes()
                if a.map_state != X.IsViewable:
                    continue
                p = self._prop(w, self.atom["_NET_WM_PID"], Xatom.CARDINAL)
                if not p or p[0] != pid:
                    continue
                found.append((w, bool(a.override_redirect)))
            except (xerror.BadWindow, xerror.BadDrawable):
                continue
        return found

    def geometry(self, w):
        """(x, y, width, height) of a window on the screen."""
        g = w.get_geometry()
        t = w.translate_coords(self.root, 0, 0)
        return (-t.x, -t.y, g.width, g.height)

    def protocols(self, w):
        return self._prop(w, self.atom["WM_PROTOCOLS"], Xatom.ATOM) or []

    # --- liveness

    def ping(self, w, timeout):
        """Sends w a _NET_WM_PING and waits for its echo on the root window; returns the
        round trip in seconds, or None after timeout (or if w is gone)."""
        self.ping_serial = (self.ping_serial + 1) & 0x7FFFFFFF
        serial = self.ping_serial
        ev = protocol.event.ClientMessage(
            window=w, client_type=self.atom["WM_PROTOCOLS"],
            data=(32, [self.atom["_NET_WM_PING"], serial, w.id, 0, 0]))
        self.errors.clear()
        sent = now()
        w.send_event(ev, event_mask=0, propagate=False)
        self.d.flush()
        deadline = sent + timeout
        while True:
            while self.d.pending_events():
                e = self.d.next_event()
                if (e.type == X.ClientMessage and e.client_type == self.atom["WM_PROTOCOLS"]
                        and e.data[1][0] == self.atom["_NET_WM_PING"] and e.data[1][1] == serial):
                    return now() - sent
            if self.errors:
                return None  # the window went away (BadWindow)
            left = deadline - now()
            if left <= 0:
                return None
            select.select([self.d.fileno()], [], [], min(left, 0.05))

    def screenshot(self, path):
        """The whole screen as a PNG (no ImageMagick needed)."""
        g = self.root.get_geometry()
        img = self.root.get_image(0, 0, g.width, g.height, X.ZPixmap, 0xFFFFFFFF)
        data = img.data if isinstance(img.data, bytes) else img.data.encode("latin-1")
        step = len(data) // (g.width * g.height)
        rgb = bytearray(g.width * g.height * 3)
        rgb[0::3], rgb[1::3], rgb[2::3] = data[2::step], data[1::step], data[0::step]
        stride = g.width * 3
        raw = b"".join(b"\x00" + bytes(rgb[r * stride:(r + 1) * stride]) for r in range(g.height))

        def chunk(kind, body):
            return (len(body).to_bytes(4, "big") + kind + body
                    + (zlib.crc32(kind + body) & 0xFFFFFFFF).to_bytes(4, "big"))

        header = g.width.to_bytes(4, "big") + g.height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
        with open(path, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6))
                    + chunk(b"IEND", b""))

    def close_request(self, w):
        """What a window manager's close button sends: WM_DELETE_WINDOW."""
        ev = protocol.event.ClientMessage(
            window=w, client_type=self.atom["WM_PROTOCOLS"],
            data=(32, [self.atom["WM_DELETE_WINDOW"], X.CurrentTime, 0, 0, 0]))
        w.send_event(ev, event_mask=0, propagate=False)
        self.d.flush()

    def focus(self, w):
        try:
            w.set_input_focus(X.RevertToParent, X.CurrentTime)
            self.d.flush()
        except xerror.XError:
            pass


class Input:
    """xdotool, one short command per gesture (XTEST: as a person's mouse and keyboard)."""

    def __init__(self, env):
        self.env = env

    def run(self, *args):
        try:
            subprocess.run(["xdotool", *map(str, args)], env=self.env, timeout=20,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        except subprocess.TimeoutExpired:
            raise Broken("xdotool %s took more than 20 s" % " ".join(map(str, args)))

    def click(self, x, y, button=1, repeat=1):
        self.run("mousemove", int(x), int(y), "click", "--repeat", repeat, "--delay", 60, button)

    def drag(self, x0, y0, x1, y1):
        self.run("mousemove", int(x0), int(y0), "mousedown", 1, "mousemove", int((x0 + x1) / 2), int((y0 + y1) / 2),
                 "mousemove", int(x1), int(y1), "mouseup", 1)

    def key(self, *keys):
        self.run("key", "--clearmodifiers", "--delay", 30, *keys)

    def type(self, text):
        self.run("type", "--clearmodifiers", "--delay", 4, text)


# --------------------------------------------------------------------------------------
# Where things are in the window. The window is put at (0, 0) with 1180 x 1080 pixels,
# the size of a first start (no settings); positions are offsets from its top-left
# corner, read off a screenshot of that window (Qt's Fusion style, DejaVu fonts, the
# shipped models). The toolbar, the plot dock and the Cancel button stay where they are.
# The two panes' controls move down when the error line above them is shown, and with
# the height of the model's title and predictions: Pane.locate() finds each pane's form
# on screen by the column of combo-box arrows it has, and shifts the pane's positions by
# as much. A click that lands next to its target is still a valid monkey input; the run
# counts the times a pane's form was not found ("unlocated").

MENU = {  # Alt+letter opens the menu; the item's mnemonic, or Down presses from the first item
    "open image": ("f", ["o"]),
    "open ViT model": ("f", ["v"]),
    "open CNN model": ("f", ["c"]),
    "open recent": ("f", ["r", "RANDOM_DOWN", "Return"]),
    "export": ("f", ["e", "RANDOM_DOWN", "Return"]),
    "copy ViT overlay": ("e", ["c"]),
    "copy CNN overlay": ("e", ["n"]),
    "compare layers on a folder (CKA)": ("a", ["f"]),
    "spatial localisation on a folder": ("a", ["l"]),
    "probe layers on a labelled set": ("a", ["p"]),
    "cancel running work": ("a", ["c"]),
    "about": ("h", ["a"]),
}

TOOLBAR = {"device": (70, 25, 117, 42), "input size": (170, 25, 270, 42)}
TABS = [("attention distance", 2, 133), ("receptive field", 135, 245), ("predictions", 247, 335), ("CKA", 337, 490),
        ("faithfulness", 492, 585), ("skip connections", 587, 712), ("tokens and heads", 714, 845),
        ("localisation", 847, 940), ("layer probes", 942, 1042)]
TAB_Y = (779, 791)
PLOT_AREA = (10, 805, 1170, 1040)
TOKEN_BLOCK = (8, 825, 130, 841)   # the Tokens tab's block combo
HEAD_TABLE = (142, 846, 1150, 1040)  # the Tokens tab's head table (rows) ...
TABLE_HEADER = (142, 826, 740, 838)  # ... and its header (sorts)
CANCEL = (1080, 1060, 1152, 1072)
DOCK_TITLE = (752, 772)  # float / close buttons: not clicked, the layout would change
WINDOW = (0, 0, WINDOW_W - 1, WINDOW_H - 1)


class Pane:
    """One model's column. Positions for the ViT pane with its form at METHOD_Y; the CNN
    pane is the same, DX to the right (the splitter halves the window)."""

    METHOD_Y = 171          # the Method combo's arrow (its top row less 1), with no error line
    ARROW_X, INSIDE_X = 347, 330  # the combos' arrow column, and a column inside them
    # Arrow centres below the Method one: camInput (ViT) or Layer (CNN), Head, Class,
    # Colormap, Normalise, Upsampling.
    ARROWS = [0, 28, 56, 84, 112, 161, 189]
    DX = 583
    CONTROLS = {
        "method": (100, 165, 354, 181),
        "layer": (100, 193, 226, 209),
        "cam input": (242, 193, 354, 209),
        "head": (100, 221, 354, 237),
        "class": (100, 249, 354, 265),
        "colormap": (100, 277, 354, 293),
        "normalise": (100, 326, 354, 342),
        "upsampling": (100, 354, 354, 370),
    }
    ALPHA = (100, 305, 354, 315)
    KEEP_MASS = {"up": (346, 384, 355, 389), "down": (346, 393, 355, 398), "text": (100, 384, 330, 398)}
    WHOLE_IMAGE = (99, 413, 108, 423)
    LABELS = (15, 165, 60, 425)  # the form's labels: a click there gives the pane the focus
    GRID = {"ViT": (414, 181, 577, 425), "CNN": (408, 181, 469, 428)}
    VIEW = (10, 440, 575, 745)   # where the picture is drawn, centred (y0 moves with the form)

    def __init__(self, side):
        self.side = side
        self.dx = 0 if side == "ViT" else self.DX
        self.dy = 0
        self.found = False

    def locate(self, grab):
        """Finds the form's vertical offset from the arrows' column; grab(x, y, w, h)
        gives rows of (r, g, b)."""
        arrow = grab(self.ARROW_X + self.dx, 60, 1, 500)
        inside = grab(self.INSIDE_X + self.dx, 60, 1, 500)
        marks = [sum(inside[i]) - sum(arrow[i]) > 60 for i in range(len(arrow))]
        best, best_score = None, 0
        for top in range(0, len(marks) - self.ARROWS[-1] - 2):
            score = sum(any(marks[top + k + d] for d in (-1, 0, 1)) for k in self.ARROWS)
            if score > best_score:
                best, best_score = top, score
        self.found = best_score >= len(self.ARROWS) - 1
        if self.found:
            self.dy = best + 60 - self.METHOD_Y
        return self.found

    def rect(self, r, moves=True):
        x0, y0, x1, y1 = r
        dy = self.dy if moves else 0
        return (x0 + self.dx, y0 + dy, x1 + self.dx, y1 + dy)

    def control(self, name):
        if self.side == "CNN" and name == "layer":
            return self.rect((100, 193, 354, 209))
        return self.rect(self.CONTROLS[name])

    def names(self):
        return [n for n in self.CONTROLS if not (self.side == "CNN" and n == "cam input")]

    def picture(self, grab):
        """The picture's rectangle: the first run of non-background pixels across the
        middle of the view, and down its middle. None if there is none."""
        x0, y0, x1, y1 = self.VIEW
        y0 += self.dy
        row_y = (y0 + y1) // 2
        row = grab(x0 + self.dx, row_y, x1 - x0, 1)
        bg = row[0]
        xs = runs([abs(p[0] - bg[0]) + abs(p[1] - bg[1]) + abs(p[2] - bg[2]) > 24 for p in row])
        if not xs:
            return None
        a, b = max(xs, key=lambda r: r[1] - r[0])
        cx = x0 + self.dx + (a + b) // 2
        col = grab(cx, y0, 1, y1 - y0)
        ys = runs([abs(p[0] - bg[0]) + abs(p[1] - bg[1]) + abs(p[2] - bg[2]) > 24 for p in col])
        if not ys:
            return None
        c, d = max(ys, key=lambda r: r[1] - r[0])
        return (x0 + self.dx + a, y0 + c, x0 + self.dx + b, y0 + d)


def runs(flags, shortest=20):
    """[start, end) of the runs of True at least `shortest` long (gaps of 2 bridged)."""
    found, start, gap = [], None, 0
    for i, f in enumerate(flags + [False, False, False]):
        if f:
            if start is None:
                start = i
            gap = 0
            last = i
        elif start is not None:
            gap += 1
            if gap > 2:
                if last + 1 - start >= shortest:
                    found.append((start, last + 1))
                start, gap = None, 0
    return found


# --------------------------------------------------------------------------------------
# What is opened through the dialogs.

def make_inputs(work, source):
    """Paths typed into the file dialogs, by what the dialog asks for."""
    hostile = os.path.join(work, "hostile")
    os.makedirs(hostile)

    def write(name, data):
        path = os.path.join(hostile, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return path

    vit_weights = os.path.join(source, "models/vit-fmnist/model.safetensors")
    with open(vit_weights, "rb") as f:
        head = f.read(4096)
    bad_models = [
        write("notes.safetensors", b"This is a text file, not a model.\n" * 20),
        write("empty.safetensors", b""),
        write("truncated.safetensors", head),
        write("empty.pth", b""),
        write("zip.pth", b"PK\x03\x04" + b"\x00" * 200),
        write("bad-config/config.json", b'{"architecture": "attnviz_vit", "num_classes": -5, "model_args": {"depth": 100000}}'),
        write("not-json/config.json", b"{{{{ not json"),
    ]
    shutil.copy(vit_weights, os.path.join(hostile, "bad-config/model.safetensors"))
    shutil.copy(vit_weights, os.path.join(hostile, "not-json/model.safetensors"))
    bad_images = [
        write("text-image.png", b"not a picture\n"),
        write("weights.png", head),
    ]
    # A labelled ImageFolder tree and a folder of text files, for the folder studies.
    tree = os.path.join(work, "imagefolder")
    # The samples as copies: a save dialog accepted as offered writes beside the image
    # (a head table's CSV, an exported PNG), which must not be the source tree.
    os.makedirs(os.path.join(work, "samples"), exist_ok=True)
    samples = [shutil.copy(s, os.path.join(work, "samples"))
               for s in sorted(glob.glob(os.path.join(source, "resources/samples/*.png")))]
    for s in samples:
        label = os.path.basename(s).split("-", 1)[1].rsplit(".", 1)[0]
        os.makedirs(os.path.join(tree, label), exist_ok=True)
        for copy in range(2):
            shutil.copy(s, os.path.join(tree, label, "%d-%s" % (copy, os.path.basename(s))))
    textdir = os.path.join(work, "textfiles")
    os.makedirs(textdir)
    for i in range(3):
        with open(os.path.join(textdir, "%d.png" % i), "w") as f:
            f.write("no picture here\n")
    empty = os.path.join(work, "empty-folder")
    os.makedirs(empty)
    out = os.path.join(work, "exports")
    os.makedirs(out)

    def src(*parts):
        return os.path.join(source, *parts)

    vit_models = [src("models/vit-fmnist/config.json"), src("models/vit-fmnist/model.safetensors")]
    cnn_models = [src("models/cnn-fmnist/config.json"), src("models/cnn-fmnist/model.safetensors")]
    vit_fixtures = sorted(glob.glob(src("tests/fixtures/vit/*/config.json"))) + \
        sorted(glob.glob(src("tests/fixtures/vit/*/open_clip_pytorch_model.bin")))
    cnn_fixtures = sorted(glob.glob(src("tests/fixtures/timm/*/config.json")))
    odd = shutil.copytree(src("tests/fixtures/hostile/images"), os.path.join(work, "hostile-images"))  # copies too
    images = samples + sorted(p for p in glob.glob(os.path.join(odd, "*")) if not p.endswith(".md"))
    fmnist = "/usr/share/datasets/fashion-mnist"
    folders = [os.path.join(work, "samples"), odd, tree, textdir, empty,
               os.path.join(work, "no-such-folder")]
    if os.path.isdir(fmnist):
        folders.append(fmnist)
    missing = os.path.join(work, "no-such-file.png")
    return {
        # (weight, path): the shipped ones most often, so that the window is mostly working
        "image": [(6, p) for p in samples] + [(1, p) for p in images + bad_images + [missing, bad_models[0]]],
        "vit": [(8, p) for p in vit_models] + [(2, p) for p in vit_fixtures] + [(1, p) for p in cnn_models + bad_models + [missing]],
        "cnn": [(8, p) for p in cnn_models] + [(2, p) for p in cnn_fixtures] + [(1, p) for p in vit_models + bad_models + [missing]],
        "folder": [(3, folders[0]), (2, tree)] + [(1, p) for p in folders[1:]],
        # Not /proc: Qt's file dialog reads /proc/kmsg on the GUI thread when it lists
        # /proc as root, and hangs (docs/robustness.md, found by the monkey).
        "export": [(6, os.path.join(out, "export-%d.png")), (1, os.path.join(out, "export-%d.csv")),
                   (1, os.path.join(work, "no-such-folder", "x.png")), (1, os.path.join(bad_models[0], "x.png"))],
    }


def pick(rng, weighted):
    total = sum(w for w, _ in weighted)
    r = rng.uniform(0, total)
    for w, item in weighted:
        r -= w
        if r <= 0:
            return item
    return weighted[-1][1]


# --------------------------------------------------------------------------------------
# The run.

class Monkey:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.source = os.path.abspath(args.source)
        self.binary = os.path.join(os.path.abspath(args.build), "bin", "attnviz")
        self.work = tempfile.mkdtemp(prefix="attnviz-monkey-")
        self.log = collections.deque(maxlen=args.tail)
        self.logfile = open(os.path.join(self.work, "monkey.log"), "w")
        self.step = 0
        self.started = None
        self.xvfb = None
        self.app = None
        self.app_log = None
        self.x = None
        self.input = None
        self.main = None  # the main window
        self.origin = (0, 0)
        self.latencies = []  # every ping's round trip, s
        self.busy_latencies = []  # those while the app used more than half a core
        self.cpu_samples = collections.deque(maxlen=64)  # (time, CPU seconds of the app)
        self.counts = collections.Counter()
        self.quitting = False
        self.starts = 0
        self.dialog_episode = 0  # steps in a row that found a dialog on screen
        self.export_serial = 0
        self.panes = {side: Pane(side) for side in ("ViT", "CNN")}

    # --- logging

    def say(self, text):
        t = now() - self.started if self.started else 0.0
        line = "step %5d  %7.2f s  %s" % (self.step, t, text)
        self.log.append(line)
        self.logfile.write(line + "\n")
        self.logfile.flush()
        if self.args.verbose:
            print(line, flush=True)

    # --- processes

    def start_xvfb(self):
        r, w = os.pipe()
        self.xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(w), "-screen", "0", "%dx%dx24" % (SCREEN_W, SCREEN_H), "-nolisten", "tcp",
             "-noreset"], pass_fds=(w,), stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.work, "xvfb.log"), "w"), start_new_session=True)
        os.close(w)
        number = b""
        deadline = now() + 30
        while not number.endswith(b"\n"):
            if now() > deadline or self.xvfb.poll() is not None:
                raise Broken("Xvfb did not start (see its log in %s)" % self.work)
            ready, _, _ = select.select([r], [], [], 0.5)
            if ready:
                chunk = os.read(r, 16)
                if not chunk:
                    raise Broken("Xvfb closed -displayfd without a display number")
                number += chunk
        os.close(r)
        name = ":" + number.decode().strip()
        self.x = XSide(name)
        self.input = Input(self.x.env())
        return name

    def app_env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("QT_", "XDG_", "ASAN_", "UBSAN_", "LSAN_"))}
        home = os.path.join(self.work, "home")
        runtime = os.path.join(self.work, "runtime")
        for d in (home, runtime):
            os.makedirs(d, mode=0o700, exist_ok=True)
        env.update({
            "DISPLAY": self.x.name,
            "HOME": home,
            "XDG_CONFIG_HOME": os.path.join(home, ".config"),
            "XDG_CACHE_HOME": os.path.join(home, ".cache"),
            "XDG_DATA_HOME": os.path.join(home, ".local/share"),
            "XDG_RUNTIME_DIR": runtime,
            "QT_QPA_PLATFORM": "xcb",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            # Every report ends the process, on stderr (app-N.log); GCC 12's combined
            # ASan + UBSan runtime writes to stderr even when log_path is set.
            "ASAN_OPTIONS": ":".join([
                "halt_on_error=1", "abort_on_error=0", "exitcode=86",
                "detect_leaks=%d" % (1 if self.args.leaks else 0),
                "print_summary=1", "handle_segv=1", "handle_abort=1", "handle_sigbus=1", "handle_sigfpe=1",
            ]),
            "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1:exitcode=87",
            "LSAN_OPTIONS": "suppressions=" + os.path.join(self.source, "tests/monkey/lsan.supp"),
        })
        return env

    def start_app(self):
        self.starts += 1
        self.app_log = os.path.join(self.work, "app-%d.log" % self.starts)
        image = os.path.join(self.work, "samples", "0000-ankle-boot.png")  # a copy (make_inputs)
        command = [self.binary, "--vit", os.path.join(self.source, "models/vit-fmnist"),
                   "--cnn", os.path.join(self.source, "models/cnn-fmnist"), "--device", "cpu", *self.args.app_arg, image]
        self.say("start the app (%d): %s" % (self.starts, " ".join(os.path.relpath(c, self.source) if c.startswith(self.source) else c for c in command)))
        self.app = subprocess.Popen(command, env=self.app_env(), cwd=self.work, stdin=subprocess.DEVNULL,
                                    stdout=open(self.app_log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
        self.quitting = False
        self.main = None
        deadline = now() + self.args.startup_timeout
        while self.main is None:
            self.check_app()
            if now() > deadline:
                raise Finding("no window %d s after the start" % self.args.startup_timeout)
            for w, override in self.x.app_windows(self.app.pid):
                if not override and self.x.title(w).startswith("attnviz"):
                    self.main = w
            time.sleep(0.1)
        if self.x.atom["_NET_WM_PING"] not in self.x.protocols(self.main):
            raise Broken("the window does not list _NET_WM_PING in WM_PROTOCOLS: cannot measure liveness")
        # The same place and size every start (no window manager: the window obeys).
        self.main.configure(x=0, y=0, width=WINDOW_W, height=WINDOW_H)
        self.x.d.flush()
        # Ready once the first analysis is shown: the title names the image.
        while "—" not in self.x.title(self.main):
            self.check_app()
            self.alive("while starting")
            if now() > deadline:
                raise Finding("the first analysis was not shown %d s after the start" % self.args.startup_timeout)
            time.sleep(0.2)
        self.origin = self.x.geometry(self.main)[:2]
        self.say("window 0x%x ready at %s, %s" % (self.main.id, self.origin, self.x.title(self.main)))

    # --- checks

    def reports(self):
        """The first sanitizer report in the app's output: (file, its text), or None."""
        for path in sorted(glob.glob(os.path.join(self.work, "app-*.log"))):
            try:
                with open(path, errors="replace") as f:
                    text = f.read()
            except OSError:
                continue
            starts = [m.start() for m in (p.search(text) for p in REPORT_PATTERNS) if m]
            if starts:
                start = text.rfind("\n", 0, min(starts)) + 1
                return path, text[start:start + 8000]
        return None

    def check_app(self):
        """Raises Finding if the app ended or a sanitizer spoke."""
        report = self.reports()
        if report:
            path, text = report
            first = next((l for l in text.splitlines() if re.search(r"ERROR|runtime error|SUMMARY", l)), text.splitlines()[0])
            self.report_text = text
            raise Finding("sanitizer report in %s: %s" % (os.path.basename(path), first.strip()))
        code = self.app.poll()
        if code is None:
            return
        time.sleep(0.5)  # a report written as the process ends
        report = self.reports()
        if report:
            self.check_app()
        if code < 0:
            raise Finding("the app crashed: signal %s (%d)" % (signal.Signals(-code).name, -code))
        if code == 0:
            # A Quit, or a random walk through the File menu that ended on Quit.
            self.quitting = True
            return
        raise Finding("the app exited with status %d%s" % (code, " after Quit" if self.quitting else ""))

    def alive(self, what):
        """A ping round trip; Finding if none within the limit."""
        if self.main is None or self.quitting:
            return
        busy = self.busy()
        latency = self.x.ping(self.main, self.args.hang_after)
        if latency is None:
            if self.x.errors or self.app.poll() is not None:
                self.check_app()
                return
            # Still there, and silent: once more, so that the time is counted from outside too.
            raise Finding("the window did not answer for %.1f s (a ping sent %s)" % (self.args.hang_after, what))
        self.latencies.append(latency)
        if latency > 0.5:
            self.say("  slow answer: %.0f ms (a ping sent %s)" % (1000 * latency, what))
        if busy:
            self.busy_latencies.append(latency)

    def busy(self):
        """Whether the app used more than half a core over the last second or so (its
        CPU time in /proc: the worker threads running a model, say)."""
        try:
            with open("/proc/%d/stat" % self.app.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return False
        t = now()
        self.cpu_samples.append((t, cpu, self.app.pid))
        old = next(((t0, c0) for t0, c0, pid in self.cpu_samples if pid == self.app.pid and t - t0 <= 1.5), None)
        if old is None or t - old[0] < 0.5:
            return False
        return (cpu - old[1]) / (t - old[0]) > 0.5

    # --- dialogs

    def dialogs(self):
        """The app's dialogs on screen (not the main window, not popups), top last."""
        found = []
        for w, override in self.x.app_windows(self.app.pid):
            if override or (self.main is not None and w.id == self.main.id):
                continue
            found.append(w)
        return found

    def popups(self):
        return [w for w, override in self.x.app_windows(self.app.pid) if override]

    def handle_dialog(self, w):
        title = self.x.title(w)
        _, _, width, height = self.x.geometry(w)
        # Steps in a row with a dialog on screen (a file dialog and the message box it
        # opens count together): past 6 the top one gets Escape, past 10
        # WM_DELETE_WINDOW, past 16 the run fails. X may reuse a window's id.
        self.dialog_episode += 1
        n = self.dialog_episode
        self.x.focus(w)
        kind = None
        lower = title.lower()
        if width >= 400 and height >= 250:
            if lower.startswith("open image"):
                kind = "image"
            elif lower.startswith("open vit"):
                kind = "vit"
            elif lower.startswith("open cnn"):
                kind = "cnn"
            elif lower.startswith("export"):
                kind = "export"
            elif lower.startswith(("folder", "labelled")):
                kind = "folder"
        if n > 16:
            raise Finding("dialogs stayed open through %d answers (the last '%s'; Escape and WM_DELETE_WINDOW too)" % (n - 1, title))
        if n > 10:
            self.say("dialog '%s' still open: WM_DELETE_WINDOW" % title)
            self.x.close_request(w)
            return
        if n > 6:
            self.say("dialog '%s' still open: Escape" % title)
            self.input.key("Escape")
            return
        r = self.rng.random()
        if kind is None:  # a message box, the About box, or an unknown dialog
            if r < 0.5:
                self.say("dialog '%s' %dx%d: Return" % (title, width, height))
                self.input.key("Return")
            elif r < 0.9:
                self.say("dialog '%s' %dx%d: Escape" % (title, width, height))
                self.input.key("Escape")
            else:
                x, y = self.rng.randint(5, width - 5), self.rng.randint(5, height - 5)
                self.say("dialog '%s' %dx%d: click at %d,%d in it" % (title, width, height, x, y))
                gx, gy, _, _ = self.x.geometry(w)
                self.input.click(gx + x, gy + y)
            return
        if r < 0.15:
            self.say("file dialog '%s': Escape (Cancel)" % title)
            self.input.key("Escape")
            return
        if r < 0.2:
            gx, gy, gw, gh = self.x.geometry(w)
            x, y = self.rng.randint(5, gw - 5), self.rng.randint(5, gh - 5)
            self.say("file dialog '%s': click at %d,%d in it" % (title, x, y))
            self.input.click(gx + x, gy + y)
            return
        path = pick(self.rng, self.inputs[kind])
        if "%d" in path:
            self.export_serial += 1
            path = path % self.export_serial
        self.say("file dialog '%s': type %s, Return" % (title, self.show(path)))
        # The file name box: it has the focus when the dialog opens, but a click in the
        # dialog may have moved it. Qt's own dialog has the box 54 px above its bottom.
        gx, gy, gw, gh = self.x.geometry(w)
        self.input.click(gx + self.rng.randint(110, max(110, gw - 120)), gy + gh - 54)
        self.input.key("ctrl+a")
        self.input.type(path)
        self.input.key("Return")

    def show(self, path):
        if path.startswith(self.source + "/"):
            return os.path.relpath(path, self.source)
        if path.startswith(self.work + "/"):
            return "$WORK/" + os.path.relpath(path, self.work)
        return path

    # --- actions

    def grab(self, x, y, w, h):
        """Pixels of the screen, window coordinates: a flat list of (r, g, b)."""
        ox, oy = self.origin
        img = self.x.root.get_image(ox + x, oy + y, w, h, X.ZPixmap, 0xFFFFFFFF)
        data = img.data
        if isinstance(data, str):
            data = data.encode("latin-1")
        step = len(data) // (w * h)
        return [(data[i + 2], data[i + 1], data[i]) for i in range(0, w * h * step, step)]

    def point(self, rect):
        x0, y0, x1, y1 = rect
        return self.origin[0] + self.rng.randint(x0, x1), self.origin[1] + self.rng.randint(y0, y1)

    def pane(self, side):
        p = self.panes[side]
        if not p.locate(self.grab):
            self.counts["unlocated"] += 1
        return p

    def click(self, rect, what, button=1, repeat=1):
        x, y = self.point(rect)
        self.say("%s at %d,%d%s" % (what, x, y, "" if button == 1 and repeat == 1 else " (button %d x%d)" % (button, repeat)))
        self.input.click(x, y, button, repeat)
        return x, y

    def picture_rect(self, side):
        p = self.pane(side)
        r = p.picture(self.grab)
        if r is None:
            self.counts["no picture"] += 1
            x0, y0, x1, y1 = Pane.VIEW
            r = p.rect((x0 + 100, y0, x1 - 100, y1 - 20))
        return r

    def act_picture(self, side):
        r = self.picture_rect(side)
        k = self.rng.random()
        if k < 0.55:
            self.click(r, "click the %s picture" % side)
        elif k < 0.65:
            self.click(r, "double-click the %s picture" % side, repeat=2)
        elif k < 0.85:
            x, y = self.point(r)
            n = self.rng.randint(1, 6)
            button = self.rng.choice([4, 5])
            self.say("wheel %s x%d over the %s picture at %d,%d" % ("up" if button == 4 else "down", n, side, x, y))
            self.input.click(x, y, button, n)
        elif k < 0.95:
            x0, y0 = self.point(r)
            x1, y1 = x0 + self.rng.randint(-150, 150), y0 + self.rng.randint(-150, 150)
            self.say("drag on the %s picture from %d,%d to %d,%d" % (side, x0, y0, x1, y1))
            self.input.drag(x0, y0, x1, y1)
        else:
            self.click(r, "right-click the %s picture" % side, button=3)

    def act_grid(self, side):
        p = self.pane(side)
        self.click(p.rect(Pane.GRID[side]), "click the %s head grid" % side, repeat=self.rng.choice([1, 1, 1, 2]))

    def choose_in_popup(self, what):
        """A combo box's list is open (or not): pick an entry in it."""
        self.alive("after opening %s" % what)
        popups = self.popups()
        k = self.rng.random()
        if popups and k < 0.45:
            gx, gy, gw, gh = self.x.geometry(popups[-1])
            x, y = gx + self.rng.randint(3, max(3, gw - 4)), gy + self.rng.randint(3, max(3, gh - 4))
            self.say("  click in its list (%dx%d) at %d,%d" % (gw, gh, x, y))
            self.input.click(x, y)
        elif k < 0.9:
            n = self.rng.randint(1, 8)
            key = self.rng.choice(["Down", "Up"])
            self.say("  %s x%d, Return (list %s)" % (key, n, "open" if popups else "not seen"))
            self.input.key(*([key] * n + ["Return"]))
        else:
            self.say("  Escape")
            self.input.key("Escape")

    def act_combo(self, side):
        p = self.pane(side)
        name = self.rng.choice(p.names())
        r = p.control(name)
        if self.rng.random() < 0.25:
            x, y = self.point(r)
            n, button = self.rng.randint(1, 4), self.rng.choice([4, 5])
            self.say("wheel %s x%d over the %s %s combo at %d,%d" % ("up" if button == 4 else "down", n, side, name, x, y))
            self.input.click(x, y, button, n)
            return
        self.click(r, "open the %s %s combo" % (side, name))
        self.choose_in_popup("the %s %s combo" % (side, name))

    def act_pane_control(self, side):
        p = self.pane(side)
        k = self.rng.random()
        if k < 0.4:
            self.click(p.rect(Pane.ALPHA), "set the %s alpha slider" % side)
        elif k < 0.75:
            which = self.rng.choice(["up", "down", "up", "down", "text"])
            if which == "text":
                self.click(p.rect(Pane.KEEP_MASS["text"]), "click the %s keep-mass box" % side)
                value = self.rng.choice(["0.05", "0.5", "0.95", "1", "0", "7", "-1", "abc", ""])
                self.say("  select all, type '%s', Return" % value)
                self.input.key("ctrl+a")
                if value:
                    self.input.type(value)
                self.input.key("Return")
            else:
                self.click(p.rect(Pane.KEEP_MASS[which]), "keep mass %s (%s)" % (which, side),
                           repeat=self.rng.randint(1, 4))
        else:
            self.click(p.rect(Pane.WHOLE_IMAGE), "toggle the %s whole-image box" % side)

    KEYS = ["Up", "Down", "Left", "Right", "Prior", "Next", "Escape", "Tab", "shift+Tab", "Home", "End", "space",
            "Return", "ctrl+c", "ctrl+o", "plus", "minus", "ctrl+Tab", "F1", "a", "1"]
    WEIGHTED_KEYS = KEYS + ["Up", "Down", "Left", "Right", "Prior", "Next", "Escape"] * 3

    def act_keys(self, side=None):
        if side:
            p = self.pane(side)
            self.click(p.rect(Pane.LABELS), "focus the %s pane" % side)
        else:
            self.x.focus(self.main)
        keys = [self.rng.choice(self.WEIGHTED_KEYS) for _ in range(self.rng.randint(1, 5))]
        self.say("keys %s" % " ".join(keys))
        self.input.key(*keys)

    def act_toolbar(self):
        name = self.rng.choice(sorted(TOOLBAR))
        self.click(TOOLBAR[name], "open the %s combo" % name)
        self.choose_in_popup("the %s combo" % name)

    def act_dock(self):
        k = self.rng.random()
        if k < 0.45:
            name, x0, x1 = self.rng.choice(TABS)
            self.click((x0 + 4, TAB_Y[0], x1 - 4, TAB_Y[1]), "the %s tab" % name)
        elif k < 0.6:
            self.click(TOKEN_BLOCK, "open the tokens block combo (if the Tokens tab is shown)")
            self.choose_in_popup("the block combo")
        elif k < 0.8:
            self.click(HEAD_TABLE, "click the head table (if the Tokens tab is shown)")
        elif k < 0.85:
            self.click(TABLE_HEADER, "click the head table's header (if shown)")
        else:
            self.click(PLOT_AREA, "click the plot", button=self.rng.choice([1, 1, 3]))

    def act_menu(self):
        name = pick(self.rng, [(4, "open image"), (3, "open ViT model"), (3, "open CNN model"), (1, "open recent"),
                               (3, "export"), (1, "copy ViT overlay"), (1, "copy CNN overlay"),
                               (2, "compare layers on a folder (CKA)"), (2, "spatial localisation on a folder"),
                               (2, "probe layers on a labelled set"), (2, "cancel running work"), (0.5, "about")])
        menu, keys = MENU[name]
        sequence = []
        for k in keys:
            if k == "RANDOM_DOWN":
                sequence += ["Down"] * self.rng.randint(0, 7)
            else:
                sequence.append(k)
        self.say("menu: %s (alt+%s %s)" % (name, menu, " ".join(sequence)))
        self.x.focus(self.main)
        self.input.key("alt+" + menu)
        self.alive("after opening the menu")
        self.input.key(*sequence)

    def act_menu_random(self):
        menu = self.rng.choice("feah")
        keys = [self.rng.choice(["Down", "Down", "Up", "Right", "Left"]) for _ in range(self.rng.randint(0, 8))]
        keys.append(self.rng.choice(["Return", "Return", "Escape"]))
        self.say("menu: alt+%s %s" % (menu, " ".join(keys)))
        self.x.focus(self.main)
        self.input.key("alt+" + menu)
        self.alive("after opening the menu")
        self.input.key(*keys)

    def act_cancel(self):
        self.click(CANCEL, "the Cancel button")

    def act_anywhere(self):
        while True:
            x, y = self.point(WINDOW)
            if not DOCK_TITLE[0] <= y - self.origin[1] <= DOCK_TITLE[1]:
                break
        button = self.rng.choice([1, 1, 1, 3])
        self.say("click anywhere at %d,%d (button %d)" % (x, y, button))
        self.input.click(x, y, button)

    def act_quit(self):
        how = self.rng.choice(["menu", "ctrl+q", "WM_DELETE_WINDOW"])
        self.say("quit by %s" % how)
        self.quitting = True
        if how == "menu":
            self.x.focus(self.main)
            self.input.key("alt+f", "q")
        elif how == "ctrl+q":
            self.x.focus(self.main)
            self.input.key("ctrl+q")
        else:
            self.x.close_request(self.main)

    def actions(self):
        """(weight, name, function)"""
        table = []
        for side in ("ViT", "CNN"):
            table += [
                (12, side + " picture", lambda s=side: self.act_picture(s)),
                (5, side + " head grid", lambda s=side: self.act_grid(s)),
                (9, side + " combo", lambda s=side: self.act_combo(s)),
                (3, side + " slider, keep mass, whole image", lambda s=side: self.act_pane_control(s)),
                (3, side + " keys", lambda s=side: self.act_keys(s)),
            ]
        table += [
            (2, "toolbar combo", self.act_toolbar),
            (6, "plots dock", self.act_dock),
            (8, "menu", self.act_menu),
            (1.5, "menu, random keys", self.act_menu_random),
            (2, "Cancel button", self.act_cancel),
            (2, "keys", self.act_keys),
            (3, "click anywhere", self.act_anywhere),
            (self.args.quit_weight, "quit", self.act_quit),
        ]
        return table

    def run(self):
        self.started = now()
        if not os.access(self.binary, os.X_OK):
            raise Broken("no %s: build it first (cmake --preset asan && cmake --build --preset asan)" % self.binary)
        display_name = self.start_xvfb()
        self.say("Xvfb on %s, %dx%d; seed %d; work folder %s" % (display_name, SCREEN_W, SCREEN_H, self.args.seed, self.work))
        self.inputs = make_inputs(self.work, self.source)
        self.start_app()
        actions = self.actions()
        run_started = now()
        end = run_started + self.args.seconds
        inject_at = None
        if self.args.inject:
            what, _, when = self.args.inject.partition("@")
            inject_at = (what, self.started + float(when or self.args.seconds / 2))
        while now() < end:
            self.step += 1
            self.check_app()
            if inject_at and now() >= inject_at[1]:
                self.inject(inject_at[0])
                inject_at = None
            if self.quitting or self.app.poll() is not None:
                self.after_quit()
                continue
            dialogs = self.dialogs()
            if dialogs:
                self.handle_dialog(dialogs[-1])
                self.counts["dialog"] += 1
            else:
                self.dialog_episode = 0
                name, act = pick(self.rng, [(w, (n, f)) for w, n, f in actions if w > 0])
                act()
                self.counts[name] += 1
            time.sleep(self.rng.uniform(0.0, self.args.pause))
            self.alive("after the action")
        self.elapsed = now() - run_started
        self.check_app()
        # The end: a clean exit, so that LeakSanitizer looks at what the session left.
        self.step += 1
        if self.dialogs():
            self.say("the end: Escape the dialog first")
            self.input.key("Escape")
            self.alive("after the last Escape")
        self.say("the end: WM_DELETE_WINDOW")
        self.quitting = True
        self.x.close_request(self.main)
        self.wait_for_exit()

    def wait_for_exit(self):
        """The app was told to quit: it must end with status 0 and no report (LeakSanitizer
        runs then) within 60 s."""
        deadline = now() + 60
        while self.app.poll() is None:
            if now() > deadline:
                raise Finding("the app did not end 60 s after Quit")
            self.check_app()
            # A window still on screen after Quit: a dialog that asks something?
            for w in self.dialogs():
                self.say("after Quit, dialog '%s': Escape" % self.x.title(w))
                self.x.focus(w)
                self.input.key("Escape")
            time.sleep(0.2)
        self.check_app()
        self.say("the app ended with status %d after Quit" % self.app.returncode)

    def after_quit(self):
        """After a Quit the app starts again, with the settings it saved."""
        self.wait_for_exit()
        self.start_app()

    def inject(self, what):
        """Simulated findings, to show that the monkey catches them."""
        self.say("INJECT %s into pid %d" % (what, self.app.pid))
        if what == "segv":
            os.kill(self.app.pid, signal.SIGSEGV)
        elif what == "stop":
            os.kill(self.app.pid, signal.SIGSTOP)
        elif what == "abort":
            os.kill(self.app.pid, signal.SIGABRT)
        else:
            raise Broken("unknown --inject %s" % what)

    def summary(self):
        def stats(values):
            lat = sorted(values)
            if not lat:
                return "none"
            return "%d, median %.1f ms, 95th %.1f ms, max %.0f ms" % (
                len(lat), 1000 * statistics.median(lat), 1000 * lat[int(0.95 * (len(lat) - 1))], 1000 * lat[-1])
        return "%d actions in %.1f s (%.1f a second), %d app start(s), each exit clean; pings: %s; of those while the app was busy (> 0.5 core): %s" % (
            self.step, self.elapsed, self.step / max(self.elapsed, 1e-9), self.starts, stats(self.latencies),
            stats(self.busy_latencies))

    def cleanup(self, keep):
        if self.app and self.app.poll() is None:
            try:
                os.killpg(self.app.pid, signal.SIGCONT)
                os.killpg(self.app.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.app.wait()
        if self.xvfb and self.xvfb.poll() is None:
            self.xvfb.terminate()
            try:
                self.xvfb.wait(10)
            except subprocess.TimeoutExpired:
                self.xvfb.kill()
        self.logfile.close()
        if not keep:
            shutil.rmtree(self.work, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=60, help="how long to send input (default 60)")
    p.add_argument("--seed", type=int, default=None, help="the seed (default: from the clock, printed)")
    p.add_argument("--build", default="build-asan", help="build folder with bin/attnviz (default build-asan)")
    p.add_argument("--source", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."),
                   help="the source tree: models, samples, fixtures (default: this checkout)")
    p.add_argument("--hang-after", type=float, default=5.0, help="seconds without a ping reply that fail (default 5)")
    p.add_argument("--startup-timeout", type=float, default=300, help="seconds for the first analysis (default 300)")
    p.add_argument("--pause", type=float, default=0.15, help="longest random pause between actions, s (default 0.15)")
    p.add_argument("--quit-weight", type=float, default=0.3, help="weight of Quit (then a restart) among the "
                   "actions, whose weights add up to about 100 (default 0.3)")
    p.add_argument("--app-arg", action="append", default=[], metavar="ARG",
                   help="one more argument for attnviz, e.g. --app-arg=--probe --app-arg=DATA (repeat)")
    p.add_argument("--no-leaks", dest="leaks", action="store_false",
                   help="no LeakSanitizer at the app's exits (default: on, with tests/monkey/lsan.supp)")
    p.add_argument("--inject", default=None, help="segv@T, abort@T or stop@T: do that to the app T s after the monkey started "
                   "(to check that the monkey fails)")
    p.add_argument("--tail", type=int, default=40, help="log lines printed on a failure (default 40)")
    p.add_argument("--keep", action="store_true", help="keep the work folder (it is kept after a failure anyway)")
    p.add_argument("--screenshot", default=None, help="save a screenshot of the display to this PNG at the end")
    p.add_argument("--verbose", action="store_true", help="print every action as it is sent")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the finally below still cleans up
    if args.seed is None:
        args.seed = int(time.time()) % 1000000
    m = Monkey(args)
    print("monkey: seed %d, %g s, build %s" % (args.seed, args.seconds, args.build), flush=True)
    replay = "scripts/monkey.sh --seconds %g --seed %d --build %s" % (args.seconds, args.seed, args.build)
    status = 0
    try:
        m.run()
        print("monkey: PASS: " + m.summary(), flush=True)
        print("monkey: actions: " + ", ".join("%s %d" % kv for kv in sorted(m.counts.items())), flush=True)
        if args.keep:
            print("monkey: app output and the action log kept in %s" % m.work, flush=True)
    except Finding as f:
        status = 1
        if m.started:
            m.elapsed = now() - m.started
        print("monkey: FAIL: %s at step %d (%.1f s), seed %d" % (f, m.step, now() - m.started, args.seed), flush=True)
        print("monkey: replay: " + replay, flush=True)
        print("monkey: the last actions:", flush=True)
        for line in m.log:
            print("  " + line, flush=True)
        if getattr(m, "report_text", None):
            print("monkey: the report:", flush=True)
            print(m.report_text, flush=True)
        print("monkey: app output, reports, the action log and a screenshot (failure.png) kept in %s" % m.work, flush=True)
    except Broken as b:
        status = 2
        print("monkey: cannot run: %s" % b, flush=True)
    except KeyboardInterrupt:
        status = 130
    finally:
        if m.x is not None:
            for path in ([args.screenshot] if args.screenshot else []) + ([os.path.join(m.work, "failure.png")] if status == 1 else []):
                try:
                    m.x.screenshot(path)
                except Exception as e:  # the screen is a help, not the verdict
                    print("monkey: no screenshot %s: %s" % (path, e), flush=True)
        m.cleanup(keep=args.keep or status == 1)
    sys.exit(status)


if __name__ == "__main__":
    main()
