// Command crashserver is a deliberately broken CVR server for the fuzz
// package's tests: it answers VER and CVR, and panics on a CVR line that
// holds a '%', as a server that passes the line to a format function
// might. It listens on the address given as its only argument.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
)

func main() {
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "crashserver: listening on", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go serve(c)
	}
}

func serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			return
		}
		switch f[0] {
		case "VER":
			fmt.Fprintf(c, "VER %s %s\r\n", f[1], f[2])
		case "CVR":
			parse(line)
			fmt.Fprintf(c, "CVR %s 7.0.0813 7.0.0813 6.2.0205 http://example.com/setup.exe http://example.com\r\n", f[1])
		default:
			return
		}
	}
}

// parse stands for a parser with a bug: it cannot handle a '%'.
func parse(line string) {
	if strings.Contains(line, "%") {
		panic(fmt.Sprintf("cannot parse %q", strings.TrimSpace(line)))
	}
}
