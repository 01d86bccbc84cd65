// rig stand-in for registrator (gliderlabs/fayrus semantics, consul:// backend only).
// Standard library only, so it builds from the Go toolchain alone.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

var (
	hostIP        = flag.String("ip", "", "IP for ports mapped to the host")
	internal      = flag.Bool("internal", false, "Use internal ports instead of published ones")
	explicit      = flag.Bool("explicit", false, "Only register containers which have SERVICE_NAME label set")
	useIPFromLbl  = flag.String("useIpFromLabel", "", "Use IP which is stored in a label assigned to the container")
	ipFromCtr     = flag.Bool("ip-from-container", false, "Register the container's internal IP instead of the host IP")
	refreshTTL    = flag.Int("ttl", 0, "TTL for services (default is no expiry)")
	refreshIntvl  = flag.Int("ttl-refresh", 0, "Frequency with which service TTLs are refreshed")
	forceTags     = flag.String("tags", "", "Append tags for all registered services")
	resyncIntvl   = flag.Int("resync", 0, "Frequency with which services are resynchronized")
	deregister    = flag.String("deregister", "always", "Deregister exited services \"always\" or \"on-success\"")
	retryAttempts = flag.Int("retry-attempts", 0, "Max retry attempts to establish a connection with the backend. Use -1 for infinite retries")
	retryInterval = flag.Int("retry-interval", 2000, "Interval (in millisecond) between retry-attempts.")
	cleanup       = flag.Bool("cleanup", false, "Remove dangling services")
)

type service struct {
	ID, Name, IP string
	Port         int
	Tags         []string
	Meta         map[string]string
	Check        map[string]interface{}
}

type container struct {
	ID     string
	Name   string
	Config struct {
		Image        string
		Hostname     string
		Env          []string
		Labels       map[string]string
		ExposedPorts map[string]struct{}
	}
	HostConfig struct {
		NetworkMode string
	}
	State struct {
		Running  bool
		ExitCode int
	}
	NetworkSettings struct {
		IPAddress string
		Ports     map[string][]struct{ HostIp, HostPort string }
		Networks  map[string]struct{ IPAddress string }
	}
}

var (
	hostname  string
	docker    *http.Client
	dockerURL = "http://docker"
	consulURL string
	mu        sync.Mutex
	byCtr     = map[string][]string{} // container ID -> service IDs
)

func main() {
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage of %s:\n", os.Args[0])
		fmt.Fprintf(os.Stderr, "  %s [options] <registry URI>\n\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		if flag.NArg() == 0 {
			fmt.Fprint(os.Stderr, "Missing required argument for registry URI.\n\n")
		} else {
			fmt.Fprintln(os.Stderr, "Extra unparsed arguments:", strings.Join(flag.Args()[1:], " "))
			fmt.Fprint(os.Stderr, "Options should come before the registry URI argument.\n\n")
		}
		flag.Usage()
		os.Exit(2)
	}
	if *deregister != "always" && *deregister != "on-success" {
		log.Fatal("-deregister must be \"always\" or \"on-success\"")
	}
	hostname, _ = os.Hostname()
	u, err := url.Parse(flag.Arg(0))
	if err != nil || u.Scheme != "consul" {
		log.Fatalf("unrecognized adapter: %s (this stand-in supports consul:// only)", flag.Arg(0))
	}
	host := u.Host
	if host == "" {
		host = "127.0.0.1:8500"
	}
	consulURL = "http://" + host
	setupDocker()
	log.Printf("Starting registrator (rig stand-in) ...")
	log.Printf("Using consul adapter: %s", consulURL)

	for attempt := 0; ; attempt++ {
		err = ping()
		if err == nil {
			break
		}
		if *retryAttempts != -1 && attempt >= *retryAttempts {
			log.Fatal("backend ping failed: ", err)
		}
		log.Printf("backend ping failed (%v), retrying in %dms", err, *retryInterval)
		time.Sleep(time.Duration(*retryInterval) * time.Millisecond)
	}
	log.Printf("Listening for Docker events ...")
	syncAll(false)
	if *refreshIntvl > 0 && *refreshTTL > 0 {
		go func() {
			for range time.Tick(time.Duration(*refreshIntvl) * time.Second) {
				refreshAll()
			}
		}()
	}
	if *resyncIntvl > 0 {
		go func() {
			for range time.Tick(time.Duration(*resyncIntvl) * time.Second) {
				syncAll(*cleanup)
			}
		}()
	}
	for {
		if err := watchEvents(); err != nil {
			log.Printf("docker events: %v; reconnecting", err)
		}
		time.Sleep(2 * time.Second)
		syncAll(false)
	}
}

