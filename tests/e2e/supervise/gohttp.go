// gohttp URL [N]: GETs URL with Go's own net/http (its own resolver and its own
// connect system calls: nothing LD_PRELOAD can reach) and prints the body. With N,
// makes N requests at once on separate connections (goroutines on many threads) and
// prints "ok=K" for the number that returned the body of the first.
package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func get(c *http.Client, url string) ([]byte, error) {
	r, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer r.Body.Close()
	return io.ReadAll(r.Body)
}

func main() {
	tr := &http.Transport{DisableKeepAlives: true}
	c := &http.Client{Timeout: 20 * time.Second, Transport: tr}
	body, err := get(c, os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "gohttp:", err)
		os.Exit(1)
	}
	if len(os.Args) < 3 {
		os.Stdout.Write(body)
		return
	}
	n, _ := strconv.Atoi(os.Args[2])
	var ok int64
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := get(c, os.Args[1])
			if err == nil && bytes.Equal(b, body) {
				atomic.AddInt64(&ok, 1)
			} else if err != nil {
				fmt.Fprintln(os.Stderr, "gohttp:", err)
			}
		}()
	}
	wg.Wait()
	fmt.Printf("ok=%d\n", ok)
}
