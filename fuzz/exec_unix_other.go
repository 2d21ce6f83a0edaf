//go:build unix && !linux

package fuzz

import "syscall"

func dieWithParent(*syscall.SysProcAttr) {}
