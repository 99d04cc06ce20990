#!/usr/bin/env python3
"""Parity of retrofit's HF remote code with transformers and with retrofit.

  hf_parity.py selftest --fixture DIR --refs REFS.safetensors --templates export/hf --out DIR
      Builds transformed copies of a Qwen3 fixture in Python (CLA, MLKV,
      KVSharer-style sharing, looped, Depth-Attention, combinations), writes
      the remote code beside them and checks, for each: prefill logits equal
      token-by-token and chunked decode with the cache, greedy generate equals
      greedy without a cache, the cache holds only producer layers, gradients
      flow with and without gradient checkpointing, save_pretrained round-trips;
      the identity layout equals stock transformers and the fp32 references.
  hf_parity.py compare CASE_DIR...
      Each CASE_DIR was written by `go run ./bench/hfparity`: hf/ (the export),
      retrofit.json (ids, greedy tokens, KV bytes per token) and logits.f32
      (retrofit's engine logits). Checks transformers against them and runs the
      same self-consistency checks.
  hf_parity.py layoutrefs --cases DIR --json layout-refs.json --refs layout-refs.safetensors --ids-dir DIR
      Each DIR/<model>/<case>/hf was written by `hfparity layoutrefs` (retrofit
      builds every layout-refs case as its json says and exports it with the
      remote code). Runs transformers' forward on ids_docs_val[0:T] of
      <ids-dir>/<model>-refs.safetensors and compares the NLL of
      ids_docs_val[1:T+1] (tolerance 1e-4) and the logits at the json's
      positions (1e-3) with the independent reference.
Prints one JSON line per case; exits 1 if any check fails.
"""

import argparse
import json
import math
import os
import shutil
import sys

import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM
from transformers.cache_utils import DynamicCache

TOL_LOGITS = 1e-3  # retrofit engine vs transformers, fp32
TOL_SELF = 1e-4  # transformers vs itself (decode vs prefill)
TOL_NLL = 1e-4  # per-token NLL vs layout-refs


def device():
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load(path):
    m = AutoModelForCausalLM.from_pretrained(path, trust_remote_code=True, dtype=torch.float32)
    return m.to(device()).eval()


def cache_stats(cache):
    """(entries, bytes) of the K/V tensors a cache holds."""
    n, size = 0, 0
    layers = getattr(cache, "layers", None)
    if layers is not None:
        pairs = [(getattr(lay, "keys", None), getattr(lay, "values", None)) for lay in layers]
    else:
        pairs = list(zip(cache.key_cache, cache.value_cache))
    for k, v in pairs:
        if k is not None and k.numel() > 0:
            n += 1
            size += k.numel() * k.element_size() + v.numel() * v.element_size()
    return n, size


@torch.no_grad()
def greedy_nocache(m, ids, n):
    seq = ids
    for _ in range(n):
        nxt = m(seq, use_cache=False).logits[:, -1].argmax(-1, keepdim=True)
        seq = torch.cat([seq, nxt], 1)
    return seq[0, ids.shape[1]:].tolist()


@torch.no_grad()
def self_checks(m, ids, n_new=32):
    """Checks every export must pass; returns a dict of numbers and failures."""
    cfg = m.config
    r = getattr(cfg, "retrofit", None) or {"kv_source": list(range(cfg.num_hidden_layers))}
    producers = sum(1 for i, s in enumerate(r["kv_source"]) if s == i)
    res, fails = {}, []
    full = m(ids, use_cache=False).logits[0].float()
    # token-by-token decode with the cache
    cache, steps = DynamicCache(), []
    for t in range(ids.shape[1]):
        o = m(ids[:, t : t + 1], past_key_values=cache, use_cache=True)
        cache = o.past_key_values
        steps.append(o.logits[0, -1].float())
    d = (torch.stack(steps) - full).abs().max().item()
    res["decode_vs_prefill"] = d
    if d > TOL_SELF:
        fails.append(f"decode vs prefill max|d| {d:.3g}")
    # chunked prefill: half, then the rest in one step with past
    h = ids.shape[1] // 2
    o1 = m(ids[:, :h], use_cache=True)
    o2 = m(ids[:, h:], past_key_values=o1.past_key_values, use_cache=True)
    d = (torch.cat([o1.logits[0], o2.logits[0]]).float() - full).abs().max().item()
    res["chunked_vs_prefill"] = d
    if d > TOL_SELF:
        fails.append(f"chunked vs prefill max|d| {d:.3g}")
    entries, size = cache_stats(o2.past_key_values)
    per_tok = size // ids.shape[1]
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    want = producers * 2 * cfg.num_key_value_heads * head_dim * 4
    res.update(cache_entries=entries, cache_bytes_per_token_fp32=per_tok, producer_layers=producers)
    if entries != producers or per_tok != want:
        fails.append(f"cache: {entries} entries, {per_tok} B/token; want {producers}, {want}")
    # greedy generate with transformers' cache vs recomputing without one
    m.generation_config.eos_token_id = None  # always n_new tokens
    g = m.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n_new, do_sample=False,
                   return_dict_in_generate=True)
    gen = g.sequences[0, ids.shape[1] :].tolist()
    res["generate"] = gen
    ref = greedy_nocache(m, ids, n_new)
    if gen != ref:
        fails.append(f"generate {gen} != no-cache greedy {ref}")
    entries, size = cache_stats(g.past_key_values)
    res["generate_cache_entries"] = entries
    res["generate_cache_bytes"] = size
    if entries != producers:
        fails.append(f"generate cache has {entries} entries, want {producers}")
    return res, fails


