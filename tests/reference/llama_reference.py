#!/usr/bin/python3
"""tests/reference/llama_reference.py: an independent LLaMA reference.

Writes a random LLaMA-family checkpoint in Hugging Face layout (config.json
plus safetensors, optionally sharded with model.safetensors.index.json) and
the logits this script computes for fixed tokens, in float64, with its own
implementation of the architecture (embedding, RMSNorm, rotate-half RoPE,
grouped-query causal attention via repeat_interleave, SwiGLU, tied or untied
head). core_tests loads the checkpoint into alro's decoder and compares.

The safetensors files are written by hand (8-byte little-endian header length,
JSON header padded with spaces to 8 bytes, raw little-endian data) because
the `safetensors` package is not installed; this also checks that alro reads
the standard layout as another writer produces it.

Run with Debian's python3 (it has torch):
  /usr/bin/python3 tests/reference/llama_reference.py --out DIR [--tie] [--shards 2]
"""
import argparse
import json
import math
import os
import struct

import torch

DTYPE_NAMES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.bfloat16: "BF16"}


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: tensor} in the safetensors layout."""
    header, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.contiguous()
        data = t.view(torch.uint8).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)


def make_weights(cfg, gen, std):
    h, i, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    d = h // cfg["num_attention_heads"]
    kv = cfg["num_key_value_heads"] * d
    shapes = {"model.embed_tokens.weight": (v, h), "model.norm.weight": (h,)}
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        shapes.update({p + "self_attn.q_proj.weight": (h, h), p + "self_attn.k_proj.weight": (kv, h),
                       p + "self_attn.v_proj.weight": (kv, h), p + "self_attn.o_proj.weight": (h, h),
                       p + "mlp.gate_proj.weight": (i, h), p + "mlp.up_proj.weight": (i, h),
                       p + "mlp.down_proj.weight": (h, i), p + "input_layernorm.weight": (h,),
                       p + "post_attention_layernorm.weight": (h,)})
    if not cfg["tie_word_embeddings"]:
        shapes["lm_head.weight"] = (v, h)
    weights = {}
    for name, shape in shapes.items():
        if name.endswith("norm.weight"):  # around 1, not exactly, so a wrong norm shows
            weights[name] = 1.0 + 0.1 * torch.randn(shape, generator=gen)
        else:
            weights[name] = std * torch.randn(shape, generator=gen)
    return weights


def rms_norm(x, w, eps):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * w


def rope(x, theta):
    """x [B, heads, T, d] at positions 0..T-1, Hugging Face rotate-half layout."""
    d, t = x.shape[-1], x.shape[-2]
    inv_freq = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    freqs = torch.outer(torch.arange(t, dtype=torch.float64), inv_freq)
    emb = torch.cat([freqs, freqs], -1)
    rotated = torch.cat([-x[..., d // 2:], x[..., : d // 2]], -1)
    return x * emb.cos() + rotated * emb.sin()


def forward(cfg, w, tokens):
    """float64 logits [B, T, V]."""
    w = {k: v.double() for k, v in w.items()}
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hsz, eps, theta = cfg["hidden_size"], cfg["rms_norm_eps"], cfg["rope_theta"]
    d = hsz // nh
    b, t = tokens.shape
    h = w["model.embed_tokens.weight"][tokens]
    causal = torch.triu(torch.full((t, t), float("-inf"), dtype=torch.float64), diagonal=1)
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        x = rms_norm(h, w[p + "input_layernorm.weight"], eps)
        q = (x @ w[p + "self_attn.q_proj.weight"].T).view(b, t, nh, d).transpose(1, 2)
        k = (x @ w[p + "self_attn.k_proj.weight"].T).view(b, t, nkv, d).transpose(1, 2)
        v = (x @ w[p + "self_attn.v_proj.weight"].T).view(b, t, nkv, d).transpose(1, 2)
        q, k = rope(q, theta), rope(k, theta)
        k = k.repeat_interleave(nh // nkv, dim=1)
        v = v.repeat_interleave(nh // nkv, dim=1)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + causal, -1)
        o = (att @ v).transpose(1, 2).reshape(b, t, hsz)
        h = h + o @ w[p + "self_attn.o_proj.weight"].T
        x = rms_norm(h, w[p + "post_attention_layernorm.weight"], eps)
        gate = x @ w[p + "mlp.gate_proj.weight"].T
        up = x @ w[p + "mlp.up_proj.weight"].T
        h = h + (gate * torch.sigmoid(gate) * up) @ w[p + "mlp.down_proj.weight"].T
    h = rms_norm(h, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else w["lm_head.weight"]
    return h @ head.T


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--vocab", type=int, default=101)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--intermediate", type=int, default=48)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--theta", type=float, default=10000.0)
    ap.add_argument("--eps", type=float, default=1e-5)
    ap.add_argument("--tie", action="store_true")
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seq", type=int, default=9)
    ap.add_argument("--std", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
           "vocab_size": a.vocab, "hidden_size": a.hidden, "intermediate_size": a.intermediate,
           "num_hidden_layers": a.layers, "num_attention_heads": a.heads, "num_key_value_heads": a.kv_heads,
           "max_position_embeddings": 64, "rope_theta": a.theta, "rms_norm_eps": a.eps,
           "tie_word_embeddings": a.tie, "torch_dtype": "float32"}
    gen = torch.Generator().manual_seed(a.seed)
    weights = make_weights(cfg, gen, a.std)
    tokens = torch.randint(0, a.vocab, (a.batch, a.seq), generator=gen)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    names = list(weights)
    if a.shards == 1:
        write_safetensors(os.path.join(a.out, "model.safetensors"), weights, {"format": "pt"})
    else:
        weight_map, per = {}, math.ceil(len(names) / a.shards)
        for s in range(a.shards):
            file = f"model-{s + 1:05d}-of-{a.shards:05d}.safetensors"
            part = {n: weights[n] for n in names[s * per:(s + 1) * per]}
            write_safetensors(os.path.join(a.out, file), part, {"format": "pt"})
            weight_map.update({n: file for n in part})
        with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f, indent=2)
    logits = forward(cfg, weights, tokens)
    write_safetensors(os.path.join(a.out, "expected.safetensors"), {"tokens": tokens, "logits": logits})


if __name__ == "__main__":
    main()
