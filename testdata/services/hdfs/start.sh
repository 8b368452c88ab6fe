#!/usr/bin/env bash
# Starts a real HDFS (Hadoop's MiniDFSCluster: one NameNode, one DataNode, one
# JVM) for the storage/hdfs tests, and returns once it serves.
#
#   testdata/services/hdfs/start.sh && . .cache/services/hdfs.env
#
# - Java 17 is required (Hadoop 3.4 fails on Java 23+); JAVA_HOME is pinned to
#   it. Maven resolves pom.xml's classpath once (~110 MB into ~/.m2 on a fresh
#   machine); it is cached in .cache/services/hdfs/cp.txt, keyed on pom.xml.
# - The NameNode listens on 127.0.0.1:$TXLAKE_HDFS_PORT, or on a free loopback
#   port. All state, the log and the pid file live in .cache/services/hdfs/.
# - Writes .cache/services/hdfs.env (export lines): TXLAKE_TEST_HDFS_NAMENODE,
#   TXLAKE_TEST_HADOOP_CONF_DIR and HADOOP_USER_NAME.
# - Idempotent: does nothing when the cluster it started is still running.
#   Stop it with stop.sh.
# - Time-outs: TXLAKE_HDFS_START_TIMEOUT seconds for READY (default 180).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
state="$root/.cache/services/hdfs"
envfile="$root/.cache/services/hdfs.env"
pidfile="$state/minihdfs.pid"
log="$state/minihdfs.log"
timeout="${TXLAKE_HDFS_START_TIMEOUT:-180}"

say() { echo "hdfs: $*" >&2; }
die() { say "$*"; exit 1; }

mkdir -p "$state"

# Already running (started by us)?
if [[ -f "$pidfile" && -f "$envfile" ]]; then
	pid="$(cat "$pidfile")"
	if kill -0 "$pid" 2>/dev/null && grep -q MiniHdfs "/proc/$pid/cmdline" 2>/dev/null; then
		say "already running (pid $pid): $(grep NAMENODE "$envfile")"
		exit 0
	fi
fi
rm -f "$pidfile" "$envfile"

# --- Java 17 ---------------------------------------------------------------
is_java17() { [[ -x "$1/bin/java" ]] && "$1/bin/java" -version 2>&1 | grep -Eq 'version "17[."]'; }
find_java17() {
	local c
	if [[ -n "${JAVA_HOME:-}" ]] && is_java17 "$JAVA_HOME"; then echo "$JAVA_HOME"; return; fi
	if command -v update-alternatives >/dev/null; then
		while read -r c; do
			c="$(dirname "$(dirname "$c")")"
			if is_java17 "$c"; then echo "$c"; return; fi
		done < <(update-alternatives --list java 2>/dev/null || true)
	fi
	for c in /usr/lib/jvm/*17*; do
		if is_java17 "$c"; then echo "$c"; return; fi
	done
	return 1
}
JAVA_HOME="$(find_java17)" || die "no Java 17 found (JAVA_HOME, update-alternatives, /usr/lib/jvm/*17*); install openjdk-17-jdk-headless"
export JAVA_HOME
java="$JAVA_HOME/bin/java"

# --- classpath, resolved once per pom.xml ------------------------------------
cp="$state/cp.txt"
key="$(sha256sum "$here/pom.xml" | cut -d' ' -f1)"
cp_ok() {
	[[ -s "$cp" && -f "$cp.key" && "$(cat "$cp.key")" == "$key" ]] || return 1
	local jar
	IFS=: read -ra jars < "$cp"
	for jar in "${jars[@]}"; do [[ -f "$jar" ]] || return 1; done
}
if ! cp_ok; then
	command -v mvn >/dev/null || die "mvn not found; install maven"
	say "resolving the MiniDFSCluster classpath with Maven (once per pom.xml)"
	rm -f "$cp" "$cp.key"
	(cd "$here" && mvn -q -B dependency:build-classpath -Dmdep.includeScope=runtime -Dmdep.outputFile="$cp") >&2 ||
		die "mvn dependency:build-classpath failed"
	echo "$key" > "$cp.key"
fi

# --- port --------------------------------------------------------------------
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if [[ -n "${TXLAKE_HDFS_PORT:-}" ]]; then
	port="$TXLAKE_HDFS_PORT"
	port_busy "$port" && die "port $port (TXLAKE_HDFS_PORT) is in use"
else
	for _ in $(seq 50); do
		port=$((20000 + RANDOM % 20000))
		port_busy "$port" || break
	done
fi

# --- start -------------------------------------------------------------------
base="$state/data"
conf="$state/conf"
rm -rf "$base" "$conf"
mkdir -p "$base" "$conf"
cat > "$state/log4j.properties" <<'PROPS'
log4j.rootLogger=WARN,stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=%d{ISO8601} %p %c{2}: %m%n
PROPS

opens=()
for p in java.lang java.lang.reflect java.io java.net java.nio java.util java.util.concurrent sun.nio.ch; do
	opens+=("--add-opens=java.base/$p=ALL-UNNAMED")
done

started=$(date +%s%N)
cd "$state"
: > "$log" # truncate now: the wait below must not see an earlier run's READY
setsid "$java" "${opens[@]}" -Djava.net.preferIPv4Stack=true -Xmx1g \
	-Dlog4j.configuration="file:$state/log4j.properties" \
	-cp "$(cat "$cp")" "$here/MiniHdfs.java" "$port" "$base" "$conf" \
	> "$log" 2>&1 < /dev/null &
pid=$!
echo "$pid" > "$pidfile"

fail() {
	say "$*"
	say "last lines of $log:"
	tail -n 40 "$log" >&2 || true
	say "disk space (the NameNode stays in safe mode when the disk is nearly full):"
	df -h "$state" >&2 || true
	kill "$pid" 2>/dev/null || true
	rm -f "$pidfile"
	exit 1
}
deadline=$((SECONDS + timeout))
until grep -q '^READY$' "$log" 2>/dev/null; do
	kill -0 "$pid" 2>/dev/null || fail "MiniDFSCluster exited before it was ready"
	((SECONDS < deadline)) || fail "MiniDFSCluster not ready after ${timeout}s"
	sleep 0.2
done
ms=$((($(date +%s%N) - started) / 1000000))

tmp="$envfile.tmp"
{
	echo "export TXLAKE_TEST_HDFS_NAMENODE=127.0.0.1:$port"
	echo "export TXLAKE_TEST_HADOOP_CONF_DIR=$conf"
	echo "export HADOOP_USER_NAME=txlake"
} > "$tmp"
mv "$tmp" "$envfile"
say "ready on 127.0.0.1:$port in $((ms / 1000)).$(printf '%03d' $((ms % 1000)) | cut -c1)s (pid $pid, Java $JAVA_HOME); env in $envfile"
