#!/usr/bin/env python3
"""Writes torch.save checkpoints for tst_torchcheckpoint into --out DIR.

Good cases come with their expected tensors (name, dtype, shape, exact sum and first
values, computed here by PyTorch) in DIR/manifest.json; bad cases (malformed, hostile,
unsupported) come with a substring of the error expected. Hostile payloads are only
ever pickled, never unpickled: this script calls neither pickle.load nor torch.load.
"""

import argparse
import collections
import io
import json
import math
import os
import pickle
import struct
import warnings
import zipfile
import zlib

import numpy
import torch

DTYPE_NAMES = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.float64: "F64", torch.int64: "I64", torch.int32: "I32", torch.int16: "I16",
    torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL",
}
FIRST_VALUES = 16


def describe(name, tensor):
    tensor = tensor.detach()
    flat = tensor.contiguous().reshape(-1)
    if tensor.dtype.is_floating_point:
        values = [float(v) for v in flat.double().tolist()]
    else:
        values = [int(v) for v in flat.tolist()]
    return {
        "name": name,
        "dtype": DTYPE_NAMES[tensor.dtype],
        "shape": list(tensor.shape),
        "numel": len(values),
        "sum": math.fsum(values),
        "first": values[:FIRST_VALUES],
    }


def expected_tensors(state_dict):
    return [describe(k, v) for k, v in state_dict.items() if isinstance(v, torch.Tensor)]


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.bn = torch.nn.BatchNorm2d(4)
        self.fc = torch.nn.Linear(16, 5)
        self.norm = torch.nn.BatchNorm1d(5)


def make_state_dict(seed):
    torch.manual_seed(seed)
    net = Net()
    with torch.no_grad():
        for bn in (net.bn, net.norm):
            bn.running_mean.normal_()
            bn.running_var.uniform_(0.5, 2.0)
            bn.num_batches_tracked.fill_(seed + 7)
    return net, net.state_dict()


def adam_state(net):
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.fc(torch.randn(2, 16)).sum().backward()
    optimizer.step()
    return optimizer.state_dict()


def dtype_tensors():
    torch.manual_seed(3)
    return collections.OrderedDict([
        ("f32", torch.randn(3, 5)),
        ("f16", torch.tensor([1.0, -2.5, 65504.0, 6e-8, -0.0, 0.333], dtype=torch.float16)),
        ("bf16", torch.tensor([1.0, -2.5, 3.0e38, 1e-30, 0.1], dtype=torch.bfloat16)),
        ("f64", torch.randn(2, 3, dtype=torch.float64)),
        ("i64", torch.tensor([0, -1, 2**40 + 1, -(2**62), 2**63 - 1], dtype=torch.int64)),
        ("i32", torch.tensor([[0, -1], [2**31 - 1, -(2**31)]], dtype=torch.int32)),
        ("i16", torch.tensor([-32768, 32767, 5], dtype=torch.int16)),
        ("i8", torch.tensor([-128, 127, -3], dtype=torch.int8)),
        ("u8", torch.arange(0, 256, 17, dtype=torch.uint8)),
        ("bool", torch.tensor([True, False, True, True])),
    ])


def view_tensors():
    x = torch.arange(12.0).reshape(3, 4) * 1.5
    y = torch.arange(24.0).reshape(2, 3, 4)
    torch.manual_seed(4)
    big = torch.randn(64, 96)
    return {
        "t": x.t(),
        "s": x[1:, 2:],
        "col": x[:, 1],
        "perm": y.permute(2, 0, 1),
        "step": torch.arange(20.0)[::3],
        "expanded": torch.arange(3.0).expand(4, 3),
        "big_t": big.t(),
        "half_t": torch.arange(6.0).reshape(2, 3).half().t(),
    }


def shared_tensors():
    torch.manual_seed(5)
    base = torch.randn(20)
    return {"a": base[:10], "b": base[5:].view(3, 5), "c": base, "d": base}