func setupDocker() {
	endpoint := os.Getenv("DOCKER_HOST")
	if endpoint == "" {
		endpoint = "unix:///tmp/docker.sock"
	}
	tr := &http.Transport{}
	if strings.HasPrefix(endpoint, "unix://") {
		path := strings.TrimPrefix(endpoint, "unix://")
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
	} else {
		dockerURL = "http://" + strings.TrimPrefix(endpoint, "tcp://")
	}
	docker = &http.Client{Transport: tr}
}

func dockerGet(path string, out interface{}) error {
	resp, err := docker.Get(dockerURL + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("docker %s: %s: %s", path, resp.Status, bytes.TrimSpace(b))
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// consulClient presents CONSUL_HTTP_TOKEN on every request, as Consul's own API client (and so
// registrator) does.
var consulClient = &http.Client{Transport: tokenTransport{os.Getenv("CONSUL_HTTP_TOKEN")}}

type tokenTransport struct{ token string }

func (t tokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.token != "" {
		r = r.Clone(r.Context())
		r.Header.Set("X-Consul-Token", t.token)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func consulPut(path string, body interface{}) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(http.MethodPut, consulURL+path, rd)
	if err != nil {
		return err
	}
	resp, err := consulClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("consul %s: %s: %s", path, resp.Status, bytes.TrimSpace(b))
	}
	return nil
}

func ping() error {
	resp, err := consulClient.Get(consulURL + "/v1/status/leader")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var leader string
	if err := json.NewDecoder(resp.Body).Decode(&leader); err != nil {
		return err
	}
	if leader == "" {
		return fmt.Errorf("no leader")
	}
	log.Println("consul: current leader ", leader)
	return nil
}

func watchEvents() error {
	filters := url.QueryEscape(`{"type":["container"],"event":["start","die"]}`)
	resp, err := docker.Get(dockerURL + "/events?filters=" + filters)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var ev struct {
			Action string
			Actor  struct{ ID string }
		}
		if err := dec.Decode(&ev); err != nil {
			return err
		}
		switch ev.Action {
		case "start":
			add(ev.Actor.ID)
		case "die":
			remove(ev.Actor.ID)
		}
	}
}

func syncAll(quiet bool) {
	var list []struct{ ID string }
	if err := dockerGet("/containers/json", &list); err != nil {
		log.Printf("sync: %v", err)
		return
	}
	running := map[string]bool{}
	for _, c := range list {
		running[c.ID] = true
		add(c.ID)
	}
	if !quiet {
		return
	}
	// -cleanup: forget services of containers that are gone from this host.
	var svcs map[string]struct{ ID string }
	resp, err := consulClient.Get(consulURL + "/v1/agent/services")
	if err != nil {
		return
	}
	defer resp.Body.Close()
	if json.NewDecoder(resp.Body).Decode(&svcs) != nil {
		return
	}
	mu.Lock()
	known := map[string]bool{}
	for _, ids := range byCtr {
		for _, id := range ids {
			known[id] = true
		}
	}
	mu.Unlock()
	for id := range svcs {
		if strings.HasPrefix(id, hostname+":") && !known[id] {
			log.Printf("dangling: %s", id)
			_ = consulPut("/v1/agent/service/deregister/"+url.PathEscape(id), nil)
		}
	}
}

func add(id string) {
	var c container
	if err := dockerGet("/containers/"+id+"/json", &c); err != nil {
		log.Printf("unable to inspect container %.12s: %v", id, err)
		return
	}
	svcs := services(&c)
	var ids []string
	for _, s := range svcs {
		reg := map[string]interface{}{"ID": s.ID, "Name": s.Name, "Port": s.Port, "Address": s.IP, "Tags": s.Tags, "Meta": s.Meta}
		if s.Check != nil {
			reg["Check"] = s.Check
		}
		if err := consulPut("/v1/agent/service/register", reg); err != nil {
			log.Printf("register failed: %s: %v", s.ID, err)
			continue
		}
		ids = append(ids, s.ID)
		log.Printf("added: %.12s %s", c.ID, s.ID)
	}
	if len(svcs) == 0 {
		log.Printf("ignored: %.12s no published ports", c.ID)
	}
	mu.Lock()
	byCtr[c.ID] = ids
	mu.Unlock()
}

func remove(id string) {
	if *deregister == "on-success" {
		var c container
		if dockerGet("/containers/"+id+"/json", &c) == nil && c.State.ExitCode != 0 {
			return
		}
	}
	mu.Lock()
	ids := byCtr[id]
	delete(byCtr, id)
	mu.Unlock()
	for _, s := range ids {
		if err := consulPut("/v1/agent/service/deregister/"+url.PathEscape(s), nil); err != nil {
			log.Printf("deregister failed: %s: %v", s, err)
			continue
		}
		log.Printf("removed: %.12s %s", id, s)
	}
}

func refreshAll() {
	mu.Lock()
	var all []string
	for _, ids := range byCtr {
		all = append(all, ids...)
	}
	mu.Unlock()
	for _, id := range all {
		_ = consulPut("/v1/agent/check/pass/service:"+url.PathEscape(id), nil)
	}
}

// metadata merges SERVICE_* labels and env (env wins); port-specific keys
// SERVICE_<port>_<key> override the generic ones for that port.
func metadata(c *container, port string) (map[string]string, map[string]bool) {
	raw := map[string]string{}
	for k, v := range c.Config.Labels {
		raw[k] = v
	}
	for _, kv := range c.Config.Env {
		if i := strings.IndexByte(kv, '='); i > 0 {
			raw[kv[:i]] = kv[i+1:]
		}
	}
	meta, fromPort := map[string]string{}, map[string]bool{}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !strings.HasPrefix(k, "SERVICE_") {
			continue
		}
		key := strings.ToLower(strings.TrimPrefix(k, "SERVICE_"))
		if _, taken := meta[key]; taken && fromPort[key] {
			continue
		}
		parts := strings.SplitN(key, "_", 2)
		if len(parts) == 2 {
			if _, err := strconv.Atoi(parts[0]); err == nil {
				if parts[0] == port {
					meta[parts[1]] = raw[k]
					fromPort[parts[1]] = true
				}
				continue
			}
		}
		if !fromPort[key] {
			meta[key] = raw[k]
		}
	}
	return meta, fromPort
}

