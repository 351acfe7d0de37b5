# Build: docker build -t cio-erasure .
FROM maven:3.9.11-eclipse-temurin-17 AS build
WORKDIR /src
COPY pom.xml .
RUN mvn -B -q dependency:go-offline
COPY src src
COPY db db
COPY schema schema
RUN mvn -B -q package -DskipTests

FROM eclipse-temurin:17.0.16_8-jre
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 erasure && useradd --system --uid 10001 --gid erasure --no-create-home erasure
COPY --from=build /src/target/cio-erasure.jar /app/cio-erasure.jar
USER 10001:10001
# Small fixed heap: the worker's memory is bounded by ERASURE_MAX_IN_FLIGHT, not by the backlog.
ENV JAVA_TOOL_OPTIONS="-Xmx256m -XX:+ExitOnOutOfMemoryError"
EXPOSE 9400 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS http://localhost:${METRICS_PORT:-9400}/health/ready || exit 1
ENTRYPOINT ["java", "-jar", "/app/cio-erasure.jar"]
CMD ["worker"]