def scalar_tensors():
    return {
        "scalar": torch.tensor(3.5),
        "count": torch.tensor(7),
        "empty": torch.zeros(0, 4),
        "empty_i": torch.zeros(0, dtype=torch.int64),
    }


# --- hand-made zips ---------------------------------------------------------------

def zip_items(path):
    with zipfile.ZipFile(path) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def write_zip(path, items, deflated=()):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in items:
            method = zipfile.ZIP_DEFLATED if name in deflated else zipfile.ZIP_STORED
            archive.writestr(name, data, compress_type=method)


def write_zip64(path, items):
    """A zip whose every size and offset goes through zip64 fields, as PyTorch writes
    for files past 4 GiB (which would be too big to generate here)."""
    out, central = bytearray(), bytearray()
    full = 0xFFFFFFFF
    for name, data in items:
        encoded, offset, crc = name.encode(), len(out), zlib.crc32(data)
        local_extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc, full, full,
                           len(encoded), len(local_extra)) + encoded + local_extra + data
        central_extra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc,
                               full, full, len(encoded), len(central_extra), 0, 0, 0, 0,
                               full) + encoded + central_extra
    directory_offset = len(out)
    out += central
    zip64_offset = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(items), len(items),
                       len(central), directory_offset)
    out += struct.pack("<IIQI", 0x07064B50, 0, zip64_offset, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, full, full, 0)
    with open(path, "wb") as f:
        f.write(out)
    assert zip_items(path) == list(items), "zip64 writer self-check failed"


def rename_top(items, top):
    return [(top + "/" + name.split("/", 1)[1], data) for name, data in items]


def patch_pickle(items, old, new):
    patched = []
    for name, data in items:
        if name.endswith("/data.pkl"):
            assert old in data, (old, data[:200])
            data = data.replace(old, new)
        patched.append((name, data))
    return patched


# --- crafted pickles (tensors that torch itself would refuse to build) --------------

class FakeStorage:
    def __init__(self, key, numel):
        self.key, self.numel = key, numel


class FakeTensor:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride))

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2,
                self.args + (False, collections.OrderedDict()))


class CraftingPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, FakeStorage):
            return ("storage", torch.FloatStorage, obj.key, "cpu", obj.numel)
        return None


def write_crafted(path, obj, storages):
    buffer = io.BytesIO()
    CraftingPickler(buffer, protocol=2).dump(obj)
    items = [("crafted/data.pkl", buffer.getvalue())]
    items += [("crafted/data/" + key, data) for key, data in storages.items()]
    write_zip(path, items + [("crafted/version", b"3\n")])


def four_floats():
    return struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)


# --- hostile payloads: pickled (referenced), never called --------------------------

class Payload:
    def __init__(self, function, argument):
        self.function, self.argument = function, argument

    def __reduce__(self):
        return (self.function, (self.argument,))


