package ecs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
)

// CheckHost checks what this machine must have for the services' tasks to
// start, as Start does: the executable the containers run, each
// container's own executable (found on $PATH when not absolute, and
// executable), and nginx for nginx-engine containers. Errors name the
// field: executable, services[i].containers[j].executable or .engine.
func (c Config) CheckHost() error {
	var errs []error
	if c.Executable != "" {
		if err := checkExecutableFile(c.Executable); err != nil {
			errs = append(errs, fmt.Errorf("executable: %w", err))
		}
	}
	for i, s := range c.Services {
		for j, ct := range s.Containers {
			if _, err := containerExecutable(ct); err != nil {
				errs = append(errs, fmt.Errorf("services[%d].containers[%d].%w", i, j, err))
			}
		}
	}
	return errors.Join(errs...)
}

// checkExecutableFile checks that path is an executable file.
func checkExecutableFile(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

// containerExecutable is the program container c runs when it has one of
// its own (its Executable looked up on $PATH, or nginx), else "". The
// error starts with the field it is about ("executable: …", "engine: …").
func containerExecutable(c ContainerConfig) (string, error) {
	switch {
	case c.Executable != "":
		path, err := exec.LookPath(c.Executable)
		if err != nil {
			return "", fmt.Errorf("executable: %w", err)
		}
		return path, nil
	case c.Engine == EngineNginx:
		path, err := findNginx()
		if err != nil {
			return "", fmt.Errorf("engine: %w", err)
		}
		return path, nil
	}
	return "", nil
}
