#!/usr/bin/env python3
"""Writes a corpus of awkward and hostile image files into the folder given as argv[1].

Usage: /usr/bin/python3 tests/scripts/make_image_corpus.py tests/fixtures/hostile/images

Needs numpy and Pillow (the Debian /usr/bin/python3 has both). Deterministic: every
random source has a fixed seed, and no timestamps are written. The two real
decompression bombs (bomb.tif, bomb.webp) are written without ever holding their
raster in this process except for bomb.webp's one-off Pillow encode (~1 GB RAM);
the final check only reads headers of the large-declared files, never decodes them.
"""

import io
import os
import struct
import sys
import zlib

import numpy
from PIL import Image

# ----------------------------------------------------------------------------------
# small helpers


def gradient_rgb(width, height, seed):
    """A smooth RGB ramp plus a little seeded noise, so files are small but not flat."""
    rng = numpy.random.default_rng(seed)
    y, x = numpy.mgrid[0:height, 0:width]
    r = x * 255 // max(width - 1, 1)
    g = y * 255 // max(height - 1, 1)
    b = (x + y) * 255 // max(width + height - 2, 1)
    img = numpy.stack([r, g, b], axis=-1).astype(numpy.int32)
    img += rng.integers(-8, 9, size=img.shape)
    return numpy.clip(img, 0, 255).astype(numpy.uint8)


def encode(image, fmt, **params):
    buf = io.BytesIO()
    image.save(buf, fmt, **params)
    return buf.getvalue()


def write(folder, name, data):
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def png_chunk(kind, payload):
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))


def png_bytes(width, height, bit_depth, color_type, idat_payload):
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"IDAT", idat_payload) + png_chunk(b"IEND", b""))


def png16_rgb(pixels):
    """Hand-written PNG encoder for an HxWx3 uint16 array (Pillow 9 cannot write RGB;16)."""
    height, width, _ = pixels.shape
    rows = pixels.astype(">u2").reshape(height, width * 3).view(numpy.uint8)
    raw = numpy.hstack([numpy.zeros((height, 1), numpy.uint8), rows]).tobytes()  # filter 0
    return png_bytes(width, height, 16, 2, zlib.compress(raw, 9))


def jpeg_segments(data):
    """Splits a JPEG up to (not including) SOS into [SOI, seg, seg, ...], rest."""
    assert data[:2] == b"\xff\xd8"
    segs, pos = [data[:2]], 2
    while True:
        assert data[pos] == 0xFF, "unexpected byte in test JPEG"
        marker = data[pos + 1]
        if marker == 0xDA:
            return segs, data[pos:]
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        segs.append(data[pos:pos + 2 + length])
        pos += 2 + length


def insert_before_marker(data, marker, extra):
    """Returns the JPEG with `extra` placed just before the first segment `marker`."""
    segs, rest = jpeg_segments(data)
    out = bytearray()
    for seg in segs:
        if seg[1] == marker:
            out += extra
        out += seg
    return bytes(out + rest)


def tiff_write(path, width, height, bits, samples, photometric, compression,
               rows_per_strip, strips):
    """Hand-written little-endian baseline TIFF. `strips` yields, per strip, an iterable of
    byte pieces; pieces go straight to the file so no strip is held whole in memory."""
    offsets, counts = [], []
    with open(path, "wb") as f:
        f.write(b"II*\x00" + b"\x00\x00\x00\x00")  # IFD offset patched at the end
        for pieces in strips:
            offsets.append(f.tell())
            n = 0
            for piece in pieces:
                f.write(piece)
                n += len(piece)
            counts.append(n)
            if f.tell() % 2:
                f.write(b"\x00")  # keep word alignment

        def long_array(values):  # (count, value-or-offset) for a LONG tag
            if len(values) == 1:
                return 1, values[0]
            pos = f.tell()
            f.write(struct.pack("<%dI" % len(values), *values))
            return len(values), pos

        n_off, v_off = long_array(offsets)
        n_cnt, v_cnt = long_array(counts)
        if samples == 1:
            bps_count, bps_value = 1, bits
        else:
            bps_value = f.tell()
            f.write(struct.pack("<%dH" % samples, *([bits] * samples)))
            bps_count = samples
        SHORT, LONG = 3, 4
        entries = [
            (256, LONG, 1, width),
            (257, LONG, 1, height),
            (258, SHORT, bps_count, bps_value),
            (259, SHORT, 1, compression),
            (262, SHORT, 1, photometric),
            (273, LONG, n_off, v_off),
            (277, SHORT, 1, samples),
            (278, LONG, 1, rows_per_strip),
            (279, LONG, n_cnt, v_cnt),
            (284, SHORT, 1, 1),
        ]
        ifd = f.tell()
        f.write(struct.pack("<H", len(entries)))
        for tag, kind, count, value in entries:
            if kind == SHORT and count == 1:
                f.write(struct.pack("<HHIHH", tag, kind, count, value, 0))
            else:
                f.write(struct.pack("<HHII", tag, kind, count, value))
        f.write(struct.pack("<I", 0))
        f.seek(4)
        f.write(struct.pack("<I", ifd))


