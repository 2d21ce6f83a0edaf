package k8s

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var testStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testConfig() Config {
	return Config{
		Shards:   4,
		LoadArgs: []string{"-target", "msnp.example.net:1863", "-rate", "20000/s", "-duration=5m", "-dialects", "MSNP8,MSNP15"},
		StartAt:  testStart.Add(2 * time.Hour).In(time.FixedZone("CET", 3600)),
	}
}

// parsed is the manifest as a client reads it back.
type parsed struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Items      []struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string            `json:"name"`
			Namespace string            `json:"namespace"`
			Labels    map[string]string `json:"labels"`
		} `json:"metadata"`
		Spec struct {
			// Job
			CompletionMode string `json:"completionMode"`
			Completions    *int   `json:"completions"`
			Parallelism    *int   `json:"parallelism"`
			BackoffLimit   *int   `json:"backoffLimit"`
			Template       struct {
				Metadata struct {
					Labels map[string]string `json:"labels"`
				} `json:"metadata"`
				Spec struct {
					RestartPolicy   string `json:"restartPolicy"`
					SecurityContext struct {
						FSGroup *int64 `json:"fsGroup"`
					} `json:"securityContext"`
					TopologySpreadConstraints []struct {
						MaxSkew           int    `json:"maxSkew"`
						TopologyKey       string `json:"topologyKey"`
						WhenUnsatisfiable string `json:"whenUnsatisfiable"`
						LabelSelector     struct {
							MatchLabels map[string]string `json:"matchLabels"`
						} `json:"labelSelector"`
					} `json:"topologySpreadConstraints"`
					Containers []struct {
						Name    string   `json:"name"`
						Image   string   `json:"image"`
						Command []string `json:"command"`
						Args    []string `json:"args"`
						Env     []struct {
							Name      string `json:"name"`
							Value     string `json:"value"`
							ValueFrom struct {
								FieldRef struct {
									FieldPath string `json:"fieldPath"`
								} `json:"fieldRef"`
							} `json:"valueFrom"`
						} `json:"env"`
						Resources struct {
							Requests map[string]string `json:"requests"`
							Limits   map[string]string `json:"limits"`
						} `json:"resources"`
						VolumeMounts []struct {
							Name      string `json:"name"`
							MountPath string `json:"mountPath"`
						} `json:"volumeMounts"`
					} `json:"containers"`
					Volumes []struct {
						Name                  string `json:"name"`
						PersistentVolumeClaim struct {
							ClaimName string `json:"claimName"`
						} `json:"persistentVolumeClaim"`
					} `json:"volumes"`
				} `json:"spec"`
			} `json:"template"`
			// PersistentVolumeClaim
			AccessModes      []string `json:"accessModes"`
			StorageClassName string   `json:"storageClassName"`
			Resources        struct {
				Requests map[string]string `json:"requests"`
			} `json:"resources"`
		} `json:"spec"`
	} `json:"items"`
}

func parse(t *testing.T, m *Manifest) parsed {
	t.Helper()
	b, err := m.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var p parsed
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields() // every field the manifest writes is one checked here
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("manifest is not the JSON expected: %v", err)
	}
	return p
}

