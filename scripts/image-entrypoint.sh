#!/bin/sh
# The image's entry point: java with $JAVA_OPTS (the image sets -Xmx256m) and the production jar.
#
# The worker and the intake also run with -XX:+ExitOnOutOfMemoryError: a JVM out of memory in
# any of their threads (a Kafka client's, an HTTP client's) exits at once, with the JVM's code 3,
# for the supervisor to restart, rather than running on half broken. The other commands run
# without it: they say "out of memory" in one line and exit 70. With the flag, `audit verify`
# out of memory exited 3, which is its exit code for a tampered audit table.
set -eu
jar="${CIO_ERASURE_JAR:-/app/cio-erasure.jar}"
case "${1:-}" in
  worker|intake) exec java ${JAVA_OPTS:-} -XX:+ExitOnOutOfMemoryError -jar "$jar" "$@" ;;
  *) exec java ${JAVA_OPTS:-} -jar "$jar" "$@" ;;
esac
