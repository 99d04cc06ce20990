"""A Qwen2/Qwen3 decoder rewritten by retrofit, in plain PyTorch.

Written beside the weights by `retrofit export`. It honours the layout in
config.retrofit:
- kv_source: layer i attends with the K/V of layer kv_source[i]; a layer
  reading another's K/V has no k/v projections and adds no cache entry.
- depth_mix (Depth-Attention): before attending, layer i's group-mean query
  (after q_norm) scores the keys (after k_norm) of its candidate layers and its
  own key at the same position; the softmax weights mix the candidates' stored
  values with its own value, and the mixed value is what it attends with and
  caches. A candidate stands for the K/V it reads (kv_source), and each stored
  K/V enters the softmax once however many candidates read it; a layer that
  reads another's K/V does not mix. depth_self_bias (a warm start being
  uptrained; absent or 0 otherwise) is added to the layer's own score.
- layer_map: logical layer i runs physical block layer_map[i]; weights are
  named model.layers.{block}.*.
The KV cache holds one entry per producer layer, in layer order.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint
from transformers import PreTrainedModel
from transformers.cache_utils import DynamicCache
from transformers.generation import GenerationMixin
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast

from .configuration_retrofit import RetrofitConfig


class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


def rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


def rope(x, cos, sin):
    return x * cos + rotate_half(x) * sin


class Attention(nn.Module):
    def __init__(self, config, has_kv):
        super().__init__()
        h, d = config.hidden_size, config.head_dim
        self.heads, self.kv_heads, self.head_dim = config.num_attention_heads, config.num_key_value_heads, d
        self.q_proj = nn.Linear(h, self.heads * d, bias=config.qkv_bias())
        self.o_proj = nn.Linear(self.heads * d, h, bias=config.o_bias())
        self.q_norm = RMSNorm(d, config.rms_norm_eps) if config.qk_norm() else None
        self.layout = config.retrofit  # read at each forward: a warm start's bias may be annealed
        if has_kv:
            self.k_proj = nn.Linear(h, self.kv_heads * d, bias=config.qkv_bias())
            self.v_proj = nn.Linear(h, self.kv_heads * d, bias=config.qkv_bias())
            self.k_norm = RMSNorm(d, config.rms_norm_eps) if config.qk_norm() else None

    def forward(self, x, cos, sin, mask, causal, shared, cands, cache, slot):
        """Returns (output, own) where own = (k, v, K, V): this step's key after
        k_norm (before RoPE) and stored value, and the full K/V attended with.
        own is None for a layer reading shared = (K, V) of another layer."""
        B, T, _ = x.shape
        H, G, d = self.heads, self.kv_heads, self.head_dim
        q = self.q_proj(x).view(B, T, H, d)
        if self.q_norm is not None:
            q = self.q_norm(q)
        q = q.transpose(1, 2)
        own = None
        if shared is None:
            k = self.k_proj(x).view(B, T, G, d)
            if self.k_norm is not None:
                k = self.k_norm(k)
            k = k.transpose(1, 2)
            v = self.v_proj(x).view(B, T, G, d).transpose(1, 2)
            if cands:
                v = depth_mix(q, k, v, cands, G, self.layout.get("depth_self_bias", 0.0))
            kr = rope(k, cos, sin)
            if cache is not None:
                K, V = cache.update(kr, v, slot)
            else:
                K, V = kr, v
            own = (k, v, K, V)
        else:
            K, V = shared
        if G != H:
            K = K.repeat_interleave(H // G, dim=1)
            V = V.repeat_interleave(H // G, dim=1)
        out = F.scaled_dot_product_attention(rope(q, cos, sin), K, V, attn_mask=mask, is_causal=causal)
        return self.o_proj(out.transpose(1, 2).reshape(B, T, H * d)), own


def depth_mix(q, k, v, cands, G, self_bias=0.0):
    """Depth-Attention value mixing per KV head at each position (fp32 softmax
    over the candidates and the layer itself, whose score is raised by the warm
    start's self_bias)."""
    B, H, T, d = q.shape
    qbar = q.view(B, G, H // G, T, d).mean(2).float()
    keys = torch.stack([c[0] for c in cands] + [k], 0).float()
    vals = torch.stack([c[1] for c in cands] + [v], 0)
    scores = (qbar.unsqueeze(0) * keys).sum(-1) / math.sqrt(d)
    if self_bias:
        scores = torch.cat([scores[:-1], scores[-1:] + float(self_bias)], 0)
    alpha = torch.softmax(scores, dim=0).to(vals.dtype)
    return (alpha.unsqueeze(-1) * vals).sum(0)


class Block(nn.Module):
    def __init__(self, config, has_kv):
        super().__init__()
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.self_attn = Attention(config, has_kv)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.mlp = MLP(config)

    def forward(self, x, cos, sin, mask, causal, shared, cands, cache, slot):
        a, own = self.self_attn(self.input_layernorm(x), cos, sin, mask, causal, shared, cands, cache, slot)
        x = x + a
        return x + self.mlp(self.post_attention_layernorm(x)), own


class RetrofitPreTrainedModel(PreTrainedModel):
    config_class = RetrofitConfig
    base_model_prefix = "model"
    supports_gradient_checkpointing = True
    _no_split_modules = ["Block"]
    _skip_keys_device_placement = ["past_key_values"]

    def _init_weights(self, module):
        std = self.config.initializer_range
        # torch.nn.init looked up at call time: transformers guards it so
        # that weights loaded from the checkpoint are left alone.
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0.0, std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, 0.0, std)
        elif isinstance(module, RMSNorm):
            nn.init.ones_(module.weight)


def _mask(attention_mask, B, T, past, device):
    """(attn_mask, is_causal) for scaled_dot_product_attention."""
    n = past + T
    if attention_mask is not None and attention_mask.dim() == 2 and bool(attention_mask[:, -n:].all()):
        attention_mask = None
    if attention_mask is None:
        if T == 1:
            return None, False
        if past == 0:
            return None, True
    i = torch.arange(T, device=device)[:, None] + past
    j = torch.arange(n, device=device)[None, :]
    m = (j <= i)[None, None]
    if attention_mask is not None:
        if attention_mask.dim() == 2:
            m = m & attention_mask[:, None, None, -n:].bool()
        else:
            am = attention_mask[..., -n:]
            m = m & (am if am.dtype == torch.bool else am == 0)
        m = m | (j == i)[None, None]  # a padded query still sees itself: no empty rows
    return m, False


class RetrofitModel(RetrofitPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList([Block(config, config.block_has_kv(p)) for p in range(config.num_blocks())])
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.gradient_checkpointing = False
        self.post_init()

    def get_input_embeddings(self):
        return self.embed_tokens

    def set_input_embeddings(self, value):
        self.embed_tokens = value

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        position_ids=None,
        past_key_values=None,
        inputs_embeds=None,
        use_cache=None,
        cache_position=None,
        **kwargs,
    ):
        cfg = self.config
        r = cfg.retrofit
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        B, T, _ = inputs_embeds.shape
        use_cache = cfg.use_cache if use_cache is None else use_cache
        if self.gradient_checkpointing and self.training:
            use_cache = False
        if use_cache and past_key_values is None:
            past_key_values = DynamicCache()
        cache = past_key_values if use_cache else None
        past = cache.get_seq_length() if cache is not None else 0
        if position_ids is None:
            if cache_position is None:
                cache_position = torch.arange(past, past + T, device=inputs_embeds.device)
            position_ids = cache_position.unsqueeze(0).expand(B, -1)
        if isinstance(attention_mask, dict):
            attention_mask = attention_mask.get("full_attention")
        mask, causal = _mask(attention_mask, B, T, past, inputs_embeds.device)

        d = cfg.head_dim
        inv = 1.0 / cfg.rope_parameters["rope_theta"] ** (
            torch.arange(0, d, 2, device=inputs_embeds.device, dtype=torch.float32) / d
        )
        freqs = position_ids[..., None].float() * inv
        emb = torch.cat((freqs, freqs), dim=-1)[:, None]
        cos, sin = emb.cos().to(inputs_embeds.dtype), emb.sin().to(inputs_embeds.dtype)

        slots = cfg.kv_slots()
        cur = {}  # layer -> (k, v) of this step, for Depth-Attention candidates
        full = {}  # producer layer -> (K, V) attended with
        h = inputs_embeds
        for i, p in enumerate(r["layer_map"]):
            s = r["kv_source"][i]
            shared = full[s] if s != i else None
            cands = [cur[j] for j in cfg.depth_candidates(i)]
            block = self.layers[p]
            if self.gradient_checkpointing and self.training:
                h, own = checkpoint(
                    block, h, cos, sin, mask, causal, shared, cands, None, None, use_reentrant=False
                )
            else:
                h, own = block(h, cos, sin, mask, causal, shared, cands, cache, slots.get(i))
            if own is not None:
                cur[i] = own[:2]
                full[i] = own[2:]
            else:
                cur[i] = cur[s]
        return BaseModelOutputWithPast(last_hidden_state=self.norm(h), past_key_values=cache)


class RetrofitForCausalLM(RetrofitPreTrainedModel, GenerationMixin):
    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}

    def __init__(self, config):
        super().__init__(config)
        self.model = RetrofitModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_input_embeddings(self):
        return self.model.embed_tokens

    def set_input_embeddings(self, value):
        self.model.embed_tokens = value

    def get_output_embeddings(self):
        return self.lm_head

    def set_output_embeddings(self, value):
        self.lm_head = value

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        position_ids=None,
        past_key_values=None,
        inputs_embeds=None,
        labels=None,
        use_cache=None,
        cache_position=None,
        logits_to_keep=0,
        **kwargs,
    ):
        out = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            cache_position=cache_position,
        )
        h = out.last_hidden_state
        if isinstance(logits_to_keep, int) and logits_to_keep > 0:
            h = h[:, -logits_to_keep:]
        logits = self.lm_head(h)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(
                logits[:, :-1].float().reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100
            )
        return CausalLMOutputWithPast(loss=loss, logits=logits, past_key_values=out.past_key_values)


__all__ = ["RetrofitForCausalLM", "RetrofitModel", "RetrofitPreTrainedModel"]
