package cli_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// docker compose must start beside a developer's own services: no
// well-known host port taken, every image pinned.
func TestDockerCompose_PinsImagesAndKeepsOffLocalPorts(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../docker-compose.yml")
	require.NoError(t, err)
	var f struct {
		Services map[string]struct {
			Image string   `yaml:"image"`
			Ports []string `yaml:"ports"`
		} `yaml:"services"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &f))
	require.NotEmpty(t, f.Services)
	for name, s := range f.Services {
		if s.Image != "" {
			_, tag, ok := strings.Cut(s.Image, ":")
			require.True(t, ok && tag != "latest", "%s: pin the image version (%s)", name, s.Image)
		}
		for _, p := range s.Ports {
			require.True(t, strings.HasPrefix(p, "127.0.0.1:"), "%s: bind host ports to 127.0.0.1 (%s)", name, p)
			for _, taken := range []string{":5432:", ":5000:", ":9090:"} {
				require.NotContains(t, p, taken, "%s: host port collides with a usual local service (%s)", name, p)
			}
		}
	}
}

// The example configuration names no file outside the repository.
func TestConfig_ExampleCitesNoMissingFile(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../examples/ddbsync.yaml")
	require.NoError(t, err)
	require.NotContains(t, string(raw), ".md", "the example refers to a document")
}
