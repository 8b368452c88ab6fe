package hdfs

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	gohdfs "github.com/colinmarc/hdfs/v2"
	"github.com/colinmarc/hdfs/v2/hadoopconf"
	krb "github.com/jcmturner/gokrb5/v8/client"
	krbconfig "github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
)

// DefaultPort is the NameNode RPC port assumed for a URL host without a port
// that is not a nameservice of the Hadoop configuration.
const DefaultPort = "8020"

// Options configure a Store. The zero value, apart from Root, takes everything
// from the environment, as Hadoop's own client does.
type Options struct {
	// Addresses are NameNode RPC addresses ("host:port"). Several addresses
	// are an HA pair (or more): the client fails over between them. When
	// empty, Nameservice decides, and when that is empty too, fs.defaultFS of
	// the Hadoop configuration does.
	Addresses []string
	// Nameservice is a URL host without a port, such as "prod" in
	// hdfs://prod/lake. When the Hadoop configuration defines it
	// (dfs.ha.namenodes.<ns> with dfs.namenode.rpc-address.<ns>.<nn>, or
	// dfs.namenode.rpc-address.<ns>) it resolves to those addresses;
	// otherwise it is a host name with DefaultPort.
	Nameservice string
	// Root is the absolute HDFS directory that holds the store's keys. It is
	// cleaned; "" means "/". It is created when missing.
	Root string
	// ConfDir is the Hadoop configuration directory (core-site.xml,
	// hdfs-site.xml). When empty: $HADOOP_CONF_DIR, else $HADOOP_HOME/etc/hadoop,
	// else $HADOOP_HOME/conf; no configuration at all is fine when Addresses
	// or a host:port are given.
	ConfDir string
	// User is the HDFS user for simple authentication. When empty:
	// $HADOOP_USER_NAME, else the OS user. Ignored with Kerberos, where the
	// principal of the credential cache is the user.
	User string
	// KerberosPrincipal is the NameNode's service principal ("nn/_HOST" or
	// "nn/_HOST@REALM"; the realm is dropped, _HOST becomes each NameNode's
	// host). When empty it comes from dfs.namenode.kerberos.principal. Used
	// only when hadoop.security.authentication is "kerberos".
	KerberosPrincipal string
	// Krb5Config is the krb5.conf path; when empty $KRB5_CONFIG, else
	// /etc/krb5.conf. Used only with Kerberos.
	Krb5Config string
	// Krb5CCache is the credential cache (as left by kinit); when empty
	// $KRB5CCNAME (a path or "FILE:path"), else /tmp/krb5cc_<uid>. Used only
	// with Kerberos.
	Krb5CCache string
	// DialTimeout bounds each TCP connect to a NameNode or DataNode. Zero
	// means 10 s.
	DialTimeout time.Duration
}

// ConfigError is a configuration problem found by New before any network
// traffic: no NameNode address, an unreadable Hadoop configuration, missing
// Kerberos credentials. The CLI exits with code 2 for it.
type ConfigError struct {
	// Msg says what is wrong and what to do.
	Msg string
	// Err is the underlying error, if any.
	Err error
}

// Error returns "hdfs: <Msg>[: <Err>]".
func (e *ConfigError) Error() string {
	if e.Err != nil {
		return "hdfs: " + e.Msg + ": " + e.Err.Error()
	}
	return "hdfs: " + e.Msg
}

// Unwrap returns Err.
func (e *ConfigError) Unwrap() error { return e.Err }

// ConfigError reports true: exit code 2.
func (e *ConfigError) ConfigError() bool { return true }

// OptionsFromURL returns the Options an hdfs:// URL names:
//
//   - hdfs://host:port/path: that NameNode;
//   - hdfs://name/path: the nameservice (or host) "name", see Options.Nameservice;
//   - hdfs:///path: fs.defaultFS of the Hadoop configuration.
//
// The path is the Root ("/" when empty). A URL with userinfo, a query or a
// fragment, or whose path has a "." or ".." segment, is refused: the user
// comes from HADOOP_USER_NAME or Kerberos, never from the URL.
func OptionsFromURL(u *url.URL) (Options, error) {
	var o Options
	switch {
	case !strings.EqualFold(u.Scheme, "hdfs"):
		return o, fmt.Errorf("not an hdfs URL (scheme %q)", u.Scheme)
	case u.User != nil:
		return o, errors.New("an hdfs URL cannot carry a user name; set HADOOP_USER_NAME (or use Kerberos)")
	case u.Opaque != "":
		return o, errors.New("want hdfs://namenode:port/path, hdfs://nameservice/path or hdfs:///path")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return o, errors.New("query strings and fragments are not supported")
	}
	root, err := cleanRoot(u.Path)
	if err != nil {
		return o, err
	}
	o.Root = root
	switch host, port := u.Hostname(), u.Port(); {
	case host == "" && port != "":
		return o, errors.New("a port without a host")
	case host == "":
	case port != "":
		o.Addresses = []string{net.JoinHostPort(host, port)}
	default:
		o.Nameservice = host
	}
	return o, nil
}

