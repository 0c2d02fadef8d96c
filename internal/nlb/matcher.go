package nlb

import (
	"fmt"
	"strconv"
	"strings"
)

// matcher holds the HTTP codes a health check accepts: a list of codes and
// inclusive ranges, as in the ELBv2 Matcher.HttpCode ("200", "200-299",
// "200,202,300-399").
type matcher []codeRange

type codeRange struct{ lo, hi int }

// parseMatcher parses s; codes must be 200..599 (the NLB HTTP range).
func parseMatcher(s string) (matcher, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("must list HTTP codes, e.g. 200 or 200-399")
	}
	var m matcher
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := parseCode(lo)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", part, err)
		}
		b := a
		if isRange {
			if b, err = parseCode(hi); err != nil {
				return nil, fmt.Errorf("%q: %w", part, err)
			}
			if b < a {
				return nil, fmt.Errorf("%q: range end is below its start", part)
			}
		}
		m = append(m, codeRange{a, b})
	}
	return m, nil
}

func parseCode(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 200 || n > 599 {
		return 0, fmt.Errorf("codes must be numbers in 200..599")
	}
	return n, nil
}

func (m matcher) match(code int) bool {
	for _, r := range m {
		if code >= r.lo && code <= r.hi {
			return true
		}
	}
	return false
}
