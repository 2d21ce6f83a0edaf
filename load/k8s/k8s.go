// Package k8s writes the Kubernetes manifests that run a sharded load
// from a cluster: an Indexed Job whose pods are the shards of one
// cvrswarm load, started together at a shared time, each writing its
// result file to a shared volume; and a Job that merges those files.
//
// A pod learns its shard from the Job: Kubernetes numbers the pods of an
// Indexed Job from 0 in JOB_COMPLETION_INDEX, and the manifest sets the
// shard count in CVRSWARM_SHARDS, which cvrswarm load reads when it is
// given no -shard flag.
//
// Each shard serves its live metrics on the pod's port named "metrics"
// ([MetricsPort]), which the pod's prometheus.io/scrape annotations
// announce; with [Config].PodMonitor the manifest also holds a
// PodMonitor for clusters that run the Prometheus Operator. The
// PodMonitor is a type of this package with the few fields it sets: the
// Operator's own API module would bring its whole API and pin the
// Kubernetes modules' versions, for three small structs.
package k8s

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/cvrswarm/cvrswarm/load"
)

// Defaults for [Config].
const (
	DefaultName        = "cvrswarm"
	DefaultImage       = "ghcr.io/cvrswarm/cvrswarm:latest"
	DefaultStartIn     = 2 * time.Minute
	DefaultResultsDir  = "/results"
	DefaultResultsSize = "1Gi"
)

// MetricsPort is the port on which each shard serves its metrics, on
// every interface of its pod, at /metrics.
const MetricsPort = 9464

// MetricsInterval is how often the PodMonitor has Prometheus scrape a
// shard.
const MetricsInterval = "5s"

// The environment a shard's pod runs with.
const (
	// IndexEnv is the pod's index in the Job, from 0, set by Kubernetes.
	IndexEnv = load.EnvShardIndex
	// ShardsEnv is the number of shards, set by the manifest.
	ShardsEnv = load.EnvShards
)

// Config describes a sharded run on a cluster.
type Config struct {
	Name      string // the Job's name, and the prefix of the other objects'; "" means DefaultName
	Namespace string // "" leaves it to kubectl's current namespace
	Image     string // an image whose PATH holds cvrswarm; "" means DefaultImage
	Shards    int    // how many pods share the load, at least 1
	// LoadArgs are the flags of cvrswarm load, passed to every pod as they
	// are. The manifest adds -start-at, -json and -metrics-addr; the shard
	// comes from the environment, so -shard, -start-at, -json and
	// -metrics-addr are refused here. The metrics' run id is -start-at,
	// which every shard shares, unless LoadArgs give -run-id.
	LoadArgs []string
	StartAt  time.Time // when every shard starts; it must leave time to schedule the pods
	// ResultsClaim names an existing PersistentVolumeClaim, ReadWriteMany,
	// that receives the result files. "" creates one, named Name+"-results",
	// of ResultsSize (DefaultResultsSize if "") in StorageClass ("" is the
	// cluster's default class).
	ResultsClaim string
	ResultsSize  string
	StorageClass string
	// CPU and Memory, when set, are each pod's request and limit, as
	// Kubernetes quantities ("2", "500m", "1Gi"), so that a shard has the
	// cores it was sized for.
	CPU, Memory string
	// SLO, for the merge Job, holds the objectives it judges the merged
	// result by ("p99<20ms,errors<1%"); a breach fails that Job.
	SLO string
	// PodMonitor adds a PodMonitor (monitoring.coreos.com/v1) that has
	// the Prometheus Operator scrape every shard's metrics.
	PodMonitor bool
	// PodMonitorLabels are labels the PodMonitor carries besides its own,
	// for an Operator that picks PodMonitors by label (kube-prometheus-stack
	// takes those labelled release=<its Helm release>).
	PodMonitorLabels map[string]string

	createClaim bool                // set by withDefaults
	quantities  corev1.ResourceList // CPU and Memory, parsed by withDefaults
	storage     resource.Quantity   // ResultsSize, parsed by withDefaults
}

// ResultPath is where the pod of the given index (from 0) writes its result.
func ResultPath(index int) string {
	return fmt.Sprintf("%s/shard-%d.json", DefaultResultsDir, index)
}

// resultsGroup is the group (fsGroup) that owns the results volume in
// every pod, so that an image running as a user other than root can
// write its result there; 65532 is the nonroot user of distroless and ko
// images.
const resultsGroup = 65532

// MergedPath is where the merge Job writes the merged result.
const MergedPath = DefaultResultsDir + "/merged.json"

// Manifest is a list of Kubernetes objects to apply together.
type Manifest struct {
	objects []any // *corev1.PersistentVolumeClaim, *batchv1.Job and *podMonitor, in the order to apply them
}