func containerIP(c *container) string {
	if c.NetworkSettings.IPAddress != "" {
		return c.NetworkSettings.IPAddress
	}
	names := make([]string, 0, len(c.NetworkSettings.Networks))
	for n := range c.NetworkSettings.Networks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if ip := c.NetworkSettings.Networks[n].IPAddress; ip != "" {
			return ip
		}
	}
	return ""
}

func services(c *container) []service {
	type port struct{ exposed, proto, hostIP, hostPort string }
	var ports []port
	seen := map[string]bool{}
	for k, bindings := range c.NetworkSettings.Ports {
		ex, proto := splitPort(k)
		seen[k] = true
		if len(bindings) == 0 {
			ports = append(ports, port{ex, proto, "", ""})
			continue
		}
		// One service per exposed port, from one binding, as registrator does: Docker 20.10+
		// reports a published port twice (0.0.0.0 and [::]); prefer the IPv4 one.
		b := bindings[0]
		for _, x := range bindings {
			if !strings.Contains(x.HostIp, ":") {
				b = x
				break
			}
		}
		ports = append(ports, port{ex, proto, b.HostIp, b.HostPort})
	}
	for k := range c.Config.ExposedPorts {
		if !seen[k] {
			ex, proto := splitPort(k)
			ports = append(ports, port{ex, proto, "", ""})
		}
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i].exposed+ports[i].proto < ports[j].exposed+ports[j].proto })
	hostNet := c.HostConfig.NetworkMode == "host"
	var usable []port
	for _, p := range ports {
		if *internal || hostNet || p.hostPort != "" {
			usable = append(usable, p)
		}
	}
	image := c.Config.Image
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndexByte(image, ':'); i > strings.LastIndexByte(image, '/') {
		image = image[:i]
	}
	image = image[strings.LastIndexByte(image, '/')+1:]
	var out []service
	for _, p := range usable {
		meta, fromPort := metadata(c, p.exposed)
		if meta["ignore"] != "" {
			continue
		}
		if *explicit && meta["name"] == "" {
			continue
		}
		s := service{Meta: map[string]string{}}
		s.Name = image
		if meta["name"] != "" {
			s.Name = meta["name"]
		}
		if len(usable) > 1 && !fromPort["name"] {
			s.Name += "-" + p.exposed
		}
		switch {
		case *internal:
			s.IP = containerIP(c)
			s.Port, _ = strconv.Atoi(p.exposed)
		case hostNet:
			s.IP = *hostIP
			s.Port, _ = strconv.Atoi(p.exposed)
		default:
			s.IP = p.hostIP
			if s.IP == "" || s.IP == "0.0.0.0" {
				if a, err := net.ResolveIPAddr("ip4", hostname); err == nil {
					s.IP = a.String()
				}
			}
			if *hostIP != "" {
				s.IP = *hostIP
			}
			s.Port, _ = strconv.Atoi(p.hostPort)
			if *ipFromCtr {
				s.IP = containerIP(c)
				s.Port, _ = strconv.Atoi(p.exposed)
			}
		}
		if *useIPFromLbl != "" && c.Config.Labels[*useIPFromLbl] != "" {
			s.IP = strings.SplitN(c.Config.Labels[*useIPFromLbl], "/", 2)[0]
		}
		s.ID = hostname + ":" + strings.TrimPrefix(c.Name, "/") + ":" + p.exposed
		if p.proto == "udp" {
			s.ID += ":udp"
			s.Tags = append(s.Tags, "udp")
		}
		if meta["id"] != "" {
			s.ID = meta["id"]
		}
		for _, t := range strings.Split(*forceTags+","+meta["tags"], ",") {
			if t = strings.TrimSpace(t); t != "" {
				s.Tags = append(s.Tags, t)
			}
		}
		for k, v := range meta {
			switch {
			case k == "name" || k == "tags" || k == "id" || k == "ignore" || strings.HasPrefix(k, "check_"):
			default:
				s.Meta[k] = v
			}
		}
		s.Check = check(meta, s)
		out = append(out, s)
	}
	return out
}

