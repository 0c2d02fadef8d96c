// Package lazyre compiles regular expressions on first use. Validation
// patterns with counted repetitions ({1,256}) compile to large programs;
// compiled at package init they would cost every portway process, sidecars
// and apps included, about half a megabyte and milliseconds at start.
package lazyre

import (
	"regexp"
	"sync"
)

// New returns a function that compiles expr once, on its first call, and
// returns it (it panics, like regexp.MustCompile, on a bad expression).
func New(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
