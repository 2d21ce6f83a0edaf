package corpus

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSeedsRoundTripByteForByte(t *testing.T) {
	t.Parallel()
	seeds := Seeds()
	if len(seeds) < 40 {
		t.Fatalf("%d seeds, want at least 40", len(seeds))
	}
	var valid, invalid int
	for _, c := range seeds {
		group := "invalid"
		if c.Valid {
			group, valid = "valid", valid+1
		} else {
			invalid++
		}
		data, err := fs.ReadFile(seedFS, "seeds/"+group+"/"+c.Name)
		if err != nil {
			t.Fatal(err)
		}
		if got := Marshal(c); !bytes.Equal(got, data) {
			t.Errorf("%s: Marshal gives\n%s\nwant the file as stored\n%s", c.Name, got, data)
		}
		if len(c.CVR) == 0 {
			t.Errorf("%s: no CVR bytes", c.Name)
		}
	}
	if valid == 0 || invalid == 0 {
		t.Errorf("%d valid and %d invalid seeds, want some of each", valid, invalid)
	}
	if len(Valid()) != valid {
		t.Errorf("Valid() = %d cases, want %d", len(Valid()), valid)
	}
}

func TestSeedsCoverEveryDialectFamily(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, c := range Valid() {
		seen[c.Dialect()] = true
	}
	for _, d := range []string{"MSNP2", "MSNP8", "MSNP9", "MSNP12", "MSNP13", "MSNP15", "MSNP18", "CVR0"} {
		if !seen[d] {
			t.Errorf("no valid seed for %s", d)
		}
	}
}

func TestDialect(t *testing.T) {
	t.Parallel()
	tests := []struct{ ver, want string }{
		{"VER 1 MSNP9 MSNP8 CVR0\r\n", "MSNP9"},
		{"VER 1 CVR0\r\n", "CVR0"},
		{"VER 1 MSNP8 CVR0\r\nVER 2 MSNP8 CVR0\r\n", "MSNP8"},
		{"", ""},
		{"VER MSNP8\r\n", ""},
		{"USR 1 TWN I a@b.c\r\n", ""},
	}
	for _, tt := range tests {
		if got := (Case{VER: []byte(tt.ver)}).Dialect(); got != tt.want {
			t.Errorf("Dialect(%q) = %q, want %q", tt.ver, got, tt.want)
		}
	}
}

func TestFileNameMatchesGoTest(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/written-by-go-test")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := FileName(data), "d3387ebb8454544c"; got != want {
		t.Errorf("FileName = %s, want %s (the name go test gave this file)", got, want)
	}
}

func TestSaveAndLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := Case{VER: []byte("VER 1 MSNP8 CVR0\r\n"), CVR: []byte("CVR 2 \x00\xff\"\\ %n\r\n")}
	path, err := Save(filepath.Join(dir, "valid"), c)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != FileName(data) {
		t.Errorf("saved as %s, want %s", filepath.Base(path), FileName(data))
	}
	if again, err := Save(filepath.Join(dir, "valid"), c); err != nil || again != path {
		t.Errorf("saving again gave %s, %v, want the same file", again, err)
	}
	if _, err := Save(filepath.Join(dir, "other"), Case{VER: nil, CVR: []byte("CVR 1 x\r\n")}); err != nil {
		t.Fatal(err)
	}
	cases, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 2 {
		t.Fatalf("Load found %d cases, want 2", len(cases))
	}
	for _, got := range cases {
		if bytes.Equal(got.CVR, c.CVR) {
			if !got.Valid || !bytes.Equal(got.VER, c.VER) {
				t.Errorf("loaded %+v, want the saved valid case", got)
			}
		} else if got.Valid || len(got.VER) != 0 {
			t.Errorf("loaded %+v, want an invalid case with no VER", got)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "valid")); len(entries) != 1 {
		t.Errorf("%d files in the folder, want 1 (no temporary files left)", len(entries))
	}
}

