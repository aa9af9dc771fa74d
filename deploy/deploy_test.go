package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The files are only parsed and cross-checked: no image can be built or
// pulled where the tests run.

// manifest is the part of a Kubernetes object the checks read.
type manifest struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		Replicas *int `yaml:"replicas"`
		Template struct {
			Spec struct {
				Containers []container `yaml:"containers"`
				Volumes    []struct {
					Name   string `yaml:"name"`
					Secret *struct {
						SecretName string `yaml:"secretName"`
						Items      []struct {
							Key string `yaml:"key"`
						} `yaml:"items"`
					} `yaml:"secret"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
		Ports []struct {
			TargetPort string `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

type container struct {
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env []struct {
		Name      string `yaml:"name"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	EnvFrom []struct {
		ConfigMapRef struct {
			Name string `yaml:"name"`
		} `yaml:"configMapRef"`
	} `yaml:"envFrom"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	StartupProbe   *probe `yaml:"startupProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

// settingKey matches WHARF_<KEY> environment variables.
var settingKey = regexp.MustCompile(`^WHARF_[A-Z_]+$`)

// knownSettings are the WHARF_* variables the server reads (see
// internal/config); a misspelt one would be silently ignored.
var knownSettings = []string{
	"WHARF_LISTEN", "WHARF_DATA_DIR", "WHARF_DATA", "WHARF_METADATA", "WHARF_BLOBS", "WHARF_REGION", "WHARF_PUBLIC_URL",
	"WHARF_ACCOUNT_ID", "WHARF_ADMIN_ACCESS_KEY_ID", "WHARF_ADMIN_SECRET_ACCESS_KEY", "WHARF_ANONYMOUS", "WHARF_FSYNC",
	"WHARF_CREATE_ON_PUSH", "WHARF_LOG_FORMAT", "WHARF_ACCESS_LOG", "WHARF_LOG_LEVEL", "WHARF_GC_INTERVAL", "WHARF_GC_GRACE",
	"WHARF_UPLOAD_TTL", "WHARF_MAX_MANIFEST_BYTES", "WHARF_READ_HEADER_TIMEOUT", "WHARF_IDLE_TIMEOUT", "WHARF_SHUTDOWN_TIMEOUT",
	"WHARF_CONFIG",
}

func checkSetting(t *testing.T, where, name string) {
	t.Helper()
	if settingKey.MatchString(name) && !slices.Contains(knownSettings, name) {
		t.Errorf("%s: %s is not a Wharf setting", where, name)
	}
}

func TestKubernetesManifest(t *testing.T) {
	f, err := os.Open(filepath.Join("kubernetes", "wharf.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	objs := map[string]manifest{}
	for {
		var m manifest
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("wharf.yaml: %v", err)
		}
		if m.APIVersion == "" || m.Kind == "" || m.Metadata.Name == "" {
			t.Fatalf("object without apiVersion, kind or name: %+v", m)
		}
		if m.Kind != "Namespace" && m.Metadata.Namespace != "wharf" {
			t.Errorf("%s %s: namespace %q", m.Kind, m.Metadata.Name, m.Metadata.Namespace)
		}
		objs[m.Kind] = m
	}
	for _, kind := range []string{"Namespace", "Secret", "ConfigMap", "Deployment", "Service", "PodDisruptionBudget"} {
		if _, ok := objs[kind]; !ok {
			t.Errorf("no %s", kind)
		}
	}
	secret, cm, dep := objs["Secret"], objs["ConfigMap"], objs["Deployment"]
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 3 {
		t.Errorf("replicas %v, want 3", dep.Spec.Replicas)
	}
	cs := dep.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("%d containers", len(cs))
	}
	c := cs[0]
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 5000 || cm.Data["WHARF_LISTEN"] != "0.0.0.0:5000" {
		t.Errorf("ports %+v, listen %q", c.Ports, cm.Data["WHARF_LISTEN"])
	}
	for name, p := range map[string]*probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe, "startup": c.StartupProbe} {
		want := "/healthz"
		if name == "readiness" {
			want = "/readyz"
		}
		if p == nil || p.HTTPGet.Path != want || p.HTTPGet.Port != c.Ports[0].Name {
			t.Errorf("%s probe %+v, want GET %s on the http port", name, p, want)
		}
	}
	if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" || c.Resources.Limits["memory"] == "" {
		t.Errorf("resources %+v", c.Resources)
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].ConfigMapRef.Name != cm.Metadata.Name {
		t.Errorf("envFrom %+v", c.EnvFrom)
	}
	for k := range cm.Data {
		checkSetting(t, "ConfigMap", k)
	}
	var env []string
	for _, e := range c.Env {
		checkSetting(t, "Deployment", e.Name)
		env = append(env, e.Name)
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			ref := e.ValueFrom.SecretKeyRef
			if _, ok := secret.StringData[ref.Key]; !ok || ref.Name != secret.Metadata.Name {
				t.Errorf("env %s: the Secret has no key %s/%s", e.Name, ref.Name, ref.Key)
			}
		}
	}
	for _, want := range []string{"WHARF_METADATA", "WHARF_ADMIN_ACCESS_KEY_ID", "WHARF_ADMIN_SECRET_ACCESS_KEY", "WHARF_DATA_DIR"} {
		if !slices.Contains(env, want) {
			t.Errorf("the Deployment does not set %s", want)
		}
	}
	// The token key: from the Secret, at <data>/token-key.
	mounted := false
	for _, m := range c.VolumeMounts {
		if m.MountPath == "/data/token-key" {
			for _, v := range dep.Spec.Template.Spec.Volumes {
				if v.Name == m.Name && v.Secret != nil && v.Secret.SecretName == secret.Metadata.Name &&
					len(v.Secret.Items) == 1 && v.Secret.Items[0].Key == "token-key" {
					mounted = true
				}
			}
		}
	}
	if _, ok := secret.StringData["token-key"]; !ok || !mounted {
		t.Error("the token key is not mounted from the Secret at /data/token-key")
	}
	if len(secret.StringData["token-key"]) >= 32 {
		t.Error("the placeholder token key is long enough to be used: it must make the server refuse to start")
	}
	if svc := objs["Service"]; len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort != c.Ports[0].Name {
		t.Errorf("service ports %+v", svc.Spec.Ports)
	}
}

type composeFile struct {
	Name     string `yaml:"name"`
	Services map[string]struct {
		Image string `yaml:"image"`
		Build *struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
		} `yaml:"build"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		DependsOn   yaml.Node         `yaml:"depends_on"`
		Ports       []string          `yaml:"ports"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("compose", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(b, &cf); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, name := range []string{"postgres", "s3", "s3-init", "keygen", "wharf1", "wharf2", "wharf3", "lb"} {
		if _, ok := cf.Services[name]; !ok {
			t.Errorf("no service %s", name)
		}
	}
	var keys []string
	for name, s := range cf.Services {
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(filepath.Join("compose", src)); err != nil {
					t.Errorf("service %s mounts %s: %v", name, src, err)
				}
			} else if _, ok := cf.Volumes[src]; !ok {
				t.Errorf("service %s mounts undeclared volume %s", name, src)
			}
		}
		if !strings.HasPrefix(name, "wharf") {
			continue
		}
		// The image is built here from deploy/Dockerfile, never pulled.
		if s.Build == nil || s.Image != "wharf:dev" {
			t.Fatalf("service %s: not built locally", name)
		}
		if _, err := os.Stat(filepath.Join("compose", s.Build.Context, s.Build.Dockerfile)); err != nil {
			t.Errorf("service %s: %v", name, err)
		}
		for k := range s.Environment {
			checkSetting(t, "service "+name, k)
		}
		if s.Environment["WHARF_METADATA"] == "" || !strings.HasPrefix(s.Environment["WHARF_BLOBS"], "s3://") {
			t.Errorf("service %s does not use PostgreSQL and S3", name)
		}
		keys = append(keys, strings.Join(s.Volumes, ","))
	}
	if len(keys) != 3 || keys[0] != keys[1] || keys[1] != keys[2] || !strings.Contains(keys[0], ":/data") {
		t.Errorf("the nodes do not share one data volume (the token key): %v", keys)
	}
	// nginx balances over exactly the three nodes.
	conf, err := os.ReadFile(filepath.Join("compose", "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var upstreams []string
	sc := bufio.NewScanner(bytes.NewReader(conf))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "server" && strings.Contains(f[1], ":") {
			host, _, _ := strings.Cut(strings.TrimSuffix(f[1], ";"), ":")
			upstreams = append(upstreams, host)
		}
	}
	slices.Sort(upstreams)
	if !slices.Equal(upstreams, []string{"wharf1", "wharf2", "wharf3"}) {
		t.Errorf("nginx upstreams %v", upstreams)
	}
}

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{"CGO_ENABLED=0", "./cmd/wharf", "FROM scratch", "USER 65532", "ca-certificates.crt", `ENTRYPOINT ["/wharf"]`} {
		if !strings.Contains(s, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join("..", "cmd", "wharf", "main.go")); err != nil {
		t.Error(err)
	}
}

func TestSystemdUnit(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("systemd", "wharf.service"))
	if err != nil {
		t.Fatal(err)
	}
	section, keys := "", map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("bad line %q", line)
			}
			keys[section+k] = v
		}
	}
	for k, want := range map[string]string{
		"[Service]User": "wharf", "[Service]StateDirectory": "wharf", "[Service]NoNewPrivileges": "yes",
		"[Service]ProtectSystem": "strict", "[Service]EnvironmentFile": "/etc/wharf/wharf.env",
		"[Install]WantedBy": "multi-user.target",
	} {
		if keys[k] != want {
			t.Errorf("%s = %q, want %q", k, keys[k], want)
		}
	}
	if !strings.Contains(keys["[Service]ExecStart"], "serve --data /var/lib/wharf") {
		t.Errorf("ExecStart %q", keys["[Service]ExecStart"])
	}
	env, err := os.ReadFile(filepath.Join("systemd", "wharf.env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(env), "\n") {
		line = strings.TrimPrefix(strings.TrimSpace(line), "#")
		if k, _, ok := strings.Cut(line, "="); ok && !strings.Contains(k, " ") {
			checkSetting(t, "wharf.env", k)
		}
	}
}