// ShardJob returns the manifest of a sharded load: the results claim (unless
// cfg names an existing one) and the Indexed Job of cfg.Shards pods.
func ShardJob(cfg Config) (*Manifest, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	for _, a := range cfg.LoadArgs {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") {
			switch name {
			case "shard", "start-at", "json", "metrics-addr":
				return nil, fmt.Errorf("the manifest sets -%s itself: leave it out of the load flags", name)
			}
		}
	}
	if cfg.StartAt.IsZero() {
		return nil, errors.New("no start time")
	}
	args := []string{"load"}
	for _, a := range cfg.LoadArgs {
		args = append(args, escapeVars(a))
	}
	args = append(args,
		"-start-at", cfg.StartAt.UTC().Format(time.RFC3339),
		"-json", fmt.Sprintf("%s/shard-$(%s).json", DefaultResultsDir, IndexEnv),
		"-metrics-addr", fmt.Sprintf("0.0.0.0:%d", MetricsPort))
	env := []corev1.EnvVar{
		// Kubernetes sets it too, but only a variable the container spec
		// declares may be used as $(JOB_COMPLETION_INDEX) in its args.
		{Name: IndexEnv, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
			FieldPath: "metadata.annotations['" + batchv1.JobCompletionIndexAnnotation + "']"}}},
		{Name: ShardsEnv, Value: strconv.Itoa(cfg.Shards)},
	}
	job := cfg.job(cfg.Name, "load", cfg.Shards, args, env)
	job.Spec.CompletionMode = new(batchv1.IndexedCompletion)
	pod := &job.Spec.Template
	pod.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "metrics", ContainerPort: MetricsPort, Protocol: corev1.ProtocolTCP}}
	pod.Annotations = map[string]string{ // what a Prometheus that discovers pods by annotation reads
		"prometheus.io/scrape": "true",
		"prometheus.io/port":   strconv.Itoa(MetricsPort),
		"prometheus.io/path":   "/metrics",
	}
	job.Spec.Template.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
		MaxSkew: 1, TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: corev1.ScheduleAnyway,
		LabelSelector: &metav1.LabelSelector{MatchLabels: cfg.labels("load")},
	}}
	m := &Manifest{}
	if cfg.createClaim {
		m.objects = append(m.objects, cfg.claim())
	}
	m.objects = append(m.objects, job)
	if cfg.PodMonitor {
		m.objects = append(m.objects, cfg.podMonitor())
	}
	return m, nil
}

// podMonitor is the Prometheus Operator's PodMonitor, with the fields
// this package sets.
type podMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              podMonitorSpec `json:"spec"`
}

type podMonitorSpec struct {
	Selector            metav1.LabelSelector `json:"selector"`
	PodMetricsEndpoints []podMetricsEndpoint `json:"podMetricsEndpoints"`
}

type podMetricsEndpoint struct {
	Port     string `json:"port"`     // the name of the pod's port
	Path     string `json:"path"`     // "/metrics"
	Interval string `json:"interval"` // a Prometheus duration
}

// podMonitor returns a PodMonitor of the shards' pods.
func (cfg Config) podMonitor() *podMonitor {
	meta := cfg.meta(cfg.Name, "load")
	for k, v := range cfg.PodMonitorLabels {
		meta.Labels[k] = v
	}
	return &podMonitor{
		TypeMeta:   metav1.TypeMeta{APIVersion: "monitoring.coreos.com/v1", Kind: "PodMonitor"},
		ObjectMeta: meta,
		Spec: podMonitorSpec{
			Selector:            metav1.LabelSelector{MatchLabels: cfg.labels("load")},
			PodMetricsEndpoints: []podMetricsEndpoint{{Port: "metrics", Path: "/metrics", Interval: MetricsInterval}},
		},
	}
}

// MergeJob returns the manifest of a Job, to apply once the shards'
// Job has completed, that merges their results into [MergedPath] and
// prints the merged report in its log.
func MergeJob(cfg Config) (*Manifest, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	args := []string{"merge", "-json", MergedPath}
	if cfg.SLO != "" {
		args = append(args, "-slo", escapeVars(cfg.SLO))
	}
	for i := range cfg.Shards {
		args = append(args, ResultPath(i))
	}
	return &Manifest{objects: []any{cfg.job(cfg.Name+"-merge", "merge", 1, args, nil)}}, nil
}

