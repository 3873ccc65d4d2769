"""What `attnviz-cli analyze --vit VIT --cnn CNN --image IMAGE` does, in eager PyTorch, as a
notebook would: torch.load both checkpoints into torchvision's vit_b_16 and resnet50,
decode and preprocess the image with Pillow, run both models with the ViT's attention
weights kept (need_weights=True in every block, as attention hooks do), print the top-5
of each as JSON. The baseline of scripts/benchmark-start.sh.

Usage: /usr/bin/python3 scripts/analyze_reference.py VIT.pth CNN.pth IMAGE
"""
import json
import sys

import torch
import torchvision
from PIL import Image
from torchvision import transforms


def keep_attention(vit, store):
    for block in vit.encoder.layers:
        attention = block.self_attention
        original = attention.forward

        def forward(query, key, value, original=original, **_):
            out, weights = original(query, key, value, need_weights=True, average_attn_weights=False)
            store.append(weights)  # [1, heads, tokens, tokens]
            return out, weights

        attention.forward = forward


def main(vit_path, cnn_path, image_path):
    torch.set_grad_enabled(False)
    vit = torchvision.models.vit_b_16()
    vit.load_state_dict(torch.load(vit_path, map_location="cpu"))
    cnn = torchvision.models.resnet50()
    cnn.load_state_dict(torch.load(cnn_path, map_location="cpu"))
    vit.eval()
    cnn.eval()
    attention = []
    keep_attention(vit, attention)
    preprocess = transforms.Compose([
        transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    x = preprocess(Image.open(image_path).convert("RGB")).unsqueeze(0)
    out = {}
    for role, model in (("vit", vit), ("cnn", cnn)):
        probabilities, classes = model(x).softmax(-1)[0].topk(5)
        out[role] = [[int(c), float(p)] for c, p in zip(classes, probabilities)]
    out["attention_layers"] = len(attention)
    print(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:4])
