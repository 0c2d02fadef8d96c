package testutil

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// EnvRequireDocker, when "1" (CI sets it), turns RequireDocker's skip
// into a failure: the tests that need Docker must run.
const EnvRequireDocker = "PORTWAY_TEST_REQUIRE_DOCKER"

// RequireDocker skips the test, saying why, unless the docker CLI is on
// $PATH and its engine answers (DOCKER_HOST or the default socket); with
// PORTWAY_TEST_REQUIRE_DOCKER=1 it fails instead.
func RequireDocker(t testing.TB) {
	t.Helper()
	why := ""
	if _, err := exec.LookPath("docker"); err != nil {
		why = "the docker CLI is not on $PATH"
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.APIVersion}}").CombinedOutput()
		cancel()
		if err != nil {
			why = "the Docker engine does not answer: " + strings.TrimSpace(string(out))
		}
	}
	if why == "" {
		return
	}
	if os.Getenv(EnvRequireDocker) == "1" {
		t.Fatalf("needs Docker, and %s=1: %s", EnvRequireDocker, why)
	}
	t.Skipf("needs Docker (set %s=1 to fail instead): %s", EnvRequireDocker, why)
}

// BuildImage builds the Go program in srcDir as a static binary and a
// FROM-scratch image of it (ENTRYPOINT ["/app"]) tagged tag; nothing is
// pulled. The image is removed when the test ends.
func BuildImage(t testing.TB, srcDir, tag string) {
	t.Helper()
	dir := t.TempDir()
	run := func(name string, args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	run("go", "build", "-trimpath", "-o", dir+"/app", "./"+strings.TrimPrefix(srcDir, "./"))
	if err := os.WriteFile(dir+"/Dockerfile", []byte("FROM scratch\nCOPY app /app\nENTRYPOINT [\"/app\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run("docker", "build", "-q", "-t", tag, dir)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = exec.CommandContext(ctx, "docker", "rmi", "-f", tag).Run()
	})
}
