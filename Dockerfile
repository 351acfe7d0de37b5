# Build: docker build -t cio-erasure .                        (production: cio-erasure.jar only)
#        docker build --target tools -t cio-erasure-tools .   (the dev tools: sandbox, demo, bench)
FROM maven:3.9.11-eclipse-temurin-17 AS build
WORKDIR /src
COPY pom.xml .
COPY app app
COPY test-broker test-broker
COPY test-kit test-kit
COPY tools tools
COPY db db
COPY schema schema
# all modules (the tools target needs the tools jar); the Maven cache outlives the build
RUN --mount=type=cache,target=/root/.m2 mvn -B -q package -DskipTests

FROM eclipse-temurin:17.0.16_8-jre AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 erasure && useradd --system --uid 10001 --gid erasure --no-create-home erasure
USER 10001:10001
# Small fixed heap: the worker's memory is bounded by ERASURE_MAX_IN_FLIGHT, not by the backlog.
# JAVA_OPTS reaches every command; the entry point adds -XX:+ExitOnOutOfMemoryError for the intake
# only (scripts/image-entrypoint.sh says why).
ENV JAVA_OPTS="-Xmx256m"
COPY --chmod=0755 scripts/image-entrypoint.sh /app/run
EXPOSE 9400 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS http://localhost:${METRICS_PORT:-9400}/health/ready || exit 1
ENTRYPOINT ["/app/run"]
CMD ["worker"]

# The dev tools (the compose sandbox): the tools jar in place of the production one.
FROM runtime AS tools
COPY --from=build /src/tools/target/cio-erasure-tools.jar /app/cio-erasure.jar

# The production image (the default, last target): the slim jar only.
FROM runtime
COPY --from=build /src/app/target/cio-erasure.jar /app/cio-erasure.jar
