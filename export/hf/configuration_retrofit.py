"""Configuration of a Qwen2/Qwen3 decoder rewritten by retrofit.

Written beside the weights by `retrofit export`. The checkpoint keeps its base
family as model_type; the "retrofit" object holds the attention layout:
kv_source (the layer whose K/V each layer attends with), depth_mix,
depth_stride, depth_window (Depth-Attention) and layer_map (the physical block
each logical layer runs).
"""

try:
    from transformers import PreTrainedConfig
except ImportError:  # transformers < 5
    from transformers import PretrainedConfig as PreTrainedConfig

BASE_MODEL_TYPE = "__BASE_MODEL_TYPE__"


class RetrofitConfig(PreTrainedConfig):
    model_type = BASE_MODEL_TYPE
    keys_to_ignore_at_inference = ["past_key_values"]

    def __init__(
        self,
        vocab_size=8192,
        hidden_size=256,
        intermediate_size=768,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=None,
        head_dim=None,
        hidden_act="silu",
        max_position_embeddings=4096,
        initializer_range=0.02,
        rms_norm_eps=1e-6,
        use_cache=True,
        tie_word_embeddings=False,
        rope_theta=None,
        rope_parameters=None,
        attention_bias=None,
        attention_dropout=0.0,
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,
        retrofit=None,
        **kwargs,
    ):
        kwargs.pop("rope_scaling", None)
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_key_value_heads or num_attention_heads
        self.head_dim = head_dim or hidden_size // num_attention_heads
        self.hidden_act = hidden_act
        self.max_position_embeddings = max_position_embeddings
        self.initializer_range = initializer_range
        self.rms_norm_eps = rms_norm_eps
        self.use_cache = use_cache
        self.tie_word_embeddings = tie_word_embeddings
        rp = dict(rope_parameters or {})
        if rope_theta is not None and "rope_theta" not in rp:
            rp["rope_theta"] = rope_theta
        rp.setdefault("rope_theta", 10000.0)
        rp.setdefault("rope_type", "default")
        if rp["rope_type"] != "default":
            raise ValueError(f"rope_type {rp['rope_type']!r}: only default RoPE is supported")
        self.rope_parameters = rp
        if attention_bias is None:
            attention_bias = BASE_MODEL_TYPE == "qwen2"
        self.attention_bias = attention_bias
        self.attention_dropout = attention_dropout
        self.bos_token_id = bos_token_id
        self.eos_token_id = eos_token_id
        self.pad_token_id = pad_token_id
        self.retrofit = self._layout(retrofit or {}, num_hidden_layers)

    @staticmethod
    def _layout(r, n):
        r = dict(r)
        r.setdefault("kv_source", list(range(n)))
        r.setdefault("depth_mix", [False] * n)
        r.setdefault("layer_map", list(range(n)))
        r.setdefault("depth_stride", 0)
        r.setdefault("depth_window", 0)
        b = r.get("depth_self_bias", 0.0)
        if not (isinstance(b, (int, float)) and 0 <= b < float("inf")):
            raise ValueError(f"retrofit.depth_self_bias = {b!r}: want a finite number >= 0")
        for key in ("kv_source", "depth_mix", "layer_map"):
            if len(r[key]) != n:
                raise ValueError(f"retrofit.{key} has {len(r[key])} entries for {n} layers")
        src = r["kv_source"]
        for i, s in enumerate(src):
            if not 0 <= s <= i or src[s] != s:
                raise ValueError(f"retrofit.kv_source[{i}] = {s}: must be a layer <= {i} that stores its own K/V")
            if r["depth_mix"][i] and s != i:
                raise ValueError(f"retrofit.depth_mix[{i}]: a layer reading layer {s}'s K/V cannot mix values")
        blocks = max(r["layer_map"]) + 1
        if sorted(set(r["layer_map"])) != list(range(blocks)):
            raise ValueError("retrofit.layer_map must use every block 0..max")
        return r

    # Derived facts, methods rather than attributes so that save_pretrained
    # writes back only what was read.
    def qk_norm(self):
        return self.model_type == "qwen3"

    def qkv_bias(self):
        return self.model_type == "qwen2" or bool(self.attention_bias)

    def o_bias(self):
        return self.model_type == "qwen3" and bool(self.attention_bias)

    def num_blocks(self):
        return max(self.retrofit["layer_map"]) + 1

    def block_has_kv(self, p):
        r = self.retrofit
        return any(b == p and r["kv_source"][i] == i for i, b in enumerate(r["layer_map"]))

    def depth_candidates(self, layer):
        r = self.retrofit
        if not r["depth_mix"][layer]:
            return []
        stride, window, src = r["depth_stride"], r["depth_window"], r["kv_source"]
        # A candidate j stands for the K/V it reads, kv_source[j]; the
        # candidates form a set, so a shared K/V enters the softmax once.
        c = {src[j] for j in range(layer) if (stride > 0 and j % stride == 0) or (window > 0 and j >= layer - window)}
        return sorted(c)

    def kv_slots(self):
        """Cache slot of each layer that stores K/V (producers), in layer order."""
        src = self.retrofit["kv_source"]
        return {i: n for n, i in enumerate(i for i, s in enumerate(src) if s == i)}


__all__ = ["RetrofitConfig"]