func (cfg Config) withDefaults() (Config, error) {
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if cfg.Image == "" {
		cfg.Image = DefaultImage
	}
	if cfg.Shards < 1 {
		return cfg, fmt.Errorf("%d shards: want at least 1", cfg.Shards)
	}
	// Job names become pod name prefixes and labels: DNS labels, with room for a suffix.
	if !dnsLabel.MatchString(cfg.Name) || len(cfg.Name) > 50 {
		return cfg, fmt.Errorf("name %q: want lower-case letters, digits and '-', at most 50, starting with a letter", cfg.Name)
	}
	if cfg.Namespace != "" && (!dnsLabel.MatchString(cfg.Namespace) || len(cfg.Namespace) > 63) {
		return cfg, fmt.Errorf("namespace %q is not a DNS label", cfg.Namespace)
	}
	if len(cfg.PodMonitorLabels) > 0 && !cfg.PodMonitor {
		return cfg, errors.New("PodMonitor labels without a PodMonitor")
	}
	for _, k := range slices.Sorted(maps.Keys(cfg.PodMonitorLabels)) {
		if bad := validation.IsQualifiedName(k); len(bad) > 0 {
			return cfg, fmt.Errorf("PodMonitor label %q: %s", k, bad[0])
		}
		if bad := validation.IsValidLabelValue(cfg.PodMonitorLabels[k]); len(bad) > 0 {
			return cfg, fmt.Errorf("PodMonitor label %s=%q: %s", k, cfg.PodMonitorLabels[k], bad[0])
		}
		if _, own := cfg.labels("load")[k]; own {
			return cfg, fmt.Errorf("PodMonitor label %q: the manifest sets it itself", k)
		}
	}
	cfg.quantities = corev1.ResourceList{}
	for _, q := range []struct {
		name  corev1.ResourceName
		value string
	}{{corev1.ResourceCPU, cfg.CPU}, {corev1.ResourceMemory, cfg.Memory}} {
		if q.value == "" {
			continue
		}
		parsed, err := resource.ParseQuantity(q.value)
		if err != nil {
			return cfg, fmt.Errorf("%s %q is not a Kubernetes quantity such as 2, 1500m or 1Gi", q.name, q.value)
		}
		cfg.quantities[q.name] = parsed
	}
	if cfg.ResultsClaim == "" {
		cfg.ResultsClaim = cfg.Name + "-results"
		cfg.createClaim = true
		if cfg.ResultsSize == "" {
			cfg.ResultsSize = DefaultResultsSize
		}
		var err error
		if cfg.storage, err = resource.ParseQuantity(cfg.ResultsSize); err != nil {
			return cfg, fmt.Errorf("results size %q is not a Kubernetes quantity such as 1Gi", cfg.ResultsSize)
		}
	}
	return cfg, nil
}

var dnsLabel = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)

// escapeVars keeps Kubernetes from expanding $(NAME) in a user's argument.
func escapeVars(s string) string { return strings.ReplaceAll(s, "$(", "$$(") }

func (cfg Config) labels(component string) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":      "cvrswarm",
		"app.kubernetes.io/instance":  cfg.Name,
		"app.kubernetes.io/component": component,
	}
}

func (cfg Config) meta(name, component string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: cfg.Namespace, Labels: cfg.labels(component)}
}

// job returns a Job of n pods that run cvrswarm with args, the results
// claim mounted. A pod is never restarted: a shard restarted after the
// shared start time would refuse to run, and one that ran twice would
// count twice.
func (cfg Config) job(name, component string, n int, args []string, env []corev1.EnvVar) *batchv1.Job {
	c := corev1.Container{
		Name: "cvrswarm", Image: cfg.Image, Command: []string{"cvrswarm"}, Args: args, Env: env,
		VolumeMounts: []corev1.VolumeMount{{Name: "results", MountPath: DefaultResultsDir}},
	}
	if len(cfg.quantities) > 0 {
		c.Resources = corev1.ResourceRequirements{Requests: cfg.quantities, Limits: cfg.quantities}
	}
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: batchv1.SchemeGroupVersion.String(), Kind: "Job"},
		ObjectMeta: cfg.meta(name, component),
		Spec: batchv1.JobSpec{
			Completions: new(int32(n)), Parallelism: new(int32(n)), BackoffLimit: new(int32(0)),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: cfg.labels(component)},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					// the claim's files are written by whatever user the image
					// runs as (distroless and ko images: 65532, not root): the
					// volume is made writable by this group, which every
					// process of the pod is given
					SecurityContext: &corev1.PodSecurityContext{FSGroup: new(int64(resultsGroup))},
					Containers:      []corev1.Container{c},
					Volumes: []corev1.Volume{{Name: "results", VolumeSource: corev1.VolumeSource{
						PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: cfg.ResultsClaim}}}},
				},
			},
		},
	}
}

func (cfg Config) claim() *corev1.PersistentVolumeClaim {
	claim := &corev1.PersistentVolumeClaim{
		TypeMeta:   metav1.TypeMeta{APIVersion: corev1.SchemeGroupVersion.String(), Kind: "PersistentVolumeClaim"},
		ObjectMeta: cfg.meta(cfg.ResultsClaim, "results"),
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: cfg.storage}},
		},
	}
	if cfg.StorageClass != "" {
		claim.Spec.StorageClassName = &cfg.StorageClass
	}
	return claim
}

// JSON returns the manifest as a v1 List, which kubectl apply -f reads.
func (m *Manifest) JSON() ([]byte, error) {
	list := struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Items      []any  `json:"items"`
	}{"v1", "List", m.objects}
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// YAML returns the manifest as YAML documents separated by "---".
func (m *Manifest) YAML() ([]byte, error) {
	var out []byte
	for i, o := range m.objects {
		b, err := yaml.Marshal(o)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			out = append(out, "---\n"...)
		}
		out = append(out, b...)
	}
	return out, nil
}
