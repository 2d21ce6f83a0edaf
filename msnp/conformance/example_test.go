package conformance_test

import (
	"context"
	"fmt"

	"github.com/cvrswarm/cvrswarm/msnp"
	"github.com/cvrswarm/cvrswarm/msnp/conformance"
	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

// Check the reference server, as a Dispatch Server, offering MSNP8 to
// MSNP15 and CVR0.
func ExampleRun() {
	srv, err := refserver.Listen("127.0.0.1:0", refserver.Config{Role: msnp.DS})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	rep, err := conformance.Run(context.Background(), conformance.Config{
		Target:   msnp.TCPTarget(srv.Addr()),
		Role:     msnp.DS,
		Dialects: msnp.DialectRange(8, 15),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("CVR rules use", rep.CVRDialect)
	for _, r := range rep.Results {
		if r.Rule == "cvr-710-locale" {
			fmt.Printf("%s: sent %q, got %q: %s\n", r.Rule, r.Sent[len(r.Sent)-1], r.Got, r.Verdict)
		}
	}
	s := rep.Summary
	fmt.Printf("%d rules: %d pass, %d warn, %d fail, %d skip\n", s.Rules, s.Pass, s.Warn, s.Fail, s.Skip)
	// Output:
	// CVR rules use MSNP15
	// cvr-710-locale: sent "CVR 5 0x1111 winnt 5.1 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com", got "710 5": pass
	// 35 rules: 31 pass, 0 warn, 0 fail, 4 skip
}