def grad_checks(m, ids):
    """Gradients flow to every parameter, and gradient checkpointing gives the same ones."""
    fails = []
    m.train()

    def grads():
        m.zero_grad(set_to_none=True)
        loss = m(ids, labels=ids).loss
        loss.backward()
        return loss.item(), {n: p.grad.detach().clone() for n, p in m.named_parameters() if p.grad is not None}

    loss, g0 = grads()
    missing = [n for n, p in m.named_parameters() if p.requires_grad and n not in g0]
    if missing:
        fails.append(f"no gradient for {missing[:4]}")
    zero = [n for n, g in g0.items() if g.abs().max().item() == 0]
    if zero:
        fails.append(f"zero gradient for {zero[:4]}")
    calls = []
    hook = next(mod for mod in m.modules() if "Block" in type(mod).__name__ or "DecoderLayer" in type(mod).__name__)
    # a pre-hook: non-reentrant recomputation stops early, before post-hooks run
    handle = hook.register_forward_pre_hook(lambda *_: calls.append(1))
    grads()
    plain_calls = len(calls)
    m.gradient_checkpointing_enable()
    calls.clear()
    loss2, g1 = grads()
    m.gradient_checkpointing_disable()
    handle.remove()
    # checkpointing runs each block's forward again during backward
    if len(calls) <= plain_calls:
        fails.append(f"gradient checkpointing did not recompute: block ran {len(calls)} times, {plain_calls} without")
    rel = max(((g1[n] - g).abs().max() / (g.abs().max() + 1e-30)).item() for n, g in g0.items())
    if abs(loss - loss2) > 1e-5 or rel > 1e-4:
        fails.append(f"gradient checkpointing: loss {loss} vs {loss2}, max rel grad diff {rel:.3g}")
    m.zero_grad(set_to_none=True)
    m.eval()
    return {"loss": loss, "grad_ckpt_rel_diff": rel, "block_calls": [plain_calls, len(calls)], "params": sum(p.numel() for p in m.parameters())}, fails


def roundtrip(m, ids, tmp):
    """save_pretrained then from_pretrained gives the same logits and a config retrofit reads."""
    fails = []
    shutil.rmtree(tmp, ignore_errors=True)
    m.save_pretrained(tmp)
    with open(os.path.join(tmp, "config.json")) as f:
        c = json.load(f)
    if c.get("model_type") not in ("qwen2", "qwen3") or "auto_map" not in c:
        fails.append(f"saved config: model_type {c.get('model_type')}, auto_map {c.get('auto_map')}")
    m2 = load(tmp)
    with torch.no_grad():
        d = (m2(ids).logits - m(ids).logits).abs().max().item()
    if d > 1e-6:
        fails.append(f"round-trip logits differ by {d:.3g}")
    shutil.rmtree(tmp, ignore_errors=True)
    return fails


def render_templates(templates, dst, family):
    for name in ("configuration_retrofit.py", "modeling_retrofit.py"):
        with open(os.path.join(templates, name)) as f:
            src = f.read().replace("__BASE_MODEL_TYPE__", family)
        with open(os.path.join(dst, name), "w") as f:
            f.write(src)