// cleanRoot checks and cleans an HDFS root directory path.
func cleanRoot(p string) (string, error) {
	if p == "" {
		return "/", nil
	}
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("root %q is not an absolute path", p)
	}
	for seg := range strings.SplitSeq(p, "/") {
		switch {
		case seg == "." || seg == "..":
			return "", fmt.Errorf("root %q has a %q segment", p, seg)
		case strings.ContainsAny(seg, ":\x00"):
			return "", fmt.Errorf("root %q: HDFS path names cannot contain %q or NUL", p, ":")
		}
	}
	return path.Clean(p), nil
}

// loadConf reads the Hadoop configuration from dir, or from the environment
// when dir is "". It returns nil (no error) when there is none.
func loadConf(dir string) (hadoopconf.HadoopConf, error) {
	if dir != "" {
		conf, err := hadoopconf.Load(dir)
		if err != nil {
			return nil, &ConfigError{Msg: "read Hadoop configuration in " + dir, Err: err}
		}
		if conf == nil {
			return nil, &ConfigError{Msg: fmt.Sprintf("no core-site.xml or hdfs-site.xml in Hadoop configuration directory %s", dir)}
		}
		return conf, nil
	}
	conf, err := hadoopconf.LoadFromEnvironment()
	if err != nil {
		return nil, &ConfigError{Msg: "read Hadoop configuration from $HADOOP_CONF_DIR or $HADOOP_HOME", Err: err}
	}
	if conf == nil {
		if home := os.Getenv("HADOOP_HOME"); home != "" {
			if conf, err = hadoopconf.Load(filepath.Join(home, "etc", "hadoop")); err != nil {
				return nil, &ConfigError{Msg: "read Hadoop configuration in $HADOOP_HOME/etc/hadoop", Err: err}
			}
		}
	}
	return conf, nil
}

// resolveAddresses returns the NameNode addresses for o and a display name
// for URLs ("host:port" or the nameservice).
func resolveAddresses(o Options, conf hadoopconf.HadoopConf) (addrs []string, display string, err error) {
	if len(o.Addresses) > 0 {
		return o.Addresses, strings.Join(o.Addresses, ","), nil
	}
	if o.Nameservice != "" {
		if addrs := nameserviceAddresses(conf, o.Nameservice); len(addrs) > 0 {
			return addrs, o.Nameservice, nil
		}
		a := net.JoinHostPort(o.Nameservice, DefaultPort)
		return []string{a}, a, nil
	}
	def := conf["fs.defaultFS"]
	if def == "" {
		def = conf["fs.default.name"] // the deprecated name
	}
	if def == "" {
		return nil, "", &ConfigError{Msg: "no NameNode address: use hdfs://namenode:port/path or hdfs://nameservice/path, " +
			"or set HADOOP_CONF_DIR to a directory whose core-site.xml sets fs.defaultFS"}
	}
	u, perr := url.Parse(def)
	if perr != nil || !strings.EqualFold(u.Scheme, "hdfs") || u.Host == "" {
		return nil, "", &ConfigError{Msg: fmt.Sprintf("fs.defaultFS %q in the Hadoop configuration is not an hdfs://host URL", def)}
	}
	if u.Port() != "" {
		return []string{u.Host}, u.Host, nil
	}
	if addrs := nameserviceAddresses(conf, u.Host); len(addrs) > 0 {
		return addrs, u.Host, nil
	}
	a := net.JoinHostPort(u.Host, DefaultPort)
	return []string{a}, a, nil
}

