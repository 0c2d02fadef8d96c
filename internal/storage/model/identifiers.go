package model

import (
	"regexp"
	"strings"
)

// CheckSpace returns "" if s is a valid storage space, or the reason it is
// not, phrased to follow "Invalid value at .space.id: ".
func CheckSpace(s string) string {
	switch {
	case s == "":
		return "must not be empty"
	case strings.Contains(s, "/"):
		return "must not contain slashes"
	}
	return ""
}

var (
	endsWithVersion   = regexp.MustCompile(`^.*/v\d+$`)
	containsVersion   = regexp.MustCompile(`^.*/v\d+/.*$`)
	startsWithVersion = regexp.MustCompile(`^v\d+/.*$`)
)

// ExternalIdentifierChars is the character class external identifiers are
// drawn from, as in the real service.
const ExternalIdentifierChars = "[-_/ .a-zA-Z0-9]"

// CheckExternalIdentifier returns "" if s is a valid external identifier,
// or the first rule it breaks. The rules are the real service's: they keep
// identifiers unambiguous in /bags/{space}/{id}[/versions] URLs and in
// stored keys ({space}/{id}/v1/…).
func CheckExternalIdentifier(s string) string {
	switch {
	case s == "":
		return "must not be empty"
	case strings.HasSuffix(s, "/versions"):
		return "must not end with /versions"
	case endsWithVersion.MatchString(s):
		return "must not end with a version string"
	case containsVersion.MatchString(s):
		return "must not contain a version string"
	case startsWithVersion.MatchString(s):
		return "must not start with a version string"
	case strings.HasPrefix(s, "/"):
		return "must not start with a slash"
	case strings.HasSuffix(s, "/"):
		return "must not end with a slash"
	case strings.Contains(s, "//"):
		return "must not contain consecutive slashes"
	case strings.Contains(s, "  "):
		return "must not contain consecutive spaces"
	case !isASCIIAlnum(s[0]):
		return "must begin with a Basic Latin letter or digit"
	case !isASCIIAlnum(s[len(s)-1]):
		return "must end with a Basic Latin letter or digit"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isASCIIAlnum(c) && !strings.ContainsRune("-_/ .", rune(c)) {
			return "can only contain characters in the class " + ExternalIdentifierChars
		}
	}
	return ""
}

func isASCIIAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
