package finetune

import (
	"fmt"
	"math"
)

// SelfBias is the Depth-Attention warm start's schedule: the self-score bias
// (model.Layout.DepthSelfBias) after k optimizer steps of an anneal over w
// steps from b0, the converted model's bias. It is b0 before the first step
// (the original model) and −ln(k/w) after step k, capped at b0: the
// candidates' softmax weights, scaled by exp(−bias) against the own value's,
// grow linearly from 0 to their full value, and the bias is 0 from step w
// on — an ordinary Depth-Attention model. A schedule, not a parameter.
func SelfBias(k, w int, b0 float64) float64 {
	switch {
	case b0 <= 0 || k >= w:
		return 0
	case k <= 0:
		return b0
	}
	return min(b0, -math.Log(float64(k)/float64(w)))
}

// warmDefaults checks WarmSteps against the model's warm-start bias and
// fills its default, half the steps.
func (c *Config) warmDefaults() error {
	b0 := c.Model.Layout.DepthSelfBias
	switch {
	case c.WarmSteps < 0:
		return fmt.Errorf("finetune: warm steps %d must not be negative", c.WarmSteps)
	case b0 == 0 && c.WarmSteps > 0:
		return fmt.Errorf("finetune: warm steps %d, but the model has no Depth-Attention warm start to anneal (convert with --to depthattn --opt warm=on)", c.WarmSteps)
	case b0 > 0 && c.WarmSteps == 0:
		c.WarmSteps = max(1, c.Steps/2)
	}
	return nil
}

// anneal sets the net's self-score bias for the state after k steps (the
// bias a step trains and evaluates with is that after it).
func (tr *trainer) anneal(k int) {
	tr.net.Layout.DepthSelfBias = SelfBias(k, tr.cfg.WarmSteps, tr.cfg.Model.Layout.DepthSelfBias)
}

// warmStart logs the anneal and sets the bias of the restored state.
func (tr *trainer) warmStart() error {
	if b0 := tr.cfg.Model.Layout.DepthSelfBias; b0 > 0 {
		tr.logf("warm start: Depth-Attention self-score bias %g annealed to 0 over %d steps (now %.4g)",
			b0, tr.cfg.WarmSteps, SelfBias(tr.st.Step, tr.cfg.WarmSteps, b0))
		if tr.cfg.WarmSteps > tr.cfg.Steps {
			tr.logf("warm start: %d warm steps > %d steps: the exported model keeps bias %.4g (config.json depth_self_bias)",
				tr.cfg.WarmSteps, tr.cfg.Steps, SelfBias(tr.cfg.Steps, tr.cfg.WarmSteps, b0))
		}
	}
	tr.anneal(tr.st.Step)
	return nil
}
