package opensearch

import "strings"

// InScope reports whether an index name matches a pair's index patterns
// (OpenSearch's syntax: comma-free patterns with * wildcards, a leading -
// excludes what earlier patterns matched).
func InScope(name string, patterns []string) bool {
	in := false
	for _, p := range patterns {
		if x, ok := strings.CutPrefix(p, "-"); ok {
			if wildcard(x, name) {
				in = false
			}
			continue
		}
		if wildcard(p, name) {
			in = true
		}
	}
	return in
}

// wildcard matches OpenSearch's simple patterns: * matches any run.
func wildcard(pattern, name string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(name, mid)
		if i < 0 {
			return false
		}
		name = name[i+len(mid):]
	}
	return strings.HasSuffix(name, parts[len(parts)-1])
}
