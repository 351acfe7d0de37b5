package dev.cioerasure.testing;

import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;

/**
 * Stops the shared broker and database when the test session ends — while the JVM is still
 * fully alive. Left to JVM shutdown, Kafka's own temp-directory hook deletes the running broker's
 * log directory and the broker halts the JVM with a non-zero exit code.
 */
public final class SharedInfraShutdown implements LauncherSessionListener {
    @Override
    public void launcherSessionClosed(LauncherSession session) {
        TestInfra.closeAll();
    }
}
