package runners

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
)

// Flags that start a Beam job server for --runner=flink|portable|universal
// when no --endpoint is given. They live in Go's global flag set next to
// Beam's own options.
var (
	jobServerCmd = flag.String("job_server", "",
		"command that starts a Beam job server for --runner=flink|portable; {port} is replaced by a free port for the job "+
			"service and {port2} by another one (e.g. \"prism --job_port={port} --web_port={port2}\"). Started, waited for, "+
			"and always stopped after the job")
	flinkJobServerJar = flag.String("flink_job_server_jar", "",
		"path of Beam's Flink job-server jar (beam-runners-flink-<version>-job-server.jar): started with java for --runner=flink")
	flinkMaster   = flag.String("flink_master", "[local]", "Flink master for --flink_job_server_jar ([local] runs Flink inside the job server)")
	jobServerWait = flag.Duration("job_server_timeout", 2*time.Minute, "how long to wait for a started job server to listen")
)

// jobServerCommand returns the job-server command line to start, if any.
func jobServerCommand() (string, bool) {
	switch {
	case *jobServerCmd != "":
		return *jobServerCmd, true
	case *flinkJobServerJar != "":
		return fmt.Sprintf("java -jar %s --flink-master=%s --job-port={port} --artifact-port=0 --expansion-port=0", *flinkJobServerJar, *flinkMaster), true
	}
	return "", false
}

// JobServer is a job-server process started for one run.
type JobServer struct {
	Endpoint string
	cmd      *exec.Cmd
	done     chan error
}

// StartJobServer starts command (with {port} and {port2} replaced by free
// ports) and waits until its job port answers. The process runs in its own
// process group so Stop takes its children down too.
func StartJobServer(ctx context.Context, command string, wait time.Duration) (*JobServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	port2, err := freePort()
	if err != nil {
		return nil, err
	}
	line := strings.NewReplacer("{port}", strconv.Itoa(port), "{port2}", strconv.Itoa(port2)).Replace(command)
	args := strings.Fields(line)
	if len(args) == 0 {
		return nil, errors.New("runners: empty --job_server command")
	}
	if !strings.Contains(command, "{port}") {
		return nil, fmt.Errorf("runners: --job_server %q must say where the job port goes with {port}", command)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("runners: starting job server %q: %w", line, err)
	}
	js := &JobServer{Endpoint: fmt.Sprintf("localhost:%d", port), cmd: cmd, done: make(chan error, 1)}
	go func() { js.done <- cmd.Wait() }()
	deadline := time.Now().Add(wait)
	for {
		conn, err := net.DialTimeout("tcp", js.Endpoint, time.Second)
		if err == nil {
			conn.Close()
			log.Infof(ctx, "runners: job server %q listening on %s", args[0], js.Endpoint)
			return js, nil
		}
		select {
		case werr := <-js.done:
			js.done <- werr
			return nil, fmt.Errorf("runners: job server %q exited before listening: %v", line, werr)
		case <-ctx.Done():
			js.Stop()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			js.Stop()
			return nil, fmt.Errorf("runners: job server %q did not listen on %s within %v", line, js.Endpoint, wait)
		}
	}
}

// Pid is the job server's process id.
func (j *JobServer) Pid() int { return j.cmd.Process.Pid }

// Stop stops the job server and its children: SIGTERM, then SIGKILL.
func (j *JobServer) Stop() {
	pgid := -j.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case err := <-j.done:
		j.done <- err
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		err := <-j.done
		j.done <- err
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// endpointOrJobServer makes sure a portable run has an endpoint, starting a
// job server when asked to; the returned stop is never nil.
func endpointOrJobServer(ctx context.Context) (func(), error) {
	if *jobopts.Endpoint != "" {
		return func() {}, nil
	}
	command, ok := jobServerCommand()
	if !ok {
		return nil, errors.New("runners: a portable run needs --endpoint=HOST:PORT of a Beam job server, or --job_server=CMD / --flink_job_server_jar=PATH to start one")
	}
	js, err := StartJobServer(ctx, command, *jobServerWait)
	if err != nil {
		return nil, err
	}
	*jobopts.Endpoint = js.Endpoint
	return func() {
		js.Stop()
		*jobopts.Endpoint = ""
	}, nil
}
