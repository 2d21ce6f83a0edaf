package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cvrswarm/cvrswarm/load"
	"github.com/cvrswarm/cvrswarm/load/k8s"
)

func init() {
	register(&command{
		name: "k8s", order: 70, summary: "print a Kubernetes Indexed Job that runs a load as shards started together (other flags go to load)",
		example: "cvrswarm k8s -shards 4 -target msnp.example.net:1863 -rate 20000/s -duration 5m > cvrswarm-job.yaml",
		details: k8sDetails,
		run:     runK8s,
	})
}

// k8sNow is the clock -start-in counts from.
var k8sNow = time.Now

func runK8s(_ context.Context, args []string, stdout, stderr io.Writer) int {
	var (
		cfg     k8s.Config
		startIn time.Duration
		startAt string
		format  string
		merge   bool
	)
	fs := flagSet("k8s", stdout)
	fs.IntVar(&cfg.Shards, "shards", 0, "how many pods share the load (required)")
	fs.StringVar(&cfg.Name, "name", k8s.DefaultName, "the Job's `name`, and the prefix of the claim's and the merge Job's")
	fs.StringVar(&cfg.Namespace, "namespace", "", "the `namespace` (default: kubectl's current one)")
	fs.StringVar(&cfg.Image, "image", k8s.DefaultImage, "an `image` with cvrswarm on its PATH, built e.g. with 'ko build ./cmd/cvrswarm'")
	fs.DurationVar(&startIn, "start-in", k8s.DefaultStartIn, "start the shards this long from now: time to apply the manifest and schedule the pods")
	fs.StringVar(&startAt, "start-at", "", "start the shards at this RFC 3339 `time` instead of -start-in from now")
	fs.StringVar(&cfg.ResultsClaim, "results-pvc", "", "an existing ReadWriteMany PersistentVolumeClaim `claim` for the result files (default: create NAME-results)")
	fs.StringVar(&cfg.ResultsSize, "results-size", k8s.DefaultResultsSize, "the `size` of the claim created for the results")
	fs.StringVar(&cfg.StorageClass, "storage-class", "", "the storage `class` of the claim created (default: the cluster's default; it must offer ReadWriteMany)")
	fs.StringVar(&cfg.CPU, "cpu", "", "each pod's CPU request and limit, a `quantity` such as 2 or 1500m (default: none)")
	fs.StringVar(&cfg.Memory, "memory", "", "each pod's memory request and limit, a `quantity` such as 1Gi (default: none)")
	fs.StringVar(&format, "o", "yaml", "output `format`: yaml or json (a v1 List)")
	fs.BoolVar(&merge, "merge", false, "print the Job that merges the shards' results instead (apply it once the shards' Job completes)")
	fs.StringVar(&cfg.SLO, "slo", "", "with -merge: `objectives` the merged result must meet, e.g. 'p99<20ms,errors<1%' (a breach fails the merge Job)")
	fs.BoolVar(&cfg.PodMonitor, "pod-monitor", false, "also print a PodMonitor (monitoring.coreos.com/v1) that has the Prometheus Operator scrape every shard's metrics")
	fs.Var(labelsFlag{&cfg.PodMonitorLabels}, "pod-monitor-label", "with -pod-monitor: a `key=value` label for the PodMonitor, for an Operator that selects them by label (kube-prometheus-stack: release=NAME); repeat for more")

	own, loadArgs, err := k8sSplit(fs, args)
	if err != nil {
		return usageError(stderr, "k8s", err.Error())
	}
	if done, status := parseFlags(fs, own, stderr); done {
		return status
	}
	if format != "yaml" && format != "json" {
		return usageError(stderr, "k8s", fmt.Sprintf("-o %q: want yaml or json", format))
	}
	if cfg.Shards < 1 {
		return usageError(stderr, "k8s", "give -shards N, the number of pods, at least 1")
	}
	if len(cfg.PodMonitorLabels) > 0 && !cfg.PodMonitor {
		return usageError(stderr, "k8s", "-pod-monitor-label: labels the PodMonitor: give it with -pod-monitor")
	}

	var m *k8s.Manifest
	if merge {
		if cfg.SLO != "" {
			if _, err := load.ParseSLO(cfg.SLO); err != nil {
				return exitError(stderr, "k8s", err)
			}
		}
		if len(loadArgs) > 0 {
			return usageError(stderr, "k8s", fmt.Sprintf("-merge takes no load flags, got %q", loadArgs[0]))
		}
		if cfg.PodMonitor {
			return usageError(stderr, "k8s", "-pod-monitor watches the shards: give it without -merge")
		}
		m, err = k8s.MergeJob(cfg)
	} else {
		if cfg.SLO != "" {
			return usageError(stderr, "k8s", "-slo is judged on the merged result, not per shard: give it with -merge")
		}
		if msg := k8sCheckLoadArgs(loadArgs); msg != "" {
			return usageError(stderr, "k8s", msg)
		}
		if cfg.StartAt, err = k8sStart(startAt, startIn); err != nil {
			return usageError(stderr, "k8s", err.Error())
		}
		cfg.LoadArgs = loadArgs
		m, err = k8s.ShardJob(cfg)
	}
	if err != nil {
		return usageError(stderr, "k8s", err.Error())
	}
	out, err := m.YAML()
	if format == "json" {
		out, err = m.JSON()
	}
	if err != nil {
		return failure(stderr, "k8s", err)
	}
	if _, err := stdout.Write(out); err != nil {
		return failure(stderr, "k8s", err)
	}
	return exitOK
}

