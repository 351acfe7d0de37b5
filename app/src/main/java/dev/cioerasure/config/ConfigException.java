package dev.cioerasure.config;

import java.util.List;

/**
 * Start-up configuration is invalid. The message lists every problem at once, one per line,
 * each naming the variable and what is wrong with its value (never the value of a secret).
 */
public final class ConfigException extends RuntimeException {
    private final List<String> problems;

    public ConfigException(List<String> problems) {
        super("invalid configuration (" + problems.size() + " problem" + (problems.size() == 1 ? "" : "s") + "):\n  - "
                + String.join("\n  - ", problems));
        this.problems = List.copyOf(problems);
    }

    public List<String> problems() {
        return problems;
    }
}
