package dev.cioerasure.tools;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cioerasure.cli.Errors;
import org.junit.jupiter.api.Test;

class BenchCommandTest {

    @Test
    void ceilingLimitsAreReadFromACommaSeparatedList() {
        assertThat(BenchCommand.ceilingLimits("100,100,1000")).containsExactly(100, 100, 1000);
        assertThat(BenchCommand.ceilingLimits(" 1000 , 500")).containsExactly(1000, 500);
    }

    @Test
    void ceilingLimitsThatAreNoPositiveNumbersAreRefusedWithTheValueNamed() {
        for (String bad : new String[] {"", "abc", "1000,", "0", "1000,-5", "1e3"}) {
            assertThatThrownBy(() -> BenchCommand.ceilingLimits(bad)).as(bad)
                    .isInstanceOf(Errors.UserError.class)
                    .hasMessageContaining("-Dbench.limits")
                    .hasMessageContaining("'" + bad + "'");
        }
    }
}
