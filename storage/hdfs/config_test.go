package hdfs

import (
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestOptionsFromURL(t *testing.T) {
	tests := []struct {
		url     string
		want    Options
		wantErr string
	}{
		{url: "hdfs://nn:8020/lake", want: Options{Addresses: []string{"nn:8020"}, Root: "/lake"}},
		{url: "hdfs://127.0.0.1:9000", want: Options{Addresses: []string{"127.0.0.1:9000"}, Root: "/"}},
		{url: "hdfs://[::1]:9000/a/b/", want: Options{Addresses: []string{"[::1]:9000"}, Root: "/a/b"}},
		{url: "hdfs://prod/lake", want: Options{Nameservice: "prod", Root: "/lake"}},
		{url: "hdfs:///lake", want: Options{Root: "/lake"}},
		{url: "HDFS://nn:1/x//y", want: Options{Addresses: []string{"nn:1"}, Root: "/x/y"}},
		{url: "hdfs://u@nn:1/x", wantErr: "HADOOP_USER_NAME"},
		{url: "hdfs://nn:1/a/../b", wantErr: `".." segment`},
		{url: "hdfs://nn:1/a:b", wantErr: `":"`},
		{url: "hdfs:lake", wantErr: "want hdfs://"},
		{url: "hdfs://:8020/x", wantErr: "port without a host"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			got, err := OptionsFromURL(u)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("OptionsFromURL(%q) = %+v, %v; want an error with %q", tt.url, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got.Addresses, tt.want.Addresses) || got.Nameservice != tt.want.Nameservice || got.Root != tt.want.Root {
				t.Fatalf("OptionsFromURL(%q) = %+v, %v; want %+v", tt.url, got, err, tt.want)
			}
		})
	}
}

func writeConf(t *testing.T, core, hdfsSite map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, props := range map[string]map[string]string{"core-site.xml": core, "hdfs-site.xml": hdfsSite} {
		var b strings.Builder
		b.WriteString("<configuration>\n")
		for k, v := range props {
			b.WriteString("<property><name>" + k + "</name><value>" + v + "</value></property>\n")
		}
		b.WriteString("</configuration>\n")
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestResolveAddresses(t *testing.T) {
	ha := map[string]string{
		"dfs.nameservices":                   "prod,other",
		"dfs.ha.namenodes.prod":              "nn1, nn2",
		"dfs.namenode.rpc-address.prod.nn1":  "a.example:8020",
		"dfs.namenode.rpc-address.prod.nn2":  "b.example:8020",
		"dfs.namenode.rpc-address.other":     "c.example:9000",
		"dfs.namenode.kerberos.principal":    "nn/_HOST@EXAMPLE.COM",
		"dfs.client.use.datanode.hostname":   "true",
		"dfs.namenode.rpc-address.prod.nn99": "ignored:1",
	}
	tests := []struct {
		name        string
		core        map[string]string
		o           Options
		want        []string
		wantDisplay string
		wantErr     string
	}{
		{name: "address wins", core: map[string]string{"fs.defaultFS": "hdfs://prod"}, o: Options{Addresses: []string{"x:1"}}, want: []string{"x:1"}, wantDisplay: "x:1"},
		{name: "defaultFS HA", core: map[string]string{"fs.defaultFS": "hdfs://prod"}, want: []string{"a.example:8020", "b.example:8020"}, wantDisplay: "prod"},
		{name: "defaultFS host:port", core: map[string]string{"fs.defaultFS": "hdfs://nn.example:9000/"}, want: []string{"nn.example:9000"}, wantDisplay: "nn.example:9000"},
		{name: "defaultFS host", core: map[string]string{"fs.default.name": "hdfs://nn.example"}, want: []string{"nn.example:8020"}, wantDisplay: "nn.example:8020"},
		{name: "nameservice HA", o: Options{Nameservice: "prod"}, want: []string{"a.example:8020", "b.example:8020"}, wantDisplay: "prod"},
		{name: "nameservice single", o: Options{Nameservice: "other"}, want: []string{"c.example:9000"}, wantDisplay: "other"},
		{name: "plain host", o: Options{Nameservice: "nn.example"}, want: []string{"nn.example:8020"}, wantDisplay: "nn.example:8020"},
		{name: "nothing", wantErr: "no NameNode address"},
		{name: "defaultFS not hdfs", core: map[string]string{"fs.defaultFS": "file:///"}, wantErr: "not an hdfs://host URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf, err := loadConf(writeConf(t, tt.core, ha))
			if err != nil {
				t.Fatal(err)
			}
			got, display, err := resolveAddresses(tt.o, conf)
			if tt.wantErr != "" {
				if ce, ok := err.(*ConfigError); !ok || !ce.ConfigError() || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("resolveAddresses = %q, %v; want a ConfigError with %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) || display != tt.wantDisplay {
				t.Fatalf("resolveAddresses = %q, %q, %v; want %q, %q", got, display, err, tt.want, tt.wantDisplay)
			}
		})
	}
}

// Kerberos is switched on by hadoop.security.authentication; without a
// credential cache New fails with a ConfigError that says what to do, before
// any network traffic. (A real KDC cannot be tested here.)
func TestKerberosConfig(t *testing.T) {
	dir := writeConf(t,
		map[string]string{"fs.defaultFS": "hdfs://127.0.0.1:1", "hadoop.security.authentication": "kerberos"},
		map[string]string{"dfs.namenode.kerberos.principal": "nn/_HOST@EXAMPLE.COM"})
	krb5 := filepath.Join(t.TempDir(), "krb5.conf")
	if err := os.WriteFile(krb5, []byte("[libdefaults]\n default_realm = EXAMPLE.COM\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := New(Options{ConfDir: dir, Krb5Config: krb5, Krb5CCache: filepath.Join(t.TempDir(), "missing")})
	if ce, ok := err.(*ConfigError); !ok || !strings.Contains(err.Error(), "kinit") {
		t.Fatalf("New with Kerberos and no ccache = %v (%T), want a ConfigError mentioning kinit", err, ce)
	}
	_, err = New(Options{ConfDir: dir, Krb5Config: krb5, Krb5CCache: "KEYRING:persistent:0"})
	if err == nil || !strings.Contains(err.Error(), "not a file cache") {
		t.Fatalf("New with a keyring ccache = %v", err)
	}
	noPrincipal := writeConf(t, map[string]string{"fs.defaultFS": "hdfs://127.0.0.1:1", "hadoop.security.authentication": "Kerberos"}, nil)
	_, err = New(Options{ConfDir: noPrincipal})
	if err == nil || !strings.Contains(err.Error(), "dfs.namenode.kerberos.principal") {
		t.Fatalf("New with Kerberos and no principal = %v", err)
	}
}

func TestConfDirMissing(t *testing.T) {
	_, err := New(Options{ConfDir: t.TempDir()})
	if ce, ok := err.(*ConfigError); !ok || !ce.ConfigError() {
		t.Fatalf("New with an empty conf dir = %v, want a ConfigError", err)
	}
}
