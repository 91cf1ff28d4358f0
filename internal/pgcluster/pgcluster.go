// Package pgcluster starts a throwaway PostgreSQL cluster: initdb and pg_ctl
// in a temporary directory, listening only on a Unix socket there, with
// durability turned off. Tests use it when no server is given, and
// `ddbsync demo` when DATABASE_URL is unset.
package pgcluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Cluster is a running throwaway cluster.
type Cluster struct {
	// URL connects to its postgres database as the superuser postgres.
	URL   string
	dir   string
	bin   string
	runAs []string
}

// Start initialises and starts a cluster. The binaries are found on PATH,
// else in the newest /usr/lib/postgresql/*/bin (Debian keeps them there).
// initdb refuses to run as root, so as root the cluster runs as the
// postgres user.
func Start() (*Cluster, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ddbsync-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root and there is no postgres user to run the cluster as: %w", err)
		}
		c.runAs = []string{"runuser", "-u", u.Username, "--"}
		if err := exec.Command("chown", u.Username, dir).Run(); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("chown %s: %w", dir, err)
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := c.run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	// Test binaries run several tests at once, each with its pools and
	// child processes: leave room beyond the default 100 connections.
	opts := fmt.Sprintf("-c listen_addresses='' -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300", dir)
	if out, err := c.run("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "start"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pg_ctl start: %v: %s", err, out)
	}
	c.URL = fmt.Sprintf("host=%s user=postgres dbname=postgres", dir)
	return c, nil
}

// Stop stops the cluster and deletes its directory.
func (c *Cluster) Stop() error {
	_, err := c.run("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "stop")
	return errors.Join(err, os.RemoveAll(c.dir))
}

// StopCommand returns a shell command that does what [Cluster.Stop] does,
// for a cluster left running on purpose: it runs pg_ctl as the user the
// cluster runs as (as root, pg_ctl refuses to run and the files belong to
// postgres) and then deletes the directory.
func (c *Cluster) StopCommand() string {
	argv := append(append([]string{}, c.runAs...), filepath.Join(c.bin, "pg_ctl"), "-D", filepath.Join(c.dir, "data"), "stop")
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = shellQuote(a)
	}
	return strings.Join(quoted, " ") + " && rm -rf " + shellQuote(c.dir)
}

// shellQuote leaves plain words alone, so the usual command reads as typed,
// and single-quotes anything else.
func shellQuote(s string) string {
	plain := s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@+,") == ""
	if plain {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	argv := append(append(append([]string{}, c.runAs...), filepath.Join(c.bin, name)), args...)
	return exec.Command(argv[0], argv[1:]...).CombinedOutput()
}

func findBinaries() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return majorVersion(dirs[i]) > majorVersion(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("initdb not found on PATH or in /usr/lib/postgresql/*/bin: install PostgreSQL's server package")
}

func majorVersion(binDir string) int {
	v, _ := strconv.Atoi(strings.Split(filepath.Base(filepath.Dir(binDir)), ".")[0])
	return v
}
