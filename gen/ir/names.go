package ir

import "strings"

// initialisms are written in capitals in Go names (Go's naming convention).
var initialisms = map[string]string{"id": "ID", "url": "URL", "api": "API", "http": "HTTP", "json": "JSON", "md5": "MD5", "uuid": "UUID"}

// splitWords splits snake_case, kebab-case and slash/path names into words.
func splitWords(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	})
}

// GoName turns create_job into CreateJob and job_id into JobID.
func GoName(s string) string {
	var b strings.Builder
	for _, w := range splitWords(s) {
		if up, ok := initialisms[strings.ToLower(w)]; ok {
			b.WriteString(up)
			continue
		}
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

// PascalPlain turns import/url into ImportUrl, with no initialisms: the
// form oapi-codegen gives operationIds, so method names can be predicted.
func PascalPlain(s string) string {
	var b strings.Builder
	for _, w := range splitWords(s) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}
