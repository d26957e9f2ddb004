// Package template holds the data CoreDNS's template plugin gives its
// templates, with the same type names (*template.templateData), so that
// Go's error messages read as CoreDNS's.
package template

import (
	"regexp"
	"strconv"
	gotmpl "text/template"

	"github.com/miekg/dns"
)

type templateData struct {
	Zone     string
	Name     string
	Regex    string
	Match    []string
	Group    map[string]string
	Class    string
	Type     string
	Message  *dns.Msg
	Question *dns.Question
	Remote   string
	md       map[string]func() string
}

// Meta is CoreDNS's: no metadata, so every name is empty.
func (data *templateData) Meta(metaName string) string {
	if data.md == nil {
		return ""
	}
	if f, ok := data.md[metaName]; ok {
		return f()
	}
	return ""
}

// Data fills the data as CoreDNS's template.match does for a query of
// msg, matched by regex in zone, from remote.
func Data(msg *dns.Msg, zone string, regex *regexp.Regexp, remote string) any {
	q := msg.Question[0]
	name := dns.CanonicalName(q.Name)
	data := &templateData{Remote: remote, Zone: zone, Regex: regex.String(), Name: name, Question: &q, Message: msg}
	data.Class = dns.ClassToString[q.Qclass]
	data.Type = dns.TypeToString[q.Qtype]
	matches := regex.FindStringSubmatch(name)
	data.Match = make([]string, len(matches))
	data.Group = make(map[string]string)
	groupNames := regex.SubexpNames()
	for i, m := range matches {
		data.Match[i] = m
		data.Group[strconv.Itoa(i)] = m
	}
	for i, m := range matches {
		if len(groupNames[i]) > 0 {
			data.Group[groupNames[i]] = m
		}
	}
	return data
}

// New compiles text as CoreDNS's newTemplate does.
func New(name, text string) (*gotmpl.Template, error) {
	funcMap := gotmpl.FuncMap{
		"parseInt": strconv.ParseUint,
	}
	return gotmpl.New(name).Funcs(funcMap).Parse(text)
}
