package load

import (
	"testing"
)

func TestParseSLO(t *testing.T) {
	tests := []struct {
		in      string
		want    []Objective
		wantErr bool
	}{
		{in: "p99<20ms", want: []Objective{{Text: "p99<20ms", Metric: "p", Percentile: 99, Op: "<", Threshold: 20, Unit: 1000}}},
		{in: "p99.9<=1.5s", want: []Objective{{Text: "p99.9<=1.5s", Metric: "p", Percentile: 99.9, Op: "<=", Threshold: 1.5, Unit: 1e6}}},
		{in: "p999<500us", want: []Objective{{Text: "p999<500us", Metric: "p", Percentile: 99.9, Op: "<", Threshold: 500, Unit: 1}}},
		{in: "errors<1%, rate>4900", want: []Objective{
			{Text: "errors<1%", Metric: "errors", Op: "<", Threshold: 1, Unit: 100},
			{Text: "rate>4900", Metric: "rate", Op: ">", Threshold: 4900, Unit: 1}}},
		{in: "errors<0.01", want: []Objective{{Text: "errors<0.01", Metric: "errors", Op: "<", Threshold: 0.01, Unit: 1}}},
		{in: "max<1s,mean<2ms", want: []Objective{
			{Text: "max<1s", Metric: "max", Op: "<", Threshold: 1, Unit: 1e6},
			{Text: "mean<2ms", Metric: "mean", Op: "<", Threshold: 2, Unit: 1000}}},
		{in: "rate>=300/1m", want: []Objective{{Text: "rate>=300/1m", Metric: "rate", Op: ">=", Threshold: 5, Unit: 1}}},
		{in: "", wantErr: true},
		{in: "p99=20ms", wantErr: true},
		{in: "p0<1ms", wantErr: true},
		{in: "p101<1ms", wantErr: true},
		{in: "p99<fast", wantErr: true},
		{in: "errors<200%", wantErr: true},
		{in: "latency<1ms", wantErr: true},
		{in: "rate>inf", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSLO(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("got %+v, want %+v", got[i], tt.want[i])
				}
			}
		})
	}
}

func TestEvaluateSLO(t *testing.T) {
	h := NewHistogram()
	for v := int64(1); v <= 1000; v++ {
		h.RecordValue(v * 100) // 100µs to 100ms
	}
	enc, err := EncodeHistogram(h)
	if err != nil {
		t.Fatal(err)
	}
	r := &Result{
		Requests: 1000, Rate: Rate{Requested: 5000, Achieved: 4950},
		Latency:    Summarize(h),
		Histograms: Histograms{Latency: enc},
		Outcomes:   Counts{OutcomeOK: 985, CodeOutcome(420): 10, CodeOutcome(731): 5},
		ByKind:     OutcomesByKind{Valid: Counts{OutcomeOK: 985, CodeOutcome(420): 10}, Mutated: Counts{CodeOutcome(731): 5}},
	}
	tests := []struct {
		slo       string
		wantValue float64
		wantMet   bool
	}{
		{slo: "p99<20ms", wantValue: 99, wantMet: false},
		{slo: "p99<100ms", wantValue: 99, wantMet: true},
		{slo: "p50<=51ms", wantValue: 50, wantMet: true},
		{slo: "p99.9<100ms", wantValue: 99.9, wantMet: true},
		{slo: "errors<1%", wantValue: 100 * 10.0 / 995, wantMet: false},
		{slo: "errors<0.02", wantValue: 10.0 / 995, wantMet: true},
		{slo: "rate>4900", wantValue: 4950, wantMet: true},
		{slo: "rate>=5000", wantValue: 4950, wantMet: false},
		{slo: "max<1s", wantValue: 0.1, wantMet: true},
	}
	for _, tt := range tests {
		t.Run(tt.slo, func(t *testing.T) {
			objs, err := ParseSLO(tt.slo)
			if err != nil {
				t.Fatal(err)
			}
			v := EvaluateSLO(objs, r)[0]
			if v.Met != tt.wantMet || v.Value < tt.wantValue*0.99 || v.Value > tt.wantValue*1.01 {
				t.Errorf("got %+v, want value %v met %v", v, tt.wantValue, tt.wantMet)
			}
			if got := len(Breached([]SLOVerdict{v})); got != map[bool]int{true: 0, false: 1}[tt.wantMet] {
				t.Errorf("got %d breached, want %v", got, !tt.wantMet)
			}
		})
	}
}

func TestSLOVerdictString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v    SLOVerdict
		want string
	}{
		{SLOVerdict{Objective: "p99<100us", Value: 1200}, "p99<100us: 1.20ms, breached"},
		{SLOVerdict{Objective: "p99<20ms", Value: 1.5, Met: true}, "p99<20ms: 1.50ms, met"},
		{SLOVerdict{Objective: "max<1s", Value: 2.5}, "max<1s: 2.50s, breached"},
		{SLOVerdict{Objective: "mean<500us", Value: 850, Met: true}, "mean<500us: 850µs, met"},
		{SLOVerdict{Objective: "errors<1%", Value: 2}, "errors<1%: 2.00%, breached"},
		{SLOVerdict{Objective: "errors<0.01", Value: 0.005, Met: true}, "errors<0.01: 0.50%, met"},
		{SLOVerdict{Objective: "rate>4900", Value: 4899.94}, "rate>4900: 4899.9/s, breached"},
	}
	for _, tt := range tests {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("%+v: got %q, want %q", tt.v, got, tt.want)
		}
	}
}