func check(meta map[string]string, s service) map[string]interface{} {
	ck := map[string]interface{}{}
	interval := meta["check_interval"]
	if interval == "" {
		interval = "10s"
	}
	addr := net.JoinHostPort(s.IP, strconv.Itoa(s.Port))
	switch {
	case meta["check_http"] != "":
		ck["HTTP"] = "http://" + addr + meta["check_http"]
		ck["Interval"] = interval
	case meta["check_https"] != "":
		ck["HTTP"] = "https://" + addr + meta["check_https"]
		ck["Interval"] = interval
		ck["TLSSkipVerify"] = meta["check_tls_skip_verify"] == "true"
	case meta["check_tcp"] != "":
		ck["TCP"] = addr
		ck["Interval"] = interval
	case meta["check_script"] != "":
		ck["Args"] = strings.Fields(strings.ReplaceAll(meta["check_script"], "$SERVICE_IP", s.IP))
		ck["Interval"] = interval
	case meta["check_ttl"] != "":
		ck["TTL"] = meta["check_ttl"]
	case *refreshTTL > 0:
		ck["TTL"] = strconv.Itoa(*refreshTTL) + "s"
	default:
		return nil
	}
	if v := meta["check_timeout"]; v != "" {
		ck["Timeout"] = v
	}
	if v := meta["check_initial_status"]; v != "" {
		ck["Status"] = v
	}
	if v := meta["check_deregister_after"]; v != "" {
		ck["DeregisterCriticalServiceAfter"] = v
	}
	return ck
}

func splitPort(k string) (string, string) {
	if i := strings.IndexByte(k, '/'); i >= 0 {
		return k[:i], k[i+1:]
	}
	return k, "tcp"
}
