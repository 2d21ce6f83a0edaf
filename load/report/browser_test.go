package report

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image/color"
	"image/png"
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

// screenshots keeps the browser test's screenshots in a folder, for a
// person to look at: go test -run Browser -screenshots DIR ./load/report
var screenshots = flag.String("screenshots", "", "keep the browser test's screenshots in this folder")

// Screenshot size: a desktop window tall enough for the longest page.
const shotWidth, shotHeight = 1100, 3200

// runChromium runs the headless browser on page with args and returns
// what it printed.
func runChromium(t *testing.T, browser, page string, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args = append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + filepath.Join(t.TempDir(), "profile"), "--enable-logging=stderr", "--v=0"},
		append(args, "file://"+page)...)
	cmd := exec.CommandContext(ctx, browser, args...)
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, errs.Bytes())
	}
	return out.String(), errs.String()
}

// TestPageInBrowser opens each page in headless Chromium and checks that
// it renders every chart and logs nothing to the console: the page has no
// scripts, so any console line is a blocked fetch or a parse error. It
// then takes a screenshot and checks what a reader sees: the charts' line
// colors drawn, and nothing past the right edge of the window.
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
			shotDir := dir
			if *screenshots != "" {
				shotDir = *screenshots
			}
			shot := filepath.Join(shotDir, tt.name+"-page.png")
			dom, stderr := runChromium(t, browser, page, "--dump-dom", "--hide-scrollbars",
				fmt.Sprintf("--window-size=%d,%d", shotWidth, shotHeight), "--screenshot="+shot)
			for _, line := range strings.Split(stderr, "\n") {
				if strings.Contains(line, ":CONSOLE") {
					t.Errorf("console: %s", line)
				}
			}
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
			checkScreenshot(t, shot)
		})
	}
}

// checkScreenshot checks a page's screenshot: its size, the first line
// color of the charts drawn in it (the SVG rendered), and a blank strip
// at the right edge (no chart or text runs out of the window).
func checkScreenshot(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	b := img.Bounds()
	if b.Dx() != shotWidth || b.Dy() != shotHeight {
		t.Fatalf("got a %dx%d screenshot, want %dx%d", b.Dx(), b.Dy(), shotWidth, shotHeight)
	}
	line := palette[0].(color.RGBA)
	drawn, atEdge := 0, 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := img.At(x, y)
			r, g, bl, _ := c.RGBA()
			if near(r, line.R) && near(g, line.G) && near(bl, line.B) {
				drawn++
			}
			if x >= b.Max.X-8 && inked(c) {
				atEdge++
			}
		}
	}
	if drawn < 500 {
		t.Errorf("%s: got %d pixels of the charts' first line color, want the charts drawn (500 or more)", path, drawn)
	}
	if atEdge > 0 {
		t.Errorf("%s: %d pixels drawn at the window's right edge: the page is wider than the window", path, atEdge)
	}
}
