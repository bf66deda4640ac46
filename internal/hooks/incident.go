package hooks

import (
	"strings"
	"unicode/utf8"
)

// incidentKey is the key ev opens or closes. Every classified event has
// one; a test event without one gets the pair's test key.
func incidentKey(ev *Event) string {
	switch {
	case ev.IncidentKey != "":
		return ev.IncidentKey
	case ev.Test:
		return Key(ev.Pair, KindTest)
	}
	return Key(ev.Pair, ev.Event)
}

// kindOf is the incident kind a key names (Key's last part).
func kindOf(key string) string {
	return key[strings.LastIndexByte(key, '/')+1:]
}

// truncate cuts s to at most n characters (runes: the vendors count
// characters), marking the cut with an ellipsis.
func truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// rank orders severities: an open incident's severity only rises.
func rank(s Severity) int {
	switch s {
	case Critical:
		return 3
	case Warning:
		return 2
	case Notice:
		return 1
	}
	return 0
}
