// Command gen runs every template of ../cases.txt through Go's
// text/template, with the data CoreDNS's template plugin would give for
// the query below, and writes each line back with Go's result: the
// quoted template, a tab, ok/parse/exec, a tab, the quoted output or
// error. Lines starting with # and blank lines are kept as they are.
//
//	cd daemon/src/plugins/template/gotmpl/testdata/gen && GOPROXY=off GOFLAGS=-mod=mod go run .
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"gotmplgen/template"
)

// The query the templates see; the Rust tests build the same data.
func data() any {
	m := new(dns.Msg)
	m.Id = 4242
	m.RecursionDesired = true
	m.Question = []dns.Question{{Name: "IP-10-1-2-3.Example.", Qtype: dns.TypeA, Qclass: dns.ClassINET}}
	re := regexp.MustCompile(`^ip-(?P<a>[0-9]+)-(?P<b>[0-9]+)-([0-9]+)-(?P<d>[0-9]+)[.](example)[.]$`)
	return template.Data(m, "example.", re, "192.0.2.1")
}

func run(text string) (kind, result string) {
	t, err := template.New("answer", text)
	if err != nil {
		return "parse", err.Error()
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data()); err != nil {
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
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
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
		kind, result := run(text)
		fmt.Fprintf(&out, "%s\t%s\t%s\n", strconv.Quote(text), kind, strconv.Quote(result))
	}
	if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
		panic(err)
	}
}
