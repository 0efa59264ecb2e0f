// goudp NAME PORT: looks NAME up with Go's own resolver (port-53 queries it sends
// itself), then sends one datagram to NAME:PORT and prints the reply, or the error.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	r := &net.Resolver{PreferGo: true}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addrs, err := r.LookupHost(ctx, os.Args[1])
	if err != nil {
		fmt.Println("lookup-error:", err)
		os.Exit(2)
	}
	fmt.Println("lookup:", addrs[0])
	c, err := net.DialTimeout("udp", net.JoinHostPort(addrs[0], os.Args[2]), 5*time.Second)
	if err != nil {
		fmt.Println("dial-error:", err)
		os.Exit(3)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("ping-udp")); err != nil {
		fmt.Println("write-error:", err)
		os.Exit(4)
	}
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if err != nil {
		fmt.Println("read-error:", err)
		os.Exit(5)
	}
	fmt.Println("reply:", string(buf[:n]))
}
