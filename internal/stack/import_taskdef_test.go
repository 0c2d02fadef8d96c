package stack_test

import (
	"bytes"
	"os"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/portway/portway/internal/stack"
)

// TestImportedTaskDefinitionIsAStackService: what `portway import
// task-definition` prints (internal/taskdef's golden output) is a services[]
// entry of this stack schema — every field name known — that validates in
// place of the built-in stack's service of the same name.
func TestImportedTaskDefinitionIsAStackService(t *testing.T) {
	data, err := os.ReadFile("../taskdef/testdata/describe-bags.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var imported []stack.ServiceConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&imported); err != nil {
		t.Fatalf("the import's output does not decode as stack services: %v", err)
	}
	if len(imported) != 1 || imported[0].Name != "bags" {
		t.Fatalf("imported services: %+v", imported)
	}
	cfg := stack.Default()
	replaced := false
	for i, s := range cfg.Services {
		if s.Name == imported[0].Name {
			cfg.Services[i], replaced = imported[0], true
		}
	}
	if !replaced {
		t.Fatal("the built-in stack has no bags service")
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the imported service does not validate: %v", err)
	}
	out, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stack.Parse(out); err != nil {
		t.Fatalf("the stack with the imported service does not parse back: %v", err)
	}
}
