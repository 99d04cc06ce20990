package depthattn

import (
	"strings"
	"testing"

	"github.com/retrofit-llm/retrofit/transforms"
)

func TestWarmBias(t *testing.T) {
	for _, tc := range []struct {
		warm string
		want float64
		err  string
	}{
		{"off", 0, ""},
		{"on", WarmBias, ""},
		{"12.5", 12.5, ""},
		{"0", 0, ""},
		{"-1", 0, `warm="-1"`},
		{"NaN", 0, `warm="NaN"`},
		{"1e5", 0, `warm="1e5"`},
		{"maybe", 0, `warm="maybe": want on, off or a self-score bias`},
	} {
		got, err := warmBias(transforms.Values{"warm": tc.warm})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("warm=%s: error %v, want %q", tc.warm, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("warm=%s: %v, %v; want %v", tc.warm, got, err, tc.want)
		}
	}
}
