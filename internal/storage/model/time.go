package model

import "time"

// TimeLayout is how the service writes instants: ISO-8601 UTC with
// milliseconds, e.g. 2026-11-26T10:00:00.123Z. It sorts lexically.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime renders t in TimeLayout.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// ParseTime parses a TimeLayout string.
func ParseTime(s string) (time.Time, error) { return time.Parse(TimeLayout, s) }

// Timestamp truncates t to the precision the service keeps (milliseconds,
// UTC), so that a value read back equals the value written.
func Timestamp(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }
