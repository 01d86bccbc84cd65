// rig stand-in for traefik/whoami: same default port, flags and text output.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
)

var (
	port    = flag.String("port", envOr("WHOAMI_PORT_NUMBER", "80"), "give me a port number")
	name    = flag.String("name", os.Getenv("WHOAMI_NAME"), "give me a name")
	verbose = flag.Bool("verbose", false, "enable verbose logging")
)

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}

func ips() []string {
	var out []string
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			out = append(out, n.IP.String())
		}
	}
	return out
}

func main() {
	flag.Parse()
	host, _ := os.Hostname()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if *verbose {
			log.Printf("%s %s %s", r.RemoteAddr, r.Method, r.URL)
		}
		if *name != "" {
			fmt.Fprintln(w, "Name:", *name)
		}
		fmt.Fprintln(w, "Hostname:", host)
		for _, ip := range ips() {
			fmt.Fprintln(w, "IP:", ip)
		}
		fmt.Fprintln(w, "RemoteAddr:", r.RemoteAddr)
		_ = r.Write(&headerOnly{w})
	})
	http.HandleFunc("/api", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]interface{}{
			"hostname": host, "ip": ips(), "headers": r.Header, "url": r.URL.RequestURI(),
			"host": r.Host, "method": r.Method, "name": *name, "remoteAddr": r.RemoteAddr,
		})
	})
	http.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	log.Printf("Starting up on port %s", *port)
	log.Fatal(http.ListenAndServe(":"+*port, nil))
}

// headerOnly prints the request line and headers the way whoami does, sorted.
type headerOnly struct{ w http.ResponseWriter }

func (h *headerOnly) Write(p []byte) (int, error) {
	head := string(p)
	if i := strings.Index(head, "\r\n\r\n"); i >= 0 {
		head = head[:i]
	}
	lines := strings.Split(head, "\r\n")
	if len(lines) > 1 {
		sort.Strings(lines[1:])
	}
	fmt.Fprintln(h.w, strings.Join(lines, "\n"))
	return len(p), nil
}
