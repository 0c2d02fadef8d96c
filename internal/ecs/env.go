package ecs

import (
	"os"
	"strings"
)

// The variables portway adds to every container's environment (and to its
// health check commands).
const (
	EnvTaskID    = "PORTWAY_TASK_ID"
	EnvTaskIP    = "PORTWAY_TASK_IP"
	EnvContainer = "PORTWAY_CONTAINER"
	// EnvMetadataURIV4 and EnvMetadataURI (version 3) point at the task
	// metadata endpoint, as ECS sets them.
	EnvMetadataURIV4 = "ECS_CONTAINER_METADATA_URI_V4"
	EnvMetadataURI   = "ECS_CONTAINER_METADATA_URI"
)

// DefaultPath is the PATH of a host-process container when portway's own
// environment has none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// HostBaseEnv is the environment a host-process container starts from
// (Config.BaseEnv's default): portway's PATH (DefaultPath without one),
// HOME and TMPDIR when set, and nothing else of the environment portway
// was started in, so credentials in the shell that ran `portway up`
// (AWS_*, tokens, DSNs) never reach a task.
func HostBaseEnv() []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = DefaultPath
	}
	env := []string{"PATH=" + path}
	for _, k := range []string{"HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// taskEnvInput is what a container's environment is made of.
type taskEnvInput struct {
	base    []string // Config.BaseEnv
	def     []string // the definition's KEY=VALUE entries, ${TASK_IP}/${TASK_ID} not yet replaced
	extra   []string // Config.ExtraEnv()
	secrets []string // resolved secrets, KEY=VALUE
	taskID  string
	taskIP  string
	name    string // container name
	// metaURIs are the container's metadata endpoint, version 4 and 3
	// (see metadataURIs); "" without one.
	metaURIV4, metaURIV3 string
}

// taskEnv is a container's full environment, in increasing precedence:
// the base, the definition's variables, the stack's extra variables, the
// secrets, then portway's own variables (which nothing overrides). Later
// entries win (os/exec keeps the last value of a duplicated key).
func taskEnv(in taskEnvInput, repl *strings.Replacer) []string {
	env := make([]string, 0, len(in.base)+len(in.def)+len(in.extra)+len(in.secrets)+5)
	env = append(env, in.base...)
	for _, e := range in.def {
		env = append(env, repl.Replace(e))
	}
	env = append(env, in.extra...)
	env = append(env, in.secrets...)
	env = append(env,
		EnvTaskID+"="+in.taskID,
		EnvTaskIP+"="+in.taskIP,
		EnvContainer+"="+in.name,
	)
	if in.metaURIV4 != "" {
		env = append(env, EnvMetadataURIV4+"="+in.metaURIV4)
	}
	if in.metaURIV3 != "" {
		env = append(env, EnvMetadataURI+"="+in.metaURIV3)
	}
	return env
}
