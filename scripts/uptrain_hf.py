#!/usr/bin/env python3
"""Uptrain a retrofit-converted HF checkpoint with distillation from the original.

  python3 scripts/uptrain_hf.py --model CONVERTED_DIR --teacher ORIGINAL_DIR \
      --data docs-train.txt --out OUT_DIR [--steps 100 --ctx 512 --batch 8]
  torchrun --nproc_per_node N scripts/uptrain_hf.py ...   (or accelerate launch)

The converted model loads with trust_remote_code (retrofit's remote code
ships beside its weights). The loss is
    alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * LM cross-entropy,
with softmax temperature T on both sides, plus, with --layer-weight, a
layer-wise term: the weight (decayed linearly to 0 over --layer-anneal steps
after the local stage) times the mean over layers and tokens of each layer's
output hidden state against the teacher's (normalised MSE |s-t|^2/|t|^2, or
cosine distance 1-cos). --local-steps first trains only the layers whose K/V
layout differs from the original on their layer loss alone (the others get
zero gradient, so AdamW leaves them unchanged). A Depth-Attention warm start
(config.retrofit.depth_self_bias b0 > 0, from `convert --opt warm=on`) is
annealed as `retrofit finetune` does: step k trains with bias
min(b0, -ln(k/W)), 0 from step W = --warm-steps (default half the steps) on;
the saved model holds the bias after the last step. The text is split into documents on
blank-line triples, tokenized with the model's tokenizer.json, joined with
<|endoftext|> and packed into windows of ctx tokens. Trains with the HF Trainer
(DDP under torchrun); saves the result (weights in --save-dtype, remote code,
tokenizer files) to OUT_DIR and writes OUT_DIR/uptrain.json with the losses
and, with --eval-ids, the perplexity before and after on those ids.
"""

import argparse
import json
import math
import os
import shutil

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM, Trainer, TrainingArguments

