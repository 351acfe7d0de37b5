#!/bin/sh
# The image's entry point: java with $JAVA_OPTS (the image sets -Xmx256m) and the production jar.
#
# The intake also runs with -XX:+ExitOnOutOfMemoryError: a JVM out of memory in any of its threads
# (a Kafka client's, the HTTP server's) exits at once, with the JVM's code 3, for the supervisor to
# restart, rather than running on half broken. The worker does not: a record that expands beyond
# its heap (a compressed batch) made it exit at every start, and every worker of the group that
# took the partition after it; the worker rejects such a record itself, and exits 70 in one line
# when out of memory in a thread of its own. The other commands say "out of memory" in one line
# and exit 70 (with the flag, `audit verify` out of memory exited 3, its code for a tampered table).
set -eu
jar="${CIO_ERASURE_JAR:-/app/cio-erasure.jar}"
case "${1:-}" in
  intake) exec java ${JAVA_OPTS:-} -XX:+ExitOnOutOfMemoryError -jar "$jar" "$@" ;;
  *) exec java ${JAVA_OPTS:-} -jar "$jar" "$@" ;;
esac