// nameserviceAddresses returns the RPC addresses of nameservice ns from conf:
// every dfs.namenode.rpc-address.<ns>.<nn> for the NameNodes listed in
// dfs.ha.namenodes.<ns>, in that order, or else dfs.namenode.rpc-address.<ns>.
// It returns nil when conf does not define ns.
func nameserviceAddresses(conf hadoopconf.HadoopConf, ns string) []string {
	var addrs []string
	for nn := range strings.SplitSeq(conf["dfs.ha.namenodes."+ns], ",") {
		if nn = strings.TrimSpace(nn); nn == "" {
			continue
		}
		if a := strings.TrimSpace(conf["dfs.namenode.rpc-address."+ns+"."+nn]); a != "" && !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		if a := strings.TrimSpace(conf["dfs.namenode.rpc-address."+ns]); a != "" {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// clientOptions builds the colinmarc client options: addresses, user,
// Kerberos and the Hadoop configuration's transfer settings.
func clientOptions(o Options) (gohdfs.ClientOptions, string, error) {
	conf, err := loadConf(o.ConfDir)
	if err != nil {
		return gohdfs.ClientOptions{}, "", err
	}
	copts := gohdfs.ClientOptionsFromConf(conf)
	addrs, display, err := resolveAddresses(o, conf)
	if err != nil {
		return gohdfs.ClientOptions{}, "", err
	}
	copts.Addresses = addrs

	timeout := o.DialTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	dial := (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext
	copts.NamenodeDialFunc = dial
	copts.DatanodeDialFunc = dial

	if copts.KerberosClient != nil { // hadoop.security.authentication=kerberos
		if o.KerberosPrincipal != "" {
			copts.KerberosServicePrincipleName = strings.SplitN(o.KerberosPrincipal, "@", 2)[0]
		}
		if copts.KerberosServicePrincipleName == "" {
			return gohdfs.ClientOptions{}, "", &ConfigError{Msg: "Kerberos is enabled (hadoop.security.authentication=kerberos) " +
				"but the NameNode principal is unknown: set dfs.namenode.kerberos.principal in hdfs-site.xml"}
		}
		kc, err := kerberosClient(o)
		if err != nil {
			return gohdfs.ClientOptions{}, "", err
		}
		copts.KerberosClient = kc
		return copts, display, nil
	}

	copts.User = o.User
	if copts.User == "" {
		copts.User = os.Getenv("HADOOP_USER_NAME")
	}
	if copts.User == "" {
		u, err := user.Current()
		if err != nil {
			return gohdfs.ClientOptions{}, "", &ConfigError{Msg: "no HDFS user: set HADOOP_USER_NAME", Err: err}
		}
		copts.User = u.Username
	}
	return copts, display, nil
}

// kerberosClient loads krb5.conf and the credential cache, as colinmarc/hdfs's
// own command-line client does (MIT Kerberos file caches only).
func kerberosClient(o Options) (*krb.Client, error) {
	cfgPath := o.Krb5Config
	if cfgPath == "" {
		cfgPath = os.Getenv("KRB5_CONFIG")
	}
	if cfgPath == "" {
		cfgPath = "/etc/krb5.conf"
	}
	cfg, err := krbconfig.Load(cfgPath)
	if err != nil {
		return nil, &ConfigError{Msg: "Kerberos: read " + cfgPath + " (set KRB5_CONFIG)", Err: err}
	}
	cc := o.Krb5CCache
	if cc == "" {
		cc = os.Getenv("KRB5CCNAME")
	}
	switch {
	case strings.HasPrefix(cc, "FILE:"):
		cc = strings.TrimPrefix(cc, "FILE:")
	case strings.Contains(cc, ":"):
		return nil, &ConfigError{Msg: fmt.Sprintf("Kerberos: credential cache %q is not a file cache; use KRB5CCNAME=FILE:/path", cc)}
	case cc == "":
		cc = fmt.Sprintf("/tmp/krb5cc_%d", os.Getuid())
	}
	ccache, err := credentials.LoadCCache(cc)
	if err != nil {
		return nil, &ConfigError{Msg: "Kerberos: load credential cache " + cc + " (run kinit, or set KRB5CCNAME)", Err: err}
	}
	kc, err := krb.NewFromCCache(ccache, cfg)
	if err != nil {
		return nil, &ConfigError{Msg: "Kerberos: credentials from " + cc, Err: err}
	}
	return kc, nil
}