SIDE_FILES = ["tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "generation_config.json"]


def pack(path, tokenizer_path, ctx, max_chars):
    tok = Tokenizer.from_file(tokenizer_path)
    eot = tok.token_to_id("<|endoftext|>")
    with open(path, encoding="utf-8") as f:
        text = f.read(max_chars) if max_chars > 0 else f.read()
    docs = [d for d in text.split("\n\n\n") if d.strip()]
    ids = []
    for enc in tok.encode_batch(docs, add_special_tokens=False):
        ids.extend(enc.ids)
        if eot is not None:
            ids.append(eot)
    n = len(ids) // ctx
    if n == 0:
        raise SystemExit(f"{path}: {len(ids)} tokens, fewer than one window of {ctx}")
    return torch.tensor(ids[: n * ctx], dtype=torch.long).view(n, ctx)


class Windows(torch.utils.data.Dataset):
    def __init__(self, rows):
        self.rows = rows

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return {"input_ids": self.rows[i], "labels": self.rows[i]}


class LayerTap:
    """Keeps each decoder layer's output hidden state of the last forward."""

    def __init__(self, layers):
        self.out = {}
        for i, layer in enumerate(layers):
            layer.register_forward_hook(self.hook(i))

    def hook(self, i):
        def f(_module, _inputs, output):
            self.out[i] = output[0] if isinstance(output, (tuple, list)) else output

        return f


def layer_loss(s, t, kind):
    s, t = s.float(), t.float()
    if kind == "cos":
        return (1 - F.cosine_similarity(s, t, dim=-1)).mean()
    return ((s - t).pow(2).sum(-1) / t.pow(2).sum(-1).clamp_min(1e-12)).mean()


def changed_layers(model):
    r = getattr(model.config, "retrofit", None) or {}
    kv, mix = r.get("kv_source", []), r.get("depth_mix", [])
    return [i for i in range(len(kv)) if kv[i] != i or (i < len(mix) and mix[i])]


def self_bias(k, w, b0):
    """The warm start's self-score bias after k of w anneal steps (finetune.SelfBias)."""
    if b0 <= 0 or k >= w:
        return 0.0
    if k <= 0:
        return b0
    return min(b0, -math.log(k / w))


class DistillTrainer(Trainer):
    def __init__(self, *args, teacher=None, alpha=0.5, temperature=2.0, layer_weight=0.0, layer_kind="mse",
                 layer_anneal=0, local_steps=0, warm_steps=0, **kwargs):
        super().__init__(*args, **kwargs)
        base = self.model.module if hasattr(self.model, "module") else self.model
        self.layout = getattr(base.config, "retrofit", None) or {}
        self.bias0, self.warm_steps = float(self.layout.get("depth_self_bias", 0.0)), warm_steps
        self.teacher, self.alpha, self.temperature = teacher, alpha, temperature
        self.layer_weight, self.layer_kind, self.layer_anneal, self.local_steps = layer_weight, layer_kind, layer_anneal, local_steps
        self.parts = []
        self.stap = self.ttap = None
        if teacher is not None and (layer_weight > 0 or local_steps > 0):
            base = self.model.module if hasattr(self.model, "module") else self.model
            if len(base.model.layers) != len(teacher.model.layers):
                raise SystemExit("layer-wise distillation pairs layers one to one: the student runs shared blocks")
            self.stap, self.ttap = LayerTap(base.model.layers), LayerTap(teacher.model.layers)
            self.changed = changed_layers(base)
            keep = tuple(f"model.layers.{i}." for i in self.changed)
            for name, q in base.named_parameters():
                if not name.startswith(keep):
                    q.register_hook(lambda g, tr=self: g * 0 if tr.state.global_step < tr.local_steps else g)

    def layer_weight_at(self, step):
        if self.layer_anneal <= 0:
            return self.layer_weight
        return self.layer_weight * max(0.0, 1 - (step - self.local_steps) / self.layer_anneal)

    def anneal(self, k):
        """Sets the layout's self-score bias (read by every forward) to its value after k steps."""
        if self.bias0 > 0:
            b = self_bias(k, self.warm_steps, self.bias0)
            if b > 0:
                self.layout["depth_self_bias"] = b
            else:
                self.layout.pop("depth_self_bias", None)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if model.training:
            self.anneal(self.state.global_step + 1)
        out = model(input_ids=inputs["input_ids"], labels=inputs["labels"])
        ce = out.loss.mean()  # one loss per replica under nn.DataParallel (one process, several GPUs)
        loss = ce
        kl = torch.zeros((), device=ce.device)
        lh = torch.zeros((), device=ce.device)
        step = self.state.global_step
        if self.stap is not None:
            if next(self.teacher.parameters()).device != ce.device:
                self.teacher.to(ce.device)
            with torch.no_grad():
                t = self.teacher(input_ids=inputs["input_ids"]).logits.float()
            local = model.training and step < self.local_steps
            use = self.changed if local else range(len(self.stap.out))
            w = 1.0 if local else self.layer_weight_at(step)
            if w > 0 and len(use) > 0:
                lh = sum(layer_loss(self.stap.out[i], self.ttap.out[i], self.layer_kind) for i in use) / len(use)
            if local:
                loss = lh
                if model.training:
                    self.parts.append((ce.item(), 0.0, loss.item(), lh.item()))
                return (loss, out) if return_outputs else loss
            loss = ce + w * lh
        if self.teacher is not None and self.alpha > 0:
            if next(self.teacher.parameters()).device != ce.device:
                self.teacher.to(ce.device)
            if self.stap is None:
                with torch.no_grad():
                    t = self.teacher(input_ids=inputs["input_ids"]).logits.float()
            T = self.temperature
            s = out.logits.float()
            kl = F.kl_div(
                F.log_softmax(s / T, -1).flatten(0, 1),
                F.log_softmax(t / T, -1).flatten(0, 1),
                log_target=True,
                reduction="batchmean",
            ) * (T * T)
            loss = self.alpha * kl + (1 - self.alpha) * ce + (loss - ce)
        if model.training:
            self.parts.append((ce.item(), kl.item(), loss.item(), lh.item()))
        return (loss, out) if return_outputs else loss


@torch.no_grad()
def perplexity(model, ids, ctx):
    model.eval()
    dev = next(model.parameters()).device
    nll, n = 0.0, 0
    for w in range((len(ids) - 1) // ctx):
        win = ids[w * ctx : (w + 1) * ctx + 1].to(dev)
        logits = model(win[None, :-1], use_cache=False).logits[0].float()
        nll += F.cross_entropy(logits, win[1:], reduction="sum").item()
        n += ctx
    return math.exp(nll / n), n


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="converted HF directory (retrofit export, remote code)")
    p.add_argument("--teacher", help="original HF directory to distil from (none: LM loss only)")
    p.add_argument("--data", required=True, help="training text file")
    p.add_argument("--out", required=True)
    p.add_argument("--tokenizer", help="tokenizer.json (default: the model's, else the teacher's)")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--ctx", type=int, default=512)
    p.add_argument("--batch", type=int, default=8, help="windows per device per step")
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--alpha", type=float, default=0.5, help="weight of the distillation KL")
    p.add_argument("--temperature", type=float, default=2.0)
    p.add_argument("--max-chars", type=int, default=0, help="read at most this many characters of --data (0: all)")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast")
    p.add_argument("--grad-ckpt", action="store_true", help="gradient checkpointing")
    p.add_argument("--save-dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    p.add_argument("--eval-ids", help="safetensors holding ids_docs_val (e.g. qwen3-micro-refs.safetensors)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--layer-weight", type=float, default=0.0, help="layer-wise distillation weight (with --teacher)")
    p.add_argument("--layer-loss", default="mse", choices=["mse", "cos"])
    p.add_argument("--layer-anneal", type=int, default=0, help="steps over which --layer-weight decays to 0 after the local stage")
    p.add_argument("--local-steps", type=int, default=0, help="first steps: only the changed layers train, on their layer loss")
    p.add_argument("--warm-steps", type=int, default=0, help="Depth-Attention warm start: steps over which the self-score bias anneals to 0 (default half the steps)")
    a = p.parse_args()

    torch.backends.cuda.matmul.allow_tf32 = False
    tok = a.tokenizer
    if tok is None:
        for d in (a.model, a.teacher):
            if d and os.path.exists(os.path.join(d, "tokenizer.json")):
                tok = os.path.join(d, "tokenizer.json")
                break
    if tok is None:
        raise SystemExit("no tokenizer.json beside --model or --teacher: pass --tokenizer")
    rows = pack(a.data, tok, a.ctx, a.max_chars)

    model = AutoModelForCausalLM.from_pretrained(a.model, trust_remote_code=True, dtype=torch.float32)
    teacher = None
    if a.teacher and (a.alpha > 0 or a.layer_weight > 0 or a.local_steps > 0):
        teacher = AutoModelForCausalLM.from_pretrained(a.teacher, trust_remote_code=True, dtype=torch.float32).eval()
        for q in teacher.parameters():
            q.requires_grad_(False)
    eval_ids = load_file(a.eval_ids)["ids_docs_val"].long().view(-1) if a.eval_ids else None

    args = TrainingArguments(
        output_dir=os.path.join(a.out, "trainer"),
        max_steps=a.steps,
        per_device_train_batch_size=a.batch,
        gradient_accumulation_steps=a.grad_accum,
        learning_rate=a.lr,
        lr_scheduler_type="cosine",
        warmup_steps=a.warmup,
        weight_decay=0.0,
        logging_steps=10,
        save_strategy="no",
        report_to=[],
        bf16=a.bf16,
        gradient_checkpointing=a.grad_ckpt,
        gradient_checkpointing_kwargs={"use_reentrant": False} if a.grad_ckpt else None,
        ddp_find_unused_parameters=False,
        dataloader_drop_last=True,
        seed=a.seed,
        remove_unused_columns=False,
    )
    trainer = DistillTrainer(
        model=model, args=args, train_dataset=Windows(rows), teacher=teacher, alpha=a.alpha, temperature=a.temperature,
        layer_weight=a.layer_weight, layer_kind=a.layer_loss, layer_anneal=a.layer_anneal, local_steps=a.local_steps,
        warm_steps=a.warm_steps if a.warm_steps > 0 else max(1, a.steps // 2),
    )
    if trainer.bias0 > 0:
        print(f"warm start: depth_self_bias {trainer.bias0:g} annealed to 0 over {trainer.warm_steps} steps", flush=True)
    main_proc = trainer.is_world_process_zero()
    before = None
    if eval_ids is not None and main_proc:
        before = perplexity(model.to(args.device), eval_ids, a.ctx)[0]
        model.train()
    trainer.train()
    trainer.anneal(a.steps)  # the saved model holds the bias after the last step
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
    if not main_proc:
        torch.distributed.destroy_process_group()
        return
    model = trainer.model
    model.to(getattr(torch, a.save_dtype)).save_pretrained(a.out)
    for name in SIDE_FILES:
        src = os.path.join(a.model, name)
        if os.path.exists(src) and not os.path.exists(os.path.join(a.out, name)):
            shutil.copy(src, a.out)
    shutil.rmtree(os.path.join(a.out, "trainer"), ignore_errors=True)

    parts = trainer.parts
    first, last = parts[: min(10, len(parts))], parts[-min(10, len(parts)) :]

    def mean(xs, i):
        return sum(x[i] for x in xs) / max(1, len(xs))

    rec = {
        "model": a.model, "teacher": a.teacher, "steps": a.steps, "windows": len(rows), "ctx": a.ctx,
        "batch": a.batch, "world_size": args.world_size, "alpha": a.alpha, "temperature": a.temperature,
        "loss_first10": mean(first, 2), "loss_last10": mean(last, 2),
        "ce_first10": mean(first, 0), "ce_last10": mean(last, 0),
        "kl_first10": mean(first, 1), "kl_last10": mean(last, 1),
        "layer_first10": mean(first, 3), "layer_last10": mean(last, 3), "layer_weight": a.layer_weight,
        "layer_loss": a.layer_loss, "layer_anneal": a.layer_anneal, "local_steps": a.local_steps,
        "depth_self_bias_start": trainer.bias0, "warm_steps": trainer.warm_steps if trainer.bias0 > 0 else 0,
        "depth_self_bias_end": float(trainer.layout.get("depth_self_bias", 0.0)),
        "parts": trainer.parts,
        "log_history": trainer.state.log_history,
    }
    if eval_ids is not None:
        # Evaluate the saved weights (in save-dtype, computed in fp32), as retrofit will.
        saved = AutoModelForCausalLM.from_pretrained(a.out, trust_remote_code=True, dtype=torch.float32)
        after, n = perplexity(saved.to(args.device), eval_ids, a.ctx)
        rec.update(ppl_before=before, ppl_after=after, eval_tokens=n)
        if teacher is not None:
            rec["ppl_teacher"] = perplexity(teacher.to(args.device), eval_ids, a.ctx)[0]
    with open(os.path.join(a.out, "uptrain.json"), "w") as f:
        json.dump(rec, f, indent=1)
    print(json.dumps({k: v for k, v in rec.items() if k != "log_history"}), flush=True)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
