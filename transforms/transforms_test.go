package transforms

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseOptions(t *testing.T) {
	decl := []Option{{Name: "factor", Default: "2"}, {Name: "init", Default: "keep"}}
	for _, tc := range []struct {
		given map[string]string
		want  Values
		err   string
	}{
		{nil, Values{"factor": "2", "init": "keep"}, ""},
		{map[string]string{"factor": " 3 "}, Values{"factor": "3", "init": "keep"}, ""},
		{map[string]string{"fcator": "3", "zz": "1"}, nil, "unknown option fcator, zz (options: factor, init)"},
	} {
		got, err := ParseOptions(decl, tc.given)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseOptions(%v) error %v, want %q", tc.given, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseOptions(%v) = %v, %v; want %v", tc.given, got, err, tc.want)
		}
	}
	if _, err := ParseOptions(nil, map[string]string{"x": "1"}); err == nil || !strings.Contains(err.Error(), "takes no options") {
		t.Errorf("no options: error %v", err)
	}
}

func TestValues(t *testing.T) {
	v := Values{"a": "1/3", "b": "0.25", "c": "1/0", "d": "yes", "e": "7", "f": "NaN"}
	for _, tc := range []struct {
		key  string
		want float64
		ok   bool
	}{{"a", 1.0 / 3, true}, {"b", 0.25, true}, {"c", 0, false}, {"d", 0, false}, {"e", 7, true}, {"f", 0, false}} {
		got, err := v.Fraction(tc.key)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Fraction(%s=%s) = %v, %v", tc.key, v[tc.key], got, err)
		}
	}
	if b, err := v.Bool("d"); !b || err != nil {
		t.Errorf("Bool(yes) = %v, %v", b, err)
	}
	if _, err := v.Int("b"); err == nil || err.Error() != `b="0.25" is not an integer` {
		t.Errorf("Int(0.25) error %v", err)
	}
	if got := JoinInts(Divisors(12)); got != "1, 2, 3, 4, 6, 12" {
		t.Errorf("Divisors(12) = %s", got)
	}
}

func TestResolveKV(t *testing.T) {
	for _, tc := range []struct{ in, want []int }{
		{[]int{0, 1, 2, 3}, []int{0, 1, 2, 3}},
		{[]int{0, 0, 1, 2}, []int{0, 0, 0, 0}},
		{[]int{0, 1, 1, 3, 2, 4}, []int{0, 1, 1, 3, 1, 1}},
	} {
		if got := ResolveKV(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ResolveKV(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestPoolHeads(t *testing.T) {
	// 4 heads of 1 row × 2 columns pooled to 2: heads (0,1) and (2,3).
	v := []float32{0, 1, 2, 3, 4, 5, 6, 7}
	if got, want := PoolHeads(v, 4, 2, 1, 2), []float32{1, 2, 5, 6}; !reflect.DeepEqual(got, want) {
		t.Errorf("PoolHeads = %v, want %v", got, want)
	}
	if got, want := PoolHeads(v, 4, 1, 1, 2), []float32{3, 4}; !reflect.DeepEqual(got, want) {
		t.Errorf("PoolHeads to 1 = %v, want %v", got, want)
	}
}
