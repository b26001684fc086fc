// Command pause is the real node's sandbox ("pause") container and its test workload: it blocks
// until SIGTERM or SIGINT and exits 0. With -listen ADDR it also answers every HTTP request
// with 200 "ok", which a readiness probe can check. Built static (CGO_ENABLED=0), so an image
// holding only this file runs.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	listen := flag.String("listen", "", "serve HTTP 200 on this address (e.g. :8080)")
	flag.Parse()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	if *listen != "" {
		go func() {
			err := http.ListenAndServe(*listen, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				fmt.Fprintln(w, "ok")
			}))
			fmt.Fprintln(os.Stderr, "pause:", err)
			os.Exit(1)
		}()
	}
	<-stop
}
