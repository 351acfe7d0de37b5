package dev.cioerasure.testing;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.LoggerFactory;

/** Captures every log event (all loggers, formatted message and exception text) while open. */
public final class LogCapture extends AppenderBase<ILoggingEvent> implements AutoCloseable {
    private final List<String> lines = new ArrayList<>();
    private final Logger root;
    /** Loggers whose level this capture lowered, with the level each had (null: inherited). */
    private final java.util.Map<Logger, ch.qos.logback.classic.Level> lowered = new java.util.LinkedHashMap<>();

    private LogCapture(boolean everyLevel) {
        LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
        root = ctx.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        if (everyLevel) {
            // as LOG_LEVEL=TRACE does: the root logger, and with it cio-erasure's own (the test
            // configuration sets those to INFO); libraries the production logback.xml holds at
            // WARN (Kafka, Hikari, Flyway) stay where they are, here as there
            for (Logger l : List.of(root, ctx.getLogger("dev.cioerasure"))) {
                lowered.put(l, l.getLevel());
                l.setLevel(ch.qos.logback.classic.Level.TRACE);
            }
        }
        setContext(ctx);
        start();
        root.addAppender(this);
    }

    /** Every event at the levels the test configuration logs (INFO for cio-erasure). */
    public static LogCapture capture() {
        return new LogCapture(false);
    }

    /** Every event down to TRACE, as a worker started with LOG_LEVEL=TRACE logs them, while open. */
    public static LogCapture captureEveryLevel() {
        return new LogCapture(true);
    }

    @Override
    protected synchronized void append(ILoggingEvent e) {
        StringBuilder b = new StringBuilder(e.getLoggerName()).append(' ').append(e.getFormattedMessage());
        for (var t = e.getThrowableProxy(); t != null; t = t.getCause()) {
            b.append(" | ").append(t.getClassName()).append(": ").append(t.getMessage());
        }
        for (Object arg : e.getArgumentArray() == null ? new Object[0] : e.getArgumentArray()) {
            b.append(" | arg: ").append(arg);
        }
        lines.add(b.toString());
    }

    public synchronized List<String> lines() {
        return List.copyOf(lines);
    }

    @Override
    public void close() {
        root.detachAppender(this);
        lowered.forEach(Logger::setLevel);
        stop();
    }
}
