package msnptest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cvrswarm/cvrswarm/msnp"
	"github.com/cvrswarm/cvrswarm/msnp/msnptest"
)

func TestCannedAnswersVERAndCVR(t *testing.T) {
	srv, err := msnptest.NewCanned()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := msnp.Dial(ctx, srv.Target(), msnp.ClientConfig{Dialects: []msnp.Dialect{"MSNP15", msnp.CVR0}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Handshake(ctx); err != nil {
		t.Fatalf("Handshake: %v", err)
	}
	if got := c.Dialect(); got != "MSNP15" {
		t.Errorf("dialect = %q, want MSNP15", got)
	}
	reply, err := c.CVR(ctx, msnp.Request{Locale: "0x0409", SystemType: "winnt", SystemVer: "5.1",
		SystemArch: "i386", Library: "MSNMSGR", ClientVersion: "8.5.1302", ClientID: "msmsgs", Params: 7})
	if err != nil {
		t.Fatalf("CVR: %v", err)
	}
	if reply.Kind != msnp.ReplyCVR || reply.TrID != 2 || reply.CVR.Recommended != "8.5.1302" {
		t.Errorf("reply = %+v, want a CVR reply with TrID 2", reply)
	}
}

func TestHTTPResponderAnswersHTTPAndCloses(t *testing.T) {
	srv, err := msnptest.NewServer(msnptest.HTTPResponder)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := msnp.Dial(ctx, srv.Target(), msnp.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Handshake(ctx)
	var se *msnp.SyntaxError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "HTTP/1.1 400 Bad Request") {
		t.Errorf("Handshake: got %v, want a syntax error quoting the HTTP status line", err)
	}
}

func TestClosedAddrRefuses(t *testing.T) {
	addr := msnptest.ClosedAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := msnp.Dial(ctx, msnp.TCPTarget(addr), msnp.ClientConfig{}); err == nil {
		t.Errorf("dialing %s succeeded, want a refused connection", addr)
	}
}