def build_case(fixture, templates, out, name, layout, keep):
    """Writes a transformed copy of fixture: layout is the "retrofit" object;
    keep(name) -> new name or None (dropped)."""
    dst = os.path.join(out, name)
    os.makedirs(dst, exist_ok=True)
    with open(os.path.join(fixture, "config.json")) as f:
        cfg = json.load(f)
    n = cfg["num_hidden_layers"]
    r = {"kv_source": list(range(n)), "depth_mix": [False] * n, "layer_map": list(range(n)),
         "depth_stride": 0, "depth_window": 0, "transforms": json.dumps([{"transform": name}])}
    r.update(layout)
    cfg["retrofit"] = r
    cfg["auto_map"] = {"AutoConfig": "configuration_retrofit.RetrofitConfig",
                       "AutoModelForCausalLM": "modeling_retrofit.RetrofitForCausalLM"}
    with open(os.path.join(dst, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    sd = load_file(os.path.join(fixture, "model.safetensors"))
    new = {}
    for k, v in sd.items():
        k2 = keep(k)
        if k2 is not None:
            new[k2] = v.contiguous()
    save_file(new, os.path.join(dst, "model.safetensors"), metadata={"format": "pt"})
    render_templates(templates, dst, cfg["model_type"])
    return dst


def layer_of(k):
    parts = k.split(".")
    return int(parts[2]) if k.startswith("model.layers.") else None


def drop_kv(layers):
    def keep(k):
        if layer_of(k) in layers and any(s in k for s in ("k_proj", "v_proj", "k_norm")):
            return None
        return k
    return keep


def selftest_cases(n):
    half = n // 2
    cla = [i - i % 2 for i in range(n)]
    mlkv = [0 if i < half else half for i in range(n)]
    kvs = list(range(n))
    kvs[3], kvs[5] = 1, 2
    loop = [i % half for i in range(n)]
    depth = {"depth_mix": [i > 0 for i in range(n)], "depth_stride": half}

    def lower(k):
        l = layer_of(k)
        return None if l is not None and l >= half else k

    def lower_cla(k):
        l = layer_of(k)
        if l is not None and l >= 2:
            return None
        if l == 1 and any(s in k for s in ("k_proj", "v_proj", "k_norm")):
            return None
        return k

    return [
        ("identity", {}, lambda k: k),
        ("cla", {"kv_source": cla}, drop_kv({i for i in range(n) if cla[i] != i})),
        ("mlkv", {"kv_source": mlkv}, drop_kv({i for i in range(n) if mlkv[i] != i})),
        ("kvsharer", {"kv_source": kvs}, drop_kv({3, 5})),
        ("looped", {"layer_map": loop}, lower),
        ("depthattn", depth, lambda k: k),
        ("depthattn_window", {"depth_mix": [i > 0 for i in range(n)], "depth_stride": 1, "depth_window": 2}, lambda k: k),
        ("looped_cla", {"layer_map": [i % 2 for i in range(n)], "kv_source": cla}, lower_cla),
        ("looped_depth", dict(depth, layer_map=loop), lower),
    ]


def report(name, res, fails):
    res = dict(res, case=name, ok=not fails, failures=fails)
    print(json.dumps(res), flush=True)
    return not fails


def selftest(a):
    refs = load_file(a.refs)
    ids = refs["ids_a"].long().view(1, -1).to(device())
    ok = True
    with open(os.path.join(a.fixture, "config.json")) as f:
        n = json.load(f)["num_hidden_layers"]
    stock = AutoModelForCausalLM.from_pretrained(a.fixture, dtype=torch.float32).to(device()).eval()
    with torch.no_grad():
        stock_logits = stock(ids).logits[0].float()
    for name, layout, keep in selftest_cases(n):
        path = build_case(a.fixture, a.templates, a.out, name, layout, keep)
        m = load(path)
        res, fails = self_checks(m, ids)
        with torch.no_grad():
            logits = m(ids).logits[0].float()
        if name == "identity":
            d_ref = (logits.cpu() - refs["logits_a"].float().view_as(logits.cpu())).abs().max().item()
            d_stock = (logits - stock_logits).abs().max().item()
            res.update(vs_refs=d_ref, vs_stock=d_stock)
            if d_ref > TOL_LOGITS or d_stock > TOL_SELF:
                fails.append(f"identity: vs refs {d_ref:.3g}, vs stock {d_stock:.3g}")
            want = refs["greedy_a"].long().view(-1).tolist()
            if res["generate"] != want:
                fails.append(f"identity greedy {res['generate']} != refs {want}")
        else:
            res["vs_stock"] = (logits - stock_logits).abs().max().item()
        g, gf = grad_checks(m, ids)
        res.update(g)
        fails += gf
        fails += roundtrip(m, ids, os.path.join(a.out, name + "-saved"))
        ok &= report(name, res, fails)
        del m
    return ok


def compare(a):
    ok = True
    for case in a.cases:
        with open(os.path.join(case, "retrofit.json")) as f:
            want = json.load(f)
        ids = torch.tensor(want["ids"], dtype=torch.long, device=device()).view(1, -1)
        m = load(os.path.join(case, "hf"))
        eng = torch.frombuffer(bytearray(open(os.path.join(case, "logits.f32"), "rb").read()), dtype=torch.float32)
        eng = eng.view(ids.shape[1], -1)
        with torch.no_grad():
            logits = m(ids).logits[0].float().cpu()
        res, fails = self_checks(m, ids, len(want["greedy"]))
        d = (logits - eng).abs().max().item()
        res["vs_retrofit"] = d
        if not math.isfinite(d) or d > TOL_LOGITS:
            fails.append(f"logits vs retrofit engine max|d| {d:.3g}")
        if res["generate"] != want["greedy"]:
            fails.append(f"greedy {res['generate']} != retrofit {want['greedy']}")
        fp16 = res["cache_bytes_per_token_fp32"] // 2
        res["kv_bytes_per_token_fp16"] = fp16
        if fp16 != want["kv_bytes_per_token"]:
            fails.append(f"KV bytes/token (fp16) {fp16} != retrofit {want['kv_bytes_per_token']}")
        g, gf = grad_checks(m, ids)
        res.update(g)
        fails += gf
        ok &= report(want.get("case", case), res, fails)
        del m
    return ok


def layoutrefs(a):
    with open(a.json) as f:
        meta = json.load(f)
    refs = load_file(a.refs)
    T, positions = meta["T"], meta["positions"]
    ok = True
    for name in sorted(meta["cases"]):
        fixture = name.split("/")[0]
        ids = load_file(os.path.join(a.ids_dir, fixture + "-refs.safetensors"))["ids_docs_val"]
        ids = ids[: T + 1].long().view(1, -1).to(device())
        case_dir = os.path.join(a.cases, name, "hf")
        m = load(case_dir)
        with torch.no_grad():
            logits = m(ids[:, :T]).logits[0].float()
        nll = -torch.log_softmax(logits.double(), -1).gather(1, ids[0, 1:].view(-1, 1)).view(-1).cpu()
        want_nll = refs[name + "/nll"].double().view(-1)
        want_logits = refs[name + "/logits"].float()
        got_logits = logits[positions].cpu()
        dn = (nll - want_nll).abs().max().item()
        dl = (got_logits - want_logits).abs().max().item()
        with open(os.path.join(case_dir, "config.json")) as f:
            remote = "auto_map" in json.load(f)
        res = {"nll_max_abs_diff": dn, "logits_max_abs_diff": dl, "ppl": math.exp(nll.mean().item()),
               "ppl_ref": meta["cases"][name]["ppl"], "remote_code": remote, "class": type(m).__name__}
        fails = []
        if not math.isfinite(dn) or dn > TOL_NLL:
            fails.append(f"NLL vs layout-refs max|d| {dn:.3g} > {TOL_NLL}")
        if not math.isfinite(dl) or dl > TOL_LOGITS:
            fails.append(f"logits vs layout-refs max|d| {dl:.3g} > {TOL_LOGITS}")
        ok &= report(name, res, fails)
        del m
    return ok


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("selftest")
    s.add_argument("--fixture", required=True)
    s.add_argument("--refs", required=True)
    s.add_argument("--templates", default=os.path.join(os.path.dirname(__file__), "..", "export", "hf"))
    s.add_argument("--out", required=True)
    c = sub.add_parser("compare")
    c.add_argument("cases", nargs="+")
    r = sub.add_parser("layoutrefs")
    r.add_argument("--cases", required=True)
    r.add_argument("--json", required=True)
    r.add_argument("--refs", required=True)
    r.add_argument("--ids-dir", default="testdata")
    a = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    ok = {"selftest": selftest, "compare": compare, "layoutrefs": layoutrefs}[a.cmd](a)
    print("PARITY OK" if ok else "PARITY FAILED", flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