# -----------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    out = parser.parse_args().out
    os.makedirs(out, exist_ok=True)
    good, bad = [], []

    def path_of(name):
        return os.path.join(out, name + ".pth")

    def add_good(name, expected, obj=None):
        if obj is not None:
            torch.save(obj, path_of(name))
        good.append({"name": name, "file": name + ".pth", "tensors": expected})

    def add_bad(name, error, marker=None):
        case = {"name": name, "file": name + ".pth", "error": error}
        if marker:
            case["marker"] = marker
        bad.append(case)

    def marker_for(name):
        marker = os.path.join(out, "PWNED_" + name)
        if os.path.exists(marker):
            os.remove(marker)
        return marker

    _, sd = make_state_dict(seed=1)
    _, student = make_state_dict(seed=2)
    expected_sd = expected_tensors(sd)

    add_good("plain_state_dict", expected_sd, sd)
    add_good("wrapped_model", expected_sd, {
        "epoch": 3,
        "model": sd,
        "optimizer": adam_state(make_state_dict(seed=9)[0]),
        "args": {"lr": 1e-3, "arch": "vit_small", "layers": [1, -2, 300, 70000],
                 "flags": (True, None, False), "huge": 2**70, "note": "na\u00efve \u2713",
                 "nested": {"a": [1.5, {"b": ()}]}},
        "best_acc": 0.75,
    })
    add_good("wrapped_state_dict", expected_sd, {"state_dict": sd})
    add_good("teacher_student", expected_sd,
             {"student": student, "teacher": sd, "epoch": 1})
    # Training checkpoints as DINO, DeiT and timm write them: argparse.Namespace
    # arguments and NumPy scalars next to the state dicts.
    teacher = {"backbone." + k: v for k, v in sd.items()}
    dino = {
        "teacher": teacher,
        "student": {"module.backbone." + k: v for k, v in student.items()},
        "epoch": 5,
        "args": argparse.Namespace(arch="vit_small", lr=0.1, patch_size=16,
                                   out_dim=[65536], norm_last_layer=True),
        "best_acc": numpy.float64(0.7),
        "scalars": [numpy.float32(1.5), numpy.int64(-3), numpy.bool_(True)],
    }
    add_good("dino_checkpoint", expected_tensors(teacher), dino)
    torch.save(dino, path_of("dino_checkpoint_protocol4"), pickle_protocol=4)
    add_good("dino_checkpoint_protocol4", expected_tensors(teacher))
    # NumPy 2 pickles its scalars as numpy._core.multiarray.scalar.
    write_zip(path_of("numpy2_scalar"),
              patch_pickle(zip_items(path_of("dino_checkpoint")),
                           b"cnumpy.core.multiarray\nscalar\n",
                           b"cnumpy._core.multiarray\nscalar\n"))
    add_good("numpy2_scalar", expected_tensors(teacher))
    add_good("namespace_args", expected_sd, {
        "model": sd, "args": argparse.Namespace(model="deit_tiny_patch16_224", epochs=300),
        "epoch": 299})
    parameters = {"weight": torch.nn.Parameter(torch.randn(3, 4)),
                  "frozen": torch.nn.Parameter(torch.arange(3.0), requires_grad=False)}
    add_good("parameters", expected_tensors(parameters), parameters)
    for name, tensors in (("dtypes", dtype_tensors()), ("views", view_tensors()),
                          ("shared_storage", shared_tensors()),
                          ("scalars_and_empty", scalar_tensors())):
        add_good(name, expected_tensors(tensors), tensors)
    write_zip64(path_of("zip64"), rename_top(zip_items(path_of("plain_state_dict")),
                                             "renamed_top"))
    add_good("zip64", expected_sd)

    marker = marker_for("os_system")
    evil = dict(sd, evil=Payload(os.system, "touch " + marker))
    torch.save(evil, path_of("posix_system"))  # pickle names os.system 'posix.system'
    add_bad("posix_system", "'posix.system'", marker)
    write_zip(path_of("os_system"), patch_pickle(zip_items(path_of("posix_system")),
                                                 b"cposix\nsystem\n", b"cos\nsystem\n"))
    add_bad("os_system", "'os.system'", marker)

    marker = marker_for("eval")
    torch.save({"model": sd, "args": Payload(eval, "open(%r, 'w')" % marker)},
               path_of("dunder_builtin_eval"))
    add_bad("dunder_builtin_eval", "'__builtin__.eval'", marker)
    write_zip(path_of("builtins_eval"),
              patch_pickle(zip_items(path_of("dunder_builtin_eval")),
                           b"c__builtin__\neval\n", b"cbuiltins\neval\n"))
    add_bad("builtins_eval", "'builtins.eval'", marker)

    marker = marker_for("namespace")
    args = argparse.Namespace(arch="vit_small", hook=Payload(os.system, "touch " + marker))
    torch.save({"model": sd, "args": args}, path_of("namespace_os_system"))
    write_zip(path_of("namespace_os_system"),
              patch_pickle(zip_items(path_of("namespace_os_system")),
                           b"cposix\nsystem\n", b"cos\nsystem\n"))
    add_bad("namespace_os_system", "'os.system'", marker)

    # Arrays are not inert scalars: numpy's array reconstructor stays refused.
    torch.save({"model": sd, "mean": numpy.zeros(3)}, path_of("numpy_array"))
    add_bad("numpy_array", "'numpy.core.multiarray._reconstruct'")
    torch.save({"z": torch.zeros(2, dtype=torch.complex64)}, path_of("complex"))
    add_bad("complex", "'torch.ComplexFloatStorage'")

    torch.save(sd, path_of("legacy"), _use_new_zipfile_serialization=False)
    add_bad("legacy", "legacy (pre-1.6)")
    with open(path_of("plain_state_dict"), "rb") as f:
        whole = f.read()
    with open(path_of("truncated"), "wb") as f:
        f.write(whole[: len(whole) // 2])
    add_bad("truncated", "truncated")
    # PyTorch always writes the zip64 end record too: point both at nowhere.
    broken = bytearray(whole)
    end = whole.rfind(b"PK\x05\x06")
    broken[end + 16:end + 20] = struct.pack("<I", 0x7FFFFFF0)
    end64 = whole.rfind(b"PK\x06\x06")
    broken[end64 + 48:end64 + 56] = struct.pack("<Q", 0x7FFFFFF0)
    with open(path_of("bad_directory_offset"), "wb") as f:
        f.write(broken)
    add_bad("bad_directory_offset", "central directory lies outside the file")
    with open(path_of("not_a_zip"), "wb") as f:
        f.write(b"this is a text file, not a checkpoint\n" * 4)
    add_bad("not_a_zip", "not a zip archive")

    items = zip_items(path_of("plain_state_dict"))
    write_zip(path_of("garbage_pickle"), [
        (name, b"\x00\x01 this is not a pickle" if name.endswith("/data.pkl") else data)
        for name, data in items])
    add_bad("garbage_pickle", "malformed pickle data at byte 0: unsupported opcode 0x00")
    # Two entries under one name: Python's zipfile reads the last, a first-match reader
    # the first. The second copy holds different data, so either choice is silently wrong.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns "Duplicate name", as it should
        first_storage = next(name for name, _ in items if "/data/" in name)
        write_zip(path_of("duplicate_entry"), items + [(first_storage, bytes(len(dict(items)[first_storage])))])
    add_bad("duplicate_entry", "two entries named '%s'" % first_storage)
    storage_entry = next(name for name, _ in items if "/data/" in name)
    write_zip(path_of("compressed"), items, deflated={storage_entry})
    add_bad("compressed", "'%s' is compressed" % storage_entry)

    write_crafted(path_of("out_of_bounds"),
                  {"v": FakeTensor(FakeStorage("0", 4), 0, [5], [2])}, {"0": four_floats()})
    add_bad("out_of_bounds", "outside its storage '0' of 4 elements")
    write_crafted(path_of("offset_out_of_bounds"),
                  {"v": FakeTensor(FakeStorage("0", 4), 4, [1], [1])}, {"0": four_floats()})
    add_bad("offset_out_of_bounds", "outside its storage")
    write_crafted(path_of("missing_storage"),
                  {"v": FakeTensor(FakeStorage("9", 4), 0, [4], [1])}, {"0": four_floats()})
    add_bad("missing_storage", "archive does not contain")
    write_crafted(path_of("expanded_huge"),
                  {"v": FakeTensor(FakeStorage("0", 4), 0, [1 << 20, 1 << 20], [0, 0])},
                  {"0": four_floats()})
    add_bad("expanded_huge", "refusing to allocate")

    torch.save(collections.OrderedDict(), path_of("empty_state_dict"))
    add_bad("empty_state_dict", "holds no tensors")
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), path_of("torchscript"))
    add_bad("torchscript", "TorchScript")

    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({"good": good, "bad": bad}, f, indent=1)


if __name__ == "__main__":
    main()
