package livestats

import (
	"sync"
	"time"
)

// Window is how far back a Series looks, in one-second slots.
const Window = 60

// LatencyBounds are the upper bounds of the latency buckets in
// microseconds; a last, unbounded bucket takes the rest.
var LatencyBounds = [...]int64{
	100, 200, 300, 500, 750,
	1000, 1250, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 7500,
	10000, 12500, 15000, 20000, 25000, 30000, 40000, 50000, 75000,
	100000, 150000, 200000, 300000, 500000, 750000,
	1000000, 2000000, 5000000, 10000000, 30000000,
}

const nBuckets = len(LatencyBounds) + 1

type slot struct {
	sec       int64 // the Unix second it counts; 0: never used
	n, c4, c5 uint32
	sumMicros int64
	maxMicros int64
	latency   [nBuckets]uint32
}

// Series is one key's last Window seconds. The zero value is ready; it is
// safe for concurrent use.
type Series struct {
	mu    sync.Mutex
	last  int64 // Unix second of the latest Record
	slots [Window]slot
}

// Record counts one request that ended at now, took d and answered status.
func (s *Series) Record(now time.Time, d time.Duration, status int) {
	sec := now.Unix()
	us := d.Microseconds()
	if us < 0 {
		us = 0
	}
	b := bucketOf(us)
	s.mu.Lock()
	sl := &s.slots[sec%Window]
	if sl.sec != sec {
		*sl = slot{sec: sec}
	}
	sl.n++
	switch {
	case status >= 500:
		sl.c5++
	case status >= 400:
		sl.c4++
	}
	sl.sumMicros += us
	if us > sl.maxMicros {
		sl.maxMicros = us
	}
	sl.latency[b]++
	if sec > s.last {
		s.last = sec
	}
	s.mu.Unlock()
}

// bucketOf is the index of the first bound >= us (nBuckets-1 past all).
func bucketOf(us int64) int {
	lo, hi := 0, len(LatencyBounds)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if LatencyBounds[m] < us {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// Summary is a series over the window ending now.
type Summary struct {
	Requests  int     `json:"requests"`
	Rate      float64 `json:"ratePerSec"` // Requests / Window
	Errors4xx int     `json:"errors4xx"`
	Errors5xx int     `json:"errors5xx"`
	// ErrorRate is the share of 5xx answers (0-1): what the operator's
	// service did wrong; 4xx are counted apart.
	ErrorRate float64 `json:"errorRate"`
	P50       int64   `json:"p50Micros"` // 0 without requests
	P99       int64   `json:"p99Micros"`
	Mean      int64   `json:"meanMicros"`
	Max       int64   `json:"maxMicros"`
	// PerSecond are the request counts of the window's seconds, oldest
	// first (a sparkline).
	PerSecond [Window]uint32 `json:"perSecond"`
	LastUnix  int64          `json:"lastUnix,omitempty"` // the latest request's second
}

// Summary reads the series over the Window seconds ending at now.
func (s *Series) Summary(now time.Time) Summary {
	end := now.Unix()
	var sum Summary
	var hist [nBuckets]uint64
	var total int64
	s.mu.Lock()
	for i := range s.slots {
		sl := &s.slots[i]
		age := end - sl.sec
		if sl.sec == 0 || age < 0 || age >= Window {
			continue
		}
		sum.Requests += int(sl.n)
		sum.Errors4xx += int(sl.c4)
		sum.Errors5xx += int(sl.c5)
		total += sl.sumMicros
		sum.Max = max(sum.Max, sl.maxMicros)
		sum.PerSecond[Window-1-age] = sl.n
		for b, c := range sl.latency {
			hist[b] += uint64(c)
		}
	}
	if s.last > 0 {
		sum.LastUnix = s.last
	}
	s.mu.Unlock()
	if sum.Requests == 0 {
		return sum
	}
	sum.Rate = float64(sum.Requests) / Window
	sum.ErrorRate = float64(sum.Errors5xx) / float64(sum.Requests)
	sum.Mean = total / int64(sum.Requests)
	sum.P50 = min(quantile(&hist, uint64(sum.Requests), 0.50), sum.Max)
	sum.P99 = min(quantile(&hist, uint64(sum.Requests), 0.99), sum.Max)
	return sum
}

// quantile reads q from the histogram, interpolating linearly inside the
// bucket it falls in.
func quantile(hist *[nBuckets]uint64, n uint64, q float64) int64 {
	rank := q * float64(n)
	var below uint64
	for b, in := range hist {
		if in == 0 || float64(below+in) < rank {
			below += in
			continue
		}
		if b >= len(LatencyBounds) {
			return LatencyBounds[len(LatencyBounds)-1]
		}
		var lo int64
		if b > 0 {
			lo = LatencyBounds[b-1]
		}
		frac := (rank - float64(below)) / float64(in)
		return lo + int64(frac*float64(LatencyBounds[b]-lo))
	}
	return LatencyBounds[len(LatencyBounds)-1]
}

// idle reports whether the series has seen nothing for a whole window.
func (s *Series) idle(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return now.Unix()-s.last >= Window
}
