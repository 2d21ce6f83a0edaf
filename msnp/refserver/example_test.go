package refserver_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cvrswarm/cvrswarm/msnp"
	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

// A Dispatch Server on a free loopback port, and a client that logs in
// through VER and CVR.
func Example() {
	srv, err := refserver.Listen("127.0.0.1:0", refserver.Config{Role: msnp.DS, Recommended: "8.5.1302"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := msnp.Dial(ctx, msnp.TCPTarget(srv.Addr()), msnp.ClientConfig{Dialects: []msnp.Dialect{"MSNP15", "MSNP8", msnp.CVR0}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	ver, err := c.Handshake(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ver)
	reply, err := c.CVR(ctx, msnp.Request{Locale: "0x0409", SystemType: "winnt", SystemVer: "5.1", SystemArch: "i386",
		Library: "MSNMSGR", ClientVersion: "8.5.1302", ClientID: "BC01", UserHandle: "example@hotmail.com", Params: 8})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(reply.CVR.Recommended, reply.CVR.Minimum)
	// Output:
	// VER 1 MSNP15
	// 8.5.1302 6.2.0205
}
