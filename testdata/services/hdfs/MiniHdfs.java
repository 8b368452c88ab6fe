// MiniHdfs starts Hadoop's MiniDFSCluster (one NameNode and one DataNode, in
// this JVM) for txlake's storage/hdfs tests. It is run as a single-file
// program by start.sh, with the classpath resolved from pom.xml:
//
//	java -cp "$(cat cp.txt)" MiniHdfs.java PORT BASEDIR CONFDIR
//
// It formats a fresh cluster under BASEDIR, with the NameNode's RPC server on
// 127.0.0.1:PORT, writes a client configuration (core-site.xml with
// fs.defaultFS, hdfs-site.xml with an HA-style nameservice "txlake" naming
// the same NameNode) into CONFDIR, prints READY, and runs until killed. A
// shutdown hook stops the cluster on SIGTERM/SIGINT.

import java.io.File;
import java.io.FileOutputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.CountDownLatch;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hdfs.HdfsConfiguration;
import org.apache.hadoop.hdfs.MiniDFSCluster;

public class MiniHdfs {
	public static void main(String[] args) throws Exception {
		if (args.length != 3) {
			System.err.println("usage: MiniHdfs PORT BASEDIR CONFDIR");
			System.exit(2);
		}
		int port = Integer.parseInt(args[0]);
		File base = new File(args[1]).getAbsoluteFile();
		File confDir = new File(args[2]).getAbsoluteFile();

		long t0 = System.nanoTime();
		Configuration conf = new HdfsConfiguration();
		conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, base.getPath());
		conf.setBoolean("dfs.permissions.enabled", false);
		conf.setInt("dfs.replication", 1);
		conf.setBoolean("dfs.webhdfs.enabled", false);
		// Small blocks, so the suite's 70 MiB object spans several blocks.
		conf.setLong("dfs.namenode.fs-limits.min-block-size", 1024 * 1024);
		conf.setLong("dfs.blocksize", 32L * 1024 * 1024);
		// Bind everything to loopback; no HTTP servers are needed.
		conf.set("dfs.namenode.rpc-bind-host", "127.0.0.1");
		conf.set("dfs.namenode.http-address", "127.0.0.1:0");
		conf.set("dfs.datanode.address", "127.0.0.1:0");
		conf.set("dfs.datanode.ipc.address", "127.0.0.1:0");
		conf.set("dfs.datanode.http.address", "127.0.0.1:0");
		// The tests' disk may be fuller than a real cluster's; keep the
		// NameNode out of safe mode unless the disk is really full.
		conf.setLong("dfs.namenode.resource.du.reserved", 64L * 1024 * 1024);

		MiniDFSCluster cluster = new MiniDFSCluster.Builder(conf)
			.nameNodePort(port)
			.numDataNodes(1)
			.format(true)
			.build();
		Runtime.getRuntime().addShutdownHook(new Thread(() -> {
			System.out.println("MiniHdfs: shutting down");
			cluster.shutdown();
		}, "minihdfs-shutdown"));
		cluster.waitActive();

		String nn = "127.0.0.1:" + cluster.getNameNodePort();
		confDir.mkdirs();
		writeSite(new File(confDir, "core-site.xml"), new String[][] {
			{"fs.defaultFS", "hdfs://" + nn},
		});
		writeSite(new File(confDir, "hdfs-site.xml"), new String[][] {
			{"dfs.replication", "1"},
			{"dfs.nameservices", "txlake"},
			{"dfs.ha.namenodes.txlake", "nn1"},
			{"dfs.namenode.rpc-address.txlake.nn1", nn},
		});

		System.out.printf("MiniHdfs: NameNode at hdfs://%s, base %s, started in %.1f s%n",
			nn, base, (System.nanoTime() - t0) / 1e9);
		System.out.println("READY");
		System.out.flush();
		new CountDownLatch(1).await(); // until killed
	}

	// writeSite writes a Hadoop configuration file atomically (temp + rename).
	private static void writeSite(File f, String[][] props) throws Exception {
		StringBuilder b = new StringBuilder("<?xml version=\"1.0\"?>\n<configuration>\n");
		for (String[] p : props) {
			b.append("  <property><name>").append(p[0]).append("</name><value>")
				.append(p[1]).append("</value></property>\n");
		}
		b.append("</configuration>\n");
		File tmp = new File(f.getPath() + ".tmp");
		try (OutputStream out = new FileOutputStream(tmp)) {
			out.write(b.toString().getBytes("UTF-8"));
		}
		Files.move(tmp.toPath(), f.toPath(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
	}
}
