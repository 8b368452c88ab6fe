// Package hdfs is the hdfs:// storage backend (in progress).
package hdfs

import (
	_ "github.com/colinmarc/hdfs/v2"
	_ "github.com/colinmarc/hdfs/v2/hadoopconf"
)
