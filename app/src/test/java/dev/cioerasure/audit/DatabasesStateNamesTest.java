package dev.cioerasure.audit;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** What the log lines, the metrics' reasons and readiness call a SQLState. */
class DatabasesStateNamesTest {
    @Test
    void commonStatesAreNamedAndOthersShownAsTheyAre() {
        assertThat(Databases.describeState("08001")).isEqualTo("SQLState 08001 connection refused");
        assertThat(Databases.describeState("08003")).isEqualTo("SQLState 08003 connection_does_not_exist");
        assertThat(Databases.describeState("55P03")).isEqualTo("SQLState 55P03 lock_not_available (lock_timeout)");
        assertThat(Databases.describeState("25P03")).isEqualTo("SQLState 25P03 idle_in_transaction_session_timeout");
        assertThat(Databases.describeState("XX000")).isEqualTo("SQLState XX000");
    }
}
