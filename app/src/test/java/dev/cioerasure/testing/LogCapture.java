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

    private LogCapture() {
        LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
        root = ctx.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        setContext(ctx);
        start();
        root.addAppender(this);
    }

    public static LogCapture capture() {
        return new LogCapture();
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
        stop();
    }
}
