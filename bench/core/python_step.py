#!/usr/bin/python3
"""bench/core/python_step.py: the decoder's forward+backward step in plain
PyTorch (Debian's python3-torch), the baseline core_decoder_bench divides by.

Same shape, batch, sequence length, thread count and loss (cross-entropy of
next-token logits over all positions) as the C++ step; prints one JSON line
{"seconds_per_step": s}. With --bf16 1 the forward runs under
torch.autocast("cpu", torch.bfloat16), the way a PyTorch user trains in bf16
on a CPU (float32 parameters, bf16 matmuls, float32 loss).
"""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope_tables(d, t, theta):
    inv = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    ang = torch.outer(torch.arange(t, dtype=torch.float64), inv)
    return ang.cos().float(), ang.sin().float()


def rope(x, cos, sin):  # x [B, h, T, d]
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1)


def main():
    ap = argparse.ArgumentParser()
    for k in ("vocab", "hidden", "intermediate", "layers", "heads", "kv_heads", "batch", "seq", "threads",
              "iters", "warmup"):
        ap.add_argument("--" + k, type=int, required=True)
    ap.add_argument("--bf16", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    h, d = a.hidden, a.hidden // a.heads
    kv = a.kv_heads * d

    def p(*shape, std=0.02):
        return (torch.randn(*shape) * std).requires_grad_()

    params = {"embed": p(a.vocab, h), "norm": torch.ones(h, requires_grad=True), "head": p(a.vocab, h)}
    for l in range(a.layers):
        params.update({f"{l}.q": p(h, h), f"{l}.k": p(kv, h), f"{l}.v": p(kv, h), f"{l}.o": p(h, h),
                       f"{l}.g": p(a.intermediate, h), f"{l}.u": p(a.intermediate, h),
                       f"{l}.dn": p(h, a.intermediate), f"{l}.n1": torch.ones(h, requires_grad=True),
                       f"{l}.n2": torch.ones(h, requires_grad=True)})
    cos, sin = rope_tables(d, a.seq, 10000.0)
    mask = torch.triu(torch.ones(a.seq, a.seq, dtype=torch.bool), 1)
    tokens = torch.randint(0, a.vocab, (a.batch, a.seq))
    targets = torch.randint(0, a.vocab, (a.batch, a.seq))
    b, t = a.batch, a.seq
    group = a.heads // a.kv_heads

    def step():
        for v in params.values():
            v.grad = None
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(a.bf16)):
            loss = forward()
        loss.backward()

    def forward():
        x = F.embedding(tokens, params["embed"])
        for l in range(a.layers):
            y = rms_norm(x, params[f"{l}.n1"], 1e-5)
            q = rope((y @ params[f"{l}.q"].T).view(b, t, a.heads, d).transpose(1, 2), cos, sin)
            k = rope((y @ params[f"{l}.k"].T).view(b, t, a.kv_heads, d).transpose(1, 2), cos, sin)
            v = (y @ params[f"{l}.v"].T).view(b, t, a.kv_heads, d).transpose(1, 2)
            qg = q.reshape(b, a.kv_heads, group * t, d)
            s = (qg @ k.transpose(-1, -2) / math.sqrt(d)).view(b, a.kv_heads, group, t, t)
            s = s.masked_fill(mask, float("-inf")).softmax(-1).view(b, a.kv_heads, group * t, t)
            o = (s @ v).view(b, a.heads, t, d).transpose(1, 2).reshape(b, t, h)
            x = x + o @ params[f"{l}.o"].T
            y = rms_norm(x, params[f"{l}.n2"], 1e-5)
            x = x + (F.silu(y @ params[f"{l}.g"].T) * (y @ params[f"{l}.u"].T)) @ params[f"{l}.dn"].T
        logits = rms_norm(x, params["norm"], 1e-5) @ params["head"].T
        return F.cross_entropy(logits.view(-1, a.vocab), targets.view(-1))

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.iters):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    times.sort()
    print(json.dumps({"seconds_per_step": times[len(times) // 2]}))


if __name__ == "__main__":
    main()
