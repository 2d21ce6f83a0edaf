package fuzz

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/cvrswarm/cvrswarm/corpus"
)

// Finding is one distinct defect: the first input that showed it, the
// smallest input that still does (same signature), and how to replay it.
// It is also the record saved as record.json beside the input.
type Finding struct {
	Kind      Kind   `json:"kind"`
	Signature string `json:"signature"`
	Hits      int    `json:"hits"`   // cases that showed this signature
	Detail    string `json:"detail"` // what happened, in a sentence
	// Input and Minimized are the VER and CVR bytes as one Go-quoted
	// string, readable and exact.
	Input     string `json:"input"`
	Minimized string `json:"minimized"`
	// The same bytes, exact, for tools (base64 in JSON).
	InputVER     []byte   `json:"input_ver"`
	InputCVR     []byte   `json:"input_cvr"`
	MinimizedVER []byte   `json:"minimized_ver"`
	MinimizedCVR []byte   `json:"minimized_cvr"`
	Seed         uint64   `json:"seed"`
	Case         uint64   `json:"case"`     // the index of the case that showed it first
	Mutators     []string `json:"mutators"` // the mutators that made it, in order
	Parent       string   `json:"parent,omitempty"`
	// Reproduced says the input showed the signature again on a fresh
	// connection; false for a crash of a target cvrswarm cannot restart.
	Reproduced   bool   `json:"reproduced"`
	MinimizeRuns int    `json:"minimize_runs"`
	Exit         string `json:"exit,omitempty"`   // how the target process ended
	Stderr       string `json:"stderr,omitempty"` // the target's stderr from the panic on
	Target       string `json:"target"`
	File         string `json:"file,omitempty"`   // the `go test fuzz v1` file
	Record       string `json:"record,omitempty"` // this record
	Replay       string `json:"replay,omitempty"` // the command that replays it
	Strict       bool   `json:"strict,omitempty"` // found with Strict: replay with it
	// For an amplification: the bytes of the write, of its replies, and
	// their ratio.
	RequestBytes int       `json:"request_bytes,omitempty"`
	ReplyBytes   int       `json:"reply_bytes,omitempty"`
	Ratio        float64   `json:"ratio,omitempty"`
	Time         time.Time `json:"time"`

	shrunk     *corpus.Case  // the smallest input shrinking found so far, not yet confirmed
	shrinkTime time.Duration // the time spent shrinking it
}

// MinimizedCase returns the smallest input as a corpus case.
func (f *Finding) MinimizedCase() corpus.Case {
	return corpus.Case{VER: f.MinimizedVER, CVR: f.MinimizedCVR}
}

func quoteCase(c corpus.Case) string {
	return strconv.Quote(string(c.VER) + string(c.CVR))
}

func caseLen(c corpus.Case) int { return len(c.VER) + len(c.CVR) }

// dirName is the finding's folder: its kind and a hash of its signature.
func (f *Finding) dirName() string {
	return fmt.Sprintf("%s-%x", f.Kind, sha256.Sum256([]byte(f.Signature)))[:len(f.Kind)+1+8]
}

// RecordName is the name of the JSON record in a finding's folder.
const RecordName = "record.json"

// save writes the minimised input (as `go test` names it) and the record
// into dir/<kind>-<hash>/, atomically, removing an older input of the
// same finding. replay is the command prefix the record's Replay line
// starts with.
func (f *Finding) save(dir, replay string) error {
	folder := filepath.Join(dir, f.dirName())
	old := f.File
	path, err := corpus.Save(folder, f.MinimizedCase())
	if err != nil {
		return fmt.Errorf("save finding %s: %w", f.dirName(), err)
	}
	if old != "" && old != path {
		os.Remove(old)
	}
	f.File = path
	f.Record = filepath.Join(folder, RecordName)
	if f.Strict {
		replay += " -strict"
	}
	f.Replay = replay + " " + ShellQuote(f.Record)
	return f.writeRecord()
}

func (f *Finding) writeRecord() error {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := corpus.WriteFile(f.Record, append(data, '\n')); err != nil {
		return fmt.Errorf("save finding %s: %w", f.dirName(), err)
	}
	return nil
}

// ReadRecord reads a finding's record.json.
func ReadRecord(path string) (Finding, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Finding{}, err
	}
	var f Finding
	if err := json.Unmarshal(data, &f); err != nil {
		return Finding{}, fmt.Errorf("%s: %w", path, err)
	}
	if f.Kind == "" || (len(f.MinimizedCVR) == 0 && len(f.MinimizedVER) == 0) {
		return Finding{}, fmt.Errorf("%s: not a finding record (no kind or input)", path)
	}
	return f, nil
}

// ShellQuote quotes s for a POSIX shell when it needs it, as replay
// command lines are written.
func ShellQuote(s string) string {
	safe := s != ""
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '/' || c == '.' ||
			c == '-' || c == '_' || c == ':' || c == '=' || c == '@' || c == ',' || c == '+') {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	out := "'"
	for _, c := range s {
		if c == '\'' {
			out += `'\''`
		} else {
			out += string(c)
		}
	}
	return out + "'"
}