// k8sSplit separates the k8s command's own flags from the load flags
// passed through to the pods, telling them apart, and which take a value,
// by the two commands' flag sets. A flag both define is k8s's own;
// everything after "--" is a load flag.
func k8sSplit(fs *flag.FlagSet, args []string) (own, loadArgs []string, err error) {
	var lf loadFlags
	loadSet := loadFlagSet(&lf, io.Discard)
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return own, append(loadArgs, args[i+1:]...), nil
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			return nil, nil, fmt.Errorf("unexpected argument %q: give load flags, not arguments", a)
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f, dst := fs.Lookup(name), &own
		switch {
		case f != nil || name == "h" || name == "help":
		case loadSet.Lookup(name) != nil:
			f, dst = loadSet.Lookup(name), &loadArgs
		default:
			return nil, nil, fmt.Errorf("flag provided but not defined: -%s (neither a k8s nor a load flag)", name)
		}
		*dst = append(*dst, a)
		if f != nil && !hasValue && !k8sIsBool(f) && i+1 < len(args) {
			i++
			*dst = append(*dst, args[i])
		}
	}
	return own, loadArgs, nil
}

func k8sIsBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// k8sCheckLoadArgs checks the load flags as the pods' load command will,
// so that a mistake shows now rather than in every pod at the start time.
// The corpus directory is the pods' to read, and the manifest sets the
// shard, the start and the metrics' address itself.
func k8sCheckLoadArgs(args []string) string {
	var f loadFlags
	fs := loadFlagSet(&f, io.Discard)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return "load flags: " + err.Error()
	}
	if fs.NArg() > 0 {
		return fmt.Sprintf("load flags: unexpected argument %q", fs.Arg(0))
	}
	if f.target == "" {
		return "give the load flag -target HOST:PORT: without it every pod would load its own embedded server"
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	f.corpusDir, f.shard, f.startAt = "", "", ""
	if f.metrics.addr == "" {
		f.metrics.addr = fmt.Sprintf("0.0.0.0:%d", k8s.MetricsPort) // what the manifest adds
	}
	noEnv := func(string) (string, bool) { return "", false }
	if _, _, err := loadConfig(&f, set, noEnv); err != nil {
		return "load flags: " + usageText(err)
	}
	return ""
}

// k8sStart returns the shared start time: -start-at if given, otherwise
// -start-in from now, in whole seconds.
func k8sStart(startAt string, startIn time.Duration) (time.Time, error) {
	now := k8sNow()
	if startAt != "" {
		t, err := time.Parse(time.RFC3339, startAt)
		if err != nil {
			return time.Time{}, fmt.Errorf("-start-at %q: want an RFC 3339 time such as 2026-03-01T12:00:00Z", startAt)
		}
		if !t.After(now) {
			return time.Time{}, fmt.Errorf("-start-at %s is in the past", startAt)
		}
		return t, nil
	}
	if startIn <= 0 {
		return time.Time{}, fmt.Errorf("-start-in %v: want a positive lead time", startIn)
	}
	return now.Add(startIn).Add(time.Second - 1).Truncate(time.Second), nil
}

// labelsFlag is a repeatable key=value flag that fills a map.
type labelsFlag struct{ labels *map[string]string }

func (f labelsFlag) String() string {
	if f.labels == nil {
		return ""
	}
	var pairs []string
	for _, k := range slices.Sorted(maps.Keys(*f.labels)) {
		pairs = append(pairs, k+"="+(*f.labels)[k])
	}
	return strings.Join(pairs, ",")
}

func (f labelsFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q: want key=value", s)
	}
	if *f.labels == nil {
		*f.labels = map[string]string{}
	}
	if _, dup := (*f.labels)[k]; dup {
		return fmt.Errorf("%q: label %s given twice", s, k)
	}
	(*f.labels)[k] = v
	return nil
}
