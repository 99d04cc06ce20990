package transforms

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Values are a transform's options after parsing: every declared option is
// present, with its default where the caller gave none.
type Values map[string]string

// ParseOptions checks given against the declared options, refusing unknown
// names, and fills in the defaults.
func ParseOptions(decl []Option, given map[string]string) (Values, error) {
	v := Values{}
	known := map[string]bool{}
	for _, o := range decl {
		known[o.Name] = true
		v[o.Name] = o.Default
	}
	var unknown []string
	for k, x := range given {
		if !known[k] {
			unknown = append(unknown, k)
			continue
		}
		v[k] = strings.TrimSpace(x)
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		var names []string
		for _, o := range decl {
			names = append(names, o.Name)
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("unknown option %s (this transform takes no options)", strings.Join(unknown, ", "))
		}
		return nil, fmt.Errorf("unknown option %s (options: %s)", strings.Join(unknown, ", "), strings.Join(names, ", "))
	}
	return v, nil
}

// Int parses option name as an integer.
func (v Values) Int(name string) (int, error) {
	n, err := strconv.Atoi(v[name])
	if err != nil {
		return 0, fmt.Errorf("%s=%q is not an integer", name, v[name])
	}
	return n, nil
}

// Bool parses option name as true/false (also 1/0, yes/no).
func (v Values) Bool(name string) (bool, error) {
	switch strings.ToLower(v[name]) {
	case "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off", "":
		return false, nil
	}
	return false, fmt.Errorf("%s=%q: want true or false", name, v[name])
}

// Fraction parses option name as a decimal ("0.25") or a ratio ("1/3").
func (v Values) Fraction(name string) (float64, error) {
	s := v[name]
	bad := fmt.Errorf("%s=%q: want a number such as 0.25 or a ratio such as 1/3", name, s)
	if a, b, ok := strings.Cut(s, "/"); ok {
		x, e1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
		y, e2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
		if e1 != nil || e2 != nil || y == 0 {
			return 0, bad
		}
		return x / y, nil
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, bad
	}
	return x, nil
}

// Choice returns option name, refusing a value outside choices.
func (v Values) Choice(name string, choices ...string) (string, error) {
	for _, c := range choices {
		if v[name] == c {
			return c, nil
		}
	}
	return "", fmt.Errorf("%s=%q: want one of %s", name, v[name], strings.Join(choices, ", "))
}

// Divisors returns the positive divisors of n in increasing order.
func Divisors(n int) []int {
	var d []int
	for i := 1; i <= n; i++ {
		if n%i == 0 {
			d = append(d, i)
		}
	}
	return d
}

// JoinInts formats a list as "1, 2, 3".
func JoinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}
