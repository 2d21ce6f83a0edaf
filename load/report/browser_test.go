package report

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chromium returns the path of a Chromium browser, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" { // .ci/run installs it: a skip there would hide a broken install
		t.Fatal("CI=true but no chromium on PATH: the HTML page must be checked in a browser (apt-get install chromium)")
	}
	t.Skip("no chromium on PATH, so the HTML page is not checked in a browser (apt-get install chromium)")
	return ""
}

// TestPageInBrowser opens each page in headless Chromium and checks that
// it renders every chart and logs nothing to the console: the page has no
// scripts, so any console line is a blocked fetch or a parse error.
func TestPageInBrowser(t *testing.T) {
	browser := chromium(t)
	for _, tt := range pages(t) {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			page := filepath.Join(dir, tt.name+".html")
			if err := WriteHTML(page, tt.page); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
				"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
				"--user-data-dir="+filepath.Join(dir, "profile"), "--enable-logging=stderr", "--v=0",
				"--dump-dom", "file://"+page)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			cmd.WaitDelay = 5 * time.Second
			if err := cmd.Run(); err != nil {
				t.Fatalf("chromium: %v\n%s", err, stderr.Bytes())
			}
			for _, line := range strings.Split(stderr.String(), "\n") {
				if strings.Contains(line, ":CONSOLE") {
					t.Errorf("console: %s", line)
				}
			}
			dom := stdout.String()
			if got, want := strings.Count(dom, "<svg "), len(tt.page.Charts); got != want {
				t.Errorf("got %d charts in the rendered page, want %d", got, want)
			}
			for _, c := range tt.page.Charts {
				if !strings.Contains(dom, `<figure id="`+c.Name+`">`) {
					t.Errorf("rendered page lacks the chart %q", c.Name)
				}
			}
			if !strings.Contains(dom, "<title>"+tt.page.Title+"</title>") {
				t.Errorf("rendered page lacks its title %q", tt.page.Title)
			}
		})
	}
}
