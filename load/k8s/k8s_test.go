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

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
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

// parsed is the manifest as a cluster reads it back.
type parsed struct {
	claim   *corev1.PersistentVolumeClaim // nil when the manifest creates none
	jobs    []*batchv1.Job
	monitor *podMonitor // nil when the manifest holds none
}

// parse reads the YAML and the JSON form of m strictly, as the API server
// does: a field that the Kubernetes types do not have fails the test. The
// two forms must hold the same objects.
func parse(t *testing.T, m *Manifest) parsed {
	t.Helper()
	y, err := m.YAML()
	if err != nil {
		t.Fatal(err)
	}
	var docs [][]byte
	for doc := range bytes.SplitSeq(y, []byte("---\n")) {
		docs = append(docs, doc)
	}
	fromYAML := decodeObjects(t, docs, func(b []byte, v any) error { return yaml.UnmarshalStrict(b, v) })

	j, err := m.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Items      []json.RawMessage `json:"items"`
	}
	if err := strictJSON(j, &list); err != nil {
		t.Fatalf("JSON form: %v", err)
	}
	if list.APIVersion != "v1" || list.Kind != "List" {
		t.Errorf("JSON form: got a %s %s, want a v1 List", list.APIVersion, list.Kind)
	}
	docs = docs[:0]
	for _, item := range list.Items {
		docs = append(docs, item)
	}
	if fromJSON := decodeObjects(t, docs, strictJSON); !reflect.DeepEqual(fromJSON, fromYAML) {
		t.Errorf("the JSON and the YAML forms differ:\nJSON %+v\nYAML %+v", fromJSON, fromYAML)
	}
	return fromYAML
}