func TestShardJob(t *testing.T) {
	cfg := testConfig()
	cfg.Namespace = "load"
	cfg.CPU, cfg.Memory = "2", "1Gi"
	m, err := ShardJob(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := parse(t, m)
	if p.APIVersion != "v1" || p.Kind != "List" || len(p.Items) != 2 {
		t.Fatalf("got a %s of %d objects, want a List of 2", p.Kind, len(p.Items))
	}
	claim, job := p.Items[0], p.Items[1]
	if claim.Kind != "PersistentVolumeClaim" || claim.Metadata.Name != "cvrswarm-results" || claim.Metadata.Namespace != "load" ||
		!slices.Equal(claim.Spec.AccessModes, []string{"ReadWriteMany"}) || claim.Spec.Resources.Requests["storage"] != DefaultResultsSize {
		t.Errorf("claim: got %+v", claim)
	}
	if job.APIVersion != "batch/v1" || job.Kind != "Job" || job.Metadata.Name != "cvrswarm" || job.Metadata.Namespace != "load" {
		t.Errorf("job: got %s %s %s/%s", job.APIVersion, job.Kind, job.Metadata.Namespace, job.Metadata.Name)
	}
	s := job.Spec
	if s.CompletionMode != "Indexed" || s.Completions == nil || *s.Completions != 4 || s.Parallelism == nil ||
		*s.Parallelism != 4 || s.BackoffLimit == nil || *s.BackoffLimit != 0 || s.Template.Spec.RestartPolicy != "Never" {
		t.Errorf("job spec: got mode %q, completions %v, parallelism %v, backoff %v, restart %q; want Indexed, 4, 4, 0, Never",
			s.CompletionMode, s.Completions, s.Parallelism, s.BackoffLimit, s.Template.Spec.RestartPolicy)
	}
	spread := s.Template.Spec.TopologySpreadConstraints
	if len(spread) != 1 || spread[0].TopologyKey != "kubernetes.io/hostname" || spread[0].WhenUnsatisfiable != "ScheduleAnyway" ||
		!reflect.DeepEqual(spread[0].LabelSelector.MatchLabels, s.Template.Metadata.Labels) {
		t.Errorf("spread: got %+v, want the pods (labels %v) spread over nodes", spread, s.Template.Metadata.Labels)
	}
	if len(s.Template.Spec.Containers) != 1 {
		t.Fatalf("got %d containers, want 1", len(s.Template.Spec.Containers))
	}
	c := s.Template.Spec.Containers[0]
	wantArgs := []string{"load", "-target", "msnp.example.net:1863", "-rate", "20000/s", "-duration=5m", "-dialects", "MSNP8,MSNP15",
		"-start-at", "2026-03-01T14:00:00Z", "-json", "/results/shard-$(JOB_COMPLETION_INDEX).json"}
	if c.Image != DefaultImage || !slices.Equal(c.Command, []string{"cvrswarm"}) || !slices.Equal(c.Args, wantArgs) {
		t.Errorf("container: got %s %q %q, want %s [cvrswarm] %q", c.Image, c.Command, c.Args, DefaultImage, wantArgs)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value + e.ValueFrom.FieldRef.FieldPath
	}
	if want := map[string]string{
		"JOB_COMPLETION_INDEX": "metadata.annotations['batch.kubernetes.io/job-completion-index']",
		"CVRSWARM_SHARDS":      "4",
	}; !reflect.DeepEqual(env, want) {
		t.Errorf("env: got %v, want %v", env, want)
	}
	if want := map[string]string{"cpu": "2", "memory": "1Gi"}; !reflect.DeepEqual(c.Resources.Requests, want) ||
		!reflect.DeepEqual(c.Resources.Limits, want) {
		t.Errorf("resources: got %+v, want requests and limits %v", c.Resources, want)
	}
	if g := s.Template.Spec.SecurityContext.FSGroup; g == nil || *g != resultsGroup {
		t.Errorf("fsGroup: got %v, want %d: a non-root image could not write its result to the claim", g, resultsGroup)
	}
	if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != DefaultResultsDir || len(s.Template.Spec.Volumes) != 1 ||
		s.Template.Spec.Volumes[0].Name != c.VolumeMounts[0].Name ||
		s.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != claim.Metadata.Name {
		t.Errorf("volumes: got mounts %+v, volumes %+v; want the claim on %s", c.VolumeMounts, s.Template.Spec.Volumes, DefaultResultsDir)
	}
}

func TestShardJobExistingClaim(t *testing.T) {
	cfg := testConfig()
	cfg.Name, cfg.ResultsClaim, cfg.Image = "night-run", "shared-nfs", "registry.local/cvrswarm:v1"
	m, err := ShardJob(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := parse(t, m)
	if len(p.Items) != 1 || p.Items[0].Kind != "Job" || p.Items[0].Metadata.Name != "night-run" {
		t.Fatalf("got %+v, want only the Job night-run", p.Items)
	}
	pod := p.Items[0].Spec.Template.Spec
	if got := pod.Volumes[0].PersistentVolumeClaim.ClaimName; got != "shared-nfs" {
		t.Errorf("claim: got %q, want shared-nfs", got)
	}
	if got := pod.Containers[0].Image; got != "registry.local/cvrswarm:v1" {
		t.Errorf("image: got %q", got)
	}
	if pod.Containers[0].Resources.Requests != nil {
		t.Errorf("resources: got %+v, want none", pod.Containers[0].Resources)
	}
}

func TestShardJobEscapesVariables(t *testing.T) {
	cfg := testConfig()
	cfg.LoadArgs = []string{"-target", "h:1", "-corpus", "/data/$(SUITE)"}
	m, err := ShardJob(cfg)
	if err != nil {
		t.Fatal(err)
	}
	args := parse(t, m).Items[1].Spec.Template.Spec.Containers[0].Args
	if got, want := args[4], "/data/$$(SUITE)"; got != want {
		t.Errorf("got %q, want %q: Kubernetes would expand $(SUITE)", got, want)
	}
}

func TestMergeJob(t *testing.T) {
	cfg := testConfig()
	cfg.Shards = 3
	cfg.SLO = "p99<20ms,errors<1%"
	m, err := MergeJob(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := parse(t, m)
	if len(p.Items) != 1 || p.Items[0].Metadata.Name != "cvrswarm-merge" || *p.Items[0].Spec.Completions != 1 {
		t.Fatalf("got %+v, want one Job cvrswarm-merge of one pod", p.Items)
	}
	pod := p.Items[0].Spec.Template.Spec
	want := []string{"merge", "-json", "/results/merged.json", "-slo", "p99<20ms,errors<1%",
		"/results/shard-0.json", "/results/shard-1.json", "/results/shard-2.json"}
	if got := pod.Containers[0].Args; !slices.Equal(got, want) {
		t.Errorf("args: got %q, want %q", got, want)
	}
	if got := pod.Volumes[0].PersistentVolumeClaim.ClaimName; got != "cvrswarm-results" {
		t.Errorf("claim: got %q, want the shards' cvrswarm-results", got)
	}
	if g := pod.SecurityContext.FSGroup; g == nil || *g != resultsGroup {
		t.Errorf("fsGroup: got %v, want %d: a non-root image could not write the merged result", g, resultsGroup)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"no shards", func(c *Config) { c.Shards = 0 }, "0 shards: want at least 1"},
		{"a bad name", func(c *Config) { c.Name = "Load_Test" }, `name "Load_Test"`},
		{"a long name", func(c *Config) { c.Name = strings.Repeat("a", 51) }, "at most 50"},
		{"a bad namespace", func(c *Config) { c.Namespace = "a.b" }, `namespace "a.b" is not a DNS label`},
		{"a -shard flag", func(c *Config) { c.LoadArgs = append(c.LoadArgs, "-shard", "1/2") }, "sets -shard itself"},
		{"a --json= flag", func(c *Config) { c.LoadArgs = append(c.LoadArgs, "--json=x.json") }, "sets -json itself"},
		{"a -start-at flag", func(c *Config) { c.LoadArgs = append(c.LoadArgs, "-start-at", "x") }, "sets -start-at itself"},
		{"no start", func(c *Config) { c.StartAt = time.Time{} }, "no start time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			tc.change(&cfg)
			_, err := ShardJob(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "k8s: ") {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestShardJobYAML compares the YAML form with a golden file that a YAML
// parser reads back as the JSON form (checked when it was written).
func TestShardJobYAML(t *testing.T) {
	cfg := testConfig()
	cfg.CPU = "1500m"
	m, err := ShardJob(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.YAML()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "shard-job.yaml")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("YAML differs from %s (go test -update rewrites it):\n%s", golden, got)
	}
}

func TestAppendYAML(t *testing.T) {
	for _, tc := range []struct {
		name, json, want string
	}{
		{"scalars", `{"a":1,"b":true,"c":null,"d":"x","e":1.5}`, "a: 1\nb: true\nc: null\nd: x\ne: 1.5\n"},
		{"empty collections", `{"a":{},"b":[]}`, "a: {}\nb: []\n"},
		{"nested", `{"a":{"b":{"c":"d"}}}`, "a:\n  b:\n    c: d\n"},
		{"list of scalars", `{"l":["a","b"]}`, "l:\n- a\n- b\n"},
		{"list of objects", `{"l":[{"a":"1","b":{"c":2}},{"d":[]}]}`,
			"l:\n- a: \"1\"\n  b:\n    c: 2\n- d: []\n"},
		{"list of lists", `[[1,2],[]]`, "-\n  - 1\n  - 2\n- []\n"},
		{"key order kept", `{"z":1,"a":2}`, "z: 1\na: 2\n"},
		{"a top-level scalar", `"yes"`, "\"yes\"\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := appendYAML(nil, []byte(tc.json))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
	if _, err := appendYAML(nil, []byte(`{"a":`)); err == nil {
		t.Error("truncated JSON: got no error")
	}
}

func TestYAMLString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"cvrswarm", "cvrswarm"},
		{"-rate", "-rate"},
		{"--duration", "--duration"},
		{"/results/merged.json", "/results/merged.json"},
		{"ghcr.io/cvrswarm/cvrswarm:latest", "ghcr.io/cvrswarm/cvrswarm:latest"},
		{"msnp.example.net:1863", "msnp.example.net:1863"},
		{"", `""`},
		{"-", `"-"`},
		{"-1", `"-1"`},
		{"300/s", `"300/s"`},
		{"5m", `"5m"`},
		{"0x10", `"0x10"`},
		{"2026-03-01T12:00:00Z", `"2026-03-01T12:00:00Z"`},
		{"127.0.0.1:1863", `"127.0.0.1:1863"`},
		{"true", `"true"`},
		{"No", `"No"`},
		{"off", `"off"`},
		{"null", `"null"`},
		{"key:", `"key:"`},
		{"a: b", `"a: b"`},
		{"a #b", `"a #b"`},
		{"$(X)", `"$(X)"`},
		{"p99<20ms", `"p99<20ms"`},
		{"line\nbreak", `"line\nbreak"`},
		{`quote"d`, `"quote\"d"`},
	} {
		if got := yamlString(tc.in); got != tc.want {
			t.Errorf("yamlString(%q): got %s, want %s", tc.in, got, tc.want)
		}
	}
}