// TestLoadFlatFolder: a folder of corpus files with no subfolders, such
// as seeds/invalid or a user's own, loads too.
func TestLoadFlatFolder(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "invalid")
	if _, err := Save(dir, Case{CVR: []byte("CVR 1 x\r\n")}); err != nil {
		t.Fatal(err)
	}
	cases, err := Load(dir)
	if err != nil || len(cases) != 1 || string(cases[0].CVR) != "CVR 1 x\r\n" {
		t.Errorf("Load(%s) = %+v, %v; want the one case", dir, cases, err)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ data, want string }{
		{"", "first line"},
		{"go test fuzz v2\n[]byte(\"a\")\n[]byte(\"b\")\n", "first line"},
		{"go test fuzz v1\n[]byte(\"a\")\n", "want 2 values"},
		{"go test fuzz v1\nint(1)\n[]byte(\"b\")\n", "is not []byte"},
		{"go test fuzz v1\n[]byte(\"a)\n[]byte(\"b\")\n", "invalid syntax"},
	}
	for _, tt := range tests {
		if _, err := Unmarshal([]byte(tt.data)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Unmarshal(%q) error = %v, want %q", tt.data, err, tt.want)
		}
	}
	got, err := Unmarshal([]byte("go test fuzz v1\r\nstring(\"VER 1 MSNP8\\r\\n\")\n\n[]byte(\"CVR\")\n"))
	if err != nil || string(got.VER) != "VER 1 MSNP8\r\n" || string(got.CVR) != "CVR" {
		t.Errorf("Unmarshal with string value = %+v, %v", got, err)
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Load of a missing folder succeeded")
	}
	empty := t.TempDir()
	if _, err := Load(empty); err == nil || !strings.Contains(err.Error(), "no corpus files") {
		t.Errorf("Load of an empty folder: error = %v", err)
	}
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "broken"), []byte("hello\n"), 0o644)
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Errorf("Load of a bad file: error = %v, want one naming the file", err)
	}
}

func FuzzUnmarshal(f *testing.F) {
	for _, c := range Seeds() {
		f.Add(Marshal(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Unmarshal(data)
		if err != nil {
			return
		}
		again, err := Unmarshal(Marshal(c))
		if err != nil || !bytes.Equal(again.VER, c.VER) || !bytes.Equal(again.CVR, c.CVR) {
			t.Fatalf("round trip of %q: %+v, %v", data, again, err)
		}
	})
}

func TestPick(t *testing.T) {
	t.Parallel()
	got, err := Pick(Valid(), "MSNP15")
	if err != nil || len(got) == 0 {
		t.Fatalf("Pick(MSNP15) = %d cases, %v", len(got), err)
	}
	for _, c := range got {
		if c.Dialect() != "MSNP15" {
			t.Errorf("picked %s of dialect %s", c.Name, c.Dialect())
		}
	}
	if _, err := Pick(Valid(), "MSNP23"); err == nil {
		t.Error("Pick(MSNP23) found cases, want an error: no seed has that dialect")
	}
}

func TestWriteFileErrorsNameTheFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "missing", "run.json")
	err := WriteFile(path, []byte("{}"))
	if err == nil {
		t.Fatal("writing into a missing folder succeeded")
	}
	if got, want := err.Error(), "write "+path+": no such file or directory"; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "run.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, "run.json")
	err = WriteFile(path, []byte("{}"))
	if err == nil || !strings.HasPrefix(err.Error(), "write "+path+": ") || strings.Count(err.Error(), "run.json") != 1 {
		t.Errorf("replacing a folder: error %v, want one that names only %s", err, path)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d entries left in the folder, want 1 (no temporary file)", len(entries))
	}
}

func TestWriteFileReplaces(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "run.json")
	for _, data := range []string{"{\"old\":true}\n", "{}\n"} {
		if err := WriteFile(path, []byte(data)); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(path); err != nil || string(got) != data {
			t.Errorf("got %q (%v), want %q", got, err, data)
		}
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("%d entries in the folder, want only the file", len(entries))
	}
}
