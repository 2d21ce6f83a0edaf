//go:build !unix

package fuzz

import (
	"os"
	"os/exec"
)

func setProcessGroup(*exec.Cmd) {}

func killGroup(cmd *exec.Cmd) { cmd.Process.Kill() }

func exitSignal(*os.ProcessState) string { return "" }
