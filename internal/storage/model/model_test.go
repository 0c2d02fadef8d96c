package model

import (
	"errors"
	"testing"
)

func TestParseBagVersion(t *testing.T) {
	tests := []struct {
		in   string
		want BagVersion
		ok   bool
	}{
		{"v1", 1, true},
		{"v12", 12, true},
		{"v0", 0, true},
		{"v01", 1, true},
		{"", 0, false},
		{"v", 0, false},
		{"1", 0, false},
		{"V1", 0, false},
		{"v1a", 0, false},
		{"v-1", 0, false},
		{"v99999999999999999999", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseBagVersion(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("ParseBagVersion(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrBadVersion) {
			t.Errorf("ParseBagVersion(%q) error %v is not ErrBadVersion", tt.in, err)
		}
	}
	if s := BagVersion(3).String(); s != "v3" {
		t.Errorf("String() = %q", s)
	}
}

func TestCheckExternalIdentifier(t *testing.T) {
	tests := []struct{ in, want string }{
		{"b12345", ""},
		{"PP/MIA/1", ""},
		{"B images", ""},
		{"PP/GRF/A.41", ""},
		{"versions", ""},
		{"", "must not be empty"},
		{"a/versions", "must not end with /versions"},
		{"a/v2", "must not end with a version string"},
		{"a/v2/b", "must not contain a version string"},
		{"v2/b", "must not start with a version string"},
		{"/a", "must not start with a slash"},
		{"a/", "must not end with a slash"},
		{"a//b", "must not contain consecutive slashes"},
		{"a  b", "must not contain consecutive spaces"},
		{"-a", "must begin with a Basic Latin letter or digit"},
		{"a.", "must end with a Basic Latin letter or digit"},
		{"é1", "must begin with a Basic Latin letter or digit"},
		{"a?b", "can only contain characters in the class [-_/ .a-zA-Z0-9]"},
		{"a%2Fb", "can only contain characters in the class [-_/ .a-zA-Z0-9]"},
	}
	for _, tt := range tests {
		if got := CheckExternalIdentifier(tt.in); got != tt.want {
			t.Errorf("CheckExternalIdentifier(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCheckSpaceAndProvider(t *testing.T) {
	for in, want := range map[string]string{"digitised": "", "": "must not be empty", "a/b": "must not contain slashes"} {
		if got := CheckSpace(in); got != want {
			t.Errorf("CheckSpace(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]Provider{
		"amazon-s3": ProviderAmazonS3, "aws-s3-standard": ProviderAmazonS3, "aws-s3-ia": ProviderAmazonS3,
		"aws-s3-glacier": ProviderAmazonS3, "azure-blob-storage": ProviderAzureBlob, "x": "",
	} {
		got, ok := ParseProvider(in)
		if got != want || ok != (want != "") {
			t.Errorf("ParseProvider(%q) = %q, %v", in, got, ok)
		}
	}
}