func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// decodeObjects decodes each document into the Kubernetes type its
// apiVersion and kind name, with decode rejecting unknown fields.
func decodeObjects(t *testing.T, docs [][]byte, decode func([]byte, any) error) parsed {
	t.Helper()
	var p parsed
	for i, doc := range docs {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			t.Fatalf("object %d: %v", i, err)
		}
		var obj any
		switch tm {
		case metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"}:
			if p.claim != nil || len(p.jobs) > 0 {
				t.Fatalf("object %d: a second claim, or a claim after a Job that mounts it", i)
			}
			p.claim = &corev1.PersistentVolumeClaim{}
			obj = p.claim
		case metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"}:
			job := &batchv1.Job{}
			p.jobs = append(p.jobs, job)
			obj = job
		case metav1.TypeMeta{APIVersion: "monitoring.coreos.com/v1", Kind: "PodMonitor"}:
			if p.monitor != nil || len(p.jobs) == 0 {
				t.Fatalf("object %d: a second PodMonitor, or one before the Job of its pods", i)
			}
			p.monitor = &podMonitor{}
			obj = p.monitor
		default:
			t.Fatalf("object %d: got %+v, want a v1 PersistentVolumeClaim, a batch/v1 Job or a monitoring.coreos.com/v1 PodMonitor", i, tm)
		}
		if err := decode(doc, obj); err != nil {
			t.Fatalf("object %d is not a valid %s: %v", i, tm.Kind, err)
		}
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
	if p.claim == nil || len(p.jobs) != 1 {
		t.Fatalf("got claim %v and %d jobs, want a claim and a Job", p.claim != nil, len(p.jobs))
	}
	claim, job := p.claim, p.jobs[0]
	if claim.Name != "cvrswarm-results" || claim.Namespace != "load" ||
		!slices.Equal(claim.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}) ||
		claim.Spec.Resources.Requests.Storage().String() != DefaultResultsSize || claim.Spec.StorageClassName != nil {
		t.Errorf("claim: got %+v", claim)
	}
	if job.Name != "cvrswarm" || job.Namespace != "load" {
		t.Errorf("job: got %s/%s, want load/cvrswarm", job.Namespace, job.Name)
	}
	s := job.Spec
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion || s.Completions == nil || *s.Completions != 4 ||
		s.Parallelism == nil || *s.Parallelism != 4 || s.BackoffLimit == nil || *s.BackoffLimit != 0 ||
		s.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("job spec: got mode %v, completions %v, parallelism %v, backoff %v, restart %q; want Indexed, 4, 4, 0, Never",
			s.CompletionMode, s.Completions, s.Parallelism, s.BackoffLimit, s.Template.Spec.RestartPolicy)
	}
	spread := s.Template.Spec.TopologySpreadConstraints
	if len(spread) != 1 || spread[0].MaxSkew != 1 || spread[0].TopologyKey != "kubernetes.io/hostname" ||
		spread[0].WhenUnsatisfiable != corev1.ScheduleAnyway || spread[0].LabelSelector == nil ||
		!reflect.DeepEqual(spread[0].LabelSelector.MatchLabels, s.Template.Labels) {
		t.Errorf("spread: got %+v, want the pods (labels %v) spread over nodes", spread, s.Template.Labels)
	}
	if len(s.Template.Spec.Containers) != 1 {
		t.Fatalf("got %d containers, want 1", len(s.Template.Spec.Containers))
	}
	c := s.Template.Spec.Containers[0]
	wantArgs := []string{"load", "-target", "msnp.example.net:1863", "-rate", "20000/s", "-duration=5m", "-dialects", "MSNP8,MSNP15",
		"-start-at", "2026-03-01T14:00:00Z", "-json", "/results/shard-$(JOB_COMPLETION_INDEX).json", "-metrics-addr", "0.0.0.0:9464"}
	if c.Image != DefaultImage || !slices.Equal(c.Command, []string{"cvrswarm"}) || !slices.Equal(c.Args, wantArgs) {
		t.Errorf("container: got %s %q %q, want %s [cvrswarm] %q", c.Image, c.Command, c.Args, DefaultImage, wantArgs)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			env[e.Name] += e.ValueFrom.FieldRef.FieldPath
		}
	}
	if want := map[string]string{
		"JOB_COMPLETION_INDEX": "metadata.annotations['batch.kubernetes.io/job-completion-index']",
		"CVRSWARM_SHARDS":      "4",
	}; !reflect.DeepEqual(env, want) {
		t.Errorf("env: got %v, want %v", env, want)
	}
	for name, list := range map[string]corev1.ResourceList{"requests": c.Resources.Requests, "limits": c.Resources.Limits} {
		if len(list) != 2 || list.Cpu().String() != "2" || list.Memory().String() != "1Gi" {
			t.Errorf("resources %s: got %v, want cpu 2 and memory 1Gi", name, list)
		}
	}
	if sc := s.Template.Spec.SecurityContext; sc == nil || sc.FSGroup == nil || *sc.FSGroup != resultsGroup {
		t.Errorf("security context: got %+v, want fsGroup %d: a non-root image could not write its result to the claim", sc, resultsGroup)
	}
	if want := []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9464, Protocol: corev1.ProtocolTCP}}; !reflect.DeepEqual(c.Ports, want) {
		t.Errorf("ports: got %+v, want %+v", c.Ports, want)
	}
	if want := map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "9464", "prometheus.io/path": "/metrics"}; !reflect.DeepEqual(s.Template.Annotations, want) {
		t.Errorf("pod annotations: got %v, want %v", s.Template.Annotations, want)
	}
	if p.monitor != nil {
		t.Error("got a PodMonitor unasked")
	}
	vols := s.Template.Spec.Volumes
	if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != DefaultResultsDir || len(vols) != 1 ||
		vols[0].Name != c.VolumeMounts[0].Name || vols[0].PersistentVolumeClaim == nil ||
		vols[0].PersistentVolumeClaim.ClaimName != claim.Name {
		t.Errorf("volumes: got mounts %+v, volumes %+v; want the claim on %s", c.VolumeMounts, vols, DefaultResultsDir)
	}
}

