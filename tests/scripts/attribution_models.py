"""The two committed timm fixtures the attribution references run on (make_ig_fixture.py,
make_perturbation_fixture.py, make_feature_fixture.py): folder, timm name and the kwargs
that rebuild each at the size it was committed, and the side of their inputs."""
import pathlib
from collections import OrderedDict

import timm
import torch

from make_reference import read_safetensors

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures"
SIDE = 64
MODELS = OrderedDict([
    ("cnn", (FIXTURES / "timm" / "timm_resnet_d", "resnet50d",
             dict(num_classes=10, layers=[1, 1, 1, 1], stem_width=4, channels=[4, 8, 16, 32]))),
    ("vit", (FIXTURES / "vit" / "timm_deit3", "deit3_small_patch16_224",
             dict(embed_dim=64, depth=2, num_heads=4, mlp_ratio=0.5, img_size=SIDE, num_classes=10))),
])


def models_and_inputs(seed):
    """(key, folder, model with its committed weights, in eval mode, input [1, 3, SIDE, SIDE]) for
    each fixture, the i-th input drawn from a generator seeded with seed + i."""
    for i, (key, (folder, name, kwargs)) in enumerate(MODELS.items()):
        model = timm.create_model(name, pretrained=False, **kwargs).eval()
        model.load_state_dict(read_safetensors(folder / "model.safetensors"))
        x = torch.randn(1, 3, SIDE, SIDE, generator=torch.Generator().manual_seed(seed + i))
        yield key, folder, model, x