def deflated_zero_strip(row_bytes, rows, chunk_rows=256):
    """Yields one zlib stream of rows*row_bytes zero bytes, compressed chunk by chunk."""
    comp = zlib.compressobj(9)
    zeros = bytes(row_bytes * chunk_rows)
    left = rows
    while left:
        take = min(left, chunk_rows)
        out = comp.compress(zeros if take == chunk_rows else zeros[:take * row_bytes])
        if out:
            yield out
        left -= take
    yield comp.flush()


def riff_webp(chunks):
    body = b"WEBP"
    for kind, payload in chunks:
        body += kind + struct.pack("<I", len(payload)) + payload
        if len(payload) % 2:
            body += b"\x00"
    return b"RIFF" + struct.pack("<I", len(body)) + body


# ----------------------------------------------------------------------------------
# the corpus


def make(folder):
    os.makedirs(folder, exist_ok=True)
    rgb64 = Image.fromarray(gradient_rgb(64, 48, 1), "RGB")
    noisy = numpy.random.default_rng(5).integers(0, 256, (48, 64, 3), dtype=numpy.uint8)
    noisy64 = Image.fromarray(noisy // 2 + numpy.asarray(rgb64) // 2, "RGB")
    rgb40 = Image.fromarray(gradient_rgb(40, 30, 2), "RGB")
    jpeg64 = encode(noisy64, "JPEG", quality=90)  # noisy so most bytes are scan data
    png64 = encode(rgb64, "PNG")

    # empty.png: zero-byte file; a loader must fail cleanly on no data at all.
    write(folder, "empty.png", b"")
    # truncated.jpg: valid 64x48 JPEG cut in half, inside the scan; libjpeg warns and pads, callers must notice.
    assert len(jpeg64) // 2 > jpeg64.index(b"\xff\xda")
    write(folder, "truncated.jpg", jpeg64[:len(jpeg64) // 2])
    # truncated.png: valid 64x48 PNG cut in half inside IDAT; zlib/CRC errors mid-decode.
    write(folder, "truncated.png", png64[:len(png64) // 2])
    # garbage.jpg: 4 KiB of seeded random bytes under a .jpg name; no valid signature at all.
    garbage = numpy.random.default_rng(3).integers(0, 256, 4096, dtype=numpy.uint8).tobytes()
    assert garbage[:2] != b"\xff\xd8"
    write(folder, "garbage.jpg", garbage)
    # text.png: a plain text file with a .png name; extension lies, content is not an image.
    write(folder, "text.png", b"This is not a PNG image.\nIt is plain text with a .png name.\n")
    # png-named.jpg: a real PNG under a .jpg name; loaders should sniff content, not trust the name.
    write(folder, "png-named.jpg", png64)
    # tiny-1x1.png / tiny-1x1.jpg: smallest legal images; edge cases for resize/crop/patch maths.
    tiny = Image.new("RGB", (1, 1), (200, 30, 90))
    write(folder, "tiny-1x1.png", encode(tiny, "PNG"))
    write(folder, "tiny-1x1.jpg", encode(tiny, "JPEG", quality=90))
    # elongated.png: a 16000x1 strip, 16000 pixels, that scaling for a 224 model would make 4 Gpixel.
    write(folder, "elongated.png", encode(Image.new("L", (16000, 1), 128), "PNG"))
    # gray16.png: 16-bit grayscale 40x30 ramp over the full 0..65535 range; needs 16->8 bit handling.
    ramp16 = (numpy.arange(40 * 30, dtype=numpy.uint32).reshape(30, 40) * 65535 // (40 * 30 - 1))
    write(folder, "gray16.png", encode(Image.fromarray(ramp16.astype(numpy.uint16), "I;16"), "PNG"))
    # rgb16.png: 16-bit RGB 40x30 via the hand-written encoder; 48 bits per pixel.
    rgb16 = gradient_rgb(40, 30, 4).astype(numpy.uint16) * 257
    rgb16[0, 0] = (65535, 1, 256)  # low bytes differ from high bytes: catches byte-order slips
    write(folder, "rgb16.png", png16_rgb(rgb16))
    # rgba.png: RGBA 40x30 with alpha ramping 0..255 left to right; alpha must be handled or dropped.
    alpha = numpy.tile(numpy.linspace(0, 255, 40).astype(numpy.uint8), (30, 1))
    rgba = numpy.dstack([numpy.asarray(rgb40), alpha])
    write(folder, "rgba.png", encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    # la.png: grayscale+alpha (PNG colour type 4); a two-channel layout few code paths expect.
    gray = numpy.asarray(rgb40.convert("L"))
    write(folder, "la.png", encode(Image.fromarray(numpy.dstack([gray, alpha[::-1, ::-1]]), "LA"), "PNG"))
    # palette.png: 16-colour palette (P mode) image; indices must be expanded through the palette.
    write(folder, "palette.png", encode(rgb40.quantize(16, method=Image.Quantize.MEDIANCUT), "PNG"))
    # cmyk.jpg: 4-channel CMYK JPEG 40x30 (Adobe APP14); needs CMYK->RGB conversion.
    write(folder, "cmyk.jpg", encode(rgb40.convert("CMYK"), "JPEG", quality=90))
    # cmyk.tif: CMYK TIFF 40x30; another 4-channel path, uncompressed.
    write(folder, "cmyk.tif", encode(rgb40.convert("CMYK"), "TIFF"))
    # animated.gif: 3 distinct 32x32 frames, looping; only the first frame is expected to be used.
    frames = [Image.new("P", (32, 32), 0) for _ in range(3)]
    pal = [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255] + [0] * (256 * 3 - 12)
    for i, fr in enumerate(frames):
        fr.putpalette(pal)
        fr.paste(i, (0, 0, 32, 32))
        fr.paste(3, (4 + 8 * i, 4, 12 + 8 * i, 28))
    write(folder, "animated.gif",
          encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0))
    # still.gif: single-frame GIF; palette format with no animation.
    write(folder, "still.gif", encode(frames[0], "GIF"))
    # animated.webp: 3-frame animated WebP (VP8X+ANIM+ANMF); first-frame handling for WebP.
    wframes = [fr.convert("RGB") for fr in frames]
    write(folder, "animated.webp",
          encode(wframes[0], "WEBP", save_all=True, append_images=wframes[1:], duration=100,
                 loop=0, lossless=True))
    # rgba.webp: lossy WebP with alpha (VP8X+ALPH+VP8); alpha in a format other than PNG.
    write(folder, "rgba.webp", encode(Image.fromarray(rgba, "RGBA"), "WEBP", quality=80))
    # gray.bmp: 8-bit grayscale BMP (palettised with a gray ramp); 40x30 so rows need padding.
    write(folder, "gray.bmp", encode(rgb40.convert("L"), "BMP"))
    # rgb.bmp: 24-bit BMP 40x30, bottom-up, BGR order.
    write(folder, "rgb.bmp", encode(rgb40, "BMP"))
    # rgb.tif: plain uncompressed RGB TIFF 40x30.
    write(folder, "rgb.tif", encode(rgb40, "TIFF"))
    # float.tif: 32-bit float gray TIFF 20x20, values -0.5..1.5 with one NaN and one +inf pixel.
    fl = numpy.linspace(-0.5, 1.5, 400, dtype=numpy.float32).reshape(20, 20)
    fl[0, 0], fl[19, 19] = numpy.nan, numpy.inf
    write(folder, "float.tif", encode(Image.fromarray(fl, "F"), "TIFF"))
    # exif-rotated.jpg: 40x30 stored, EXIF Orientation=6 (display 30x40); stored top-left 20x15 is red.
    rot = numpy.full((30, 40, 3), 128, numpy.uint8)
    rot[:15, :20] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6
    write(folder, "exif-rotated.jpg",
          encode(Image.fromarray(rot, "RGB"), "JPEG", quality=90, exif=exif.tobytes()))
    # jpeg-stray-bytes.jpg: valid 64x48 JPEG with 5 junk non-0xFF bytes before DQT; libjpeg skips them.
    write(folder, "jpeg-stray-bytes.jpg", insert_before_marker(jpeg64, 0xDB, b"\x00\x11\x22\x33\x44"))
    # jpeg-rst-before-sof.jpg: valid 64x48 JPEG with a fill byte + length-less RST0 (FF FF D0) before SOF0.
    write(folder, "jpeg-rst-before-sof.jpg", insert_before_marker(jpeg64, 0xC0, b"\xff\xff\xd0"))

    # --- declared-huge: small files whose headers claim far more than 200 Mpx -----------
    # huge-declared.png: IHDR 100000x100000 RGB8 with valid CRCs, a 12-byte IDAT, IEND.
    write(folder, "huge-declared.png", png_bytes(100000, 100000, 8, 2, zlib.compress(bytes(64), 9)))
    # huge-declared.jpg: a real 16x16 gray JPEG with SOF0 patched to 65000x65000; scan data runs out.
    small = encode(Image.new("L", (16, 16), 100), "JPEG", quality=90)
    sof = small.index(b"\xff\xc0")
    small = small[:sof + 5] + struct.pack(">HH", 65000, 65000) + small[sof + 9:]
    write(folder, "huge-declared.jpg", small)
    # huge-declared.bmp: BITMAPINFOHEADER 100000x100000 24-bit BI_RGB, only 16 bytes of pixels.
    pixels = bytes(16)
    bmp = (b"BM" + struct.pack("<IHHI", 14 + 40 + len(pixels), 0, 0, 54)
           + struct.pack("<IiiHHIIiiII", 40, 100000, 100000, 1, 24, 0, 0, 2835, 2835, 0, 0)
           + pixels)
    write(folder, "huge-declared.bmp", bmp)
    # huge-declared.tif: IFD declaring 100000x100000 8-bit gray, one uncompressed 16-byte strip.
    tiff_write(os.path.join(folder, "huge-declared.tif"), 100000, 100000, 8, 1, 1, 1, 100000,
               [[bytes(16)]])
    # huge-declared.webp: simple-format VP8L header declaring 16384x16384 (the VP8L max), 8 zero bytes.
    vp8l = b"\x2f" + struct.pack("<I", (16384 - 1) | ((16384 - 1) << 14)) + bytes(8)
    write(folder, "huge-declared.webp", riff_webp([(b"VP8L", vp8l)]))

    # --- real decompression bombs: valid files that fully decode to 256 Mpx ----------------
    # bomb.tif: valid 16000x16000 8-bit gray deflate TIFF of zeros, 16 strips, compressed streaming.
    side, rps = 16000, 1000
    tiff_write(os.path.join(folder, "bomb.tif"), side, side, 8, 1, 1, 8, rps,
               (deflated_zero_strip(side, rps) for _ in range(side // rps)))
    # bomb.webp: valid lossless 16000x16000 single-colour WebP from Pillow (~1 GB RAM while encoding).
    big = Image.new("RGB", (side, side), (0, 0, 0))
    big.save(os.path.join(folder, "bomb.webp"), "WEBP", lossless=True, quality=0, method=0)
    del big


# ----------------------------------------------------------------------------------
# check: headers only for the large-declared files, full decode for the small ones

NO_FULL_DECODE = {"bomb.tif", "bomb.webp", "huge-declared.png", "huge-declared.jpg",
                  "huge-declared.bmp", "huge-declared.tif", "huge-declared.webp"}


def check(folder):
    Image.MAX_IMAGE_PIXELS = None  # report declared sizes; the default limit would refuse these
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if not os.path.isfile(path) or name.endswith(".md"):
            continue
        line = "%-24s %8d B  " % (name, os.path.getsize(path))
        try:
            with Image.open(path) as im:
                line += "%-5s %-6s %dx%d" % (im.format, im.mode, im.size[0], im.size[1])
                if name in NO_FULL_DECODE:
                    line += "  (header only)"
                else:
                    try:
                        im.load()
                        line += "  decodes"
                    except Exception as e:  # noqa: BLE001 - report any decoder failure
                        line += "  decode FAILS: %s: %s" % (type(e).__name__, e)
        except Exception as e:  # noqa: BLE001 - report any open failure
            line += "open FAILS: %s: %s" % (type(e).__name__, e)
        print(line)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_image_corpus.py OUTPUT_FOLDER")
    make(sys.argv[1])
    check(sys.argv[1])
