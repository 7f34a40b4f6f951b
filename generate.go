package tools

// Regenerate everything under generated/ from spec/ and templates/.
//go:generate go run ./gen/cmd/ccgen
