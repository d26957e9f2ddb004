// Command gen runs every template of ../cases.txt through Go's
// text/template, with the data CoreDNS's template plugin would give for
// the query below, and writes each line back with Go's result: the
// quoted template, a tab, ok/parse/exec, a tab, the quoted output or
// error. Lines starting with # and blank lines are kept as they are; a
// line `# data: edns` makes the query of the cases after it carry an OPT
// record with options (`# data: plain` goes back).
//
//	cd daemon/src/plugins/template/gotmpl/testdata/gen && GOPROXY=off GOFLAGS=-mod=mod go run .
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"gotmplgen/template"
)

// The query the templates see, as CoreDNS unpacks it from the wire; the
// Rust tests build the same data.
func data(edns bool) any {
	m := new(dns.Msg)
	m.Id = 4242
	m.RecursionDesired = true
	m.Question = []dns.Question{{Name: "IP-10-1-2-3.Example.", Qtype: dns.TypeA, Qclass: dns.ClassINET}}
	if edns {
		m.SetEdns0(1232, true)
		opt := m.IsEdns0()
		opt.Option = append(opt.Option,
			&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"},
			&dns.EDNS0_NSID{Code: dns.EDNS0NSID},
			&dns.EDNS0_LOCAL{Code: 65001, Data: []byte("ab")},
			&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.ParseIP("192.0.2.0").To4()},
			&dns.EDNS0_PADDING{Padding: make([]byte, 4)},
			&dns.EDNS0_TCP_KEEPALIVE{Code: dns.EDNS0TCPKEEPALIVE},
			&dns.EDNS0_EDE{InfoCode: 15, ExtraText: "no"},
		)
	}
	wire, err := m.Pack()
	if err != nil {
		panic(err)
	}
	q := new(dns.Msg)
	if err := q.Unpack(wire); err != nil {
		panic(err)
	}
	re := regexp.MustCompile(`^ip-(?P<a>[0-9]+)-(?P<b>[0-9]+)-([0-9]+)-(?P<d>[0-9]+)[.](example)[.]$`)
	return template.Data(q, "example.", re, "192.0.2.1")
}

func run(text string, edns bool) (kind, result string) {
	t, err := template.New("answer", text)
	if err != nil {
		return "parse", err.Error()
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data(edns)); err != nil {
		return "exec", err.Error()
	}
	return "ok", buf.String()
}

func main() {
	const path = "../cases.txt"
	in, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	var out strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(in))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	edns := false
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if d, ok := strings.CutPrefix(line, "# data: "); ok {
			edns = d == "edns"
		}
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			out.WriteString(line + "\n")
			continue
		}
		quoted, _, _ := strings.Cut(line, "\t")
		text, err := strconv.Unquote(quoted)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s:%d: %v\n", path, n, err)
			os.Exit(1)
		}
		kind, result := run(text, edns)
		fmt.Fprintf(&out, "%s\t%s\t%s\n", strconv.Quote(text), kind, strconv.Quote(result))
	}
	if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
		panic(err)
	}
}
