package load

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/cvrswarm/cvrswarm/msnp"
)

// fieldsOf lists the fields the FieldErrors joined in err name, in order.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	var fields []string
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var fe *FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("got error %v, want only FieldErrors", e)
		}
		fields = append(fields, fe.Field)
	}
	return fields
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	ok := Config{Target: "127.0.0.1:1", Schedule: Constant(100)}
	with := func(f func(*Config)) Config { c := ok; f(&c); return c }
	tests := []struct {
		name string
		cfg  Config
		want []string // the fields named, in order; none for a valid config
	}{
		{name: "valid", cfg: ok},
		{name: "unbounded", cfg: with(func(c *Config) { c.Schedule = Unbounded() })},
		{name: "zero config", cfg: Config{}, want: []string{"Target", "Schedule"}},
		{name: "zero schedule", cfg: with(func(c *Config) { c.Schedule = Schedule{} }), want: []string{"Schedule"}},
		{name: "rate computed as 0", cfg: with(func(c *Config) { c.Schedule = Constant(0) }), want: []string{"Schedule"}},
		{name: "steps of pauses", cfg: with(func(c *Config) { c.Schedule = Steps(Step{0, time.Second}) }), want: []string{"Schedule"}},
		{name: "negatives", cfg: with(func(c *Config) { c.Requests, c.Conns, c.Timeout = -1, -2, -time.Second }),
			want: []string{"Requests", "Timeout", "Conns"}},
		{name: "negative batch window", cfg: with(func(c *Config) { c.BatchWindow = -time.Microsecond }), want: []string{"BatchWindow"}},
		{name: "batch window too long", cfg: with(func(c *Config) { c.BatchWindow = MaxBatchWindow + 1 }), want: []string{"BatchWindow"}},
		{name: "longest batch window", cfg: with(func(c *Config) { c.BatchWindow = MaxBatchWindow })},
		{name: "churn with depth", cfg: with(func(c *Config) { c.Churn, c.Depth = true, 4 }), want: []string{"Depth"}},
		{name: "mutate without mutator", cfg: with(func(c *Config) { c.Mutate = 0.1 }), want: []string{"Mutator"}},
		{name: "mutate above 1", cfg: with(func(c *Config) { c.Mutate, c.Mutator = 2, flipper{} }), want: []string{"Mutate"}},
		{name: "mutate NaN", cfg: with(func(c *Config) { c.Mutate, c.Mutator = math.NaN(), flipper{} }), want: []string{"Mutate"}},
		{name: "bad shard", cfg: with(func(c *Config) { c.Shard = Shard{4, 3} }), want: []string{"Shard"}},
		{name: "shard without a count", cfg: with(func(c *Config) { c.Shard = Shard{Index: 1} }), want: []string{"Shard"}},
		{name: "too few requests for the shards", cfg: with(func(c *Config) { c.Requests, c.Shard = 2, Shard{3, 3} }), want: []string{"Requests"}},
		{name: "warm-up longer than the steps", cfg: with(func(c *Config) { c.Schedule, c.WarmUp = Steps(Step{10, time.Second}), time.Second }),
			want: []string{"WarmUp"}},
		{name: "unknown dialect", cfg: with(func(c *Config) { c.Dialects = []msnp.Dialect{"MSNP99"} }), want: []string{"Dialects"}},
		{name: "start in the past", cfg: with(func(c *Config) { c.StartAt = time.Now().Add(-time.Second) }), want: []string{"StartAt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if err == nil {
				if tt.want != nil {
					t.Fatalf("got no error, want fields %v", tt.want)
				}
				return
			}
			if got := fieldsOf(t, err); !slices.Equal(got, tt.want) {
				t.Errorf("got fields %v (%v), want %v", got, err, tt.want)
			}
		})
	}
}

// TestZeroScheduleOffersNothing checks that no limit is only ever asked
// for: the zero Schedule and a rate that is not a positive number offer
// no request, where they once meant no limit.
func TestZeroScheduleOffersNothing(t *testing.T) {
	t.Parallel()
	for _, s := range []Schedule{{}, Constant(0), Constant(-5), Constant(math.NaN()), Constant(math.Inf(1))} {
		if s.Unbounded() || !s.offersNone() {
			t.Errorf("%s: got unbounded %v, offers none %v; want bounded and offering none", s, s.Unbounded(), s.offersNone())
		}
		if n := s.Count(time.Hour); n != 0 {
			t.Errorf("%s: got %d due in an hour, want 0", s, n)
		}
		if _, ok := s.Due(0); ok {
			t.Errorf("%s: got a first request due, want none", s)
		}
		if _, ok := newPacer(s).next(); ok {
			t.Errorf("%s: the pacer gave a due time, want none", s)
		}
	}
	if got := (Schedule{}).String(); got != "none" {
		t.Errorf("got the zero Schedule as %q, want none", got)
	}
	if u := Unbounded(); !u.Unbounded() || u.offersNone() || u.String() != "inf" {
		t.Errorf("got Unbounded() unbounded %v offers none %v as %q", u.Unbounded(), u.offersNone(), u)
	}
	if c := Constant(1); c.Unbounded() || c.offersNone() {
		t.Errorf("got Constant(1) unbounded %v offers none %v", c.Unbounded(), c.offersNone())
	}
}

// TestParsersReportTheirField checks that a bad value comes back as a
// FieldError of the Config field it would fill.
func TestParsersReportTheirField(t *testing.T) {
	t.Parallel()
	env := func(k string) (string, bool) { return map[string]string{EnvShardIndex: "5"}[k], k == EnvShardIndex }
	for _, tc := range []struct {
		field string
		err   error
	}{
		{"Schedule", second(ParseRate("fast"))},
		{"Schedule", second(ParseRamp("1/s", time.Second))},
		{"Schedule", second(ParseSteps("0/s:1s"))},
		{"Shard", second(ParseShard("3/2"))},
		{"SLO", second(ParseSLO("p99~1ms"))},
		{"Shard", func() error { _, _, err := ShardFromEnv(env); return err }()},
	} {
		var fe *FieldError
		if !errors.As(tc.err, &fe) || fe.Field != tc.field || fe.Problem == "" {
			t.Errorf("got %v, want a FieldError of %s", tc.err, tc.field)
		}
	}
}

func second[T any](_ T, err error) error { return err }
