package main

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// k8sJob is the part of the printed manifest the pods' behaviour hangs on.
type k8sJob struct {
	Items []struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
		Spec struct {
			CompletionMode string `json:"completionMode"`
			Completions    int    `json:"completions"`
			Parallelism    int    `json:"parallelism"`
			Template       struct {
				Spec struct {
					Containers []struct {
						Image   string   `json:"image"`
						Command []string `json:"command"`
						Args    []string `json:"args"`
						Env     []struct {
							Name  string `json:"name"`
							Value string `json:"value"`
						} `json:"env"`
						VolumeMounts []struct {
							MountPath string `json:"mountPath"`
						} `json:"volumeMounts"`
					} `json:"containers"`
					Volumes []struct {
						PersistentVolumeClaim struct {
							ClaimName string `json:"claimName"`
						} `json:"persistentVolumeClaim"`
					} `json:"volumes"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	} `json:"items"`
}

func TestK8sCommand(t *testing.T) {
	now := time.Date(2026, 3, 1, 11, 58, 30, 250e6, time.UTC)
	k8sNow = func() time.Time { return now }
	t.Cleanup(func() { k8sNow = time.Now })

	for _, tc := range []struct {
		name      string
		args      []string
		shards    int
		loadArgs  []string // what every pod runs after "load"
		startAt   string
		claim     string
		namespace string
		objects   int
	}{
		{
			name: "load flags between k8s flags",
			args: []string{"-shards", "3", "-target", "10.0.0.5:1863", "-rate", "300/s", "-namespace", "perf",
				"-duration=3s", "-quiet", "-start-in", "90s", "-dialects", "MSNP8,MSNP15", "-o", "json"},
			shards:    3,
			loadArgs:  []string{"-target", "10.0.0.5:1863", "-rate", "300/s", "-duration=3s", "-quiet", "-dialects", "MSNP8,MSNP15"},
			startAt:   "2026-03-01T12:00:01Z", // 90s later, rounded up to the second
			claim:     "cvrswarm-results",
			namespace: "perf",
			objects:   2,
		},
		{
			name:     "an explicit start, an existing claim, load flags after --",
			args:     []string{"-o=json", "-shards=2", "-start-at", "2026-03-01T13:00:00+01:00", "-results-pvc", "nfs", "--", "-target", "h:1", "-conns", "64"},
			shards:   2,
			loadArgs: []string{"-target", "h:1", "-conns", "64"},
			startAt:  "2026-03-01T12:00:00Z",
			claim:    "nfs",
			objects:  1,
		},
		{
			name:     "a PodMonitor, and the run id the shards' metrics carry",
			args:     []string{"-o", "json", "-shards", "2", "-pod-monitor", "-target", "h:1", "-run-id", "soak-7"},
			shards:   2,
			loadArgs: []string{"-target", "h:1", "-run-id", "soak-7"},
			startAt:  "2026-03-01T12:00:31Z", // -start-in 2m, rounded up to the second
			claim:    "cvrswarm-results",
			objects:  3,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), append([]string{"k8s"}, tc.args...), &stdout, &stderr); code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			var m k8sJob
			if err := json.Unmarshal(stdout.Bytes(), &m); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			if len(m.Items) != tc.objects {
				t.Fatalf("got %d objects, want %d", len(m.Items), tc.objects)
			}
			job := m.Items[min(len(m.Items), 2)-1] // the claim, if any, then the Job, then the PodMonitor, if any
			if tc.objects == 3 && m.Items[2].Kind != "PodMonitor" {
				t.Errorf("got a %s last, want the PodMonitor", m.Items[2].Kind)
			}
			if job.Kind != "Job" || job.Metadata.Namespace != tc.namespace || job.Spec.CompletionMode != "Indexed" {
				t.Errorf("got a %s in %q, mode %q; want an Indexed Job in %q", job.Kind, job.Metadata.Namespace, job.Spec.CompletionMode, tc.namespace)
			}
			c := job.Spec.Template.Spec.Containers[0]
			want := append(append([]string{"load"}, tc.loadArgs...),
				"-start-at", tc.startAt, "-json", "/results/shard-$(JOB_COMPLETION_INDEX).json", "-metrics-addr", "0.0.0.0:9464")
			if !slices.Equal(c.Args, want) {
				t.Errorf("pod args:\n got %q\nwant %q", c.Args, want)
			}
			var env []string
			for _, e := range c.Env {
				if e.Value != "" {
					env = append(env, e.Name+"="+e.Value)
				}
			}
			if got, want := strings.Join(env, " "), "CVRSWARM_SHARDS="+strconv.Itoa(tc.shards); got != want {
				t.Errorf("env: got %q, want %q", got, want)
			}
			if job.Spec.Completions != tc.shards || job.Spec.Parallelism != tc.shards {
				t.Errorf("completions %d, parallelism %d: want %d each", job.Spec.Completions, job.Spec.Parallelism, tc.shards)
			}
			if c.VolumeMounts[0].MountPath != "/results" || job.Spec.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != tc.claim {
				t.Errorf("results: got %+v on claim %+v, want /results on %s", c.VolumeMounts, job.Spec.Template.Spec.Volumes, tc.claim)
			}
		})
	}
}

func TestK8sCommandYAMLAndMerge(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"k8s", "-shards", "2", "-target", "h:1"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"kind: PersistentVolumeClaim\n", "\n---\n", "completionMode: Indexed\n", "parallelism: 2\n"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("YAML lacks %q", want)
		}
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"k8s", "-shards", "2", "-merge", "-name", "night", "-slo", "p99<20ms", "-o", "json"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var m k8sJob
	if err := json.Unmarshal(stdout.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	want := []string{"merge", "-json", "/results/merged.json", "-slo", "p99<20ms", "/results/shard-0.json", "/results/shard-1.json"}
	if len(m.Items) != 1 || m.Items[0].Metadata.Name != "night-merge" || !slices.Equal(m.Items[0].Spec.Template.Spec.Containers[0].Args, want) ||
		m.Items[0].Spec.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "night-results" {
		t.Errorf("merge job: got %+v, want night-merge running %q on night-results", m.Items, want)
	}
}

func TestK8sCommandErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no shards", []string{"-target", "h:1"}, "give -shards N"},
		{"no target", []string{"-shards", "2", "-rate", "5/s"}, "give the load flag -target"},
		{"an SLO on the shards", []string{"-shards", "2", "-target", "h:1", "-slo", "p99<20ms"}, "-slo is judged on the merged result"},
		{"a bad SLO", []string{"-shards", "2", "-merge", "-slo", "p99"}, "-slo: objective"},
		{"a -shard flag", []string{"-shards", "2", "-target", "h:1", "-shard", "1/2"}, "sets -shard itself"},
		{"a -json flag", []string{"-shards", "2", "-target", "h:1", "-json", "x.json"}, "sets -json itself"},
		{"a -metrics-addr flag", []string{"-shards", "2", "-target", "h:1", "-metrics-addr", ":9100"}, "sets -metrics-addr itself"},
		{"a PodMonitor with -merge", []string{"-shards", "2", "-merge", "-pod-monitor"}, "-pod-monitor watches the shards"},
		{"a PodMonitor label without one", []string{"-shards", "2", "-target", "h:1", "-pod-monitor-label", "release=kps"}, "-pod-monitor-label: labels the PodMonitor: give it with -pod-monitor"},
		{"a PodMonitor label without =", []string{"-shards", "2", "-target", "h:1", "-pod-monitor", "-pod-monitor-label", "release"}, `invalid value "release" for flag -pod-monitor-label: "release": want key=value`},
		{"a PodMonitor label twice", []string{"-shards", "2", "-target", "h:1", "-pod-monitor", "-pod-monitor-label", "a=1", "-pod-monitor-label", "a=2"}, "label a given twice"},
		{"a bad PodMonitor label value", []string{"-shards", "2", "-target", "h:1", "-pod-monitor", "-pod-monitor-label", "release=a b"}, `PodMonitor label release="a b"`},
		{"a PodMonitor label the manifest sets", []string{"-shards", "2", "-target", "h:1", "-pod-monitor", "-pod-monitor-label", "app.kubernetes.io/name=x"}, "the manifest sets it itself"},
		{"a mistyped load flag", []string{"-shards", "2", "-target", "h:1", "-rat", "300/s"}, "flag provided but not defined: -rat (neither a k8s nor a load flag)"},
		{"a bad load flag value", []string{"-shards", "2", "-target", "h:1", "-conns", "many"}, `load flags: invalid value "many" for flag -conns`},
		{"a bad rate", []string{"-shards", "2", "-target", "h:1", "-rate", "fast"}, `load flags: -rate: rate "fast": want N/s`},
		{"two load shapes", []string{"-shards", "2", "-target", "h:1", "-rate", "5/s", "-steps", "5/s:1s"}, "load flags: give one of -rate, -ramp and -steps"},
		{"a bad load flag after --", []string{"-shards", "2", "--", "-target", "h:1", "-dialects", "MSNP99"}, "load flags: -dialects"},
		{"a stray argument", []string{"-shards", "2", "-target", "h:1", "oops", "x"}, `unexpected argument "oops"`},
		{"a past start", []string{"-shards", "2", "-target", "h:1", "-start-at", "2001-01-01T00:00:00Z"}, "is in the past"},
		{"a bad start", []string{"-shards", "2", "-target", "h:1", "-start-at", "noon"}, `-start-at "noon": want an RFC 3339 time`},
		{"no lead time", []string{"-shards", "2", "-target", "h:1", "-start-in", "0s"}, "want a positive lead time"},
		{"a bad format", []string{"-shards", "2", "-target", "h:1", "-o", "toml"}, `-o "toml": want yaml or json`},
		{"a bad name", []string{"-shards", "2", "-target", "h:1", "-name", "My_Run"}, `name "My_Run"`},
		{"a bad cpu quantity", []string{"-shards", "2", "-target", "h:1", "-cpu", "lots"}, `cpu "lots" is not a Kubernetes quantity`},
		{"load flags on merge", []string{"-shards", "2", "-merge", "-rate", "5/s"}, "-merge takes no load flags"},
		{"a bad k8s flag value", []string{"-shards", "two"}, `invalid value "two" for flag -shards`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"k8s"}, tc.args...), &stdout, &stderr)
			if code != exitUsage {
				t.Errorf("exit: got %d, want %d", code, exitUsage)
			}
			if !strings.Contains(stderr.String(), tc.want) || strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("stderr: got %q, want one line containing %q", stderr.String(), tc.want)
			}
		})
	}
}
