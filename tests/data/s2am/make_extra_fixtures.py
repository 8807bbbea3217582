"""Writes the extra S²AM fixtures from the official code (run once, by hand; tests only read the output).

    python tests/data/s2am/make_extra_fixtures.py /path/to/extracted/vinthony-s2am

Needs torch and the official tree (commit f96446e); the package ``__init__`` files (data
pipeline imports) are bypassed and torchvision is stubbed, as for the shared parity set.
Writes ``keys_maskfree.tsv`` + ``case_maskfree.npz`` (official ``urasc``: UnetGenerator(3, 3,
ngf 16, URASC, MinimalUnetV2) in eval mode on case a's input, recipe weights seed 0, with the
three predicted masks) and ``keys_ngf64_{rascv2,rascv1,unet}.tsv`` (the official key list at
the official width, for the structure test).
"""
import os
import sys
import types

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", ".."))
import recipe  # noqa: E402


def import_official(root):
    for name in ("scripts", "scripts.models", "scripts.utils"):
        pkg = types.ModuleType(name)
        pkg.__path__ = [os.path.join(root, *name.split("."))]
        sys.modules[name] = pkg
    tv = types.ModuleType("torchvision")
    tv.models = types.SimpleNamespace(vgg16=None)
    sys.modules["torchvision"] = tv
    sys.modules["scripts.models.vgg"] = types.SimpleNamespace(Vgg16=None)
    import scripts.models.unet as unet
    import scripts.models.rasc as rasc
    import scripts.models.urasc as urasc
    return unet, rasc, urasc


def rows_of(net, prefix):
    """keys.tsv rows (key, shape, dtype, kind) of an official module, kinds by module type."""
    kinds = {}
    for name, mod in net.named_modules():
        if isinstance(mod, torch.nn.ConvTranspose2d):
            kinds[name] = {"weight": "convT", "bias": "bias"}
        elif isinstance(mod, torch.nn.Conv2d):
            kinds[name] = {"weight": "conv", "bias": "bias"}
        elif isinstance(mod, torch.nn.Linear):
            kinds[name] = {"weight": "linear", "bias": "bias"}
        elif isinstance(mod, torch.nn.BatchNorm2d):
            kinds[name] = {"weight": "norm_weight", "bias": "norm_bias", "running_mean": "bn_mean",
                           "running_var": "bn_var", "num_batches_tracked": "counter"}
    rows = []
    for key, value in net.state_dict().items():
        module, _, leaf = key.rpartition(".")
        kind = "buffer-keep" if key.endswith("gaussianMask.weight") else kinds[module][leaf]
        rows.append((f"{prefix}.{key}", tuple(value.shape), str(value.dtype).replace("torch.", ""), kind))
    return rows


def write_keys(rows, path, title):
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"# {title}\nkey\tshape\tdtype\tkind\n")
        for key, shape, dtype, kind in rows:
            f.write(f"{key}\t{'x'.join(map(str, shape)) or 'scalar'}\t{dtype}\t{kind}\n")


def main(root):
    torch.set_num_threads(1)
    unet, rasc, urasc = import_official(root)
    net = unet.UnetGenerator(3, 3, ngf=16, is_attention_layer=True, attention_model=urasc.URASC,
                             basicblock=unet.MinimalUnetV2)
    rows = rows_of(net, "urasc")
    write_keys(rows, os.path.join(HERE, "keys_maskfree.tsv"), "s2am official urasc (mask-free), ngf 16")
    state = recipe.net_state(recipe.make_state(rows, 0), "urasc")
    net.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
    net.eval()
    masks = []
    for name, mod in net.named_modules():
        if name.endswith("mask_attention"):
            mod.register_forward_hook(lambda m, i, o: masks.append(o[0].detach().numpy().copy()))
    x = np.load(os.path.join(HERE, "case_a.npz"))["in/input"]
    with torch.no_grad():
        out = net(torch.from_numpy(x)).numpy()
    # hooks fire innermost first (decoder order): store outermost level first
    arrays = {"in/input": x, "out/output": out}
    for i, m in enumerate(sorted(masks, key=lambda a: -a.shape[2])):
        arrays[f"out/mask_level{i + 1}"] = m
    np.savez_compressed(os.path.join(HERE, "case_maskfree.npz"), **arrays)
    for arch, kwargs in {"rascv2": dict(is_attention_layer=True, attention_model=rasc.RASC,
                                        basicblock=unet.MinimalUnetV2),
                         "rascv1": dict(is_attention_layer=True, attention_model=rasc.RASC),
                         "unet": {}}.items():
        big = unet.UnetGenerator(4, 3, **kwargs)
        write_keys(rows_of(big, arch), os.path.join(HERE, f"keys_ngf64_{arch}.tsv"),
                   f"s2am official {arch}, ngf 64 (default)")


if __name__ == "__main__":
    main(sys.argv[1])