// TestShardJobPodMonitor checks that the PodMonitor selects the shards'
// pods, and scrapes the port their container names.
func TestShardJobPodMonitor(t *testing.T) {
	cfg := testConfig()
	cfg.Namespace, cfg.PodMonitor = "load", true
	m, err := ShardJob(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := parse(t, m)
	if p.monitor == nil {
		t.Fatal("no PodMonitor")
	}
	pod, mon := p.jobs[0].Spec.Template, p.monitor
	if mon.Name != "cvrswarm" || mon.Namespace != "load" || !reflect.DeepEqual(mon.Spec.Selector.MatchLabels, pod.Labels) ||
		len(mon.Spec.Selector.MatchExpressions) != 0 {
		t.Errorf("got PodMonitor %s/%s selecting %+v, want load/cvrswarm selecting the pods, labelled %v",
			mon.Namespace, mon.Name, mon.Spec.Selector, pod.Labels)
	}
	ep := mon.Spec.PodMetricsEndpoints
	if len(ep) != 1 || ep[0].Port != pod.Spec.Containers[0].Ports[0].Name || ep[0].Path != "/metrics" || ep[0].Interval != "5s" {
		t.Errorf("got endpoints %+v, want the pods' port %q, /metrics, every 5s", ep, pod.Spec.Containers[0].Ports[0].Name)
	}
}

// TestPodMonitorLabels: the labels given are the PodMonitor's, beside its
// own, and touch neither its selector nor the pods'.
func TestPodMonitorLabels(t *testing.T) {
	cfg := testConfig()
	cfg.PodMonitor, cfg.PodMonitorLabels = true, map[string]string{"release": "kps", "team": ""}
	m, err := ShardJob(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := parse(t, m)
	mon, pod := p.monitor, p.jobs[0].Spec.Template
	want := map[string]string{"release": "kps", "team": ""}
	for k, v := range mon.Spec.Selector.MatchLabels {
		want[k] = v
	}
	if !reflect.DeepEqual(mon.Labels, want) || !reflect.DeepEqual(mon.Spec.Selector.MatchLabels, pod.Labels) || pod.Labels["release"] != "" {
		t.Errorf("got PodMonitor labels %v selecting %v, pods %v; want %v, selecting the pods' own", mon.Labels, mon.Spec.Selector.MatchLabels, pod.Labels, want)
	}
	for _, bad := range []map[string]string{{"re lease": "x"}, {"release": "a/b"}, {"app.kubernetes.io/component": "x"}} {
		cfg.PodMonitorLabels = bad
		if _, err := ShardJob(cfg); err == nil {
			t.Errorf("labels %v: no error", bad)
		}
	}
	cfg.PodMonitor, cfg.PodMonitorLabels = false, map[string]string{"release": "kps"}
	if _, err := ShardJob(cfg); err == nil {
		t.Error("labels without a PodMonitor: no error")
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
	if p.claim != nil || len(p.jobs) != 1 || p.jobs[0].Name != "night-run" {
		t.Fatalf("got %+v, want only the Job night-run", p)
	}
	pod := p.jobs[0].Spec.Template.Spec
	if got := pod.Volumes[0].PersistentVolumeClaim.ClaimName; got != "shared-nfs" {
		t.Errorf("claim: got %q, want shared-nfs", got)
	}
	if got := pod.Containers[0].Image; got != "registry.local/cvrswarm:v1" {
		t.Errorf("image: got %q", got)
	}
	if r := pod.Containers[0].Resources; r.Requests != nil || r.Limits != nil {
		t.Errorf("resources: got %+v, want none", r)
	}
}

func TestShardJobStorageClass(t *testing.T) {
	cfg := testConfig()
	cfg.StorageClass, cfg.ResultsSize = "nfs-client", "20Gi"
	m, err := ShardJob(cfg)
	if err != nil {
		t.Fatal(err)
	}
	claim := parse(t, m).claim
	if claim == nil || claim.Spec.StorageClassName == nil || *claim.Spec.StorageClassName != "nfs-client" ||
		claim.Spec.Resources.Requests.Storage().String() != "20Gi" {
		t.Errorf("claim: got %+v, want 20Gi of class nfs-client", claim)
	}
}

// TestShardJobKeepsArguments checks that arguments YAML would read as
// something else (numbers, booleans, times, $(VAR)) reach the pod as the
// same strings, with only $( escaped from Kubernetes's expansion.
func TestShardJobKeepsArguments(t *testing.T) {
	cfg := testConfig()
	awkward := []string{"-corpus", "/data/$(SUITE)", "-rate", "300/s", "-conns", "0x10", "-quiet=true", "-dialects", "No",
		"-slo", "p99<20ms,errors<1%", "-x", "a: b #c", "-y", "line\nbreak", "-z", "", "-w", "null", "-v", `quote"d`}
	cfg.LoadArgs = awkward
	m, err := ShardJob(cfg)
	if err != nil {
		t.Fatal(err)
	}
	args := parse(t, m).jobs[0].Spec.Template.Spec.Containers[0].Args
	want := append([]string{"load"}, awkward...)
	want[2] = "/data/$$(SUITE)" // Kubernetes would expand $(SUITE)
	if got := args[:len(want)]; !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
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
	if p.claim != nil || len(p.jobs) != 1 || p.jobs[0].Name != "cvrswarm-merge" || p.jobs[0].Spec.Completions == nil ||
		*p.jobs[0].Spec.Completions != 1 || p.jobs[0].Spec.CompletionMode != nil {
		t.Fatalf("got %+v, want one Job cvrswarm-merge of one pod", p)
	}
	pod := p.jobs[0].Spec.Template.Spec
	want := []string{"merge", "-json", "/results/merged.json", "-slo", "p99<20ms,errors<1%",
		"/results/shard-0.json", "/results/shard-1.json", "/results/shard-2.json"}
	if got := pod.Containers[0].Args; !slices.Equal(got, want) {
		t.Errorf("args: got %q, want %q", got, want)
	}
	if got := pod.Volumes[0].PersistentVolumeClaim.ClaimName; got != "cvrswarm-results" {
		t.Errorf("claim: got %q, want the shards' cvrswarm-results", got)
	}
	if sc := pod.SecurityContext; sc == nil || sc.FSGroup == nil || *sc.FSGroup != resultsGroup {
		t.Errorf("security context: got %+v, want fsGroup %d: a non-root image could not write the merged result", sc, resultsGroup)
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
		{"a bad cpu", func(c *Config) { c.CPU = "two" }, `cpu "two" is not a Kubernetes quantity`},
		{"a bad memory", func(c *Config) { c.Memory = "1 GB" }, `memory "1 GB" is not a Kubernetes quantity`},
		{"a bad results size", func(c *Config) { c.ResultsSize = "big" }, `results size "big" is not a Kubernetes quantity`},
		{"a -shard flag", func(c *Config) { c.LoadArgs = append(c.LoadArgs, "-shard", "1/2") }, "sets -shard itself"},
		{"a --json= flag", func(c *Config) { c.LoadArgs = append(c.LoadArgs, "--json=x.json") }, "sets -json itself"},
		{"a -start-at flag", func(c *Config) { c.LoadArgs = append(c.LoadArgs, "-start-at", "x") }, "sets -start-at itself"},
		{"a -metrics-addr flag", func(c *Config) { c.LoadArgs = append(c.LoadArgs, "-metrics-addr=:1") }, "sets -metrics-addr itself"},
		{"no start", func(c *Config) { c.StartAt = time.Time{} }, "no start time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			tc.change(&cfg)
			_, err := ShardJob(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestShardJobYAML compares the YAML form with a golden file, which parse
// has read back strictly as Kubernetes objects.
func TestShardJobYAML(t *testing.T) {
	cfg := testConfig()
	cfg.CPU, cfg.PodMonitor = "1500m", true
	m, err := ShardJob(cfg)
	if err != nil {
		t.Fatal(err)
	}
	parse(t, m)
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
